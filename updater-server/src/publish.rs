//! Publishing a release: everything but HTTP. A `Publication` is judged from
//! its release JSON before any file arrives, then receives each uploaded file
//! (hashed and signature-checked while it streams to staging) and fetches
//! the externally hosted ones; only when every signature verifies does
//! anything enter the store and the database — a release is accepted whole
//! or not at all. `routes/publish.rs` feeds it from a multipart request.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use axum::http::StatusCode;
use bytes::Bytes;
use futures_util::StreamExt;
use productivitypro_protocol::api::{ArtifactSpec, PublishRequest, ReleaseStatus};
use productivitypro_protocol::signature::{self, SignatureError};
use productivitypro_protocol::Platform;
use semver::Version;
use sha2::{Digest, Sha256};

use crate::artifacts::StoreError;
use crate::auth::Actor;
use crate::db::{ArtifactRow, Audit, NewRelease};
use crate::error::{ApiResult, Error};
use crate::fetch::{self, Refused};
use crate::releases::{check_newer, percent_to_bps};
use crate::staging::Claim;
use crate::state::AppState;

pub const MAX_RELEASE_JSON: usize = 1 << 20;
const MAX_ARTIFACTS: usize = 32;
const MAX_NOTES: usize = 64 << 10;
const MAX_SIGNATURE: usize = 4096;
const MAX_URL: usize = 2048;

pub fn check_file_name(name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request(
            "invalid_artifact_name",
            format!("artifact file name {name:?} must be 1-200 of A-Z a-z 0-9 . _ + - and not start with '.'"),
        ))
    }
}

fn bad_signature(platform: Platform, e: SignatureError) -> Error {
    Error::unprocessable("bad_signature", format!("artifact {platform}: {e}"))
}

fn version_error(platform: Platform, e: SignatureError) -> Error {
    let code = match e {
        SignatureError::NoVersion(_) => "unsigned_version",
        SignatureError::VersionNotInFileName { .. } => "version_not_in_file_name",
        _ => "bad_signature",
    };
    Error::unprocessable(code, format!("artifact {platform}: {e}"))
}

/// A file received and verified, waiting in staging; its bytes count
/// against the staging budget until it is dropped (and the file removed).
pub struct Staged {
    file: tempfile::NamedTempFile,
    size: u64,
    sha256: String,
    _claim: Claim,
}

/// What the writer thread hands back.
struct Written {
    file: tempfile::NamedTempFile,
    sha256: String,
    verified: Result<(), SignatureError>,
}

/// Receives one file: chunks go to a blocking thread that hashes them, feeds
/// the signature check and writes the staging file, so no file I/O runs on
/// the async workers.
pub struct Sink {
    platform: Platform,
    size: u64,
    limit: u64,
    claim: Claim,
    chunks: Option<tokio::sync::mpsc::Sender<Bytes>>,
    /// Taken when its result is (a JoinHandle yields it once).
    writer: Option<tokio::task::JoinHandle<std::io::Result<Written>>>,
}

impl Sink {
    fn new(
        state: &AppState,
        spec: &ArtifactSpec,
        sig: &minisign_verify::Signature,
    ) -> ApiResult<Self> {
        // Checked here so a wrong key or name fails before any byte is written.
        signature::begin_verify(&state.public_key, sig, &spec.file_name)
            .map_err(|e| bad_signature(spec.platform, e))?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(8);
        let (key, sig, name) = (
            state.public_key.clone(),
            sig.clone(),
            spec.file_name.clone(),
        );
        let dir = state.staging.dir().to_path_buf();
        let writer = tokio::task::spawn_blocking(move || {
            let mut file = tempfile::NamedTempFile::new_in(&dir)?;
            let mut hash = Sha256::new();
            let mut verify = signature::begin_verify(&key, &sig, &name);
            while let Some(chunk) = rx.blocking_recv() {
                hash.update(&chunk);
                if let Ok(v) = &mut verify {
                    v.update(&chunk);
                }
                file.write_all(&chunk)?;
            }
            file.as_file_mut().sync_all()?;
            Ok(Written {
                file,
                sha256: hex::encode(hash.finalize()),
                verified: verify.and_then(signature::finish_verify),
            })
        });
        Ok(Sink {
            platform: spec.platform,
            size: 0,
            limit: state.config.max_artifact_bytes,
            claim: state.staging.budget().claim(),
            chunks: Some(tx),
            writer: Some(writer),
        })
    }

