//! What the updater decides, without I/O: the endpoint for a channel,
//! which offers are taken, when to check again. Time is passed in.
//!
//! Must hold:
//! - an offer is taken only when the version its signature names (the
//!   signed trusted comment's `version:`) is exactly the offered version,
//!   so an old signed build cannot be served as another version;
//! - a lower version only as a rollback the service declared
//!   (`"rollback": true`), a higher one never as a rollback;
//! - the service is reached over https, or plain http on loopback only.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use productivitypro_protocol::signature;
use productivitypro_protocol::Channel;
use semver::Version;
use serde_json::Value;
use tauri::Url;

/// Automatic checks: at start and then this often.
pub const CHECK_EVERY: Duration = Duration::from_secs(4 * 3600);
/// The first retry after a failure, doubled after each further one …
pub const FIRST_RETRY: Duration = Duration::from_secs(60);
/// … up to this.
pub const MAX_RETRY: Duration = Duration::from_secs(6 * 3600);

/// Where the update service is: https anywhere, http only on loopback
/// (tests, the end-to-end script).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUrl {
    base: Url,
}

impl ServiceUrl {
    pub fn parse(text: &str) -> Result<ServiceUrl, String> {
        let text = text.trim().trim_end_matches('/');
        let base = Url::parse(text).map_err(|e| format!("{text:?} is not a URL ({e})"))?;
        if base.query().is_some() || base.fragment().is_some() || !base.username().is_empty() {
            return Err(format!(
                "{text:?}: the update service is a plain address, without query, fragment or user"
            ));
        }
        match base.scheme() {
            "https" if base.host().is_some() => {}
            "http" if is_loopback(&base) => {}
            "http" => {
                return Err(format!(
                    "{text:?}: plain http is allowed for loopback addresses only; use https"
                ))
            }
            _ => return Err(format!("{text:?} is not an https:// address")),
        }
        Ok(ServiceUrl { base })
    }

    /// Plain http (loopback): the plugin must be told to allow it.
    pub fn insecure(&self) -> bool {
        self.base.scheme() == "http"
    }

    pub fn as_str(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// The check endpoint for `channel`, with the plugin's variables left
    /// for it to fill in (`{{bundle_type}}` too: deb, rpm or appimage).
    pub fn endpoint(&self, channel: Channel) -> Url {
        let text = format!(
            "{}/v1/update/{{{{target}}}}/{{{{arch}}}}/{{{{current_version}}}}?channel={}&bundle_type={{{{bundle_type}}}}",
            self.as_str(),
            channel.as_str()
        );
        Url::parse(&text).expect("a valid base with a fixed path is a valid URL")
    }
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// A binary patch the service announces (`delta` in its answer,
/// `productivitypro_protocol::manifest::DeltaOffer`). Used by `delta.rs`
/// when the app keeps the artifact of the version it starts from; an
/// incomplete announcement is no announcement (the full download).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaOffer {
    /// The version the patch applies to.
    pub from: String,
    pub url: String,
    /// The patch's size and SHA-256 (lowercase hex).
    pub size: u64,
    pub sha256: String,
    /// The full artifact the patch rebuilds (checked before the signature).
    pub full_size: u64,
    pub full_sha256: String,
}

impl DeltaOffer {
    fn parse(v: &Value) -> Option<DeltaOffer> {
        Some(DeltaOffer {
            from: v.get("from")?.as_str()?.to_string(),
            url: v.get("url")?.as_str()?.to_string(),
            size: v.get("size")?.as_u64()?,
            sha256: v.get("sha256")?.as_str()?.to_ascii_lowercase(),
            full_size: v.get("fullSize")?.as_u64()?,
            full_sha256: v.get("fullSha256")?.as_str()?.to_ascii_lowercase(),
        })
    }
}

/// An offer as the policy judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub version: Version,
    pub rollback: bool,
    /// What the signature's trusted comment names; `None` when the
    /// signature does not parse or names no version. Read before the
    /// bytes are verified: it can only make the app refuse here; the
    /// plugin's verification (`requireSignedVersion`) and `judge` again
    /// after the download decide what is installed.
    pub signed_version: Option<String>,
    /// The full artifact's size, when the service says (`size`).
    pub full_size: Option<u64>,
    pub delta: Option<DeltaOffer>,
}

