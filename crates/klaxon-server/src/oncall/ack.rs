//! One-click acknowledge links, sent in page e-mails and texts.
//!
//! A link is `{public_url}/ack/{token}`. The token names the notification it was sent with (so
//! the incident and the person paged) and when it expires, and carries an HMAC-SHA256 tag made
//! with a server key kept in the database (the same on every instance, across restarts):
//!
//! ```text
//! token = base64url( notification id (16 bytes) ‖ expiry, Unix seconds (4 bytes, big-endian)
//!                    ‖ first 16 bytes of HMAC-SHA256(key, "klaxon-ack-v1" ‖ 0 ‖ id ‖ expiry) )
//! ```
//!
//! 36 bytes, 48 characters: short enough for a text message. The tag is checked in constant
//! time before anything else is read from the token, so a changed id or expiry is refused as
//! tampered.
//!
//! `GET` shows what the link would do and a button; only `POST` acknowledges. Mail scanners
//! and link previews follow links, and must not acknowledge pages on someone's behalf.
//! The `POST` needs no session or CSRF token: the token in its path is the credential, and a
//! forged cross-site `POST` would have to know it.
use jiff::{SignedDuration, Timestamp};
use klaxon_domain::ids::NotificationId;
use uuid::Uuid;

use crate::shared::crypto::{base64url, bytes_equal, hmac_sha256, unbase64url};

/// The name of the server key links are signed with.
pub const ACK_KEY: &str = "ack-links";
/// How long a link works after it was sent.
pub const ACK_LINK_TTL: SignedDuration = SignedDuration::from_hours(24);

const DOMAIN: &[u8] = b"klaxon-ack-v1\0";
const ID_LEN: usize = 16;
const EXPIRY_LEN: usize = 4;
const TAG_LEN: usize = 16;
const TOKEN_LEN: usize = ID_LEN + EXPIRY_LEN + TAG_LEN;

fn tag(key: &[u8; 32], signed: &[u8]) -> [u8; TAG_LEN] {
    let mut data = DOMAIN.to_vec();
    data.extend_from_slice(signed);
    let mac = hmac_sha256(key, &data);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&mac[..TAG_LEN]);
    tag
}

/// The token for notification `id`, working until `expires` (whole seconds, at most 2106).
pub fn ack_token(key: &[u8; 32], id: NotificationId, expires: Timestamp) -> String {
    let secs = u32::try_from(expires.as_second().max(0)).unwrap_or(u32::MAX);
    let mut bytes = Vec::with_capacity(TOKEN_LEN);
    bytes.extend_from_slice(id.0.as_bytes());
    bytes.extend_from_slice(&secs.to_be_bytes());
    let tag = tag(key, &bytes);
    bytes.extend_from_slice(&tag);
    base64url(&bytes)
}

/// The link to put in a message: absolute when the server knows its public URL.
pub fn ack_url(public_url: Option<&str>, token: &str) -> String {
    format!(
        "{}/ack/{token}",
        public_url.unwrap_or("").trim_end_matches('/')
    )
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token at all (cut short, wrong characters).
    Malformed,
    /// Made with another key, or changed since.
    Tampered,
    Expired,
}

/// The notification a token names, once its tag matches and it has not expired at `now`.
pub fn check_ack_token(
    key: &[u8; 32],
    token: &str,
    now: Timestamp,
) -> Result<NotificationId, TokenError> {
    let bytes = unbase64url(token).ok_or(TokenError::Malformed)?;
    if bytes.len() != TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let (signed, given) = bytes.split_at(ID_LEN + EXPIRY_LEN);
    if !bytes_equal(&tag(key, signed), given) {
        return Err(TokenError::Tampered);
    }
    let (id, expiry) = signed.split_at(ID_LEN);
    let id = Uuid::from_slice(id).map_err(|_| TokenError::Malformed)?;
    let expires = u32::from_be_bytes(expiry.try_into().map_err(|_| TokenError::Malformed)?);
    if now.as_second() >= i64::from(expires) {
        return Err(TokenError::Expired);
    }
    Ok(NotificationId(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> NotificationId {
        NotificationId::new("2026-11-21T09:00:00Z".parse().unwrap(), [7; 10])
    }

    #[test]
    fn tokens_verify_until_they_expire_and_refuse_any_change() {
        let key = [42u8; 32];
        let now: Timestamp = "2026-11-21T09:00:00Z".parse().unwrap();
        let expires = now.checked_add(ACK_LINK_TTL).unwrap();
        let token = ack_token(&key, id(), expires);
        assert_eq!(token.len(), 48, "{token}");
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(check_ack_token(&key, &token, now), Ok(id()));
        let almost = expires.checked_sub(SignedDuration::from_secs(1)).unwrap();
        assert_eq!(check_ack_token(&key, &token, almost), Ok(id()));
        assert_eq!(
            check_ack_token(&key, &token, expires),
            Err(TokenError::Expired)
        );
        // Another key, or any byte changed (id, expiry or tag): tampered.
        assert_eq!(
            check_ack_token(&[43u8; 32], &token, now),
            Err(TokenError::Tampered)
        );
        let raw = unbase64url(&token).unwrap();
        for i in 0..raw.len() {
            let mut changed = raw.clone();
            changed[i] ^= 1;
            assert_eq!(
                check_ack_token(&key, &base64url(&changed), now),
                Err(TokenError::Tampered),
                "byte {i}"
            );
        }
        // A later expiry with the old tag does not pass.
        let mut later = raw;
        later[ID_LEN..ID_LEN + EXPIRY_LEN].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            check_ack_token(&key, &base64url(&later), now),
            Err(TokenError::Tampered)
        );
        for bad in ["", "x", &token[..47], &format!("{token}A"), "not a token!"] {
            assert_eq!(
                check_ack_token(&key, bad, now),
                Err(TokenError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            ack_url(Some("https://klaxon.example.com/"), &token),
            format!("https://klaxon.example.com/ack/{token}")
        );
    }
}
