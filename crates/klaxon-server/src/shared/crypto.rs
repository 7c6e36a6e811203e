//! Secrets: password hashing, random tokens, and their digests.
use std::sync::Arc;

use anyhow::Context;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

/// Hashes and checks passwords with argon2id (19 MiB, t=2, p=1) on blocking threads, at most
/// `limit` at once: argon2 is costly by design and must neither stall the async workers nor
/// let a flood of logins exhaust the machine.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
}

impl Passwords {
    pub fn new(limit: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit.max(1))),
        }
    }

    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let _permit = self.permits.acquire().await.context("hash permits")?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || {
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("hash password: {e}"))
        })
        .await
        .context("hashing task")?
    }

    /// Whether `password` matches `stored` (a PHC string). With `stored = None` it still does
    /// the work, so an unknown account takes as long to refuse as a wrong password.
    pub async fn verify(&self, password: &str, stored: Option<String>) -> anyhow::Result<bool> {
        let _permit = self.permits.acquire().await.context("hash permits")?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || {
            let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
            let parsed =
                PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
            let ok = Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            Ok(ok && stored != DUMMY_HASH)
        })
        .await
        .context("verifying task")?
    }
}

/// An argon2id hash of a random string nobody knows, for timing-equal refusals.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Qb2pVZz6Q2dxlG8BGrkqMvUtqI7l5D4Dk6m3v0m0cVU";

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the operating system's random source");
    b
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// A key that seals secrets at rest (AES-256-GCM), from 64 hex digits.
pub struct SealKey(aws_lc_rs::aead::LessSafeKey);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(…)")
    }
}

impl SealKey {
    /// The key from 64 hex digits (32 bytes); `None` otherwise.
    pub fn from_hex(text: &str) -> Option<SealKey> {
        let text = text.trim();
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        let key = aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, &bytes).ok()?;
        Some(SealKey(aws_lc_rs::aead::LessSafeKey::new(key)))
    }

    /// `plain` sealed under `label` (the secret's name, so a sealed value cannot be moved to
    /// another name): a random nonce, then the ciphertext and its tag.
    pub fn seal(&self, label: &str, plain: &[u8]) -> Vec<u8> {
        use aws_lc_rs::aead::{Aad, NONCE_LEN, Nonce};
        let nonce: [u8; NONCE_LEN] = random_bytes();
        let mut data = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(label.as_bytes()),
                &mut data,
            )
            .expect("AES-GCM seals any length we store");
        let mut out = nonce.to_vec();
        out.extend(data);
        out
    }

    /// What [`SealKey::seal`] sealed under `label`; `None` when it was sealed with another key
    /// or label, or changed.
    pub fn open(&self, label: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        use aws_lc_rs::aead::{Aad, NONCE_LEN, Nonce};
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = rest.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(label.as_bytes()), &mut data)
            .ok()?;
        Some(plain.to_vec())
    }
}

/// A new API token: `klx_` and 256 random bits in hex. Returns the token and its digest.
pub fn new_api_token() -> (String, [u8; 32]) {
    let token = format!("klx_{}", hex(&random_bytes::<32>()));
    let digest = sha256(token.as_bytes());
    (token, digest)
}

/// The part of a token that may be shown later to tell tokens apart.
pub fn token_prefix(token: &str) -> String {
    token.chars().take(12).collect()
}

/// A random string for session ids, CSRF tokens and one-time passwords.
pub fn random_token() -> String {
    hex(&random_bytes::<32>())
}

/// Constant-time equality for secrets of the same length.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    bytes_equal(a.as_bytes(), b.as_bytes())
}

