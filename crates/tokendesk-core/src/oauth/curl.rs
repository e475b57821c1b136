//! A recorded request as a `curl` command a person can run again. Every masked value becomes
//! a shell variable (`"$REFRESH_TOKEN"`) named for what it held, so the masked command is
//! already runnable once those are set; a value the caller supplies (a revealed secret) goes
//! in quoted instead.

use serde::Serialize;

use super::http::{RawExchange, RawField};
use crate::secret::MASKED;

/// What a masked value in a recorded request was.
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SecretSlot {
    ClientSecret,
    RefreshToken,
    AccessToken,
    /// The revocation endpoint's `token`: whichever token of the grant was sent.
    Token,
    /// A one-time authorization code: spent by the call that carried it.
    Code,
    /// A PKCE verifier: good only with its one code.
    CodeVerifier,
    IdToken,
    /// Any other masked value.
    Secret,
}

impl SecretSlot {
    /// The slot a parameter (form, query, JSON key) of this name holds.
    pub fn of_name(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "client_secret" => Self::ClientSecret,
            "refresh_token" => Self::RefreshToken,
            "access_token" => Self::AccessToken,
            "token" => Self::Token,
            "code" | "server_code" => Self::Code,
            "code_verifier" => Self::CodeVerifier,
            "id_token" => Self::IdToken,
            _ => Self::Secret,
        }
    }

    /// The shell variable the masked command uses for it.
    pub fn variable(self) -> &'static str {
        match self {
            Self::ClientSecret => "CLIENT_SECRET",
            Self::RefreshToken => "REFRESH_TOKEN",
            Self::AccessToken => "ACCESS_TOKEN",
            Self::Token => "TOKEN",
            Self::Code => "AUTH_CODE",
            Self::CodeVerifier => "CODE_VERIFIER",
            Self::IdToken => "ID_TOKEN",
            Self::Secret => "SECRET",
        }
    }

    /// True for values that worked once and can never be sent again.
    pub fn single_use(self) -> bool {
        matches!(self, Self::Code | Self::CodeVerifier)
    }
}

/// A command, with which secrets it needs and which of them it carries.
#[derive(Clone, PartialEq, Eq)]
pub struct Curl {
    pub command: String,
    /// Slots the command leaves as shell variables, in order, without repeats.
    pub variables: Vec<SecretSlot>,
    /// Slots whose values are in the command (supplied by the caller).
    pub filled: Vec<SecretSlot>,
    /// The request had a body that was not kept (not a form): the command cannot resend it.
    pub body_not_kept: bool,
}

impl std::fmt::Debug for Curl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A filled command holds secrets.
        f.debug_struct("Curl")
            .field(
                "command",
                &if self.filled.is_empty() {
                    self.command.as_str()
                } else {
                    MASKED
                },
            )
            .field("variables", &self.variables)
            .field("filled", &self.filled)
            .finish_non_exhaustive()
    }
}

