//! Sending queued events to the update service.
//!
//! Each answer decides the fate of the events it carried:
//! - 202: sent, removed from the queue;
//! - 401 (token expired or not for this install/version): the token is
//!   forgotten, a new one asked for once (`POST /v1/telemetry/token`), and
//!   the report sent again;
//! - 400/413/422 (the service will never take this report: unknown
//!   version such as a local build, an event too old, a failed update the
//!   rollout never offered): dropped, so the queue cannot jam;
//! - 429, 5xx, no answer: kept for the next flush.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use productivitypro_protocol::api::ApiError;
use productivitypro_protocol::telemetry::{TelemetryReport, TokenRequest, TokenResponse};
use productivitypro_protocol::Channel;
use reqwest::{StatusCode, Url};
use reqwest_app as reqwest;

use crate::queue::{Queue, Queued};
use crate::report::{drafts, Draft, Install};
use crate::HealthError;

/// Telemetry tokens by (version, channel): from update-check answers
/// (`UpdateOffer::telemetry_tokens`) or asked for when missing.
#[derive(Default)]
pub struct Tokens {
    map: HashMap<(String, Channel), String>,
}

impl Tokens {
    /// Takes the tokens an update check's answer carried.
    pub fn take_from_offer(&mut self, channel: Channel, tokens: &BTreeMap<String, String>) {
        for (version, token) in tokens {
            self.map.insert((version.clone(), channel), token.clone());
        }
    }

    /// Adds `other`'s tokens where this holds none for the version (the
    /// ones taken meanwhile are newer).
    pub fn merge(&mut self, other: Tokens) {
        for (k, v) in other.map {
            self.map.entry(k).or_insert(v);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn get(&self, version: &str, channel: Channel) -> Option<String> {
        self.map.get(&(version.to_owned(), channel)).cloned()
    }

    fn forget(&mut self, version: &str, channel: Channel) {
        self.map.remove(&(version.to_owned(), channel));
    }
}

/// What one flush did.
#[derive(Debug, Default)]
pub struct Flushed {
    pub sent: usize,
    pub dropped: usize,
    pub kept: usize,
    /// Why events were kept (the last reason), for the log.
    pub error: Option<HealthError>,
}

enum Answer {
    Accepted,
    TokenRefused,
    Never(String),
    Later(HealthError),
}

pub struct Sender {
    /// `POST /v1/telemetry`.
    telemetry: Url,
    /// `POST /v1/telemetry/token`.
    token: Url,
    client: reqwest::Client,
}

impl Sender {
    /// `base`: the update service, e.g. `https://updates.example.org` (a
    /// path prefix is kept: `https://example.org/updates` sends to
    /// `https://example.org/updates/v1/telemetry`).
    pub fn new(base: Url, user_agent: &str) -> Result<Self, HealthError> {
        let invalid = |why: &str| HealthError::Service(base.to_string(), why.to_string());
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("not an http(s) address paths can be added to"));
        }
        // `join` replaces the last segment of a path without a trailing
        // slash: `…/updates` + `v1/telemetry` would lose `updates`.
        let mut dir = base.clone();
        if !dir.path().ends_with('/') {
            let path = format!("{}/", dir.path());
            dir.set_path(&path);
        }
        let join = |p: &str| dir.join(p).map_err(|e| invalid(&e.to_string()));
        let telemetry = join("v1/telemetry")?;
        let token = join("v1/telemetry/token")?;
        let tls = tls_config().map_err(|e| HealthError::Client(e.to_string()))?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .user_agent(user_agent)
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| HealthError::Client(e.to_string()))?;
        Ok(Sender {
            telemetry,
            token,
            client,
        })
    }

    /// Where reports go (`POST`).
    pub fn telemetry_url(&self) -> &Url {
        &self.telemetry
    }

    /// Sends every queued event it can, and updates the queue.
    pub async fn flush(
        &self,
        queue: &Queue,
        tokens: &mut Tokens,
        install: &Install,
        now: DateTime<Utc>,
    ) -> Result<Flushed, HealthError> {
        let mut out = Flushed::default();
        let events = queue.load(now);
        let mut done: Vec<Queued> = Vec::new();
        for draft in drafts(&events) {
            match self.send_one(&draft, tokens, install).await {
                Answer::Accepted => {
                    out.sent += draft.events.len();
                    done.extend(draft.events);
                }
                Answer::Never(code) => {
                    tracing::warn!(
                        code = %code,
                        version = %draft.version,
                        events = draft.events.len(),
                        "the update service will not take these health events; dropped"
                    );
                    out.dropped += draft.events.len();
                    done.extend(draft.events);
                }
                Answer::TokenRefused => {
                    out.kept += draft.events.len();
                    out.error = Some(HealthError::Refused {
                        status: 401,
                        code: "telemetry_token_refused".into(),
                    });
                }
                Answer::Later(e) => {
                    out.kept += draft.events.len();
                    out.error = Some(e);
                }
            }
        }
        if !done.is_empty() {
            queue.remove(&done, now)?;
        }
        Ok(out)
    }

    async fn send_one(&self, draft: &Draft, tokens: &mut Tokens, install: &Install) -> Answer {
        for attempt in 0..2 {
            let token = match tokens.get(&draft.version, draft.channel) {
                Some(t) => t,
                None => match self.new_token(install, draft).await {
                    Ok(t) => {
                        tokens
                            .map
                            .insert((draft.version.clone(), draft.channel), t.clone());
                        t
                    }
                    Err(a) => return a,
                },
            };
            match self.post(&draft.report(install, token)).await {
                Answer::TokenRefused if attempt == 0 => {
                    tokens.forget(&draft.version, draft.channel)
                }
                a => return a,
            }
        }
        Answer::TokenRefused
    }

    async fn new_token(&self, install: &Install, draft: &Draft) -> Result<String, Answer> {
        let req = TokenRequest {
            install_id: install.id,
            version: draft.version.clone(),
            channel: draft.channel,
        };
        let resp = self
            .client
            .post(self.token.clone())
            .json(&req)
            .send()
            .await
            .map_err(|e| Answer::Later(HealthError::Offline(e.to_string())))?;
        let status = resp.status();
        if status.is_success() {
            let t: TokenResponse = resp
                .json()
                .await
                .map_err(|e| Answer::Later(HealthError::Offline(e.to_string())))?;
            return Ok(t.token);
        }
        Err(judge(status, error_code(resp).await))
    }

    async fn post(&self, report: &TelemetryReport) -> Answer {
        match self
            .client
            .post(self.telemetry.clone())
            .json(report)
            .send()
            .await
        {
            Err(e) => Answer::Later(HealthError::Offline(e.to_string())),
            Ok(resp) if resp.status() == StatusCode::ACCEPTED || resp.status().is_success() => {
                Answer::Accepted
            }
            Ok(resp) => {
                let status = resp.status();
                if status == StatusCode::UNAUTHORIZED {
                    return Answer::TokenRefused;
                }
                judge(status, error_code(resp).await)
            }
        }
    }
}