/// Constant-time equality for byte strings of the same length (MAC tags, keys).
pub fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding (RFC 4648 §5): short tokens that fit in a link.
pub fn base64url(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            s.push(BASE64URL[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    s
}

/// The bytes of an unpadded URL-safe base64 string; `None` for anything else (padding, other
/// alphabets, stray bits), so each byte string has exactly one accepted spelling.
pub fn unbase64url(s: &str) -> Option<Vec<u8>> {
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = BASE64URL.iter().position(|a| a == c)?;
            n |= (v as u32) << (18 - 6 * i);
        }
        let bytes = chunk.len() - 1;
        // Bits below the last whole byte must be zero.
        if n & ((1u32 << (24 - 8 * bytes)) - 1) != 0 {
            return None;
        }
        for i in 0..bytes {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Klaxon's outbound webhook signature: `v1=` and the hex HMAC-SHA256 of `v1:<ts>:<body>`,
/// sent with the timestamp (Unix seconds) in `X-Klaxon-Timestamp`.
pub fn sign_v1(secret: &str, ts: i64, body: &[u8]) -> String {
    let mut base = format!("v1:{ts}:").into_bytes();
    base.extend_from_slice(body);
    format!("v1={}", hex(&hmac_sha256(secret.as_bytes(), &base)))
}

/// How far a signed timestamp may be from the receiver's clock.
pub const SIGNATURE_WINDOW_SECS: i64 = 300;

/// Checks a `v1=` signature as a receiver should: within the window, in constant time.
pub fn verify_v1(secret: &str, ts: i64, signature: &str, body: &[u8], now: i64) -> bool {
    (now - ts).abs() <= SIGNATURE_WINDOW_SECS
        && secrets_equal(&sign_v1(secret, ts, body), signature)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sealed_secrets_open_only_with_their_key_and_label() {
        let key = SealKey::from_hex(&"ab".repeat(32)).unwrap();
        let other = SealKey::from_hex(&"cd".repeat(32)).unwrap();
        let sealed = key.seal("TOKEN", b"s3cret");
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_ne!(
            key.seal("TOKEN", b"s3cret"),
            sealed,
            "a fresh nonce each time"
        );
        assert_eq!(key.open("TOKEN", &sealed).unwrap(), b"s3cret");
        assert!(key.open("OTHER", &sealed).is_none());
        assert!(other.open("TOKEN", &sealed).is_none());
        let mut bent = sealed;
        *bent.last_mut().unwrap() ^= 1;
        assert!(key.open("TOKEN", &bent).is_none());
        assert!(SealKey::from_hex("abc").is_none());
        assert!(SealKey::from_hex(&"zz".repeat(32)).is_none());
    }

    #[test]
    fn hmac_matches_published_vectors() {
        // GitHub's documented example (X-Hub-Signature-256 is HMAC-SHA256 of the raw body).
        assert_eq!(
            super::hex(&super::hmac_sha256(
                b"It's a Secret to Everybody",
                b"Hello, World!"
            )),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        // Slack's: v0 over "v0:<ts>:<body>", the same construction as our v1.
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let base = format!("v0:1531420618:{body}");
        assert_eq!(
            super::hex(&super::hmac_sha256(
                b"8f742231b10e8888abcd99yyyzzz85a5",
                base.as_bytes()
            )),
            "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }

    #[test]
    fn v1_signatures_verify_within_the_window_only() {
        let sig = super::sign_v1("s3cret", 1_700_000_000, b"{\"a\":1}");
        assert!(sig.starts_with("v1="));
        assert!(super::verify_v1(
            "s3cret",
            1_700_000_000,
            &sig,
            b"{\"a\":1}",
            1_700_000_300
        ));
        assert!(!super::verify_v1(
            "s3cret",
            1_700_000_000,
            &sig,
            b"{\"a\":2}",
            1_700_000_000
        ));
        assert!(!super::verify_v1(
            "other",
            1_700_000_000,
            &sig,
            b"{\"a\":1}",
            1_700_000_000
        ));
        assert!(!super::verify_v1(
            "s3cret",
            1_700_000_000,
            &sig,
            b"{\"a\":1}",
            1_700_000_301
        ));
        assert!(!super::verify_v1(
            "s3cret",
            1_700_000_000,
            &sig,
            b"{\"a\":1}",
            1_699_999_699
        ));
    }

    use super::*;

    #[tokio::test]
    async fn passwords_hash_with_argon2id_and_verify() {
        let p = Passwords::new(2);
        let h = p.hash("correct horse battery").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(
            p.verify("correct horse battery", Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(!p.verify("wrong horse battery", Some(h)).await.unwrap());
        assert!(!p.verify("anything", None).await.unwrap());
    }

    #[test]
    fn tokens_are_random_and_digested() {
        let (a, da) = new_api_token();
        let (b, _) = new_api_token();
        assert_ne!(a, b);
        assert!(a.starts_with("klx_") && a.len() == 68);
        assert_eq!(da, sha256(a.as_bytes()));
        assert_eq!(token_prefix(&a).len(), 12);
        // A known SHA-256 vector.
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            unhex(&hex(&[0, 1, 254, 255])).unwrap(),
            vec![0, 1, 254, 255]
        );
        assert!(unhex("zz").is_none());
        assert!(
            secrets_equal("abc", "abc")
                && !secrets_equal("abc", "abd")
                && !secrets_equal("a", "ab")
        );
    }

    #[test]
    fn base64url_matches_rfc4648_and_refuses_other_spellings() {
        // RFC 4648 §10 vectors, unpadded.
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64url(plain.as_bytes()), coded);
            assert_eq!(unbase64url(coded).unwrap(), plain.as_bytes());
        }
        // The URL-safe alphabet: 0xfb 0xff -> "-_8".
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(unbase64url("-_8").unwrap(), vec![0xfb, 0xff]);
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(unbase64url(&base64url(&all)).unwrap(), all);
        for bad in ["Zg==", "Z", "Zh", "+/8", "Zm9v!", "Zm 9"] {
            assert!(unbase64url(bad).is_none(), "{bad}");
        }
        assert!(
            bytes_equal(b"ab", b"ab") && !bytes_equal(b"ab", b"ac") && !bytes_equal(b"a", b"ab")
        );
    }
}
