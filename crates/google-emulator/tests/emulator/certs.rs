//! `/oauth2/v3/certs`, `/oauth2/v1/certs` and key rotation.

use serde_json::Value;

use crate::{Env, header, verify_with_jwks};

async fn jwks(env: &Env) -> Value {
    env.get_json("/oauth2/v3/certs").await
}

fn kids(jwks: &Value) -> Vec<String> {
    let mut k: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    k.sort();
    k
}

#[tokio::test]
async fn certs_carry_cache_control_like_googles() {
    let env = Env::start().await;
    for path in ["/oauth2/v3/certs", "/oauth2/v1/certs"] {
        let r = env.http.get(env.url(path)).send().await.unwrap();
        let cc = r.headers()["cache-control"].to_str().unwrap().to_owned();
        assert!(cc.starts_with("public, max-age="), "{path}: {cc}");
        assert!(
            cc.ends_with("must-revalidate, no-transform"),
            "{path}: {cc}"
        );
        assert!(r.headers().contains_key("expires"));
    }
}

#[tokio::test]
async fn pem_certificates_are_keyed_by_the_same_kids_as_the_jwks() {
    let env = Env::start().await;
    let pem: Value = env
        .http
        .get(env.url("/oauth2/v1/certs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut pem_kids: Vec<String> = pem.as_object().unwrap().keys().cloned().collect();
    pem_kids.sort();
    assert_eq!(pem_kids, kids(&jwks(&env).await));
    for v in pem.as_object().unwrap().values() {
        let v = v.as_str().unwrap();
        assert!(
            v.starts_with("-----BEGIN CERTIFICATE-----\n")
                && v.trim_end().ends_with("-----END CERTIFICATE-----")
        );
    }
}

#[tokio::test]
async fn rotation_signs_with_a_new_kid_and_keeps_the_old_key_published_for_a_day() {
    let env = Env::start().await;
    let before = env.sign_in("ada@example.com").await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let old_kid = header(&before)["kid"].as_str().unwrap().to_owned();
    let new_kid = env.emu.rotate_keys().unwrap();
    let after = env.sign_in("ada@example.com").await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        header(&after)["kid"],
        new_kid.as_str(),
        "new tokens use the new key"
    );
    let set = jwks(&env).await;
    assert!(
        verify_with_jwks(&before, &set),
        "tokens signed before rotation still verify"
    );
    assert!(verify_with_jwks(&after, &set));
    env.emu.set_clock_offset(24 * 3600 + 1);
    let later = kids(&jwks(&env).await);
    assert!(
        !later.contains(&old_kid),
        "the rotated-out key is withdrawn after the grace period"
    );
    assert!(later.contains(&new_kid));
}
