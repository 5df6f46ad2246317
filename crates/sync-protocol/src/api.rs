//! HTTP request and response bodies of the sync API (`/v1/...`), and the
//! stable error codes the server answers with. Binary values are base64;
//! ids and hashes are lowercase hex. Requests refuse unknown fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::batch::{BatchEnvelope, Head};
use crate::ids::{AccountId, BatchId, DeviceId, KeyId, LoginId};
use crate::keys::KdfParams;
use crate::snapshot::SnapshotEnvelope;

/// The API's major version: the path prefix `/v1` and the value clients
/// send in [`PROTOCOL_HEADER`]. A server refuses a version it does not speak.
pub const PROTOCOL_VERSION: u32 = 1;
pub const PROTOCOL_HEADER: &str = "pp-sync-protocol";
/// Device tokens start with this, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "pps_";

/// Every 4xx/5xx body. `code` is stable; `message` is for people.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    /// Machine-readable context for some codes (e.g. the device's head on
    /// `seq_gap`, the snapshot cursor on `cursor_compacted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// Every code the server can answer with, and its HTTP status.
pub const ERROR_CODES: &[(&str, u16)] = &[
    ("invalid_json", 400),
    ("invalid_request", 400),
    ("invalid_batch", 400),
    ("invalid_snapshot", 400),
    ("unsupported_protocol", 400),
    ("unsupported_format", 400),
    ("weak_kdf_params", 400),
    ("cursor_ahead", 400),
    ("missing_token", 401),
    ("invalid_token", 401),
    ("invalid_credentials", 401),
    ("device_signed_out", 401),
    ("account_mismatch", 403),
    ("device_mismatch", 403),
    ("not_found", 404),
    ("unknown_device", 404),
    ("no_snapshot", 404),
    ("method_not_allowed", 405),
    ("account_exists", 409),
    ("device_revoked", 409),
    ("too_many_devices", 409),
    ("key_mismatch", 409),
    ("batch_id_reused", 409),
    ("seq_conflict", 409),
    ("seq_gap", 409),
    ("chain_mismatch", 409),
    ("snapshot_stale", 409),
    ("cursor_compacted", 410),
    ("payload_too_large", 413),
    ("batch_too_large", 413),
    ("rate_limited", 429),
    ("too_many_sockets", 429),
    ("storage_unavailable", 503),
];

/// `GET /v1/info`: what this server speaks and enforces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Info {
    pub protocol: u32,
    pub formats: Vec<u16>,
    pub limits: Limits,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub max_request_bytes: u64,
    pub max_batch_bytes: u64,
    pub max_batches_per_push: u32,
    pub max_page_batches: u32,
    pub max_snapshot_bytes: u64,
    pub max_devices: u32,
}

/// `POST /v1/accounts/params`: how to stretch the passphrase for this
/// login. Unknown logins get stable made-up parameters, so the answer does
/// not reveal whether an account exists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamsRequest {
    pub login_id: LoginId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamsResponse {
    pub kdf: KdfParams,
}

/// The recovery wrap of the sync key and the proof that unlocks it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryWrap {
    #[serde(with = "crate::b64")]
    pub proof: Vec<u8>,
    #[serde(with = "crate::b64")]
    pub wrapped_key: Vec<u8>,
}

/// `POST /v1/accounts`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub login_id: LoginId,
    pub account_id: AccountId,
    pub kdf: KdfParams,
    #[serde(with = "crate::b64")]
    pub login_secret: Vec<u8>,
    pub key_id: KeyId,
    #[serde(with = "crate::b64")]
    pub wrapped_key: Vec<u8>,
    #[serde(default)]
    pub recovery: Option<RecoveryWrap>,
    pub device_id: DeviceId,
    #[serde(default, with = "crate::b64::option")]
    pub device_name: Option<Vec<u8>>,
}

/// `POST /v1/sessions` (sign in with the passphrase's login secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub login_id: LoginId,
    #[serde(with = "crate::b64")]
    pub login_secret: Vec<u8>,
    pub device_id: DeviceId,
}

/// `POST /v1/sessions/recover` (sign in with a recovery key's proof).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoverRequest {
    pub login_id: LoginId,
    #[serde(with = "crate::b64")]
    pub recovery_proof: Vec<u8>,
    pub device_id: DeviceId,
}

