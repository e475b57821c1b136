//! Secret newtypes: one type per kind of secret, so a token can't be printed, logged,
//! serialised or compared by accident. Debug says `[redacted]`; the value is zeroized on drop.

/// Declares a secret newtype around a `String`.
///
/// What the type gets, and why:
/// - `Debug` prints `Name([redacted])`, so `{:?}` in a log line or an error is safe.
/// - no `Display`, `Serialize` or `PartialEq`: printing, sending over IPC or writing to SQLite
///   needs an explicit `.secret()`, and comparisons can't leak timing.
/// - `Deserialize` (transparent), so protocol responses can be parsed straight into it.
/// - zeroized on drop (`zeroize`), so the heap copy doesn't linger after use.
///
/// Attributes before the name (docs, `#[derive(Clone)]`) are passed through; leave `Clone`
/// off a type whose value must be used once (an authorization code).
macro_rules! secret_type {
    ($(#[$attr:meta])* $name:ident) => {
        $(#[$attr])*
        #[derive(::serde::Deserialize, ::zeroize::Zeroize, ::zeroize::ZeroizeOnDrop)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret value itself.
            ///
            /// # Security warning
            ///
            /// This exposes the secret. Never log it, put it in an error message, a panic,
            /// the SQLite store, the UI or a JSON document unless a person explicitly asked
            /// to reveal it (and that is audited). Pass it only to the party it is meant for.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

/// The names under which requests and responses carry secrets: form and query parameters, JSON
/// keys at any depth, `name`/`value` pairs. The one list every masking and redaction uses.
pub const SECRET_NAMES: &[&str] = &[
    "access_token",
    "assertion",
    "client_secret",
    "code",
    "code_verifier",
    "id_token",
    "password",
    "refresh_token",
    "server_code",
    "token",
];

/// Whether `name` (any case) names a secret.
pub fn is_secret_name(name: &str) -> bool {
    SECRET_NAMES.contains(&name.to_ascii_lowercase().as_str())
}

/// What a secret shows as wherever it is displayed or stored masked: no character of it (even
/// a prefix narrows a guess, and a code's first characters are enough to match it in a log).
pub const MASKED: &str = "[redacted]";

secret_type!(
    /// A PKCE code verifier (RFC 7636): the secret whose hash went to the authorization
    /// endpoint as `code_challenge`, sent with the code to prove who asked for it. Not `Clone`:
    /// it travels with its one code.
    PkceVerifier
);

/// A one-time authorization code (a mobile app's `serverAuthCode`, or what a redirect brought
/// back), with the PKCE verifier of the authorization request that got it, when it had one.
/// Not `Clone`: a code can be exchanged once, so the program should hold exactly one copy.
/// Debug, zeroizing and the accessor are those of every secret type (see `secret_type!`).
#[derive(::zeroize::Zeroize, ::zeroize::ZeroizeOnDrop)]
pub struct AuthCode {
    code: String,
    pkce_verifier: Option<PkceVerifier>,
}

impl AuthCode {
    /// Wraps a code obtained without PKCE (a serverAuthCode).
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            code: value.into(),
            pkce_verifier: None,
        }
    }

    /// The same code, to be redeemed with `verifier` (`code_verifier` at the token endpoint).
    #[must_use]
    pub fn with_pkce_verifier(mut self, verifier: PkceVerifier) -> Self {
        self.pkce_verifier = Some(verifier);
        self
    }

    /// The code itself.
    ///
    /// # Security warning
    ///
    /// As for every secret type: pass it only to the token endpoint it is meant for.
    pub fn secret(&self) -> &str {
        &self.code
    }

    /// The PKCE verifier to send with the code, if its request had a `code_challenge`.
    pub fn pkce_verifier(&self) -> Option<&PkceVerifier> {
        self.pkce_verifier.as_ref()
    }
}

impl ::std::fmt::Debug for AuthCode {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        f.write_str("AuthCode([redacted])")
    }
}
secret_type!(
    /// An OAuth 2.0 access token (`ya29...`).
    #[derive(Clone)]
    AccessToken
);
secret_type!(
    /// An OAuth 2.0 refresh token (`1//...`): the most valuable secret TokenDesk holds.
    #[derive(Clone)]
    RefreshToken
);
secret_type!(
    /// A raw, compact-serialised ID token (JWT), verified or not. It carries the user's
    /// identity and works as a bearer credential at some relying parties.
    #[derive(Clone)]
    IdTokenRaw
);
secret_type!(
    /// An OAuth client secret (`GOCSPX-...`). Lives in the keyring, never in SQLite or logs.
    #[derive(Clone)]
    ClientSecret
);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use zeroize::Zeroize;

    const CANARY: &str = "canary-7f3a9c-secret-value";

    fn assert_redacted(debug: String, type_name: &str) {
        assert_eq!(
            debug,
            format!("{type_name}([redacted])"),
            "Debug must print only the name"
        );
        assert!(
            !debug.contains(CANARY),
            "Debug must never contain the secret"
        );
    }

    #[test]
    fn auth_code_debug_is_redacted() {
        let code = AuthCode::new(CANARY);
        assert_redacted(format!("{code:?}"), "AuthCode");
        assert_redacted(format!("{code:#?}"), "AuthCode");
        assert_eq!(
            code.secret(),
            CANARY,
            "the accessor returns the value unchanged"
        );
    }

    #[test]
    fn auth_code_with_verifier_debug_is_redacted() {
        let code = AuthCode::new(CANARY).with_pkce_verifier(PkceVerifier::new(CANARY));
        assert_redacted(format!("{code:?}"), "AuthCode");
        assert_eq!(code.pkce_verifier().map(PkceVerifier::secret), Some(CANARY));
        assert_redacted(
            format!("{:?}", code.pkce_verifier().unwrap()),
            "PkceVerifier",
        );
    }

    #[test]
    fn access_token_debug_is_redacted() {
        let token = AccessToken::new(CANARY);
        assert_redacted(format!("{token:?}"), "AccessToken");
        assert_eq!(
            format!("{:?}", Some(token)),
            "Some(AccessToken([redacted]))"
        );
    }

    #[test]
    fn refresh_token_debug_is_redacted() {
        let token = RefreshToken::new(CANARY);
        assert_redacted(format!("{token:?}"), "RefreshToken");
    }

    #[test]
    fn id_token_raw_debug_is_redacted() {
        let token = IdTokenRaw::new(CANARY);
        assert_redacted(format!("{token:?}"), "IdTokenRaw");
    }

    #[test]
    fn client_secret_debug_is_redacted() {
        let secret = ClientSecret::new(CANARY);
        assert_redacted(format!("{secret:?}"), "ClientSecret");
    }

    #[test]
    fn secrets_inside_structs_stay_redacted() {
        #[derive(Debug)]
        #[allow(dead_code)] // read through Debug only
        struct Grant {
            access: AccessToken,
            refresh: RefreshToken,
        }
        let grant = Grant {
            access: AccessToken::new(CANARY),
            refresh: RefreshToken::new(CANARY),
        };
        let debug = format!("{grant:?}");
        assert!(
            !debug.contains(CANARY),
            "a derived Debug of a holder must not leak: {debug}"
        );
    }

    #[test]
    fn secrets_deserialize_from_json_strings() {
        let token: RefreshToken = serde_json::from_str(&format!("\"{CANARY}\"")).unwrap();
        assert_eq!(
            token.secret(),
            CANARY,
            "transparent Deserialize keeps the value"
        );
    }

    #[test]
    fn zeroize_clears_the_value() {
        let mut secret = ClientSecret::new(CANARY);
        secret.zeroize();
        assert_eq!(
            secret.secret(),
            "",
            "zeroize must leave nothing of the secret behind"
        );
    }

    /// Fails to compile (an ambiguous impl) if `$ty` implements `$trait`: the technique of
    /// `static_assertions::assert_not_impl_any!`, without the dependency.
    macro_rules! assert_not_impl {
        ($ty:ty, $trait:path) => {{
            trait AmbiguousIfImpl<A> {
                fn some_item() {}
            }
            impl<T: ?Sized> AmbiguousIfImpl<()> for T {}
            #[allow(dead_code)]
            struct Invalid;
            impl<T: ?Sized + $trait> AmbiguousIfImpl<Invalid> for T {}
            let _ = <$ty as AmbiguousIfImpl<_>>::some_item;
        }};
    }

    #[test]
    fn secrets_have_no_display_serialize_or_partial_eq() {
        assert_not_impl!(AuthCode, std::fmt::Display);
        assert_not_impl!(AuthCode, serde::Serialize);
        assert_not_impl!(AuthCode, PartialEq);
        assert_not_impl!(AuthCode, Clone);
        assert_not_impl!(PkceVerifier, std::fmt::Display);
        assert_not_impl!(PkceVerifier, serde::Serialize);
        assert_not_impl!(PkceVerifier, Clone);
        assert_not_impl!(AccessToken, std::fmt::Display);
        assert_not_impl!(AccessToken, serde::Serialize);
        assert_not_impl!(AccessToken, PartialEq);
        assert_not_impl!(RefreshToken, std::fmt::Display);
        assert_not_impl!(RefreshToken, serde::Serialize);
        assert_not_impl!(RefreshToken, PartialEq);
        assert_not_impl!(IdTokenRaw, std::fmt::Display);
        assert_not_impl!(IdTokenRaw, serde::Serialize);
        assert_not_impl!(IdTokenRaw, PartialEq);
        assert_not_impl!(ClientSecret, std::fmt::Display);
        assert_not_impl!(ClientSecret, serde::Serialize);
        assert_not_impl!(ClientSecret, PartialEq);
    }
}