/// rustls with ring and Mozilla's roots, given to reqwest whole (its
/// `rustls-no-provider` build has no crypto of its own), as the sync
/// client does.
fn tls_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    // reqwest is built without HTTP/2.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn judge(status: StatusCode, code: String) -> Answer {
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Answer::Later(HealthError::Refused {
            status: status.as_u16(),
            code,
        })
    } else if status.is_client_error() {
        Answer::Never(code)
    } else {
        Answer::Later(HealthError::Refused {
            status: status.as_u16(),
            code,
        })
    }
}

async fn error_code(resp: reqwest::Response) -> String {
    match resp.json::<ApiError>().await {
        Ok(e) => e.code,
        Err(_) => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(base: &str) -> Result<Sender, HealthError> {
        Sender::new(base.parse().unwrap(), "test")
    }

    #[test]
    fn a_base_that_cannot_take_a_path_is_refused_not_a_panic() {
        for bad in [
            "mailto:ops@example.org",
            "data:text/plain,x",
            "file:///srv/updates",
        ] {
            let e = sender(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert_eq!(e.code(), "health_service_invalid", "{bad}");
        }
    }

    #[test]
    fn the_base_path_is_kept_with_or_without_a_trailing_slash() {
        for base in [
            "https://example.org/updates",
            "https://example.org/updates/",
        ] {
            let s = sender(base).unwrap();
            assert_eq!(
                (s.telemetry.as_str(), s.token.as_str()),
                (
                    "https://example.org/updates/v1/telemetry",
                    "https://example.org/updates/v1/telemetry/token"
                ),
                "{base}"
            );
        }
        let root = sender("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            root.telemetry_url().as_str(),
            "http://127.0.0.1:8080/v1/telemetry"
        );
    }
}
