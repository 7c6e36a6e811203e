//! U+0000 never reaches the store: PostgreSQL refuses it in text (SQLite would keep it), so the
//! same input would be stored on one backend and fail for ever on the other. At the edge, every
//! NUL in a JSON string, a form or a query string becomes U+FFFD (the replacement character), on
//! both backends alike: the text is kept, and the reader sees that something was there.
use std::borrow::Cow;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// JSON text with every `\u0000` escape turned into `\ufffd`. Raw control characters are not
/// valid JSON, so an escape is the only way a NUL can be in a string; escapes occur only inside
/// strings, so a plain scan over them is exact (`\\u0000` is a backslash and then text).
pub fn json(bytes: &[u8]) -> Cow<'_, [u8]> {
    if !bytes.windows(5).any(|w| w.eq_ignore_ascii_case(b"u0000")) {
        return Cow::Borrowed(bytes);
    }
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i < out.len() {
        if out[i] != b'\\' {
            i += 1;
            continue;
        }
        if out.get(i + 1) == Some(&b'u') && out.get(i + 2..i + 6) == Some(b"0000".as_slice()) {
            out[i + 2..i + 6].copy_from_slice(b"fffd");
            i += 6;
        } else {
            i += 2; // the escaped character, whatever it is
        }
    }
    Cow::Owned(out)
}

/// URL-encoded text (a query string or a form body) with `%00` and raw NUL bytes turned into
/// the encoded U+FFFD. `%00` cannot be part of a longer escape, so a plain replace is exact.
pub fn urlencoded(bytes: &[u8]) -> Cow<'_, [u8]> {
    if !bytes.contains(&0) && !bytes.windows(3).any(|w| w == b"%00") {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() + 8);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0 {
            out.extend_from_slice(b"%EF%BF%BD");
            i += 1;
        } else if bytes[i..].starts_with(b"%00") {
            out.extend_from_slice(b"%EF%BF%BD");
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// Middleware: the query string and a form body lose their NULs before any handler parses
/// them. JSON bodies are handled where they are parsed (`parse_json`, ingest), so the hot path
/// is not buffered twice. `limit` bounds the form body read here, as the body limit does.
pub async fn forms_and_queries(req: Request, limit: usize) -> Result<Request, Response> {
    let (mut parts, body) = req.into_parts();
    if let Some(q) = parts.uri.query()
        && let Cow::Owned(clean) = urlencoded(q.as_bytes())
    {
        let clean = String::from_utf8_lossy(&clean).into_owned();
        let pq = format!("{}?{clean}", parts.uri.path());
        let mut uri = parts.uri.clone().into_parts();
        if let Ok(pq) = pq.parse() {
            uri.path_and_query = Some(pq);
            if let Ok(u) = Uri::from_parts(uri) {
                parts.uri = u;
            }
        }
    }
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok(Request::from_parts(parts, body));
    }
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return Err((StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response());
    };
    let clean = urlencoded(&bytes).into_owned();
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(clean.len()));
    Ok(Request::from_parts(parts, Body::from(clean)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_nul_escapes_become_replacement_characters() {
        assert_eq!(&*json(br#"{"a":"x\u0000y"}"#), br#"{"a":"x\ufffdy"}"#);
        assert_eq!(&*json(br#"{"a":"x\\u0000y"}"#), br#"{"a":"x\\u0000y"}"#);
        assert_eq!(
            &*json(br#"{"a\u0000":"\\\u0000"}"#),
            br#"{"a\ufffd":"\\\ufffd"}"#
        );
        assert!(matches!(json(br#"{"a":"u0000"}"#), Cow::Owned(_)));
        assert_eq!(&*json(br#"{"a":"u0000"}"#), br#"{"a":"u0000"}"#);
        let v: serde_json::Value = serde_json::from_slice(&json(br#"["\u0000"]"#)).unwrap();
        assert_eq!(v[0], "\u{fffd}");
    }

    #[test]
    fn urlencoded_nuls_become_replacement_characters() {
        assert_eq!(&*urlencoded(b"a=x%00y&b=%2500"), b"a=x%EF%BF%BDy&b=%2500");
        assert_eq!(&*urlencoded(b"a=x\0y"), b"a=x%EF%BF%BDy");
        assert!(matches!(urlencoded(b"a=b"), Cow::Borrowed(_)));
    }
}
