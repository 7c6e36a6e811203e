-- The secrets runbook steps name (`{{ secrets.NAME }}`), sealed with AES-256-GCM under the
-- configured runbooks.secret_key: a nonce, then the ciphertext and its tag. Never read back
-- through the API.
CREATE TABLE secrets (
    name       TEXT PRIMARY KEY,
    sealed     BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