impl Offer {
    /// From the plugin's view of the answer: the offered version, the
    /// base64 signature and the answer's JSON.
    pub fn read(version: &str, signature_b64: &str, raw: &Value) -> Result<Offer, Refusal> {
        let version = productivitypro_protocol::manifest::parse_version(version)
            .map_err(|_| Refusal::Malformed(format!("version {version:?} is not semver")))?;
        Ok(Offer {
            version,
            rollback: raw.get("rollback") == Some(&Value::Bool(true)),
            signed_version: signed_version(signature_b64),
            full_size: raw.get("size").and_then(Value::as_u64),
            delta: raw.get("delta").and_then(DeltaOffer::parse),
        })
    }
}

/// The `version:` field of the signature's trusted comment.
pub fn signed_version(signature_b64: &str) -> Option<String> {
    let text = signature::decode_base64(signature_b64).ok()?;
    let sig = signature::parse(&text).ok()?;
    signature::trusted_field(&sig, "version").map(str::to_string)
}

/// Why an offer is not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not newer and not a rollback: nothing to do (up to date).
    NotNewer,
    /// A lower version without `"rollback": true`.
    Downgrade { offered: Version },
    /// The signature names another version (or none), or a rollback
    /// offers a higher version.
    VersionMismatch(String),
    /// The answer cannot be read.
    Malformed(String),
}

impl Refusal {
    /// The IPC error code (docs/desktop-ipc.md); `None`: not an error.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Refusal::NotNewer => None,
            Refusal::Downgrade { .. } => Some(codes::DOWNGRADE_REFUSED),
            Refusal::VersionMismatch(_) => Some(codes::VERSION_MISMATCH),
            Refusal::Malformed(_) => Some(codes::SERVER),
        }
    }

    pub fn message(&self, current: &Version) -> String {
        match self {
            Refusal::NotNewer => format!("{current} is the newest version"),
            Refusal::Downgrade { offered } => format!(
                "the service offered {offered}, older than {current}, without declaring a rollback; refused"
            ),
            Refusal::VersionMismatch(m) | Refusal::Malformed(m) => m.clone(),
        }
    }
}

/// Whether `offer` is taken by an app running `current`.
pub fn judge(current: &Version, offer: &Offer) -> Result<(), Refusal> {
    let signed = offer.signed_version.as_deref();
    let signed_matches = signed
        .and_then(|s| Version::parse(s.strip_prefix('v').unwrap_or(s)).ok())
        .is_some_and(|s| s == offer.version);
    if !signed_matches {
        return Err(Refusal::VersionMismatch(match signed {
            Some(s) => format!(
                "the service offered {} but its signature is for version {s}; refused",
                offer.version
            ),
            None => format!(
                "the signature of {} names no version; refused",
                offer.version
            ),
        }));
    }
    match (offer.version.cmp(current), offer.rollback) {
        (std::cmp::Ordering::Greater, false) => Ok(()),
        (std::cmp::Ordering::Greater, true) => Err(Refusal::VersionMismatch(format!(
            "the service declared {} a rollback, but it is newer than {current}; refused",
            offer.version
        ))),
        (std::cmp::Ordering::Less, true) => Ok(()),
        (std::cmp::Ordering::Less, false) => Err(Refusal::Downgrade {
            offered: offer.version.clone(),
        }),
        (std::cmp::Ordering::Equal, _) => Err(Refusal::NotNewer),
    }
}

/// Retry delays after failures: `FIRST_RETRY` doubling to `MAX_RETRY`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Records a failure at `now`; returns when to try again.
    pub fn fail(&mut self, now: DateTime<Utc>) -> DateTime<Utc> {
        let delay = retry_delay(self.failures);
        self.failures = self.failures.saturating_add(1);
        now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(6))
    }

    pub fn succeed(&mut self) {
        self.failures = 0;
    }
}

/// The wait after `failures_before` earlier failures in a row.
pub fn retry_delay(failures_before: u32) -> Duration {
    FIRST_RETRY
        .checked_mul(1u32 << failures_before.min(20))
        .map_or(MAX_RETRY, |d| d.min(MAX_RETRY))
}

