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
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
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
}
