//! Delta updates (issue 10): the full artifact rebuilt from the kept
//! artifact of the running version (`kept.rs`) and a patch the service
//! announced (`policy::DeltaOffer`, built by `crates/delta`).
//!
//! The patch is downloaded like the full artifact (the offer's timeout,
//! proxy setting and headers, `X-Install-Id` among them), checked against
//! the announced SHA-256, applied (`productivitypro_delta::apply` checks
//! the kept artifact's SHA-256 first), the result checked against the
//! announced full size and SHA-256, then verified with `Update::verify`
//! against the full artifact's signature and the built-in key.
//!
//! Must hold: the bytes returned are exactly what the plugin would have
//! verified from the full download; every failure is a `Failure` with a
//! stable code (logged without paths or content) and means "download the
//! full artifact instead".

use std::path::{Path, PathBuf};

use semver::Version;
use tauri_plugin_updater::Update;

use super::kept::Kept;
use super::policy::{is_loopback, DeltaOffer, Offer};

/// Why the delta path gave up; the caller falls back to the full download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure(pub &'static str);

impl Failure {
    pub fn code(self) -> &'static str {
        self.0
    }
}

/// The kept artifact vanished or could not be read.
pub const BASE_UNREADABLE: &str = "delta_base_unreadable";
/// The patch URL is neither https nor http on loopback.
pub const PATCH_URL_REFUSED: &str = "delta_patch_url_refused";
/// The patch could not be fetched (network, non-2xx status).
pub const PATCH_UNAVAILABLE: &str = "delta_patch_unavailable";
/// Fetching the patch took longer than the offer's timeout.
pub const PATCH_TIMEOUT: &str = "delta_patch_timeout";
/// The patch is not the announced number of bytes.
pub const PATCH_SIZE_MISMATCH: &str = "delta_patch_size_mismatch";
/// The patch does not hash to the announced SHA-256.
pub const PATCH_HASH_MISMATCH: &str = "delta_patch_hash_mismatch";
/// The rebuilt artifact is not the announced full artifact.
pub const RESULT_NOT_ANNOUNCED: &str = "delta_result_not_announced";
/// The rebuilt artifact does not verify against the release's signature.
pub const SIGNATURE_INVALID: &str = "delta_signature_invalid";
/// Applying ran into an internal error (a worker thread failed).
pub const APPLY_ABORTED: &str = "delta_apply_aborted";
/// The kept artifact is not the patch's base (`productivitypro_delta`'s
/// code): it was altered or damaged on disk.
pub const WRONG_BASE: &str = "delta_wrong_base";

/// A delta the app can try: the announced patch and the kept artifact it
/// applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub patch: DeltaOffer,
    pub base: PathBuf,
}

