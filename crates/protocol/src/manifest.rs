//! Update manifests in the two forms tauri-plugin-updater v2 accepts: the
//! dynamic answer to one update check, and the static `latest.json` with a
//! `platforms` map. Extra fields (`channel`, `rollout`, `rollback`) ride along
//! and reach the app as `Update::raw_json`.

use std::collections::BTreeMap;

use base64::Engine as _;
use semver::Version;
use serde::{Deserialize, Serialize};

use crate::signature::{self, SignatureError};
use crate::Channel;

/// The 200 answer of `GET /v1/update/{target}/{arch}/{current_version}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateOffer {
    pub version: String,
    pub url: String,
    /// Standard base64 of the whole minisign `.sig` text, as the plugin wants it.
    pub signature: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pub_date: Option<String>,
    /// The channel the offered release was published to.
    pub channel: Channel,
    /// The share of the channel the release is rolled out to, in percent.
    pub rollout: f64,
    /// True when the offer is the previous good release replacing a rolled-back
    /// one: the only case in which the app accepts a lower version.
    #[serde(default)]
    pub rollback: bool,
    /// Telemetry tokens for this install, by version: the one it runs (for
    /// sessions and crashes) and the offered one (for `update_installed` /
    /// `update_failed`). Present only when the check sent `X-Install-Id` and
    /// the service issued tokens (it limits new installs per network).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub telemetry_tokens: BTreeMap<String, String>,
    /// A binary patch from the version the install runs to the offered one,
    /// present only when the service built one (issue 10). The app may
    /// rebuild the full artifact from its cached copy of `from` with it; it
    /// must still verify the rebuilt bytes against `signature`, and fall
    /// back to `url` on any failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<DeltaOffer>,
}

/// `delta` in an update answer. Field names are camelCase as the app's
/// `raw_json` reader expects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeltaOffer {
    /// The version the patch starts from: exactly the install's current one.
    pub from: String,
    /// Where the patch is downloaded (`/v1/deltas/{version}/{platform}/{from}`).
    pub url: String,
    /// Patch size in bytes: what the app downloads and shows.
    pub size: u64,
    /// SHA-256 of the patch, lowercase hex.
    pub sha256: String,
    /// `zstd`, `bsdiff` or `chunked` (`productivitypro-delta`'s `Method`).
    pub method: String,
    /// Size in bytes of the full artifact the patch rebuilds (the `url` of
    /// the offer), so the UI can say what the patch saves.
    pub full_size: u64,
    /// SHA-256 of the full artifact, lowercase hex.
    pub full_sha256: String,
}

/// `GET /v1/channels/{channel}/latest.json`: the plugin's static format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticManifest {
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pub_date: Option<String>,
    pub platforms: BTreeMap<String, StaticPlatform>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticPlatform {
    pub url: String,
    pub signature: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is not valid JSON of the expected shape: {0}")]
    Shape(#[from] serde_json::Error),
    #[error("version {0:?} is not semver")]
    Version(String),
    #[error("pub_date {0:?} is not RFC 3339")]
    PubDate(String),
    #[error("url {0:?} is not an absolute http(s) URL")]
    Url(String),
    #[error("signature is not base64 of a minisign signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("rollout {0} is outside 0..=100")]
    Rollout(f64),
    #[error("the platforms map is empty")]
    NoPlatforms,
    #[error("{0:?} is not a lowercase hex SHA-256")]
    Digest(String),
}

/// Parses a version the way the plugin does: a leading `v` is ignored.
pub fn parse_version(s: &str) -> Result<Version, ManifestError> {
    Version::parse(s.strip_prefix('v').unwrap_or(s)).map_err(|_| ManifestError::Version(s.into()))
}

fn check_common(
    version: &str,
    pub_date: Option<&str>,
    url: &str,
    signature_b64: &str,
) -> Result<(), ManifestError> {
    parse_version(version)?;
    if let Some(d) = pub_date {
        chrono::DateTime::parse_from_rfc3339(d).map_err(|_| ManifestError::PubDate(d.into()))?;
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() < 9 {
        return Err(ManifestError::Url(url.into()));
    }
    signature::decode_base64(signature_b64)?;
    Ok(())
}

impl UpdateOffer {
    /// Parses and validates an answer the way a strict client must.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let offer: UpdateOffer = serde_json::from_slice(bytes)?;
        check_common(
            &offer.version,
            offer.pub_date.as_deref(),
            &offer.url,
            &offer.signature,
        )?;
        if !(0.0..=100.0).contains(&offer.rollout) {
            return Err(ManifestError::Rollout(offer.rollout));
        }
        if let Some(d) = &offer.delta {
            parse_version(&d.from)?;
            if !(d.url.starts_with("https://") || d.url.starts_with("http://")) || d.url.len() < 9 {
                return Err(ManifestError::Url(d.url.clone()));
            }
            for h in [&d.sha256, &d.full_sha256] {
                if h.len() != 64
                    || !h
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    return Err(ManifestError::Digest(h.clone()));
                }
            }
        }
        Ok(offer)
    }
}