    pub fn platform(&self) -> Platform {
        self.platform
    }

    /// Adds a chunk; on an error the partial file is already gone.
    pub async fn push(&mut self, chunk: Bytes) -> ApiResult<()> {
        let result = self.send(chunk).await;
        if result.is_err() {
            self.discard().await;
        }
        result
    }

    /// Stops the writer and removes what it wrote, before the caller answers.
    pub async fn discard(&mut self) {
        if let Ok(w) = self.written().await {
            let _ = tokio::task::spawn_blocking(move || drop(w)).await;
        }
    }

    async fn send(&mut self, chunk: Bytes) -> ApiResult<()> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(Error::too_large(format!(
                "artifact {} exceeds {} bytes",
                self.platform, self.limit
            )));
        }
        self.claim.take(chunk.len() as u64).map_err(|full| {
            Error::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "staging_full",
                format!(
                    "uploads in progress fill the staging space ({} bytes); retry when they finish",
                    full.limit
                ),
            )
        })?;
        let sent = match &self.chunks {
            Some(tx) => tx.send(chunk).await.is_ok(),
            None => false,
        };
        if !sent {
            // The writer stopped early: its error says why.
            self.chunks = None;
            return Err(self.written().await.err().unwrap_or_else(|| {
                Error::from(StoreError::Io(std::io::Error::other(
                    "staging writer stopped",
                )))
            }));
        }
        Ok(())
    }

    async fn written(&mut self) -> ApiResult<Written> {
        self.chunks = None;
        let Some(writer) = self.writer.take() else {
            return Err(StoreError::Io(std::io::Error::other(
                "the staging writer already stopped",
            ))
            .into());
        };
        match writer.await {
            Ok(Ok(w)) => Ok(w),
            Ok(Err(e)) => Err(StoreError::Io(e).into()),
            Err(e) => Err(StoreError::Io(std::io::Error::other(e)).into()),
        }
    }

    pub async fn finish(mut self) -> ApiResult<Staged> {
        let Written {
            file,
            sha256,
            verified,
        } = self.written().await?;
        let refused = match verified {
            _ if self.size == 0 => Some(Error::unprocessable(
                "empty_artifact",
                format!("artifact {} is empty", self.platform),
            )),
            Err(e) => Some(bad_signature(self.platform, e)),
            Ok(()) => None,
        };
        if let Some(e) = refused {
            let _ = tokio::task::spawn_blocking(move || drop(file)).await;
            return Err(e);
        }
        Ok(Staged {
            file,
            size: self.size,
            sha256,
            _claim: self.claim,
        })
    }
}

/// A release being published: judged, then filled with its files.
pub struct Publication<'a> {
    state: &'a AppState,
    actor: Actor,
    req: PublishRequest,
    bps: i64,
    sigs: HashMap<Platform, minisign_verify::Signature>,
    staged: HashMap<Platform, Staged>,
    /// Part of every object key this publication writes, so a concurrent
    /// publication of the same version (which will lose in the database)
    /// never writes or removes this one's objects.
    upload_id: uuid::Uuid,
}

