//! Helpers shared by the vault-hardening tests (each test file uses a
//! subset, hence the `dead_code` allowance).
#![allow(dead_code)]

use std::path::Path;

use chrono::{TimeZone, Utc};
use productivitypro_core::vault::TaskDraft;
use productivitypro_core::{
    CreateOptions, Env, FixedClock, KeyringChoice, RecoveryKey, Unlock, Vault, VaultError,
};
use rand::SeedableRng;
use zeroize::Zeroizing;

pub const PASS: &str = "correct horse battery staple";
pub const KEYRING_SERVICE: &str = "ProductivityPro-test";

pub fn env(seed: u64) -> Env {
    Env {
        clock: Box::new(FixedClock::new(
            Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        )),
        rng: Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
        local_tz: chrono_tz::Europe::Berlin,
        keyring_service: KEYRING_SERVICE.into(),
    }
}

/// An environment with real randomness, for tests that make many vaults
/// or run several at once (seeded ones would all pick the same ids).
pub fn os_env() -> Env {
    Env {
        rng: Box::new(rand::rngs::OsRng),
        ..env(0)
    }
}

/// A vault with a passphrase slot and a recovery slot.
pub fn new_vault(dir: &Path) -> (Vault, RecoveryKey) {
    let c = Vault::create(
        dir,
        CreateOptions {
            keyring: KeyringChoice::Off,
            passphrase: Some(Zeroizing::new(PASS.into())),
        },
        env(1),
    )
    .unwrap();
    (c.vault, c.recovery_key)
}

/// A vault with only a recovery slot: quick to make (no Argon2).
pub fn quick_vault(dir: &Path) -> (Vault, String) {
    let c = Vault::create(
        dir,
        CreateOptions {
            keyring: KeyringChoice::Off,
            passphrase: None,
        },
        os_env(),
    )
    .unwrap();
    (c.vault, c.recovery_key.display_text().to_string())
}

pub fn draft(title: &str) -> TaskDraft {
    TaskDraft {
        title: title.into(),
        ..Default::default()
    }
}

pub fn open_pass(dir: &Path) -> Result<Vault, VaultError> {
    Vault::open(dir, &Unlock::passphrase(PASS), env(2))
}

pub fn db_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("vault.db")).unwrap()
}

pub fn raw(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("vault.db")).unwrap()
}

/// A records row as stored, to put back later.
#[derive(Clone, Debug)]
pub struct Row {
    pub kind: String,
    pub id: Vec<u8>,
    pub format: i64,
    pub key_id: Vec<u8>,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub seq: i64,
}

pub fn read_row(c: &rusqlite::Connection, id: &[u8]) -> Row {
    c.query_row(
        "SELECT kind, id, format, key_id, nonce, ciphertext, changed_seq FROM records WHERE id = ?1",
        [id],
        |r| {
            Ok(Row {
                kind: r.get(0)?,
                id: r.get(1)?,
                format: r.get(2)?,
                key_id: r.get(3)?,
                nonce: r.get(4)?,
                ciphertext: r.get(5)?,
                seq: r.get(6)?,
            })
        },
    )
    .unwrap()
}

pub fn put_row(c: &rusqlite::Connection, r: &Row) {
    c.execute(
        "INSERT OR REPLACE INTO records (kind, id, format, key_id, nonce, ciphertext, changed_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        rusqlite::params![
            r.kind,
            r.id,
            r.format,
            r.key_id,
            r.nonce,
            r.ciphertext,
            r.seq
        ],
    )
    .unwrap();
}
