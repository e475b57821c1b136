//! The OAuth scopes the emulator knows by name, and how a requested scope list is read:
//! split, aliases (`email`, `profile`) expanded as Google does, duplicates dropped.

pub const SCOPE_OPENID: &str = "openid";
pub const SCOPE_EMAIL: &str = "https://www.googleapis.com/auth/userinfo.email";
pub const SCOPE_PROFILE: &str = "https://www.googleapis.com/auth/userinfo.profile";
pub const SCOPE_DRIVE_APPDATA: &str = "https://www.googleapis.com/auth/drive.appdata";
pub const SCOPE_DRIVE: &str = "https://www.googleapis.com/auth/drive";

/// Google's scope aliases come back expanded in token responses.
pub fn expand_scope(scope: &str) -> String {
    match scope {
        "email" => SCOPE_EMAIL.to_owned(),
        "profile" => SCOPE_PROFILE.to_owned(),
        other => other.to_owned(),
    }
}

/// Splits, expands and de-duplicates a space-delimited scope list, keeping first-seen order.
pub fn normalize_scopes<'a>(scopes: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scopes.into_iter().flat_map(|s| s.split_whitespace()) {
        let s = expand_scope(s);
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}