impl<'a> Publication<'a> {
    /// Parses the release JSON and judges everything that can be judged
    /// before a byte of the files arrives.
    pub fn begin(state: &'a AppState, actor: Actor, json: &[u8]) -> ApiResult<Self> {
        let req: PublishRequest =
            productivitypro_protocol::from_json_objects(json, &["", "artifacts[]"])
                .map_err(|e| Error::bad_request("invalid_request", format!("release part: {e}")))?;
        if req.version.len() > productivitypro_protocol::MAX_VERSION_LEN {
            return Err(Error::bad_request(
                "invalid_version",
                format!(
                    "versions are at most {} characters",
                    productivitypro_protocol::MAX_VERSION_LEN
                ),
            ));
        }
        if req.notes.len() > MAX_NOTES {
            return Err(Error::bad_request(
                "invalid_request",
                format!("notes are at most {MAX_NOTES} bytes"),
            ));
        }
        if req.version.starts_with('v') {
            return Err(Error::bad_request(
                "invalid_version",
                "write the version without a leading v",
            ));
        }
        let version = Version::parse(&req.version).map_err(|e| {
            Error::bad_request(
                "invalid_version",
                format!("{:?} is not semver: {e}", req.version),
            )
        })?;
        let bps = percent_to_bps(req.percent)?;
        {
            let snap = state.snapshot.load();
            if snap.release(&req.version).is_some() {
                return Err(Error::conflict(
                    "duplicate_version",
                    format!("{} is already published", req.version),
                ));
            }
            check_newer(&snap, &version, req.channel)?;
        }
        if req.artifacts.is_empty() || req.artifacts.len() > MAX_ARTIFACTS {
            return Err(Error::bad_request(
                "invalid_request",
                format!("a release has 1 to {MAX_ARTIFACTS} artifacts"),
            ));
        }
        for a in &req.artifacts {
            if a.signature.len() > MAX_SIGNATURE
                || a.url.as_ref().is_some_and(|u| u.len() > MAX_URL)
            {
                return Err(Error::bad_request(
                    "invalid_request",
                    format!(
                        "artifact {}: signatures are at most {MAX_SIGNATURE} bytes, URLs {MAX_URL}",
                        a.platform
                    ),
                ));
            }
        }
        let mut sigs = HashMap::new();
        let mut names = HashSet::new();
        for a in &req.artifacts {
            check_file_name(&a.file_name)?;
            if !names.insert(a.file_name.as_str()) {
                return Err(Error::unprocessable(
                    "duplicate_artifact",
                    format!("two artifacts are named {}", a.file_name),
                ));
            }
            if let Some(url) = &a.url {
                let parsed = reqwest::Url::parse(url)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
                    .ok_or_else(|| {
                        Error::unprocessable(
                            "invalid_url",
                            format!("artifact {}: {url:?} is not an http(s) URL", a.platform),
                        )
                    })?;
                fetch::check_url(&parsed, state.config.external_artifacts.allow_private_hosts)
                    .map_err(|e| refused(a.platform, url, &e))?;
            }
            let sig = signature::parse(&a.signature).map_err(|e| bad_signature(a.platform, e))?;
            // An old signed build must not pass as a new version (the app's
            // `requireSignedVersion` would refuse it too, after the download).
            signature::check_signed_version(
                &sig,
                &a.file_name,
                &version,
                state.config.require_signed_version,
            )
            .map_err(|e| version_error(a.platform, e))?;
            // Reject a wrong key or file name now, before the upload is read.
            signature::begin_verify(&state.public_key, &sig, &a.file_name)
                .map_err(|e| bad_signature(a.platform, e))?;
            if sigs.insert(a.platform, sig).is_some() {
                return Err(Error::unprocessable(
                    "duplicate_artifact",
                    format!("platform {} appears twice", a.platform),
                ));
            }
        }
        Ok(Publication {
            state,
            actor,
            req,
            bps,
            sigs,
            staged: HashMap::new(),
            upload_id: uuid::Uuid::new_v4(),
        })
    }

    /// A sink for the uploaded file of part `name` (a platform key).
    pub fn upload(&self, name: &str) -> ApiResult<Sink> {
        let platform: Platform = name
            .parse()
            .map_err(|e| Error::bad_request("unexpected_part", format!("part {name:?}: {e}")))?;
        let spec = self
            .req
            .artifacts
            .iter()
            .find(|a| a.platform == platform && a.url.is_none())
            .ok_or_else(|| {
                Error::unprocessable(
                    "unexpected_part",
                    format!("part {name} is not an uploaded artifact of this release"),
                )
            })?;
        if self.staged.contains_key(&platform) {
            return Err(Error::unprocessable(
                "duplicate_artifact",
                format!("part {name} appears twice"),
            ));
        }
        Sink::new(self.state, spec, &self.sigs[&platform])
    }

    /// Keeps a file `upload`'s sink received completely.
    pub fn received(&mut self, platform: Platform, staged: Staged) {
        self.staged.insert(platform, staged);
    }

