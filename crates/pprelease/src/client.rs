//! The release API over HTTP. Errors from the service keep their stable code.

use std::path::Path;

use anyhow::{anyhow, Context};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use productivitypro_protocol::api::{ApiError, PublishRequest};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// A 4xx/5xx from the service.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message} (HTTP {status})")]
pub struct ServiceError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl Client {
    pub fn new(base: &str, token: Option<String>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
        })
    }

    fn request(&self, method: Method, path: &str) -> anyhow::Result<reqwest::RequestBuilder> {
        let token = self.token.as_deref().ok_or_else(|| {
            anyhow!(
                "no API token: set PPRELEASE_TOKEN (create one with `updater-server token create`)"
            )
        })?;
        Ok(self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token))
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let resp = rb
            .send()
            .await
            .with_context(|| format!("contacting {}", self.base))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let (code, message) = match serde_json::from_str::<ApiError>(&text) {
            Ok(e) => (e.code, e.message),
            Err(_) => ("http_error".into(), text),
        };
        Err(ServiceError {
            status: status.as_u16(),
            code,
            message,
        }
        .into())
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let resp = self.send(self.request(Method::GET, path)?).await?;
        resp.json().await.context("reading the answer")
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> anyhow::Result<Option<T>> {
        let resp = self
            .send(self.request(Method::POST, path)?.json(body))
            .await?;
        if resp.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        Ok(Some(resp.json().await.context("reading the answer")?))
    }

    /// Uploads the release and its files in one request, with a progress bar
    /// over all bytes (hidden when stderr is not a terminal).
    pub async fn publish<T: DeserializeOwned>(
        &self,
        release: &PublishRequest,
        files: &[(String, &Path)],
        quiet: bool,
    ) -> anyhow::Result<T> {
        let mut total = 0;
        for (_, path) in files {
            total += std::fs::metadata(path)
                .with_context(|| format!("reading {}", path.display()))?
                .len();
        }
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(total)
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(format!("uploading {}", release.version));
        let mut form = reqwest::multipart::Form::new().part(
            "release",
            reqwest::multipart::Part::text(serde_json::to_string(release)?)
                .mime_str("application/json")?,
        );
        for (platform, path) in files {
            let len = std::fs::metadata(path)?.len();
            let file = tokio::fs::File::open(path)
                .await
                .with_context(|| format!("opening {}", path.display()))?;
            let b = bar.clone();
            let stream = tokio_util::io::ReaderStream::new(file).inspect(move |chunk| {
                if let Ok(c) = chunk {
                    b.inc(c.len() as u64);
                }
            });
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("artifact")
                .to_string();
            let part = reqwest::multipart::Part::stream_with_length(
                reqwest::Body::wrap_stream(stream),
                len,
            )
            .file_name(name)
            .mime_str("application/octet-stream")?;
            form = form.part(platform.clone(), part);
        }
        let result = self
            .send(self.request(Method::POST, "/v1/releases")?.multipart(form))
            .await;
        bar.finish_and_clear();
        result?.json().await.context("reading the answer")
    }
}