/// Answer to sign-up, sign-in and recovery. `wrapped_key` is the wrap the
/// presented secret opens (passphrase wrap, or recovery wrap on recovery).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub account_id: AccountId,
    pub device_id: DeviceId,
    pub token: String,
    pub key_id: KeyId,
    #[serde(with = "crate::b64")]
    pub wrapped_key: Vec<u8>,
}

/// `GET /v1/account`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountInfo {
    pub account_id: AccountId,
    pub key_id: KeyId,
    pub kdf: KdfParams,
    pub head: u64,
    pub has_recovery: bool,
    pub snapshot_cursor: Option<u64>,
    pub compacted_through: u64,
    pub created_at: i64,
}

/// Proof of a secret for sensitive changes: the passphrase's login secret,
/// or a recovery proof.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Proof {
    LoginSecret(#[serde(with = "crate::b64")] Vec<u8>),
    RecoveryProof(#[serde(with = "crate::b64")] Vec<u8>),
}

/// `PUT /v1/account/passphrase`: re-wraps the same sync key; nothing else
/// changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassphraseChange {
    pub proof: Proof,
    pub kdf: KdfParams,
    #[serde(with = "crate::b64")]
    pub login_secret: Vec<u8>,
    #[serde(with = "crate::b64")]
    pub wrapped_key: Vec<u8>,
    #[serde(default)]
    pub sign_out_other_devices: bool,
}

/// `PUT /v1/account/recovery`: sets (or with `recovery: null` removes) the
/// recovery wrap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryChange {
    #[serde(with = "crate::b64")]
    pub login_secret: Vec<u8>,
    pub recovery: Option<RecoveryWrap>,
}

/// `DELETE /v1/account`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccount {
    #[serde(with = "crate::b64")]
    pub login_secret: Vec<u8>,
}

/// `GET /v1/devices`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceList {
    pub devices: Vec<DeviceInfo>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub device_id: DeviceId,
    /// Sealed under the sync key ([`crate::keys::open_device_name`]).
    #[serde(default, with = "crate::b64::option")]
    pub name: Option<Vec<u8>>,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// Signed out devices stay listed: their batches remain in the history.
    pub signed_out: bool,
    pub current: bool,
    pub head: u64,
}

/// `PUT /v1/devices/current/name`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceName {
    #[serde(with = "crate::b64")]
    pub name: Vec<u8>,
}

/// `POST /v1/devices/sign-out-all`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignOutAll {
    #[serde(default)]
    pub include_current: bool,
}

/// `POST /v1/batches`: one or more consecutive batches of the token's
/// device, stored all or nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    pub batches: Vec<BatchEnvelope>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PushResponse {
    pub results: Vec<PushResult>,
    /// The account head after the push.
    pub head: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PushResult {
    pub batch_id: BatchId,
    pub seq: u64,
    pub cursor: u64,
    /// True if this batch id was stored before (a retried push).
    pub duplicate: bool,
}

/// One batch of a pull, at its account log position.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PulledBatch {
    pub cursor: u64,
    pub batch: BatchEnvelope,
}

/// `GET /v1/batches?after=C&limit=N`: batches after cursor C in cursor
/// order, the requesting device's own left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PullPage {
    pub batches: Vec<PulledBatch>,
    /// Where to continue from.
    pub next: u64,
    /// False when `next` is the head: nothing further exists right now.
    pub more: bool,
    /// The account log's last cursor, read in the same transaction.
    pub head: u64,
    /// Every device's chain head at `head`, read in the same transaction.
    pub devices: BTreeMap<DeviceId, Head>,
    /// The server asks a caught-up device to upload a snapshot.
    pub snapshot_wanted: bool,
}

/// `PUT /v1/snapshot` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotStored {
    pub cursor: u64,
    /// Batches at or below this cursor may be gone after the retention window.
    pub compacted_through: u64,
}

/// `GET /v1/snapshot`.
pub type SnapshotResponse = SnapshotEnvelope;

/// Messages on the notification WebSocket (`GET /v1/notifications`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Notice {
    /// The account log's head; sent on connect and whenever it moves
    /// (coalesced: several pushes may yield one notice). Pull when it is
    /// beyond your cursor.
    Head { head: u64 },
    /// This device was signed out; the socket closes next.
    SignedOut,
}
