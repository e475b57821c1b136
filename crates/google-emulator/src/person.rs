//! The person at the consent page, scripted: for tests of apps that sign in through a
//! browser (the emulator's desktop client, TokenDesk's staff sign-in, a WebDriver test).
//! The page is ours, so its form is read as a browser submits it, without an HTML parser.

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `(name, value)` of every `<input type=KIND ...>` on the consent page.
pub fn inputs(html: &str, kind: &str) -> Vec<(String, String)> {
    let attr = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let len = tag[start..].find('"')?;
        Some(unescape(&tag[start..start + len]))
    };
    html.split("<input ")
        .skip(1)
        .filter_map(|rest| rest.split('>').next())
        .filter(|tag| tag.starts_with(&format!("type={kind} ")))
        .filter_map(|tag| {
            let name = attr(tag, "name").or_else(|| {
                let start = tag.find("name=")? + 5;
                Some(tag[start..].split(' ').next()?.to_owned())
            })?;
            Some((name, attr(tag, "value")?))
        })
        .collect()
}

/// The form a person submits to `POST /o/oauth2/v2/auth` from the consent page `html`:
/// its hidden fields, their `choice` (`("new_email", EMAIL)` signs in a new account,
/// `("sub", SUB)` an existing one), and Allow.
pub fn consent_form(html: &str, choice: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut form = inputs(html, "hidden");
    form.extend(
        choice
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    form.push(("decision".to_owned(), "allow".to_owned()));
    form
}