    /// Fetches the external files, stores everything and records the release.
    pub async fn finish(mut self) -> ApiResult<ReleaseStatus> {
        let state = self.state;
        let req = &self.req;
        for a in &req.artifacts {
            if a.url.is_none() && !self.staged.contains_key(&a.platform) {
                return Err(Error::unprocessable(
                    "missing_artifact",
                    format!("no file was uploaded for {}", a.platform),
                ));
            }
        }
        let mut external: HashMap<Platform, Staged> = HashMap::new();
        for a in req.artifacts.iter().filter(|a| a.url.is_some()) {
            external.insert(
                a.platform,
                fetch_external(state, a, &self.sigs[&a.platform]).await?,
            );
        }

        // Verified: copy every file into the store, then record the release.
        // External files are served from the store too: what was verified is
        // what clients get, whatever the external host serves later.
        let mut stored = Vec::new();
        let mut rows = Vec::new();
        for a in &req.artifacts {
            let s = match self.staged.get(&a.platform) {
                Some(s) => s,
                None => &external[&a.platform],
            };
            let key = format!(
                "{}/{}/{}/{}",
                req.version,
                a.platform,
                self.upload_id.simple(),
                a.file_name
            );
            if let Err(e) = state.artifacts.put_file(&key, s.file.path()).await {
                remove(state, &stored).await;
                return Err(e.into());
            }
            stored.push(key.clone());
            rows.push(ArtifactRow {
                version: req.version.clone(),
                platform: a.platform.to_string(),
                file_name: a.file_name.clone(),
                url: None,
                object_key: Some(key),
                size: s.size as i64,
                sha256: s.sha256.clone(),
                signature: a.signature.clone(),
            });
        }
        let detail = format!(
            "published to {} at {}% with {}",
            req.channel,
            req.percent,
            rows.iter()
                .zip(&req.artifacts)
                .map(|(r, a)| match &a.url {
                    Some(u) => format!(
                        "{} ({} bytes, sha256 {}, copied from {u})",
                        r.platform, r.size, r.sha256
                    ),
                    None => format!("{} ({} bytes, sha256 {})", r.platform, r.size, r.sha256),
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
        let new = NewRelease {
            version: &req.version,
            notes: &req.notes,
            channel: req.channel.as_str(),
            percent_bps: self.bps,
            artifacts: rows,
        };
        let audit = Audit {
            at: state.now(),
            actor: &self.actor.name,
            action: "publish",
            version: Some(&req.version),
            detail,
        };
        let inserted = match state.db.insert_release(new, audit).await {
            Ok(b) => b,
            Err(e) => {
                remove(state, &stored).await;
                return Err(e.into());
            }
        };
        if !inserted {
            remove(state, &stored).await;
            return Err(Error::conflict(
                "duplicate_version",
                format!("{} is already published", req.version),
            ));
        }
        self.staged.clear();
        state.refresh().await?;
        // Patches are built in the background: publishing does not wait.
        state.delta_wake.notify_one();
        let status = crate::health::status(state).await?;
        status
            .releases
            .into_iter()
            .find(|r| r.version == req.version)
            .ok_or_else(|| {
                Error::conflict("state_changed", "the release changed while being published")
            })
    }
}

/// Removes the objects this publication stored (never another one's: keys carry its upload id).
async fn remove(state: &AppState, keys: &[String]) {
    for k in keys {
        if let Err(e) = state.artifacts.delete(k).await {
            tracing::warn!(key = %k, error = %e, "could not remove an artifact of a refused release");
        }
    }
}

fn refused(platform: Platform, url: &str, e: &Refused) -> Error {
    let code = match e {
        Refused::PrivateAddress(_) | Refused::PrivateName(_) => "artifact_url_refused",
        Refused::NotHttp => "invalid_url",
        _ => "artifact_redirect_refused",
    };
    Error::unprocessable(code, format!("artifact {platform}: {url}: {e}"))
}

/// Downloads an externally hosted artifact into staging, verifying it on the way.
async fn fetch_external(
    state: &AppState,
    spec: &ArtifactSpec,
    sig: &minisign_verify::Signature,
) -> ApiResult<Staged> {
    let url = spec.url.as_deref().unwrap_or_default();
    let failed = |e: reqwest::Error| match fetch::refusal(&e) {
        Some(r) => refused(spec.platform, url, r),
        None => Error::unprocessable(
            "artifact_unreachable",
            format!("artifact {}: {url}: {e}", spec.platform),
        ),
    };
    let resp = state.http.get(url).send().await.map_err(failed)?;
    if !resp.status().is_success() {
        return Err(Error::unprocessable(
            "artifact_unreachable",
            format!(
                "artifact {}: {url}: answered {}",
                spec.platform,
                resp.status()
            ),
        ));
    }
    let mut sink = Sink::new(state, spec, sig)?;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        sink.push(chunk.map_err(failed)?).await?;
    }
    sink.finish().await
}
