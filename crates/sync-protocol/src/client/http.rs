//! Typed calls to every endpoint of the sync API.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use reqwest_app as reqwest;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::*;
use crate::batch::BatchEnvelope;
use crate::ids::{DeviceId, LoginId};
use crate::snapshot::SnapshotEnvelope;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The server refused the request with a stable code.
    #[error("{code} ({status}): {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        details: Option<serde_json::Value>,
    },
    #[error("cannot reach the sync server: {0}")]
    Unreachable(String),
    #[error("the sync server's answer is malformed: {0}")]
    BadResponse(String),
}

impl ClientError {
    pub fn code(&self) -> &str {
        match self {
            ClientError::Api { code, .. } => code,
            ClientError::Unreachable(_) => "server_unreachable",
            ClientError::BadResponse(_) => "bad_response",
        }
    }
}

/// One sync server.
#[derive(Clone)]
pub struct SyncClient {
    base: String,
    http: reqwest::Client,
}

fn unreachable(e: reqwest::Error) -> ClientError {
    ClientError::Unreachable(e.to_string())
}

/// rustls with ring and Mozilla's roots (webpki-roots), given to reqwest
/// whole: its `rustls-no-provider` build has no crypto of its own (the
/// app shares this reqwest with tauri-plugin-updater), and the trust
/// store stays what the sync client always used.
fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    // Fails only for a provider without TLS 1.2/1.3 suites: ring has
    // both, fixed at build time, so no input or environment can trip it.
    .expect("ring supports the default TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    // reqwest is built without HTTP/2.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

impl SyncClient {
    /// `base` is e.g. `https://sync.example.com` (no trailing `/v1`).
    pub fn new(base: &str) -> SyncClient {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            // Fails only for builder settings that can be wrong (proxies,
            // extra certificates): none is set, and `base` is only stored,
            // so no caller input reaches this.
            .build()
            .expect("a client from a fixed configuration builds");
        SyncClient {
            base: base.trim_end_matches('/').to_string(),
            http,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&B>,
    ) -> Result<(StatusCode, Option<T>), ClientError> {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string());
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let r = rb.send().await.map_err(unreachable)?;
        let status = r.status();
        let bytes = r.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ApiError>(&bytes) {
                Ok(e) => ClientError::Api {
                    status: status.as_u16(),
                    code: e.code,
                    message: e.message,
                    details: e.details,
                },
                Err(_) => ClientError::BadResponse(format!("HTTP {status} without an error body")),
            });
        }
        if status == StatusCode::NO_CONTENT || bytes.is_empty() {
            return Ok((status, None));
        }
        serde_json::from_slice(&bytes)
            .map(|v| (status, Some(v)))
            .map_err(|e| ClientError::BadResponse(e.to_string()))
    }

    async fn json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        self.call(method, path, token, body)
            .await?
            .1
            .ok_or_else(|| ClientError::BadResponse("empty body".into()))
    }

    async fn empty<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&B>,
    ) -> Result<(), ClientError> {
        self.call::<B, serde_json::Value>(method, path, token, body)
            .await
            .map(|_| ())
    }

    pub async fn info(&self) -> Result<Info, ClientError> {
        self.json::<(), _>(Method::GET, "/v1/info", None, None)
            .await
    }

    pub async fn params(&self, login_id: LoginId) -> Result<ParamsResponse, ClientError> {
        self.json(
            Method::POST,
            "/v1/accounts/params",
            None,
            Some(&ParamsRequest { login_id }),
        )
        .await
    }

    pub async fn signup(&self, req: &SignupRequest) -> Result<Session, ClientError> {
        self.json(Method::POST, "/v1/accounts", None, Some(req))
            .await
    }

    pub async fn login(&self, req: &LoginRequest) -> Result<Session, ClientError> {
        self.json(Method::POST, "/v1/sessions", None, Some(req))
            .await
    }

    pub async fn recover(&self, req: &RecoverRequest) -> Result<Session, ClientError> {
        self.json(Method::POST, "/v1/sessions/recover", None, Some(req))
            .await
    }

    pub async fn account(&self, token: &str) -> Result<AccountInfo, ClientError> {
        self.json::<(), _>(Method::GET, "/v1/account", Some(token), None)
            .await
    }

    pub async fn change_passphrase(
        &self,
        token: &str,
        req: &PassphraseChange,
    ) -> Result<(), ClientError> {
        self.empty(
            Method::PUT,
            "/v1/account/passphrase",
            Some(token),
            Some(req),
        )
        .await
    }

    pub async fn change_recovery(
        &self,
        token: &str,
        req: &RecoveryChange,
    ) -> Result<(), ClientError> {
        self.empty(Method::PUT, "/v1/account/recovery", Some(token), Some(req))
            .await
    }

    pub async fn delete_account(
        &self,
        token: &str,
        req: &DeleteAccount,
    ) -> Result<(), ClientError> {
        self.empty(Method::DELETE, "/v1/account", Some(token), Some(req))
            .await
    }

    pub async fn devices(&self, token: &str) -> Result<DeviceList, ClientError> {
        self.json::<(), _>(Method::GET, "/v1/devices", Some(token), None)
            .await
    }

    pub async fn rename_device(
        &self,
        token: &str,
        sealed_name: Vec<u8>,
    ) -> Result<(), ClientError> {
        self.empty(
            Method::PUT,
            "/v1/devices/current/name",
            Some(token),
            Some(&DeviceName { name: sealed_name }),
        )
        .await
    }

    /// Signs out one device (this one, if `device` is `None`).
    pub async fn sign_out(&self, token: &str, device: Option<DeviceId>) -> Result<(), ClientError> {
        let id = device.map_or("current".to_string(), |d| d.hex());
        self.empty::<()>(
            Method::DELETE,
            &format!("/v1/devices/{id}"),
            Some(token),
            None,
        )
        .await
    }

    pub async fn sign_out_all(
        &self,
        token: &str,
        include_current: bool,
    ) -> Result<(), ClientError> {
        self.empty(
            Method::POST,
            "/v1/devices/sign-out-all",
            Some(token),
            Some(&SignOutAll { include_current }),
        )
        .await
    }

    pub async fn push(
        &self,
        token: &str,
        batches: &[BatchEnvelope],
    ) -> Result<PushResponse, ClientError> {
        self.json(
            Method::POST,
            "/v1/batches",
            Some(token),
            Some(&PushRequest {
                batches: batches.to_vec(),
            }),
        )
        .await
    }

    pub async fn pull(
        &self,
        token: &str,
        after: u64,
        limit: Option<u32>,
    ) -> Result<PullPage, ClientError> {
        let path = match limit {
            Some(l) => format!("/v1/batches?after={after}&limit={l}"),
            None => format!("/v1/batches?after={after}"),
        };
        self.json::<(), _>(Method::GET, &path, Some(token), None)
            .await
    }

    pub async fn put_snapshot(
        &self,
        token: &str,
        s: &SnapshotEnvelope,
    ) -> Result<SnapshotStored, ClientError> {
        self.json(Method::PUT, "/v1/snapshot", Some(token), Some(s))
            .await
    }

    /// `Ok(None)`: the account has no snapshot yet.
    pub async fn snapshot(&self, token: &str) -> Result<Option<SnapshotEnvelope>, ClientError> {
        match self
            .json::<(), SnapshotEnvelope>(Method::GET, "/v1/snapshot", Some(token), None)
            .await
        {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.code() == "no_snapshot" => Ok(None),
            Err(e) => Err(e),
        }
    }
}
