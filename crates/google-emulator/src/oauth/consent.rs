//! Google's authorization endpoint: the request's checks, a plain HTML consent page, the
//! person's decision, and `prompt=none`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::faults::FORM_LIMIT;
use crate::replies::{self, Params};
use crate::state::{
    ClientKind, Code, OAuthError, Pkce, RedirectRule, SCOPE_EMAIL, SCOPE_OPENID, SCOPE_PROFILE,
    UserSpec, normalize_scopes,
};
use crate::{Shared, redirects};

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
