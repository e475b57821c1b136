//! The `q` parameter of files.list: the subset of Drive's query language a server uses on the
//! appDataFolder (name, mimeType, trashed, times, parents), parsed and matched against a file.

use super::store::{File, is_folder_alias};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Op(String),
    Open,
    Close,
}

fn tokenize(q: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            ch if ch.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match c.get(i) {
                        None => return Err("unterminated string".to_owned()),
                        Some('\\') => {
                            s.extend(c.get(i + 1));
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            '=' | '!' | '<' | '>' => {
                let mut op = c[i].to_string();
                i += 1;
                if c.get(i) == Some(&'=') {
                    op.push('=');
                    i += 1;
                }
                if op == "!" {
                    return Err("unexpected !".to_owned());
                }
                out.push(Tok::Op(op));
            }
            ch if ch.is_alphanumeric() || ch == '_' => {
                let start = i;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Word(c[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character {other}")),
        }
    }
    Ok(out)
}

#[derive(Debug)]
pub(super) enum Query {
    And(Box<Query>, Box<Query>),
    Or(Box<Query>, Box<Query>),
    Not(Box<Query>),
    Name(String, String),
    Mime(String, String),
    Trashed(String, bool),
    Time(String, String, i64),
    InParents(String),
}

struct QueryParser {
    toks: Vec<Tok>,
    pos: usize,
}

impl QueryParser {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn expr(&mut self) -> Result<Query, String> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.pos += 1;
            left = Query::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Query, String> {
        let mut left = self.not()?;
        while self.peek_word("and") {
            self.pos += 1;
            left = Query::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }
    fn not(&mut self) -> Result<Query, String> {
        if self.peek_word("not") {
            self.pos += 1;
            return Ok(Query::Not(Box::new(self.not()?)));
        }
        self.primary()
    }
    fn primary(&mut self) -> Result<Query, String> {
        match self.next() {
            Some(Tok::Open) => {
                let q = self.expr()?;
                match self.next() {
                    Some(Tok::Close) => Ok(q),
                    _ => Err("missing )".to_owned()),
                }
            }
            Some(Tok::Str(value)) => match (self.next(), self.next()) {
                (Some(Tok::Word(inw)), Some(Tok::Word(field)))
                    if inw.eq_ignore_ascii_case("in") && field == "parents" =>
                {
                    Ok(Query::InParents(value))
                }
                _ => Err("expected 'value' in parents".to_owned()),
            },
            Some(Tok::Word(field)) => {
                let op = match self.next() {
                    Some(Tok::Op(op)) => op,
                    Some(Tok::Word(w)) if w.eq_ignore_ascii_case("contains") => {
                        "contains".to_owned()
                    }
                    _ => return Err(format!("expected an operator after {field}")),
                };
                let value = self.next();
                match (field.as_str(), op.as_str(), value) {
                    ("name", "=" | "!=" | "contains", Some(Tok::Str(v))) => Ok(Query::Name(op, v)),
                    ("mimeType", "=" | "!=" | "contains", Some(Tok::Str(v))) => {
                        Ok(Query::Mime(op, v))
                    }
                    ("trashed", "=" | "!=", Some(Tok::Word(b))) if b == "true" || b == "false" => {
                        Ok(Query::Trashed(op, b == "true"))
                    }
                    (
                        "modifiedTime" | "createdTime",
                        "=" | "!=" | "<" | "<=" | ">" | ">=",
                        Some(Tok::Str(t)),
                    ) => {
                        let ms = chrono::DateTime::parse_from_rfc3339(&t)
                            .map_err(|_| format!("invalid time {t}"))?
                            .timestamp_millis();
                        Ok(Query::Time(field, op, ms))
                    }
                    _ => Err(format!("unsupported term on {field}")),
                }
            }
            _ => Err("expected a term".to_owned()),
        }
    }
}

pub(super) fn parse_query(q: &str) -> Result<Query, String> {
    let mut p = QueryParser {
        toks: tokenize(q)?,
        pos: 0,
    };
    let query = p.expr()?;
    if p.pos != p.toks.len() {
        return Err("trailing input".to_owned());
    }
    Ok(query)
}

fn cmp_op<T: PartialOrd>(op: &str, a: &T, b: &T) -> bool {
    match op {
        "=" => a == b,
        "!=" => a != b,
        "<" => a < b,
        "<=" => a <= b,
        ">" => a > b,
        ">=" => a >= b,
        _ => false,
    }
}

fn text_op(op: &str, field: &str, value: &str) -> bool {
    match op {
        "contains" => field.to_lowercase().contains(&value.to_lowercase()),
        other => cmp_op(other, &field, &value),
    }
}

pub(super) fn matches(q: &Query, f: &File, folder_id: &str) -> bool {
    match q {
        Query::And(a, b) => matches(a, f, folder_id) && matches(b, f, folder_id),
        Query::Or(a, b) => matches(a, f, folder_id) || matches(b, f, folder_id),
        Query::Not(a) => !matches(a, f, folder_id),
        Query::Name(op, v) => text_op(op, &f.name, v),
        Query::Mime(op, v) => text_op(op, &f.mime_type, v),
        // appDataFolder files cannot be trashed.
        Query::Trashed(op, v) => cmp_op(op, &false, v),
        Query::Time(field, op, ms) => {
            let t = if field == "createdTime" {
                f.created_ms
            } else {
                f.modified_ms
            };
            cmp_op(op, &t, ms)
        }
        Query::InParents(p) => is_folder_alias(p) || p == folder_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Bytes;
    use serde_json::Map;

    #[test]
    fn query_language_subset() {
        let f = File {
            id: "x".into(),
            name: "settings.json".into(),
            mime_type: "application/json".into(),
            description: None,
            app_properties: Map::new(),
            content: Bytes::new(),
            created_ms: 0,
            modified_ms: 1_000,
            version: 1,
        };
        let yes = [
            "name = 'settings.json'",
            "name contains 'SETTINGS' and trashed = false",
            "'appDataFolder' in parents",
            "not name = 'other' or trashed = true",
            "(mimeType = 'application/json') and modifiedTime > '1970-01-01T00:00:00Z'",
            "name = 'it\\'s' or name != 'it\\'s'",
        ];
        for q in yes {
            let parsed = parse_query(q).unwrap_or_else(|e| panic!("{q}: {e}"));
            assert!(matches(&parsed, &f, "folder"), "{q} should match");
        }
        assert!(!matches(
            &parse_query("trashed = true").expect("q"),
            &f,
            "folder"
        ));
        for bad in [
            "name =",
            "name == 'x'",
            "foo = 'x'",
            "name = 'x' and",
            "'x' in owners",
            "name = 'unterminated",
        ] {
            assert!(parse_query(bad).is_err(), "{bad} must be refused");
        }
    }
}
