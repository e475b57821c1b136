//! Google's OAuth 2.0 and OpenID Connect endpoints: discovery, the consent page, `/token`,
//! `/revoke`, `/tokeninfo`, userinfo and the two certs formats.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::faults::FORM_LIMIT;
use crate::keys::at_hash;
use crate::replies::{self, Params, json as json_reply, no_store_json, oauth_error};
use crate::state::{
    ACCESS_TOKEN_SECS, ClientKind, Code, CodeRedemption, Issued, OAuthError, Pkce, RedirectRule,
    SCOPE_EMAIL, SCOPE_OPENID, SCOPE_PROFILE, UserSpec, normalize_scopes,
};
use crate::{Shared, redirects};

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
// The authorization endpoint: a plain HTML consent page.

/// Parameters of an authorization request, checked before any page is shown.
struct AuthRequest {
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    state: Option<String>,
    offline: bool,
    force_consent: bool,
    pkce: Option<Pkce>,
    nonce: Option<String>,
    login_hint: Option<String>,
    /// `prompt=none`: no page; a code only for a person who consented already.
    no_prompt: bool,
    include_granted_scopes: bool,
    /// `hd`: the chooser lists only that Workspace domain's accounts (`*`: any Workspace
    /// account). Google does not enforce it: the ID token's `hd` is for servers to check.
    hd: Option<String>,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn auth_error_page(status: StatusCode, error: &str, detail: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=utf-8><title>Error {code}: {error}</title></head>\
         <body><h1>Access blocked: authorization error</h1><p>Error {code}: {error}</p><p>{detail}</p>\
         </body></html>",
        code = status.as_u16(),
        error = escape(error),
        detail = escape(detail),
    );
    (status, Html(body)).into_response()
}

fn parse_auth_request(s: &Shared, p: &Params) -> Result<AuthRequest, Response> {
    let bad = |e: OAuthError| auth_error_page(StatusCode::BAD_REQUEST, e.error, &e.description);
    let one = |name: &str| p.one(name).map(|v| v.map(str::to_owned)).map_err(bad);
    let Some(client_id) = one("client_id")? else {
        return Err(auth_error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: client_id",
        ));
    };
    let db = s.db();
    let Some(client) = db.clients.get(&client_id) else {
        return Err(auth_error_page(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        ));
    };
    let Some(redirect_uri) = one("redirect_uri")? else {
        return Err(auth_error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: redirect_uri",
        ));
    };
    let kind = client.kind;
    if !redirects::accepts(client, &redirect_uri) {
        // Google never redirects to an unregistered URI: the error stays on its own page.
        return Err(auth_error_page(
            StatusCode::BAD_REQUEST,
            "redirect_uri_mismatch",
            "You can't sign in because this app sent an invalid request.",
        ));
    }
    if one("response_type")?.as_deref() != Some("code") {
        return Err(auth_error_page(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "The emulator supports response_type=code only.",
        ));
    }
    let Some(scope) = one("scope")? else {
        return Err(auth_error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: scope",
        ));
    };
    let pkce = match (one("code_challenge")?, one("code_challenge_method")?) {
        // Google only recommends PKCE for installed apps; the emulator requires it of its
        // desktop client, so a sign-in that forgets it fails here rather than in production
        // review. The wording is Google's for any missing parameter.
        (None, _) if kind == ClientKind::Desktop => {
            return Err(auth_error_page(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing required parameter: code_challenge",
            ));
        }
        (None, _) => None,
        (Some(challenge), method) => {
            let method = method.unwrap_or_else(|| "plain".to_owned());
            if method != "S256" && method != "plain" {
                return Err(auth_error_page(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    &format!(
                        "Invalid parameter value for code_challenge_method: '{method}' is not \
                         a valid CodeChallengeMethod"
                    ),
                ));
            }
            Some(Pkce { method, challenge })
        }
    };
    let offline = match one("access_type")?.as_deref() {
        None | Some("online") => false,
        Some("offline") => true,
        Some(other) => {
            return Err(auth_error_page(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("Invalid access_type: {other}"),
            ));
        }
    };
    let prompt = one("prompt")?.unwrap_or_default();
    let prompts: Vec<&str> = prompt.split(' ').filter(|p| !p.is_empty()).collect();
    if let Some(bad) = prompts
        .iter()
        .find(|p| !matches!(**p, "none" | "consent" | "select_account"))
    {
        return Err(auth_error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("Invalid prompt: {bad}"),
        ));
    }
    let no_prompt = prompts.contains(&"none");
    if no_prompt && prompts.len() > 1 {
        return Err(auth_error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "prompt=none cannot be combined with other prompt values",
        ));
    }
    Ok(AuthRequest {
        client_id,
        redirect_uri,
        scopes: granted_scopes(&scope),
        state: one("state")?,
        offline,
        force_consent: prompts.contains(&"consent"),
        pkce,
        nonce: one("nonce")?,
        login_hint: one("login_hint")?,
        no_prompt,
        include_granted_scopes: one("include_granted_scopes")?.as_deref() == Some("true"),
        hd: one("hd")?.filter(|h| !h.is_empty()),
    })
}

