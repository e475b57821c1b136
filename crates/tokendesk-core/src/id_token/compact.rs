//! Strict reading of a compact JWS (`header.payload.signature`) before anything is trusted:
//! size cap, exactly 3 parts, strict base64url, JSON objects without duplicate keys.

use std::cell::RefCell;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::error::{IdTokenError, Part, Shown};
use crate::secret::IdTokenRaw;

/// Largest token accepted, checked before any decoding. Google's ID tokens are ~1 KiB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// A token split and decoded but NOT verified: nothing in it can be trusted yet.
///
/// Made by [`unverified_decode`]; the verifier uses the same reading, so what the inspector
/// shows is exactly what was verified.
#[derive(Debug, Clone)]
pub struct UnverifiedJwt<'a> {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signing_input: &'a str,
    /// Decoded once, by the structural check that also refuses an empty or non-base64url one.
    signature: Vec<u8>,
}

impl<'a> UnverifiedJwt<'a> {
    /// The decoded header. Unverified: anyone can write anything here.
    pub fn unverified_header(&self) -> &Map<String, Value> {
        &self.header
    }

    /// The decoded claims. Unverified: anyone can write anything here.
    pub fn unverified_claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    pub(crate) fn signing_input(&self) -> &'a str {
        self.signing_input
    }

    pub(crate) fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The claims, handed over once the token is verified (no second decoding).
    pub(crate) fn into_claims(self) -> Map<String, Value> {
        self.claims
    }
}

/// Splits and decodes a token without verifying its signature or claims: the inspector's
/// "decode" step. Applies every structural rule (size, 3 parts, strict base64url, JSON
/// objects, no duplicate keys, a non-empty signature).
pub fn unverified_decode(token: &IdTokenRaw) -> Result<UnverifiedJwt<'_>, IdTokenError> {
    let [header, payload, signature] = split(token.secret())?;
    let header_map = decode_object(header, Part::Header)?;
    let claims = decode_object(payload, Part::Payload)?;
    let signature = decode_signature(signature)?;
    let signing_input_len = header.len() + 1 + payload.len();
    Ok(UnverifiedJwt {
        header: header_map,
        claims,
        signing_input: &token.secret()[..signing_input_len],
        signature,
    })
}

/// Size first (so a huge input costs nothing), then exactly three dot-separated parts.
pub(crate) fn split(token: &str) -> Result<[&str; 3], IdTokenError> {
    check_size(token)?;
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => Ok([h, p, s]),
        _ => Err(IdTokenError::SegmentCount {
            found: token.split('.').count(),
        }),
    }
}

pub(crate) fn check_size(token: &str) -> Result<(), IdTokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(IdTokenError::TooLarge {
            len: token.len(),
            limit: MAX_TOKEN_BYTES,
        });
    }
    Ok(())
}

/// base64url without padding, canonical trailing bits (the `base64` crate's URL_SAFE_NO_PAD
/// rejects `=`, `+`, `/`, whitespace and non-canonical endings).
fn strict_base64url(segment: &str, part: Part) -> Result<Vec<u8>, IdTokenError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| IdTokenError::NotBase64Url { part })
}

/// The signature's bytes: present, strict base64url, not empty.
pub(crate) fn decode_signature(segment: &str) -> Result<Vec<u8>, IdTokenError> {
    if segment.is_empty() {
        return Err(IdTokenError::MissingSignature);
    }
    let bytes = strict_base64url(segment, Part::Signature)?;
    if bytes.is_empty() {
        return Err(IdTokenError::MissingSignature);
    }
    Ok(bytes)
}

pub(crate) fn decode_object(segment: &str, part: Part) -> Result<Map<String, Value>, IdTokenError> {
    let bytes = strict_base64url(segment, part)?;
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
    let parsed = StrictValue {
        duplicate: &duplicate,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    if let Some(key) = duplicate.into_inner() {
        return Err(IdTokenError::DuplicateKey {
            part,
            key: Shown::new(&key),
        });
    }
    match parsed {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(IdTokenError::NotJsonObject {
            part,
            reason: "valid JSON, but not an object".to_owned(),
        }),
        // serde_json's message is a category and a position, never the input.
        Err(err) => Err(IdTokenError::NotJsonObject {
            part,
            reason: err.to_string(),
        }),
    }
}

/// Deserialises JSON into a `Value` like serde_json does, except that a repeated key in any
/// object is an error (serde_json keeps the last one silently). The key is reported through
/// `duplicate` so the caller can tell this apart from other JSON errors.
struct StrictValue<'d> {
    duplicate: &'d RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue {
            duplicate: self.duplicate,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                let message = format!("duplicate key {}", Shown::new(&key));
                *self.duplicate.borrow_mut() = Some(key);
                return Err(de::Error::custom(message));
            }
            let value = access.next_value_seed(StrictValue {
                duplicate: self.duplicate,
            })?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn duplicate_keys_are_found_at_any_depth() {
        let err = decode_object(&b64(r#"{"a":{"b":1,"b":2}}"#), Part::Payload).unwrap_err();
        assert!(matches!(&err, IdTokenError::DuplicateKey { key, .. } if key.as_str() == "b"));
        let err = decode_object(&b64(r#"{"x":[{"c":1,"c":1}]}"#), Part::Payload).unwrap_err();
        assert!(
            matches!(err, IdTokenError::DuplicateKey { .. }),
            "identical values still count"
        );
    }

    #[test]
    fn escaped_duplicate_key_is_still_a_duplicate() {
        // "\u0065xp" is "exp": the check is on the decoded key, not the bytes.
        let err = decode_object(&b64(r#"{"exp":1,"\u0065xp":2}"#), Part::Payload).unwrap_err();
        assert!(matches!(err, IdTokenError::DuplicateKey { .. }), "{err}");
    }

    #[test]
    fn trailing_garbage_after_the_object_is_refused() {
        let err = decode_object(&b64(r#"{"a":1} {"a":2}"#), Part::Payload).unwrap_err();
        assert!(matches!(err, IdTokenError::NotJsonObject { .. }), "{err}");
    }

    #[test]
    fn json_that_is_not_an_object_is_refused() {
        let err = decode_object(&b64("[1,2]"), Part::Header).unwrap_err();
        assert!(matches!(
            err,
            IdTokenError::NotJsonObject {
                part: Part::Header,
                ..
            }
        ));
    }

    #[test]
    fn non_canonical_trailing_bits_are_refused() {
        // Two characters carry 12 bits for one byte: the 4 spare bits must be zero.
        assert!(URL_SAFE_NO_PAD.decode("QQ").is_ok());
        assert!(
            strict_base64url("QR", Part::Header).is_err(),
            "QR has non-zero trailing bits"
        );
    }

    #[test]
    fn values_keep_their_json_types() {
        let map = decode_object(
            &b64(r#"{"n":1.5,"i":-3,"b":true,"z":null,"s":"x"}"#),
            Part::Payload,
        )
        .unwrap();
        assert_eq!(
            Value::Object(map),
            serde_json::json!({"n":1.5,"i":-3,"b":true,"z":null,"s":"x"})
        );
    }
}
