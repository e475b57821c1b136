//! Drive v3 on the appDataFolder.

use serde_json::{Value, json};

use crate::Env;

async fn access_token(env: &Env, email: &str) -> String {
    env.sign_in(email).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn create(env: &Env, token: &str, name: &str) -> Value {
    let r = env
        .http
        .post(env.url("/drive/v3/files"))
        .bearer_auth(token)
        .json(&json!({"name": name, "parents": ["appDataFolder"], "mimeType": "application/json"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn list(env: &Env, token: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let r = env
        .http
        .get(env.url("/drive/v3/files"))
        .bearer_auth(token)
        .query(query)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn appfolder_alias_returns_the_folder() {
    let env = Env::start().await;
    let token = access_token(&env, "ada@example.com").await;
    let (s, a) = env.get_bearer("/drive/v3/files/appfolder", &token).await;
    assert_eq!(s, 200);
    let (_, b) = env
        .get_bearer(
            "/drive/v3/files/appDataFolder?fields=id,name,mimeType,kind",
            &token,
        )
        .await;
    assert_eq!(a["id"], b["id"], "both aliases name the same folder");
    assert_eq!(a["mimeType"], "application/vnd.google-apps.folder");
    assert_eq!(a["kind"], "drive#file");
}

#[tokio::test]
async fn multipart_upload_with_bare_lf_then_list_get_media_and_delete() {
    let env = Env::start().await;
    let token = access_token(&env, "ada@example.com").await;
    // googleapiclient writes multipart/related with bare \n line endings.
    let body = "--===B==\nContent-Type: application/json\nMIME-Version: 1.0\n\n{\"name\": \"state.json\", \"parents\": [\"appDataFolder\"]}\n--===B==\nContent-Type: application/json\nMIME-Version: 1.0\nContent-Transfer-Encoding: binary\n\n{\"level\": 7}\n--===B==--";
    let r = env
        .http
        .post(env.url("/upload/drive/v3/files?uploadType=multipart&fields=id,name,size,mimeType"))
        .bearer_auth(&token)
        .header("content-type", "multipart/related; boundary=\"===B==\"")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let file: Value = r.json().await.unwrap();
    assert_eq!(file["name"], "state.json");
    assert_eq!(file["size"], "12", "size is a string in Drive v3");
    let id = file["id"].as_str().unwrap();
    let (s, listed) = list(
        &env,
        &token,
        &[("spaces", "appDataFolder"), ("fields", "files(id,name)")],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(listed, json!({"files": [{"id": id, "name": "state.json"}]}));
    let media = env
        .http
        .get(env.url(&format!("/drive/v3/files/{id}?alt=media")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(media.text().await.unwrap(), "{\"level\": 7}");
    let r = env
        .http
        .delete(env.url(&format!("/drive/v3/files/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (s, err) = env
        .get_bearer(&format!("/drive/v3/files/{id}"), &token)
        .await;
    assert_eq!(s, 404);
    assert_eq!(err["error"]["errors"][0]["reason"], "notFound");
    assert_eq!(err["error"]["message"], format!("File not found: {id}."));
}

#[tokio::test]
async fn list_pages_through_every_file_with_page_tokens() {
    let env = Env::start().await;
    let token = access_token(&env, "ada@example.com").await;
    for i in 0..5 {
        create(&env, &token, &format!("f{i}.json")).await;
    }
    let mut names = Vec::new();
    let mut page_token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut q = vec![
            ("spaces", "appDataFolder".to_owned()),
            ("pageSize", "2".to_owned()),
            ("orderBy", "name desc".to_owned()),
            ("fields", "nextPageToken,files(name)".to_owned()),
        ];
        if let Some(t) = &page_token {
            q.push(("pageToken", t.clone()));
        }
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (s, page) = list(&env, &token, &q).await;
        assert_eq!(s, 200, "{page}");
        pages += 1;
        names.extend(
            page["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].as_str().unwrap().to_owned()),
        );
        match page["nextPageToken"].as_str() {
            Some(t) => page_token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        names,
        ["f4.json", "f3.json", "f2.json", "f1.json", "f0.json"]
    );
}

#[tokio::test]
async fn list_without_next_page_token_in_fields_omits_it() {
    let env = Env::start().await;
    let token = access_token(&env, "ada@example.com").await;
    for i in 0..3 {
        create(&env, &token, &format!("f{i}")).await;
    }
    let (_, page) = list(
        &env,
        &token,
        &[
            ("spaces", "appDataFolder"),
            ("pageSize", "1"),
            ("fields", "files(id)"),
        ],
    )
    .await;
    assert!(
        page.get("nextPageToken").is_none(),
        "a fields mask without nextPageToken hides it, as at Google"
    );
    let (_, page) = list(
        &env,
        &token,
        &[("spaces", "appDataFolder"), ("pageSize", "1")],
    )
    .await;
    assert!(
        page["nextPageToken"].is_string(),
        "the default mask includes it"
    );
    assert_eq!(page["kind"], "drive#fileList");
    assert_eq!(
        page["files"][0].as_object().unwrap().len(),
        4,
        "default file fields: kind,id,name,mimeType"
    );
}

#[tokio::test]
async fn list_filters_with_q() {
    let env = Env::start().await;
    let token = access_token(&env, "ada@example.com").await;
    create(&env, &token, "settings.json").await;
    create(&env, &token, "cache.bin").await;
    let (s, page) = list(
        &env,
        &token,
        &[
            ("spaces", "appDataFolder"),
            ("q", "name = 'settings.json' and trashed = false"),
        ],
    )
    .await;
    assert_eq!(s, 200);
    let files = page["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["name"], "settings.json");
}

#[tokio::test]
async fn files_belong_to_their_user() {
    let env = Env::start().await;
    let ada = access_token(&env, "ada@example.com").await;
    let bob = access_token(&env, "bob@example.com").await;
    let f = create(&env, &ada, "ada.json").await;
    let (_, page) = list(&env, &bob, &[("spaces", "appDataFolder")]).await;
    assert_eq!(
        page["files"],
        json!([]),
        "another user's appDataFolder is invisible"
    );
    let (s, _) = env
        .get_bearer(
            &format!("/drive/v3/files/{}", f["id"].as_str().unwrap()),
            &bob,
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn missing_and_invalid_credentials_are_401_with_googles_body() {
    let env = Env::start().await;
    let r = env
        .http
        .get(env.url("/drive/v3/files?spaces=appDataFolder"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["errors"][0]["reason"], "required");
    let r = env
        .http
        .get(env.url("/drive/v3/files?spaces=appDataFolder"))
        .bearer_auth("ya29.expired-or-garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], 401);
    assert_eq!(b["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(b["error"]["errors"][0]["reason"], "authError");
    assert_eq!(b["error"]["errors"][0]["message"], "Invalid Credentials");
}

#[tokio::test]
async fn expired_access_token_is_401() {
    let env = Env::start().await;
    let token = access_token(&env, "ada@example.com").await;
    env.emu.set_clock_offset(3600);
    let (s, _) = env.get_bearer("/drive/v3/files/appfolder", &token).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn a_grant_without_drive_appdata_is_403_insufficient_scope() {
    let env = Env::start().await;
    let (code, _) = env
        .mint(json!({"email": "ada@example.com", "scopes": ["openid", "email"]}))
        .await;
    let (_, t) = env.exchange(&code).await;
    let (s, b) = env
        .get_bearer(
            "/drive/v3/files?spaces=appDataFolder",
            t["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(b["error"]["status"], "PERMISSION_DENIED");
    assert_eq!(b["error"]["errors"][0]["reason"], "insufficientPermissions");
    assert_eq!(
        b["error"]["details"][0]["reason"],
        "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    );
}

#[tokio::test]
async fn listing_the_users_drive_space_needs_more_than_appdata() {
    let env = Env::start().await;
    let token = access_token(&env, "ada@example.com").await;
    let (s, _) = list(&env, &token, &[]).await;
    assert_eq!(
        s, 403,
        "spaces defaults to drive, which drive.appdata cannot read"
    );
}

#[tokio::test]
async fn bad_list_parameters_are_400_invalid_with_their_location() {
    let env = Env::start().await;
    let token = access_token(&env, "ada@example.com").await;
    for (param, value) in [
        ("pageSize", "0"),
        ("pageSize", "1001"),
        ("pageToken", "garbage"),
        ("q", "name = "),
        ("fields", "files(id,nosuchfield)"),
        ("orderBy", "size sideways"),
    ] {
        let (s, b) = list(&env, &token, &[("spaces", "appDataFolder"), (param, value)]).await;
        assert_eq!(s, 400, "{param}={value}: {b}");
        assert_eq!(b["error"]["errors"][0]["reason"], "invalid", "{param}");
        assert_eq!(b["error"]["errors"][0]["location"], param);
    }
}

#[tokio::test]
async fn creating_outside_the_appdata_folder_is_refused() {
    let env = Env::start().await;
    let token = access_token(&env, "ada@example.com").await;
    let r = env
        .http
        .post(env.url("/drive/v3/files"))
        .bearer_auth(&token)
        .json(&json!({"name": "in-my-drive"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
