//! The `fields` parameter: a partial-response mask (`a,b/c,files(id,name)`) parsed, checked
//! against the names a reply can hold, and applied to the reply's JSON.

use std::collections::BTreeMap;

use axum::response::Response;
use serde_json::{Map, Value};

use crate::replies::{Params, invalid_parameter};

const FILE_FIELDS: &[&str] = &[
    "kind",
    "id",
    "name",
    "mimeType",
    "parents",
    "spaces",
    "starred",
    "trashed",
    "explicitlyTrashed",
    "createdTime",
    "modifiedTime",
    "version",
    "size",
    "quotaBytesUsed",
    "md5Checksum",
    "description",
    "appProperties",
];
const LIST_FIELDS: &[&str] = &["kind", "nextPageToken", "incompleteSearch", "files"];

#[derive(Debug, Default, PartialEq)]
pub(super) struct Mask(BTreeMap<String, Option<Mask>>);

fn parse_mask(s: &str) -> Result<Mask, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut pos = 0;
    let mask = parse_mask_list(&chars, &mut pos)?;
    if pos != chars.len() {
        return Err(format!("Invalid field selection {s}"));
    }
    Ok(mask)
}

fn parse_mask_list(c: &[char], pos: &mut usize) -> Result<Mask, String> {
    let mut mask = Mask::default();
    loop {
        while *pos < c.len() && c[*pos].is_whitespace() {
            *pos += 1;
        }
        let start = *pos;
        while *pos < c.len()
            && (c[*pos].is_alphanumeric() || matches!(c[*pos], '_' | '/' | '*' | '.' | '@'))
        {
            *pos += 1;
        }
        let path: String = c[start..*pos].iter().collect();
        if path.is_empty() {
            return Err("Invalid field selection: empty field name".to_owned());
        }
        while *pos < c.len() && c[*pos].is_whitespace() {
            *pos += 1;
        }
        let sub = if *pos < c.len() && c[*pos] == '(' {
            *pos += 1;
            let inner = parse_mask_list(c, pos)?;
            if *pos >= c.len() || c[*pos] != ')' {
                return Err("Invalid field selection: missing )".to_owned());
            }
            *pos += 1;
            Some(inner)
        } else {
            None
        };
        insert_path(&mut mask, &path, sub);
        while *pos < c.len() && c[*pos].is_whitespace() {
            *pos += 1;
        }
        if *pos < c.len() && c[*pos] == ',' {
            *pos += 1;
            continue;
        }
        return Ok(mask);
    }
}

fn insert_path(mask: &mut Mask, path: &str, sub: Option<Mask>) {
    match path.split_once('/') {
        None => {
            mask.0.insert(path.to_owned(), sub);
        }
        Some((head, rest)) => {
            let entry = mask
                .0
                .entry(head.to_owned())
                .or_insert_with(|| Some(Mask::default()));
            if let Some(inner) = entry {
                insert_path(inner, rest, sub);
            }
        }
    }
}

/// Checks a mask's names against what the response can hold (Google rejects unknown ones).
fn check_mask(mask: &Mask, top: &[&str], nested: Option<(&str, &[&str])>) -> Result<(), String> {
    for (name, sub) in &mask.0 {
        if name == "*" {
            continue;
        }
        if !top.contains(&name.as_str()) {
            return Err(format!("Invalid field selection {name}"));
        }
        if let (Some(sub), Some((field, inner))) = (sub, nested)
            && name == field
        {
            check_mask(sub, inner, None)?;
        }
    }
    Ok(())
}

pub(super) fn apply_mask(value: &Value, mask: &Mask) -> Value {
    if mask.0.contains_key("*") {
        return value.clone();
    }
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| apply_mask(v, mask)).collect()),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, sub) in &mask.0 {
                if let Some(v) = map.get(k) {
                    out.insert(
                        k.clone(),
                        sub.as_ref().map_or_else(|| v.clone(), |m| apply_mask(v, m)),
                    );
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// The `fields` mask of a reply that is one file (files.get, files.create).
pub(super) fn file_mask(params: &Params) -> Result<Mask, Response> {
    requested_mask(params, "kind,id,name,mimeType", FILE_FIELDS, None)
}

/// The `fields` mask of a files.list reply.
pub(super) fn list_mask(params: &Params) -> Result<Mask, Response> {
    requested_mask(
        params,
        "kind,nextPageToken,incompleteSearch,files(kind,id,name,mimeType)",
        LIST_FIELDS,
        Some(("files", FILE_FIELDS)),
    )
}

/// The `fields` parameter (or Drive's default for the reply) as a checked mask; a bad one is
/// Drive's `400 Invalid Value` on `fields`.
fn requested_mask(
    params: &Params,
    default: &str,
    top: &[&str],
    nested: Option<(&str, &[&str])>,
) -> Result<Mask, Response> {
    let fields = params.first("fields").unwrap_or(default);
    let mask = parse_mask(fields).map_err(|m| invalid_parameter("fields", &m))?;
    check_mask(&mask, top, nested).map_err(|m| invalid_parameter("fields", &m))?;
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_mask_parses_nested_and_slash_paths() {
        let m = parse_mask("nextPageToken, files(id,name),kind").expect("mask");
        let v = json!({"kind": "k", "incompleteSearch": false, "files": [{"id": "1", "name": "a", "size": "3"}]});
        assert_eq!(
            apply_mask(&v, &m),
            json!({"kind": "k", "files": [{"id": "1", "name": "a"}]})
        );
        let m = parse_mask("files/id").expect("mask");
        assert_eq!(apply_mask(&v, &m), json!({"files": [{"id": "1"}]}));
        assert!(
            parse_mask("files(id").is_err(),
            "an unbalanced mask is refused"
        );
    }

    #[test]
    fn unknown_field_in_mask_is_refused() {
        let m = parse_mask("files(id,nmae)").expect("parses");
        assert!(check_mask(&m, LIST_FIELDS, Some(("files", FILE_FIELDS))).is_err());
    }
}