/// When the next automatic check is due: at start (never checked), then
/// every `CHECK_EVERY` after the last check, or at the retry time after
/// a failure, whichever the state says. `None`: no automatic checks.
pub fn next_check(
    automatic: bool,
    last_attempt: Option<DateTime<Utc>>,
    retry_at: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    if !automatic {
        return None;
    }
    if let Some(at) = retry_at {
        return Some(at);
    }
    match last_attempt {
        None => Some(DateTime::<Utc>::MIN_UTC),
        Some(t) => Some(t + chrono::Duration::from_std(CHECK_EVERY).expect("4 h fits")),
    }
}

/// The updater's error codes (docs/desktop-ipc.md, "Updates").
pub mod codes {
    /// The service cannot be reached.
    pub const OFFLINE: &str = "update_offline";
    /// The service answered with an error or an answer that cannot be read.
    pub const SERVER: &str = "update_server";
    /// The downloaded bytes do not verify against the built-in key.
    pub const SIGNATURE_INVALID: &str = "update_signature_invalid";
    /// The signed version differs from the offered one.
    pub const VERSION_MISMATCH: &str = "update_version_mismatch";
    /// An older version without a signed rollback.
    pub const DOWNGRADE_REFUSED: &str = "update_downgrade_refused";
    pub const INSTALL_FAILED: &str = "update_install_failed";
    /// No public key in this build, or no usable service address.
    pub const UNAVAILABLE: &str = "update_unavailable";
    pub const NO_OFFER: &str = "update_no_offer";
    pub const NOT_READY: &str = "update_not_ready";
    pub const IN_PROGRESS: &str = "update_in_progress";
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    /// A real minisign signature with `trusted` as its trusted comment,
    /// base64 as the service sends it.
    pub(crate) fn signed_b64(bytes: &[u8], trusted: &str) -> String {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let sig = minisign::sign(
            Some(&kp.pk),
            &kp.sk,
            std::io::Cursor::new(bytes),
            Some(trusted),
            None,
        )
        .unwrap()
        .to_string();
        productivitypro_protocol::manifest::signature_field(&sig)
    }

    fn offer(version: &str, signed: Option<&str>, rollback: bool) -> Offer {
        Offer {
            version: v(version),
            rollback,
            signed_version: signed.map(str::to_string),
            full_size: None,
            delta: None,
        }
    }

    #[test]
    fn the_endpoint_names_the_channel_and_leaves_the_plugin_variables() {
        let s = ServiceUrl::parse("https://updates.example.com/").unwrap();
        assert_eq!(
            s.endpoint(Channel::Beta).as_str(),
            "https://updates.example.com/v1/update/%7B%7Btarget%7D%7D/%7B%7Barch%7D%7D/%7B%7Bcurrent_version%7D%7D?channel=beta&bundle_type={{bundle_type}}"
        );
        let under = ServiceUrl::parse("https://example.com/pp").unwrap();
        assert!(under
            .endpoint(Channel::Canary)
            .as_str()
            .starts_with("https://example.com/pp/v1/update/"));
        assert!(under
            .endpoint(Channel::Canary)
            .as_str()
            .contains("channel=canary"));
        assert!(!s.insecure());
    }