/// The delta to try for `offer`, when the service announced a patch from
/// exactly the running version and that version's artifact is kept. Only
/// looks for the file: hashing it is left to the download (the check runs
/// every few hours and most checks find nothing new; `apply` hashes the
/// file anyway, and a cached hash could be fooled by a same-size rewrite
/// within the file system's mtime resolution).
pub fn plan(kept: Option<&Kept>, current: &Version, offer: &Offer) -> Option<Plan> {
    let patch = offer.delta.as_ref()?;
    let from = productivitypro_protocol::manifest::parse_version(&patch.from).ok()?;
    if &from != current {
        return None;
    }
    let base = kept?.find(&current.to_string())?;
    Some(Plan {
        patch: patch.clone(),
        base,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The patch checked against its announcement, applied to `base` (whose
/// SHA-256 `productivitypro_delta::apply` checks), the result checked
/// against the announced full artifact. Not yet signature-checked.
pub fn apply(base: &[u8], patch: &[u8], announced: &DeltaOffer) -> Result<Vec<u8>, Failure> {
    if patch.len() as u64 != announced.size {
        return Err(Failure(PATCH_SIZE_MISMATCH));
    }
    if hex(&productivitypro_delta::sha256(patch)) != announced.sha256 {
        return Err(Failure(PATCH_HASH_MISMATCH));
    }
    let new = productivitypro_delta::apply(base, patch).map_err(|e| Failure(e.code()))?;
    if new.len() as u64 != announced.full_size
        || hex(&productivitypro_delta::sha256(&new)) != announced.full_sha256
    {
        return Err(Failure(RESULT_NOT_ANNOUNCED));
    }
    Ok(new)
}

/// [`apply`] to the kept artifact read from `base_path`. A kept artifact
/// that is not the patch's base (damaged or altered on disk) is removed:
/// left in place, every later check would announce a delta from it and
/// every download would fetch a patch only to fall back.
pub fn apply_kept(
    base_path: &Path,
    base: &[u8],
    patch: &[u8],
    announced: &DeltaOffer,
) -> Result<Vec<u8>, Failure> {
    apply(base, patch, announced).inspect_err(|f| {
        if f.code() == WRONG_BASE {
            match std::fs::remove_file(base_path) {
                Ok(()) => tracing::warn!("the kept update artifact was damaged; removed"),
                Err(e) => tracing::warn!(
                    kind = ?e.kind(),
                    "the kept update artifact is damaged and could not be removed"
                ),
            }
        }
    })
}

/// Downloads the patch, rebuilds and verifies the full artifact. `on_chunk`
/// is called as the patch arrives (bytes received, the patch's size).
pub async fn rebuild(
    update: &Update,
    plan: &Plan,
    mut on_chunk: impl FnMut(usize, Option<u64>),
) -> Result<Vec<u8>, Failure> {
    let patch = &plan.patch;
    let url = tauri::Url::parse(&patch.url).map_err(|_| Failure(PATCH_URL_REFUSED))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        _ => return Err(Failure(PATCH_URL_REFUSED)),
    }
    let base_path = plan.base.clone();
    let base = tokio::fs::read(&base_path)
        .await
        .map_err(|_| Failure(BASE_UNREADABLE))?;

    let mut b = reqwest_app::Client::builder();
    if let Some(t) = update.timeout {
        b = b.timeout(t);
    }
    if update.no_proxy {
        b = b.no_proxy();
    } else if let Some(proxy) = &update.proxy {
        let proxy =
            reqwest_app::Proxy::all(proxy.as_str()).map_err(|_| Failure(PATCH_UNAVAILABLE))?;
        b = b.proxy(proxy);
    }
    let client = b.build().map_err(|_| Failure(PATCH_UNAVAILABLE))?;
    let fetch_error = |e: reqwest_app::Error| {
        Failure(if e.is_timeout() {
            PATCH_TIMEOUT
        } else {
            PATCH_UNAVAILABLE
        })
    };
    let mut resp = client
        .get(url)
        .headers(update.headers.clone())
        .header(reqwest_app::header::ACCEPT, "application/octet-stream")
        .send()
        .await
        .map_err(fetch_error)?;
    if !resp.status().is_success() {
        return Err(Failure(PATCH_UNAVAILABLE));
    }
    let mut bytes = Vec::with_capacity(patch.size.min(64 << 20) as usize);
    while let Some(chunk) = resp.chunk().await.map_err(fetch_error)? {
        if bytes.len() as u64 + chunk.len() as u64 > patch.size {
            return Err(Failure(PATCH_SIZE_MISMATCH));
        }
        on_chunk(chunk.len(), Some(patch.size));
        bytes.extend_from_slice(&chunk);
    }
    if bytes.len() as u64 != patch.size {
        return Err(Failure(PATCH_SIZE_MISMATCH));
    }

    let announced = patch.clone();
    let rebuilt = tauri::async_runtime::spawn_blocking(move || {
        apply_kept(&base_path, &base, &bytes, &announced)
    })
    .await
    .map_err(|_| Failure(APPLY_ABORTED))??;

    // The same verification as the full download's: the release's
    // signature, the built-in key, the signed version.
    update
        .verify(&rebuilt)
        .map_err(|_| Failure(SIGNATURE_INVALID))?;
    Ok(rebuilt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(from: &str) -> Offer {
        Offer {
            version: Version::parse("1.2.0").unwrap(),
            rollback: false,
            signed_version: Some("1.2.0".into()),
            full_size: Some(100),
            delta: Some(DeltaOffer {
                from: from.into(),
                url: "https://u/p".into(),
                size: 10,
                sha256: "ab".into(),
                full_size: 100,
                full_sha256: "cd".into(),
            }),
        }
    }

    /// A patch from `old` to `new` and its announcement. (`build` is
    /// linked into tests only: the update service, a dev-dependency, turns
    /// the feature on.)
    fn announced(old: &[u8], new: &[u8]) -> (Vec<u8>, DeltaOffer) {
        let patch =
            productivitypro_delta::build(old, new, productivitypro_delta::Method::Zstd).unwrap();
        let d = DeltaOffer {
            from: "1.1.0".into(),
            url: "https://u/p".into(),
            size: patch.len() as u64,
            sha256: hex(&productivitypro_delta::sha256(&patch)),
            full_size: new.len() as u64,
            full_sha256: hex(&productivitypro_delta::sha256(new)),
        };
        (patch, d)
    }

    #[test]
    fn apply_checks_the_patch_the_base_and_the_result_against_the_announcement() {
        let old: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut new = old.clone();
        new[20_000..20_100].fill(9);
        let (patch, d) = announced(&old, &new);
        assert!(apply(&old, &patch, &d).unwrap() == new);

        let mut short = patch.clone();
        short.pop();
        assert_eq!(
            apply(&old, &short, &d).unwrap_err().code(),
            PATCH_SIZE_MISMATCH
        );
        let mut flipped = patch.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            apply(&old, &flipped, &d).unwrap_err().code(),
            PATCH_HASH_MISMATCH
        );
        let mut base = old.clone();
        base[0] ^= 1;
        assert_eq!(
            apply(&base, &patch, &d).unwrap_err().code(),
            "delta_wrong_base"
        );
        // A genuine patch into other bytes than the service announced.
        let mut other = d.clone();
        other.full_sha256 = hex(&productivitypro_delta::sha256(b"another"));
        assert_eq!(
            apply(&old, &patch, &other).unwrap_err().code(),
            RESULT_NOT_ANNOUNCED
        );
    }

    #[test]
    fn a_damaged_kept_artifact_is_dropped_so_later_checks_offer_no_delta() {
        let tmp = tempfile::tempdir().unwrap();
        let kept = Kept::new(tmp.path().to_path_buf());
        let old: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut new = old.clone();
        new[10_000..10_050].fill(3);
        let (patch, d) = announced(&old, &new);
        let current = Version::parse("1.1.0").unwrap();
        let mut offer = offer("1.1.0");
        offer.delta = Some(d.clone());

        // A sound kept artifact rebuilds and stays.
        let path = kept.keep("1.1.0", &old).unwrap();
        let base = std::fs::read(&path).unwrap();
        assert!(apply_kept(&path, &base, &patch, &d).unwrap() == new);
        assert!(plan(Some(&kept), &current, &offer).is_some());

        // Damaged on disk: the patch does not apply, and the file goes, so
        // the next check plans no delta from it.
        let mut damaged = old.clone();
        damaged[123] ^= 0x40;
        let path = kept.keep("1.1.0", &damaged).unwrap();
        let base = std::fs::read(&path).unwrap();
        assert_eq!(
            apply_kept(&path, &base, &patch, &d).unwrap_err().code(),
            WRONG_BASE
        );
        assert!(!path.exists());
        assert_eq!(plan(Some(&kept), &current, &offer), None);

        // Other failures (a bad patch) are not the kept artifact's fault.
        let path = kept.keep("1.1.0", &old).unwrap();
        let mut short = patch.clone();
        short.pop();
        assert_eq!(
            apply_kept(&path, &old, &short, &d).unwrap_err().code(),
            PATCH_SIZE_MISMATCH
        );
        assert!(path.exists());
    }

    #[test]
    fn a_delta_needs_the_running_versions_kept_artifact() {
        let tmp = tempfile::tempdir().unwrap();
        let kept = Kept::new(tmp.path().to_path_buf());
        let current = Version::parse("1.1.0").unwrap();
        // Nothing kept, no folder at all.
        assert_eq!(plan(Some(&kept), &current, &offer("1.1.0")), None);
        assert_eq!(plan(None, &current, &offer("1.1.0")), None);
        kept.keep("1.1.0", b"artifact").unwrap();
        let p = plan(Some(&kept), &current, &offer("1.1.0")).unwrap();
        assert_eq!(p.base, kept.find("1.1.0").unwrap());
        assert_eq!(p.patch.size, 10);
        // A patch from another version, or no patch: the full download.
        assert_eq!(plan(Some(&kept), &current, &offer("1.0.0")), None);
        let mut none = offer("1.1.0");
        none.delta = None;
        assert_eq!(plan(Some(&kept), &current, &none), None);
        // A kept artifact of another version does not count.
        kept.keep("1.0.0", b"older").unwrap();
        kept.prune("1.0.0").unwrap();
        assert_eq!(plan(Some(&kept), &current, &offer("1.1.0")), None);
    }
}
