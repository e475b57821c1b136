//! The body of an `uploadType=multipart` upload: the boundary from its Content-Type and the
//! `multipart/related` parts (metadata, then media), with CRLF or bare LF line endings.

use axum::body::Bytes;

pub(super) fn boundary_of(content_type: &str) -> Option<String> {
    let (mime, rest) = content_type.split_once(';')?;
    if !mime.trim().to_ascii_lowercase().starts_with("multipart/") {
        return None;
    }
    rest.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

fn strip_line_end(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r\n")
        .or_else(|| b.strip_suffix(b"\n"))
        .unwrap_or(b)
}

fn strip_line_start(b: &[u8]) -> &[u8] {
    b.strip_prefix(b"\r\n")
        .or_else(|| b.strip_prefix(b"\n"))
        .unwrap_or(b)
}

/// Splits a `multipart/related` body into (content type, content) parts. Accepts CRLF and the
/// bare LF line endings googleapiclient's email generator writes.
pub(super) fn split_multipart(body: &[u8], boundary: &str) -> Option<Vec<(Option<String>, Bytes)>> {
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let mut pos = find(body, delim, 0)? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body[pos..].starts_with(b"--") {
            return Some(parts);
        }
        let next = find(body, delim, pos)?;
        let part = strip_line_end(strip_line_start(&body[pos..next]));
        let (head_end, sep) = match (find(part, b"\r\n\r\n", 0), find(part, b"\n\n", 0)) {
            (Some(a), Some(b)) if b < a => (b, 2),
            (Some(a), _) => (a, 4),
            (None, Some(b)) => (b, 2),
            (None, None) => (part.len(), 0),
        };
        let head = String::from_utf8_lossy(&part[..head_end]);
        let content_type = head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        });
        let content = part.get(head_end + sep..).unwrap_or_default();
        parts.push((content_type, Bytes::copy_from_slice(content)));
        pos = next + delim.len();
        if parts.len() > 16 {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_with_bare_lf_and_crlf() {
        for nl in ["\n", "\r\n"] {
            let body = format!(
                "--BOUND{nl}Content-Type: application/json; charset=UTF-8{nl}{nl}{{\"name\":\"a\"}}{nl}--BOUND{nl}Content-Type: text/plain{nl}Content-Transfer-Encoding: binary{nl}{nl}hello{nl}world{nl}--BOUND--{nl}"
            );
            let parts = split_multipart(body.as_bytes(), "BOUND").expect("parts");
            assert_eq!(parts.len(), 2);
            assert_eq!(&parts[0].1[..], b"{\"name\":\"a\"}");
            assert_eq!(parts[1].0.as_deref(), Some("text/plain"));
            assert_eq!(&parts[1].1[..], format!("hello{nl}world").as_bytes());
        }
        assert_eq!(
            boundary_of("multipart/related; boundary=\"===============123==\"").as_deref(),
            Some("===============123==")
        );
    }
}
