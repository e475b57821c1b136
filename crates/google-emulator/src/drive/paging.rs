//! The order and pages of files.list: `orderBy` sorting and the opaque `pageToken` that
//! carries the offset of the next page.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::store::File;

pub(super) fn sort_files(files: &mut [File], order_by: &str) -> Result<(), String> {
    let mut keys: Vec<(String, bool)> = Vec::new();
    for part in order_by.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, desc) = match part.split_once(' ') {
            Some((k, d)) if d.trim().eq_ignore_ascii_case("desc") => (k, true),
            Some(_) => return Err(format!("Invalid sort order: {part}")),
            None => (part, false),
        };
        if ![
            "name",
            "name_natural",
            "createdTime",
            "modifiedTime",
            "recency",
            "folder",
            "quotaBytesUsed",
            "starred",
        ]
        .contains(&key)
        {
            return Err(format!("Invalid sort field: {key}"));
        }
        keys.push((key.to_owned(), desc));
    }
    files.sort_by(|a, b| {
        for (key, desc) in &keys {
            let ord = match key.as_str() {
                "name" | "name_natural" => a.name.cmp(&b.name),
                "createdTime" => a.created_ms.cmp(&b.created_ms),
                "modifiedTime" | "recency" => a.modified_ms.cmp(&b.modified_ms),
                "quotaBytesUsed" => a.content.len().cmp(&b.content.len()),
                _ => std::cmp::Ordering::Equal,
            };
            let ord = if *desc { ord.reverse() } else { ord };
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        a.id.cmp(&b.id)
    });
    Ok(())
}

pub(super) fn encode_page_token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("appdata:{offset}"))
}

pub(super) fn decode_page_token(token: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("appdata:")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_garbage_is_refused() {
        assert_eq!(decode_page_token(&encode_page_token(1234)), Some(1234));
        assert_eq!(decode_page_token("not-a-token"), None);
    }
}
