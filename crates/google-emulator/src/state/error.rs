//! Why a request to the OAuth endpoints failed, in Google's vocabulary: the HTTP status, the
//! `error` code and the `error_description`.

/// Why a token request failed, in Google's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }
    pub(super) fn bad_grant(description: &str) -> Self {
        Self::new(400, "invalid_grant", description)
    }
}