/// Scopes as Google grants them: aliases expanded, and `openid` added when a profile or email
/// scope is asked for (the seed's sample asks for `profile email` and reads the ID token).
pub fn granted_scopes(scope: &str) -> Vec<String> {
    let mut scopes = normalize_scopes([scope]);
    let wants_identity = scopes
        .iter()
        .any(|s| s == SCOPE_EMAIL || s == SCOPE_PROFILE);
    if wants_identity && !scopes.iter().any(|s| s == SCOPE_OPENID) {
        scopes.push(SCOPE_OPENID.to_owned());
    }
    scopes
}

pub async fn auth_page(State(s): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let req = match parse_auth_request(&s, &params) {
        Ok(r) => r,
        Err(page) => return page,
    };
    if req.no_prompt {
        return without_a_page(&s, req);
    }
    let hint = req.login_hint.as_deref().unwrap_or_default();
    let users: Vec<(String, String, String)> = s
        .db()
        .users
        .values()
        .filter(|u| match req.hd.as_deref() {
            None => true,
            Some("*") => u.hd.is_some(),
            Some(hd) => u.hd.as_deref() == Some(hd),
        })
        .map(|u| (u.sub.clone(), u.email.clone(), u.name.clone()))
        .collect();
    // The hinted account is the one chosen at first, as Google's chooser does.
    let chosen = users
        .iter()
        .position(|(_, email, _)| email.eq_ignore_ascii_case(hint))
        .unwrap_or(0);
    let hidden: String = params
        .iter()
        .filter_map(|(k, v)| v.first().map(|v| (k, v)))
        .map(|(k, v)| {
            format!(
                "<input type=hidden name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    let options: String = users
        .iter()
        .enumerate()
        .map(|(i, (sub, email, name))| {
            format!(
                "<label><input type=radio name=sub value=\"{}\"{}> {} &lt;{}&gt;</label><br>",
                escape(sub),
                if i == chosen { " checked" } else { "" },
                escape(name),
                escape(email)
            )
        })
        .collect();
    let scopes: String = req
        .scopes
        .iter()
        .map(|s| format!("<li>{}</li>", escape(s)))
        .collect();
    // A hint that names no listed account prefills the new account's email.
    let hint = if users
        .iter()
        .any(|(_, email, _)| email.eq_ignore_ascii_case(hint))
    {
        String::new()
    } else {
        escape(hint)
    };
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=utf-8><title>Sign in - Google Accounts (emulator)</title></head>\
         <body><h1>Choose an account</h1><p>to continue to <code>{client}</code></p>\
         <form method=post action=\"/o/oauth2/v2/auth\">{hidden}\
         <fieldset><legend>Existing test users</legend>{options}</fieldset>\
         <fieldset><legend>Or a new test user</legend>\
         <label>Email <input name=new_email value=\"{hint}\"></label> \
         <label>Name <input name=new_name></label></fieldset>\
         <p>The app asks for:</p><ul>{scopes}</ul>\
         <button name=decision value=allow>Allow</button> \
         <button name=decision value=deny>Cancel</button></form></body></html>",
        client = escape(&req.client_id),
    );
    Html(body).into_response()
}

fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::FOUND, [(header::LOCATION, v)]).into_response(),
        Err(_) => auth_error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "bad redirect_uri",
        ),
    }
}

fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{}", q.finish())
}

pub async fn auth_decide(State(s): State<Arc<Shared>>, body: Body) -> Response {
    let bytes = match replies::read_body(body, FORM_LIMIT).await {
        Ok(b) => b,
        Err(e) => {
            return auth_error_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                &e.as_oauth().description,
            );
        }
    };
    let params = Params::parse(&bytes);
    let req = match parse_auth_request(&s, &params) {
        Ok(r) => r,
        Err(page) => return page,
    };
    let state = req.state.as_deref();
    if params.first("decision") != Some("allow") {
        let mut pairs = vec![("error", "access_denied")];
        pairs.extend(state.map(|st| ("state", st)));
        return redirect(&with_query(&req.redirect_uri, &pairs));
    }
    let now = s.clock.now();
    let mut db = s.db();
    let new_email = params
        .first("new_email")
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let sub = match new_email {
        Some(email) => {
            let spec = UserSpec {
                email: email.to_owned(),
                name: params
                    .first("new_name")
                    .filter(|n| !n.trim().is_empty())
                    .map(str::to_owned),
                ..UserSpec::default()
            };
            match db.upsert_user(&spec) {
                Ok(u) => u.sub,
                Err(e) => return auth_error_page(StatusCode::BAD_REQUEST, e.error, &e.description),
            }
        }
        None => match params
            .first("sub")
            .filter(|sub| db.users.contains_key(*sub))
        {
            Some(sub) => sub.to_owned(),
            None => {
                return auth_error_page(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Choose a test user or enter a new email.",
                );
            }
        },
    };
    issue_code(&mut db, sub, req, now, "consent")
}

/// The redirect with a code for `sub`, who allowed (or had allowed) `req`; `shown` is the
/// page the person saw (`consent`, or `none`), which Google echoes as `prompt`.
fn issue_code(
    db: &mut crate::state::Db,
    sub: String,
    req: AuthRequest,
    now: i64,
    shown: &str,
) -> Response {
    let mut scopes = req.scopes.clone();
    if req.include_granted_scopes {
        for granted in db.granted_scopes(&sub, &req.client_id) {
            if !scopes.contains(&granted) {
                scopes.push(granted);
            }
        }
    }
    let scope_string = scopes.join(" ");
    let code = db.insert_code(Code {
        user_sub: sub,
        client_id: req.client_id.clone(),
        azp: req.client_id.clone(),
        scopes,
        redirect: RedirectRule::Exact(req.redirect_uri.clone()),
        pkce: req.pkce,
        offline: req.offline,
        force_consent: req.force_consent,
        nonce: req.nonce,
        issued_at: now,
        redeemed_by: None,
    });
    let mut pairs = vec![("code", code.as_str()), ("scope", scope_string.as_str())];
    pairs.extend(req.state.as_deref().map(|st| ("state", st)));
    pairs.push(("authuser", "0"));
    pairs.push(("prompt", shown));
    redirect(&with_query(&req.redirect_uri, &pairs))
}

/// `prompt=none`: Google shows nothing. The emulator has no browser session, so the signed-in
/// person is the one `login_hint` names: with a live grant to this client covering the
/// scopes, a code at once; else the error Google gives (`login_required` when nobody is
/// named, `consent_required` when they have not consented to all of it).
fn without_a_page(s: &Shared, req: AuthRequest) -> Response {
    let now = s.clock.now();
    let mut db = s.db();
    let hint = req.login_hint.as_deref().unwrap_or_default();
    let user = db
        .users
        .values()
        .find(|u| !hint.is_empty() && u.email.eq_ignore_ascii_case(hint))
        .map(|u| u.sub.clone());
    let error = match user {
        None => "login_required",
        Some(sub) => {
            let granted = db.granted_scopes(&sub, &req.client_id);
            if req.scopes.iter().all(|sc| granted.contains(sc)) {
                return issue_code(&mut db, sub, req, now, "none");
            }
            "consent_required"
        }
    };
    let mut pairs = vec![("error", error)];
    pairs.extend(req.state.as_deref().map(|st| ("state", st)));
    redirect(&with_query(&req.redirect_uri, &pairs))
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
