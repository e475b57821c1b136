use super::grants::{REFRESH_IDLE_SECS, REFRESH_TOKENS_PER_CLIENT_USER};
use super::*;

fn db_with_user() -> (Db, User) {
    let mut db = Db::new(Some("example.com".into()));
    db.add_client(Client {
        client_id: "web".into(),
        secret: Some("s".into()),
        kind: ClientKind::Web,
        redirect_uris: vec![],
    });
    let user = db
        .upsert_user(&UserSpec {
            email: "Ada.Lovelace@example.com".into(),
            ..Default::default()
        })
        .expect("user");
    (db, user)
}

fn code(db: &mut Db, user: &User, offline: bool, force: bool, now: i64) -> String {
    db.insert_code(Code {
        user_sub: user.sub.clone(),
        client_id: "web".into(),
        azp: "ios".into(),
        scopes: normalize_scopes(["openid email profile"]),
        redirect: RedirectRule::ServerAuthCode {
            allow_postmessage: false,
        },
        pkce: None,
        offline,
        force_consent: force,
        nonce: None,
        issued_at: now,
        redeemed_by: None,
    })
}

fn redeem(db: &mut Db, code: &str, now: i64) -> Result<Issued, OAuthError> {
    db.redeem_code(
        &CodeRedemption {
            code,
            client_id: "web",
            redirect_uri: Some(""),
            code_verifier: None,
        },
        now,
    )
}

#[test]
fn sub_is_21_digits_and_stable_per_email() {
    let a = sub_for_email("ada@example.com");
    assert_eq!(a.len(), 21, "Google subs are 21 digits: {a}");
    assert!(a.chars().all(|c| c.is_ascii_digit()));
    assert_eq!(
        a,
        sub_for_email(" ADA@example.com"),
        "the same email is the same user"
    );
    assert_ne!(a, sub_for_email("bob@example.com"));
}

#[test]
fn user_defaults_derive_names_and_workspace_hd() {
    let (_, user) = db_with_user();
    assert_eq!(user.name, "Ada Lovelace");
    assert_eq!(user.given_name, "Ada");
    assert_eq!(user.family_name, "Lovelace");
    assert_eq!(
        user.hd.as_deref(),
        Some("example.com"),
        "hd only for the Workspace domain"
    );
}

#[test]
fn used_code_is_refused_and_kills_what_it_issued() {
    let (mut db, user) = db_with_user();
    let c = code(&mut db, &user, true, true, 0);
    let issued = redeem(&mut db, &c, 1).expect("first redemption");
    let err = redeem(&mut db, &c, 2).expect_err("second redemption must fail");
    assert_eq!(err.error, "invalid_grant");
    assert!(
        db.access(&issued.access_token, 3).is_none(),
        "a replayed code must revoke the tokens it issued (RFC 6749 §4.1.2)"
    );
    let rt = issued
        .refresh_token
        .expect("offline + consent gives a refresh token");
    assert!(db.refresh(&rt, "web", None, 3).is_err());
}

#[test]
fn expired_code_is_refused() {
    let (mut db, user) = db_with_user();
    let c = code(&mut db, &user, true, true, 0);
    let err = redeem(&mut db, &c, CODE_SECS + 1).expect_err("expired");
    assert_eq!(
        (err.error, err.description.as_str()),
        ("invalid_grant", "Bad Request")
    );
}

#[test]
fn refresh_token_only_on_first_consent_or_prompt_consent() {
    let (mut db, user) = db_with_user();
    let first = code(&mut db, &user, true, false, 0);
    assert!(
        redeem(&mut db, &first, 0)
            .expect("ok")
            .refresh_token
            .is_some()
    );
    let again = code(&mut db, &user, true, false, 1);
    assert!(
        redeem(&mut db, &again, 1)
            .expect("ok")
            .refresh_token
            .is_none(),
        "without prompt=consent a returning user gets no new refresh token"
    );
    let forced = code(&mut db, &user, true, true, 2);
    assert!(
        redeem(&mut db, &forced, 2)
            .expect("ok")
            .refresh_token
            .is_some()
    );
    let online = code(&mut db, &user, false, true, 3);
    assert!(
        redeem(&mut db, &online, 3)
            .expect("ok")
            .refresh_token
            .is_none()
    );
}