impl StaticManifest {
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let m: StaticManifest = serde_json::from_slice(bytes)?;
        if m.platforms.is_empty() {
            return Err(ManifestError::NoPlatforms);
        }
        for p in m.platforms.values() {
            check_common(&m.version, m.pub_date.as_deref(), &p.url, &p.signature)?;
        }
        Ok(m)
    }
}

/// The `signature` field for a minisign `.sig` text.
pub fn signature_field(sig_text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(sig_text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig() -> String {
        crate::signature::tests::signed(b"test", "test").1
    }

    fn offer_json(version: &str, url: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "version": version, "url": url, "signature": signature_field(&sig()),
            "notes": "n", "pub_date": "2026-11-23T10:00:00Z", "channel": "beta", "rollout": 25.0
        }))
        .unwrap()
    }

    #[test]
    fn accepts_what_the_service_sends() {
        let o = UpdateOffer::parse(&offer_json("v1.2.0", "https://x.test/a")).unwrap();
        assert_eq!(o.channel, Channel::Beta);
        assert!(!o.rollback);
    }

    #[test]
    fn rejects_bad_fields_by_name() {
        assert!(matches!(
            UpdateOffer::parse(&offer_json("1.2", "https://x.test/a")),
            Err(ManifestError::Version(_))
        ));
        assert!(matches!(
            UpdateOffer::parse(&offer_json("1.2.0", "file:///etc/passwd")),
            Err(ManifestError::Url(_))
        ));
        assert!(matches!(
            UpdateOffer::parse(b"{\"version\":1}"),
            Err(ManifestError::Shape(_))
        ));
    }

    #[test]
    fn a_delta_is_read_in_its_documented_shape_and_checked() {
        let with = |delta: serde_json::Value| {
            let mut v: serde_json::Value =
                serde_json::from_slice(&offer_json("1.1.0", "https://x.test/a")).unwrap();
            v["delta"] = delta;
            UpdateOffer::parse(&serde_json::to_vec(&v).unwrap())
        };
        let h = "ab".repeat(32);
        let good = serde_json::json!({"from": "1.0.0", "url": "https://x.test/d", "size": 10,
            "sha256": h, "method": "zstd", "fullSize": 100, "fullSha256": h});
        let d = with(good.clone()).unwrap().delta.unwrap();
        assert_eq!((d.from.as_str(), d.size, d.full_size), ("1.0.0", 10, 100));
        let mut bad = good.clone();
        bad["from"] = "1.0".into();
        assert!(matches!(with(bad), Err(ManifestError::Version(_))));
        let mut bad = good.clone();
        bad["sha256"] = "AB".repeat(32).into();
        assert!(matches!(with(bad), Err(ManifestError::Digest(_))));
        let mut bad = good.clone();
        bad["url"] = "ftp://x.test/d".into();
        assert!(matches!(with(bad), Err(ManifestError::Url(_))));
        let mut bad = good;
        bad["full_size"] = 1.into();
        assert!(matches!(with(bad), Err(ManifestError::Shape(_))));
    }

    #[test]
    fn static_manifest_needs_complete_entries() {
        let ok = serde_json::json!({"version":"1.0.0","platforms":{
            "linux-x86_64": {"url":"https://x.test/a","signature": signature_field(&sig())}}});
        StaticManifest::parse(&serde_json::to_vec(&ok).unwrap()).unwrap();
        let missing = serde_json::json!({"version":"1.0.0","platforms":{"linux-x86_64": {"url":"https://x.test/a"}}});
        assert!(StaticManifest::parse(&serde_json::to_vec(&missing).unwrap()).is_err());
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = UpdateOffer::parse(&bytes);
            let _ = StaticManifest::parse(&bytes);
        }
    }
}
