//! `[runbooks]`: runbooks and their runs.
use serde::{Deserialize, Serialize};

/// Runbooks (`[runbooks]`): how much of a step's output its run shows, and the key that seals
/// the secrets steps use.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RunbooksSettings {
    /// Bytes of a step's output (an HTTP answer, a command's output) shown on the run and the
    /// timeline; the whole (up to 4 MiB) can be downloaded.
    pub output_shown_bytes: u32,
    /// 64 hex digits (32 random bytes: `openssl rand -hex 32`) that seal the secret store at
    /// rest. Unset: no secrets can be kept, and a step naming one fails saying so.
    pub secret_key: Option<String>,
}

impl Default for RunbooksSettings {
    fn default() -> Self {
        Self {
            output_shown_bytes: 16 * 1024,
            secret_key: None,
        }
    }
}

/// The secret key is a secret: never in logs.
impl std::fmt::Debug for RunbooksSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunbooksSettings")
            .field("output_shown_bytes", &self.output_shown_bytes)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "…"))
            .finish()
    }
}

impl RunbooksSettings {
    /// The key that seals secrets, when one is set.
    pub fn seal_key(&self) -> Option<crate::shared::crypto::SealKey> {
        self.secret_key
            .as_deref()
            .and_then(crate::shared::crypto::SealKey::from_hex)
    }
}
