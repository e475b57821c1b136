//! Google's OAuth 2.0 and OpenID Connect endpoints: discovery, the consent page, `/token`,
//! `/revoke`, `/tokeninfo`, userinfo and the two certs formats.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::Shared;
use crate::faults::FORM_LIMIT;
use crate::keys::at_hash;
use crate::replies::{self, Params, json as json_reply, no_store_json, oauth_error};
use crate::state::{
    ACCESS_TOKEN_SECS, ClientKind, CodeRedemption, Issued, OAuthError, SCOPE_EMAIL, SCOPE_OPENID,
    SCOPE_PROFILE,
};

mod consent;

pub use consent::{auth_decide, auth_page, granted_scopes};

pub async fn discovery(State(s): State<Arc<Shared>>) -> Response {
    let base = &s.base_url;
    json_reply(
        StatusCode::OK,
        &json!({
            "issuer": s.issuer,
            "authorization_endpoint": format!("{base}/o/oauth2/v2/auth"),
            "device_authorization_endpoint": format!("{base}/device/code"),
            "token_endpoint": format!("{base}/token"),
            "userinfo_endpoint": format!("{base}/v1/userinfo"),
            "revocation_endpoint": format!("{base}/revoke"),
            "jwks_uri": format!("{base}/oauth2/v3/certs"),
            "response_types_supported": [
                "code", "token", "id_token", "code token", "code id_token", "token id_token",
                "code token id_token", "none"
            ],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": [
                "aud", "email", "email_verified", "exp", "family_name", "given_name", "iat",
                "iss", "name", "picture", "sub"
            ],
            "code_challenge_methods_supported": ["plain", "S256"],
            "grant_types_supported": [
                "authorization_code", "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code",
                "urn:ietf:params:oauth:grant-type:jwt-bearer"
            ],
            "authorization_response_iss_parameter_supported": true
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// The token endpoint.

/// Who is calling `/token`: client_secret_basic or client_secret_post, as Google accepts.
fn authenticate_client(s: &Shared, p: &Params, headers: &HeaderMap) -> Result<String, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .map(|b64| {
            let invalid = || OAuthError::new(401, "invalid_client", "Unauthorized");
            let raw = STANDARD.decode(b64.trim()).map_err(|_| invalid())?;
            let raw = String::from_utf8(raw).map_err(|_| invalid())?;
            let (id, secret) = raw.split_once(':').ok_or_else(invalid)?;
            // RFC 6749 §2.3.1: both halves are form-urlencoded before joining.
            let decode = |x: &str| {
                form_urlencoded::parse(format!("v={x}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            Ok::<_, OAuthError>((decode(id), decode(secret)))
        })
        .transpose()?;
    let form_id = p.one("client_id")?;
    let form_secret = p.one("client_secret")?;
    if let (Some((bid, _)), Some(fid)) = (&basic, form_id)
        && bid != fid
    {
        return Err(OAuthError::new(401, "invalid_client", "Unauthorized"));
    }
    let client_id = basic
        .as_ref()
        .map(|(id, _)| id.as_str())
        .or(form_id)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            OAuthError::new(
                400,
                "invalid_request",
                "Could not determine client ID from request.",
            )
        })?;
    let db = s.db();
    let client = db
        .clients
        .get(client_id)
        .ok_or_else(|| OAuthError::new(401, "invalid_client", "The OAuth client was not found."))?;
    let given = basic.as_ref().map(|(_, sec)| sec.as_str()).or(form_secret);
    match (&client.secret, given) {
        // iOS clients are public: no secret. Desktop clients have one (not confidential, but
        // Google requires it at /token: "client_secret is missing.").
        (None, _) if client.kind == ClientKind::Ios => Ok(client_id.to_owned()),
        (Some(_), None) => Err(OAuthError::new(
            400,
            "invalid_request",
            "client_secret is missing.",
        )),
        (Some(expected), Some(given))
            if constant_time_eq(expected.as_bytes(), given.as_bytes()) =>
        {
            Ok(client_id.to_owned())
        }
        _ => Err(OAuthError::new(401, "invalid_client", "Unauthorized")),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn token(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    match token_inner(&s, &headers, body).await {
        Ok(value) => no_store_json(StatusCode::OK, &value),
        Err(e) => oauth_error(&e),
    }
}

async fn token_inner(s: &Shared, headers: &HeaderMap, body: Body) -> Result<Value, OAuthError> {
    let bytes = replies::read_body(body, FORM_LIMIT)
        .await
        .map_err(|e| e.as_oauth())?;
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let params = if is_form {
        Params::parse(&bytes)
    } else {
        Params::default()
    };
    let grant_type = params.one("grant_type")?.ok_or_else(|| {
        OAuthError::new(
            400,
            "invalid_request",
            "Required parameter is missing: grant_type",
        )
    })?;
    if grant_type != "authorization_code" && grant_type != "refresh_token" {
        return Err(OAuthError::new(
            400,
            "unsupported_grant_type",
            format!("Invalid grant_type: {grant_type}"),
        ));
    }
    let client_id = authenticate_client(s, &params, headers)?;
    let now = s.clock.now();
    let issued = if grant_type == "authorization_code" {
        let code = params.one("code")?.ok_or_else(|| {
            OAuthError::new(400, "invalid_request", "Missing required parameter: code")
        })?;
        let redemption = CodeRedemption {
            code,
            client_id: &client_id,
            redirect_uri: params.one("redirect_uri")?,
            code_verifier: params.one("code_verifier")?,
        };
        s.db().redeem_code(&redemption, now)?
    } else {
        let refresh_token = params.one("refresh_token")?.ok_or_else(|| {
            OAuthError::new(
                400,
                "invalid_request",
                "Missing required parameter: refresh_token",
            )
        })?;
        let scope = params.one("scope")?;
        s.db().refresh(refresh_token, &client_id, scope, now)?
    };
    token_response(s, &issued, now)
}

/// The JSON Google returns for a token grant, with a freshly signed ID token when `openid`.
fn token_response(s: &Shared, issued: &Issued, now: i64) -> Result<Value, OAuthError> {
    let mut out = json!({
        "access_token": issued.access_token,
        "expires_in": ACCESS_TOKEN_SECS,
        "scope": issued.scopes.join(" "),
        "token_type": "Bearer",
    });
    if let Some(rt) = &issued.refresh_token {
        out["refresh_token"] = json!(rt);
    }
    if issued.scopes.iter().any(|x| x == SCOPE_OPENID) {
        let claims = id_token_claims(s, issued, now);
        let key = s.keys().current();
        let token = key
            .sign_jwt(&claims)
            .map_err(|_| OAuthError::new(500, "internal_failure", "Backend Error"))?;
        out["id_token"] = json!(token);
    }
    Ok(out)
}

/// The profile claims; Google leaves out the ones a user does not have (a one-word name has
/// no `family_name`).
fn profile_fields(out: &mut Value, user: &crate::state::User) {
    for (k, v) in [
        ("name", &user.name),
        ("picture", &user.picture),
        ("given_name", &user.given_name),
        ("family_name", &user.family_name),
        ("locale", &user.locale),
    ] {
        if !v.is_empty() {
            out[k] = json!(v);
        }
    }
}

fn id_token_claims(s: &Shared, issued: &Issued, now: i64) -> Value {
    let user = &issued.user;
    let mut claims = json!({
        "iss": s.issuer,
        "azp": issued.azp,
        "aud": issued.client_id,
        "sub": user.sub,
    });
    let has = |scope: &str| issued.scopes.iter().any(|x| x == scope);
    if has(SCOPE_EMAIL) {
        claims["email"] = json!(user.email);
        claims["email_verified"] = json!(user.email_verified);
    }
    claims["at_hash"] = json!(at_hash(&issued.access_token));
    if let Some(nonce) = &issued.nonce {
        claims["nonce"] = json!(nonce);
    }
    if issued.profile_claims && has(SCOPE_PROFILE) {
        profile_fields(&mut claims, user);
    }
    if let Some(hd) = &user.hd {
        claims["hd"] = json!(hd);
    }
    claims["iat"] = json!(now);
    claims["exp"] = json!(now + 3600);
    claims
}

// ---------------------------------------------------------------------------------------------
// Revocation, tokeninfo, userinfo.

fn revoke_token(s: &Shared, params: &Params) -> Response {
    let token = match params.one("token") {
        Ok(Some(t)) => t,
        Ok(None) => {
            return oauth_error(&OAuthError::new(
                400,
                "invalid_request",
                "Missing required parameter: token",
            ));
        }
        Err(e) => return oauth_error(&e),
    };
    if s.db().revoke(token, s.clock.now()) {
        no_store_json(StatusCode::OK, &json!({}))
    } else {
        oauth_error(&OAuthError::new(
            400,
            "invalid_token",
            "Token expired or revoked",
        ))
    }
}

/// The parameters of a POST: its form body and its query string together, as Google reads them.
async fn form_and_query(body: Body, query: Option<String>) -> Result<Params, Response> {
    let bytes = replies::read_body(body, FORM_LIMIT)
        .await
        .map_err(|e| oauth_error(&e.as_oauth()))?;
    let mut params = Params::parse(&bytes);
    params.merge(Params::parse(query.unwrap_or_default().as_bytes()));
    Ok(params)
}

pub async fn revoke_post(
    State(s): State<Arc<Shared>>,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    match form_and_query(body, q).await {
        Ok(params) => revoke_token(&s, &params),
        Err(r) => r,
    }
}

/// oauth2client revokes with `GET ?token=` (its default revoke URI accepted it).
pub async fn revoke_get(State(s): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Response {
    revoke_token(&s, &Params::parse(q.unwrap_or_default().as_bytes()))
}

fn tokeninfo(s: &Shared, params: &Params) -> Response {
    let invalid = || oauth_error(&OAuthError::new(400, "invalid_token", "Invalid Value"));
    let now = s.clock.now();
    if let Some(token) = params.first("access_token") {
        let Some((rec, grant, user)) = s.db().access(token, now) else {
            return invalid();
        };
        let mut out = json!({
            "azp": grant.azp,
            "aud": grant.client_id,
            "sub": user.sub,
            "scope": rec.scopes.join(" "),
            "exp": rec.expires_at.to_string(),
            "expires_in": (rec.expires_at - now).to_string(),
            "access_type": if grant.refresh_token.is_some() { "offline" } else { "online" },
        });
        if rec.scopes.iter().any(|x| x == SCOPE_EMAIL) {
            out["email"] = json!(user.email);
            out["email_verified"] = json!(user.email_verified.to_string());
        }
        return json_reply(StatusCode::OK, &out);
    }
    if let Some(token) = params.first("id_token") {
        let Some((header, claims)) = s.keys().verify(token, now) else {
            return invalid();
        };
        // tokeninfo reports every claim as a string, plus the header fields.
        let mut out = serde_json::Map::new();
        if let Value::Object(map) = claims {
            for (k, v) in map {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(k, json!(v));
            }
        }
        for field in ["alg", "kid", "typ"] {
            if let Some(v) = header[field].as_str() {
                out.insert(field.to_owned(), json!(v));
            }
        }
        return json_reply(StatusCode::OK, &Value::Object(out));
    }
    oauth_error(&OAuthError::new(
        400,
        "invalid_request",
        "Either access_token, id_token, or token_handle required",
    ))
}

pub async fn tokeninfo_get(State(s): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Response {
    tokeninfo(&s, &Params::parse(q.unwrap_or_default().as_bytes()))
}

pub async fn tokeninfo_post(
    State(s): State<Arc<Shared>>,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    match form_and_query(body, q).await {
        Ok(params) => tokeninfo(&s, &params),
        Err(r) => r,
    }
}

/// The bearer token of a request: the `Authorization` header, or `access_token=` in the query.
pub fn bearer(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, token) = v.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned());
    }
    Params::parse(query.unwrap_or_default().as_bytes())
        .first("access_token")
        .map(str::to_owned)
}

pub async fn userinfo(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let found = bearer(&headers, q.as_deref()).and_then(|t| s.db().access(&t, s.clock.now()));
    let Some((rec, _, user)) = found else {
        let mut r = replies::json(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "invalid_request", "error_description": "Invalid Credentials"}),
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
            ),
        );
        return r;
    };
    let has = |scope: &str| rec.scopes.iter().any(|x| x == scope);
    let mut out = json!({"sub": user.sub});
    if has(SCOPE_PROFILE) {
        profile_fields(&mut out, &user);
    }
    if has(SCOPE_EMAIL) {
        out["email"] = json!(user.email);
        out["email_verified"] = json!(user.email_verified);
    }
    if let Some(hd) = &user.hd {
        out["hd"] = json!(hd);
    }
    json_reply(StatusCode::OK, &out)
}

fn certs_reply(s: &Shared, body: &Value) -> Response {
    let mut r = json_reply(StatusCode::OK, body);
    let max_age = s.certs_max_age;
    let expires = chrono::DateTime::from_timestamp(s.clock.now() + i64::from(max_age), 0)
        .map(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "public, max-age={max_age}, must-revalidate, no-transform"
    )) {
        h.insert(header::CACHE_CONTROL, v);
    }
    if let Ok(v) = HeaderValue::from_str(&expires) {
        h.insert(header::EXPIRES, v);
    }
    r
}

pub async fn certs_jwk(State(s): State<Arc<Shared>>) -> Response {
    let body = s.keys().jwks(s.clock.now());
    certs_reply(&s, &body)
}

pub async fn certs_pem(State(s): State<Arc<Shared>>) -> Response {
    let body = s.keys().pem_certs(s.clock.now());
    certs_reply(&s, &body)
}