/// `raw` as a curl command; `fill` gives the value for a masked slot, or `None` to leave it a
/// shell variable.
pub fn to_curl(raw: &RawExchange, fill: &dyn Fn(SecretSlot) -> Option<String>) -> Curl {
    let mut out = Curl {
        command: String::new(),
        variables: Vec::new(),
        filled: Vec::new(),
        body_not_kept: false,
    };
    let mut value_of = |slot: SecretSlot, shown: &str| -> Value {
        if shown != MASKED {
            return Value::Plain(shown.to_owned());
        }
        match fill(slot) {
            Some(value) => {
                if !out.filled.contains(&slot) {
                    out.filled.push(slot);
                }
                Value::Plain(value)
            }
            None => {
                if !out.variables.contains(&slot) {
                    out.variables.push(slot);
                }
                Value::Variable(slot.variable())
            }
        }
    };

    let mut parts: Vec<String> = vec!["curl".to_owned()];
    if raw.method != "GET" {
        parts.push(format!("-X {}", raw.method));
    }
    parts.push(url_argument(&raw.url, &mut value_of));
    for header in &raw.request_headers {
        let text = if header.name.eq_ignore_ascii_case("authorization") {
            match header.value.split_once(' ') {
                Some((scheme, credentials)) => {
                    let slot = if scheme.eq_ignore_ascii_case("bearer") {
                        SecretSlot::AccessToken
                    } else {
                        SecretSlot::Secret
                    };
                    Value::Plain(format!("{}: {scheme} ", header.name))
                        .then(value_of(slot, credentials))
                }
                None => Value::Plain(format!("{}: ", header.name))
                    .then(value_of(SecretSlot::Secret, &header.value)),
            }
        } else {
            Value::Plain(format!("{}: {}", header.name, header.value))
        };
        parts.push(format!("-H {}", text.quoted()));
    }
    for RawField { name, value } in &raw.form {
        let value =
            Value::Plain(format!("{name}=")).then(value_of(SecretSlot::of_name(name), value));
        parts.push(format!("--data-urlencode {}", value.quoted()));
    }
    let has_body = matches!(raw.method.as_str(), "POST" | "PUT" | "PATCH");
    if has_body && raw.form.is_empty() {
        out.body_not_kept = true;
    }
    out.command = parts.join(" \\\n  ");
    out
}

/// The URL, its masked query values replaced (revealed values percent-encoded).
fn url_argument(url: &str, value_of: &mut dyn FnMut(SecretSlot, &str) -> Value) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return Value::Plain(url.to_owned()).quoted();
    };
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs.iter().all(|(_, v)| v != MASKED) {
        return Value::Plain(url.to_owned()).quoted();
    }
    let mut base = parsed.clone();
    base.set_query(None);
    let mut text = Value::Plain(format!("{base}?"));
    for (i, (name, value)) in pairs.iter().enumerate() {
        let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
        let sep = if i == 0 { "" } else { "&" };
        text = text.then(Value::Plain(format!("{sep}{encoded}=")));
        text = text.then(match value_of(SecretSlot::of_name(name), value) {
            Value::Plain(v) => {
                Value::Plain(url::form_urlencoded::byte_serialize(v.as_bytes()).collect())
            }
            other => other,
        });
    }
    text.quoted()
}

/// A shell word being built: literal text, or text with `$VARIABLES` in it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Plain(String),
    Variable(&'static str),
    Mixed(Vec<Value>),
}

impl Value {
    fn then(self, next: Value) -> Value {
        let mut parts = match self {
            Value::Mixed(parts) => parts,
            other => vec![other],
        };
        parts.push(next);
        Value::Mixed(parts)
    }

    fn has_variable(&self) -> bool {
        match self {
            Value::Plain(_) => false,
            Value::Variable(_) => true,
            Value::Mixed(parts) => parts.iter().any(Value::has_variable),
        }
    }

    /// One shell word: single-quoted when it is all literal; otherwise double-quoted with the
    /// literal parts escaped for double quotes and the variables as `${NAME}`.
    fn quoted(&self) -> String {
        if !self.has_variable() {
            return single_quoted(&self.literal());
        }
        let mut out = String::from("\"");
        self.double_quoted_into(&mut out);
        out.push('"');
        out
    }

    fn literal(&self) -> String {
        match self {
            Value::Plain(text) => text.clone(),
            Value::Variable(name) => format!("${{{name}}}"),
            Value::Mixed(parts) => parts.iter().map(Value::literal).collect(),
        }
    }

    fn double_quoted_into(&self, out: &mut String) {
        match self {
            Value::Plain(text) => {
                for c in text.chars() {
                    if matches!(c, '"' | '\\' | '$' | '`') {
                        out.push('\\');
                    }
                    out.push(c);
                }
            }
            Value::Variable(name) => {
                out.push_str("${");
                out.push_str(name);
                out.push('}');
            }
            Value::Mixed(parts) => parts.iter().for_each(|p| p.double_quoted_into(out)),
        }
    }
}