    #[test]
    fn plain_http_only_on_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://[::1]:9",
            "http://localhost:3000",
        ] {
            let s = ServiceUrl::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(s.insecure(), "{ok}");
        }
        for bad in [
            "http://updates.example.com",
            "http://10.0.0.1",
            "http://[::2]",
            "ftp://127.0.0.1",
            "file:///tmp/x",
            "updates.example.com",
            "https://user@updates.example.com",
            "https://updates.example.com/?channel=canary",
            "",
        ] {
            assert!(ServiceUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn newer_versions_are_taken_when_the_signature_names_them() {
        let cur = v("1.1.0");
        assert_eq!(judge(&cur, &offer("1.2.0", Some("1.2.0"), false)), Ok(()));
        assert_eq!(judge(&cur, &offer("1.2.0", Some("v1.2.0"), false)), Ok(()));
        assert_eq!(
            judge(&cur, &offer("1.1.0", Some("1.1.0"), false)),
            Err(Refusal::NotNewer)
        );
        assert_eq!(Refusal::NotNewer.code(), None);
    }

    #[test]
    fn a_signed_version_other_than_the_offered_one_is_refused() {
        let cur = v("1.1.0");
        for (signed, rollback, offered) in [
            (Some("1.1.5"), false, "1.2.0"),
            (None, false, "1.2.0"),
            (Some("1.2.0.1"), false, "1.2.0"),
            (Some("1.2.0-rc.1"), false, "1.2.0"),
            (Some("1.0.1"), true, "1.0.0"),
            (None, true, "1.0.0"),
        ] {
            let r = judge(&cur, &offer(offered, signed, rollback)).unwrap_err();
            assert_eq!(
                r.code(),
                Some(codes::VERSION_MISMATCH),
                "{signed:?} {offered}"
            );
        }
    }

    #[test]
    fn lower_versions_only_as_declared_rollbacks_and_rollbacks_only_downwards() {
        let cur = v("1.1.0");
        assert_eq!(judge(&cur, &offer("1.0.0", Some("1.0.0"), true)), Ok(()));
        let r = judge(&cur, &offer("1.0.0", Some("1.0.0"), false)).unwrap_err();
        assert_eq!(r.code(), Some(codes::DOWNGRADE_REFUSED));
        assert!(r.message(&cur).contains("1.0.0"));
        let r = judge(&cur, &offer("1.2.0", Some("1.2.0"), true)).unwrap_err();
        assert_eq!(r.code(), Some(codes::VERSION_MISMATCH));
        assert_eq!(
            judge(&cur, &offer("1.1.0", Some("1.1.0"), true)),
            Err(Refusal::NotNewer)
        );
    }

    #[test]
    fn offers_are_read_from_the_answer() {
        let sig = signed_b64(b"artifact", "timestamp:1\tfile:a\tversion:1.2.0");
        let raw = serde_json::json!({
            "version": "1.2.0", "rollback": true, "size": 1234,
            "delta": { "from": "1.1.0", "url": "https://u/p", "size": 99, "sha256": "AB",
                       "method": "zstd", "fullSize": 1234, "fullSha256": "cd" }
        });
        let o = Offer::read("v1.2.0", &sig, &raw).unwrap();
        assert_eq!(o.version, v("1.2.0"));
        assert!(o.rollback);
        assert_eq!(o.full_size, Some(1234));
        assert_eq!(o.signed_version.as_deref(), Some("1.2.0"));
        assert_eq!(
            o.delta,
            Some(DeltaOffer {
                from: "1.1.0".into(),
                url: "https://u/p".into(),
                size: 99,
                sha256: "ab".into(),
                full_size: 1234,
                full_sha256: "cd".into(),
            })
        );
        // Without the full artifact's size and hash there is nothing to
        // check the rebuilt bytes against: no delta.
        let raw = serde_json::json!({
            "delta": { "from": "1.1.0", "url": "https://u/p", "size": 99, "sha256": "ab" }
        });
        assert_eq!(Offer::read("1.2.0", &sig, &raw).unwrap().delta, None);
        // `rollback` must be the JSON `true`, not a truthy string.
        let o = Offer::read(
            "1.2.0",
            "not base64!",
            &serde_json::json!({"rollback": "true"}),
        )
        .unwrap();
        assert!(!o.rollback);
        assert_eq!(o.signed_version, None);
        assert_eq!(o.delta, None);
        assert!(matches!(
            Offer::read("one", &sig, &raw),
            Err(Refusal::Malformed(_))
        ));
    }

    #[test]
    fn retries_back_off_from_a_minute_to_six_hours() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        let mut b = Backoff::default();
        let waits: Vec<i64> = (0..12).map(|_| (b.fail(t0) - t0).num_seconds()).collect();
        assert_eq!(
            waits,
            [60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600, 21600]
        );
        assert_eq!(retry_delay(u32::MAX), MAX_RETRY);
        b.succeed();
        assert_eq!((b.fail(t0) - t0).num_seconds(), 60);
    }

    #[test]
    fn checks_at_start_then_every_four_hours_or_at_the_retry_time() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        assert_eq!(next_check(false, None, None), None);
        assert!(next_check(true, None, None).unwrap() <= t0, "due at start");
        assert_eq!(
            next_check(true, Some(t0), None),
            Some(t0 + chrono::Duration::hours(4))
        );
        let retry = t0 + chrono::Duration::minutes(1);
        assert_eq!(next_check(true, Some(t0), Some(retry)), Some(retry));
        assert_eq!(next_check(false, Some(t0), Some(retry)), None);
    }
}