#[test]
fn idle_refresh_token_dies_after_six_months() {
    let (mut db, user) = db_with_user();
    let c = code(&mut db, &user, true, true, 0);
    let rt = redeem(&mut db, &c, 0)
        .expect("ok")
        .refresh_token
        .expect("rt");
    assert!(db.refresh(&rt, "web", None, REFRESH_IDLE_SECS).is_ok());
    let err = db
        .refresh(&rt, "web", None, 2 * REFRESH_IDLE_SECS + 1)
        .expect_err("idle");
    assert_eq!(err.description, "Token has been expired or revoked.");
}

#[test]
fn over_the_per_client_limit_the_oldest_refresh_token_dies() {
    let (mut db, user) = db_with_user();
    let mut tokens = Vec::new();
    for i in 0..=REFRESH_TOKENS_PER_CLIENT_USER as i64 {
        let c = code(&mut db, &user, true, true, i);
        tokens.push(
            redeem(&mut db, &c, i)
                .expect("ok")
                .refresh_token
                .expect("rt"),
        );
    }
    let now = REFRESH_TOKENS_PER_CLIENT_USER as i64 + 1;
    assert!(
        db.refresh(&tokens[0], "web", None, now).is_err(),
        "the oldest is invalidated"
    );
    assert!(db.refresh(&tokens[1], "web", None, now).is_ok());
}

#[test]
fn revoking_an_access_token_kills_the_whole_grant() {
    let (mut db, user) = db_with_user();
    let c = code(&mut db, &user, true, true, 0);
    let issued = redeem(&mut db, &c, 0).expect("ok");
    assert!(db.revoke(&issued.access_token, 1));
    let rt = issued.refresh_token.expect("rt");
    assert!(
        db.refresh(&rt, "web", None, 1).is_err(),
        "the refresh token dies with the grant"
    );
    assert!(!db.revoke(&rt, 1), "revoking twice reports invalid_token");
}

#[test]
fn refresh_rejects_wider_scope() {
    let (mut db, user) = db_with_user();
    let c = code(&mut db, &user, true, true, 0);
    let rt = redeem(&mut db, &c, 0)
        .expect("ok")
        .refresh_token
        .expect("rt");
    let narrowed = db
        .refresh(&rt, "web", Some("email"), 1)
        .expect("subset is fine");
    assert_eq!(narrowed.scopes, vec![SCOPE_EMAIL.to_owned()]);
    let err = db
        .refresh(&rt, "web", Some(SCOPE_DRIVE), 1)
        .expect_err("not granted");
    assert_eq!(err.error, "invalid_scope");
}

#[test]
fn without_rotation_the_refresh_token_stays_the_same() {
    let (mut db, user) = db_with_user();
    let c = code(&mut db, &user, true, true, 0);
    let rt = redeem(&mut db, &c, 1)
        .expect("redeemed")
        .refresh_token
        .expect("rt");
    for now in 2..5 {
        let issued = db.refresh(&rt, "web", None, now).expect("refresh");
        assert!(
            issued.refresh_token.is_none(),
            "Google sends no new refresh token"
        );
    }
    assert_eq!(db.refresh_reuse_detected, 0);
}

#[test]
fn rotation_issues_a_new_refresh_token_and_reuse_kills_the_grant() {
    let (mut db, user) = db_with_user();
    db.rotate_refresh_tokens = true;
    let c = code(&mut db, &user, true, true, 0);
    let rt1 = redeem(&mut db, &c, 1)
        .expect("redeemed")
        .refresh_token
        .expect("rt");
    let rt2 = db
        .refresh(&rt1, "web", None, 2)
        .expect("refresh with RT1")
        .refresh_token
        .expect("rotation hands out RT2");
    assert_ne!(rt1, rt2);
    let rt3 = db
        .refresh(&rt2, "web", None, 3)
        .expect("RT2 is the live one")
        .refresh_token
        .expect("and rotates again");
    assert_eq!(db.refresh_reuse_detected, 0, "nothing was reused yet");

    let err = db
        .refresh(&rt1, "web", None, 4)
        .expect_err("RT1 was rotated out");
    assert_eq!((err.status, err.error), (400, "invalid_grant"));
    assert_eq!(db.refresh_reuse_detected, 1, "the reuse is counted");
    assert!(
        db.refresh(&rt3, "web", None, 5).is_err(),
        "reuse detection kills the grant: the current refresh token dies too (Keycloak)"
    );
}