/// `text` as one POSIX shell word that the shell reads back unchanged.
fn single_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::oauth::http::RawField;

    fn field(name: &str, value: &str) -> RawField {
        RawField {
            name: name.into(),
            value: value.into(),
        }
    }

    fn refresh() -> RawExchange {
        RawExchange {
            method: "POST".into(),
            url: "https://oauth2.googleapis.com/token".into(),
            request_headers: vec![field("content-type", "application/x-www-form-urlencoded")],
            form: vec![
                field("grant_type", "refresh_token"),
                field("refresh_token", MASKED),
                field("client_id", "web.apps.googleusercontent.com"),
                field("client_secret", MASKED),
            ],
            response: None,
            error: None,
            elapsed_ms: 3,
        }
    }

    #[test]
    fn a_masked_request_becomes_a_command_with_variables() {
        let curl = to_curl(&refresh(), &|_| None);
        assert_eq!(
            curl.command,
            "curl \\\n  -X POST \\\n  'https://oauth2.googleapis.com/token' \\\n  \
             -H 'content-type: application/x-www-form-urlencoded' \\\n  \
             --data-urlencode 'grant_type=refresh_token' \\\n  \
             --data-urlencode \"refresh_token=${REFRESH_TOKEN}\" \\\n  \
             --data-urlencode 'client_id=web.apps.googleusercontent.com' \\\n  \
             --data-urlencode \"client_secret=${CLIENT_SECRET}\""
        );
        assert_eq!(
            curl.variables,
            [SecretSlot::RefreshToken, SecretSlot::ClientSecret]
        );
        assert!(curl.filled.is_empty());
        assert!(!curl.body_not_kept, "a form body is all in the command");
        assert!(
            !curl.command.contains(MASKED),
            "no placeholder that would be sent as is"
        );
    }

    #[test]
    fn filled_values_are_quoted_so_the_shell_passes_them_unchanged() {
        let curl = to_curl(&refresh(), &|slot| match slot {
            SecretSlot::RefreshToken => Some("1//0a'b$c\"d".into()),
            _ => None,
        });
        assert!(
            curl.command
                .contains(r#"--data-urlencode 'refresh_token=1//0a'\''b$c"d'"#),
            "{}",
            curl.command
        );
        assert_eq!(curl.filled, [SecretSlot::RefreshToken]);
        assert_eq!(curl.variables, [SecretSlot::ClientSecret]);
        assert!(!format!("{curl:?}").contains("1//0a"), "Debug hides it");
    }

    #[test]
    fn a_bearer_header_and_a_query_token_are_variables_too() {
        let drive = RawExchange {
            method: "GET".into(),
            url: "https://www.googleapis.com/drive/v3/files?spaces=appDataFolder&pageSize=100"
                .into(),
            request_headers: vec![field("authorization", &format!("Bearer {MASKED}"))],
            ..refresh()
        };
        let curl = to_curl(&drive, &|_| None);
        assert!(curl.command.starts_with("curl \\\n  'https://www.googleapis.com/drive/v3/files?spaces=appDataFolder&pageSize=100'"));
        assert!(
            curl.command
                .contains("-H \"authorization: Bearer ${ACCESS_TOKEN}\"")
        );

        let tokeninfo = RawExchange {
            method: "GET".into(),
            url: format!("https://oauth2.googleapis.com/tokeninfo?access_token={MASKED}"),
            request_headers: vec![],
            form: vec![],
            ..refresh()
        };
        let curl = to_curl(&tokeninfo, &|_| None);
        assert_eq!(
            curl.command,
            "curl \\\n  \"https://oauth2.googleapis.com/tokeninfo?access_token=${ACCESS_TOKEN}\""
        );
        let filled = to_curl(&tokeninfo, &|_| Some("ya29.a/b+c".into()));
        assert!(
            filled.command.contains("access_token=ya29.a%2Fb%2Bc'"),
            "percent-encoded in the URL: {}",
            filled.command
        );
    }

    #[test]
    fn a_body_that_was_not_kept_is_said() {
        let upload = RawExchange {
            form: vec![],
            url: "https://www.googleapis.com/upload/drive/v3/files?uploadType=multipart".into(),
            ..refresh()
        };
        assert!(to_curl(&upload, &|_| None).body_not_kept);
    }
}
