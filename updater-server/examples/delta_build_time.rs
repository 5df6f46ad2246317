//! Issue 10's "patch build time on the service": the real service
//! (in-process, SQLite, local store, loopback) publishes OLD then NEW and
//! builds the delta patch in its background job; prints the time from
//! NEW's publish returning to the update answer announcing the patch, and
//! the patch's method and size. Prints numbers, asserts nothing timed.
//!
//!   cargo run --example delta_build_time -p productivitypro-updater-server -- \
//!       OLD OLD_VERSION NEW NEW_VERSION PLATFORM
//!
//! The dev profile builds dependencies optimised (zstd, zlib and qbsdiff
//! do the work), so the figure is close to a release build's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use productivitypro_protocol::api::{ArtifactSpec, PublishRequest};
use productivitypro_protocol::manifest::UpdateOffer;
use productivitypro_protocol::{signature, Channel, Platform};
use productivitypro_updater_server::clock::SystemClock;
use productivitypro_updater_server::config::{ArtifactConfig, Secret};
use productivitypro_updater_server::{auth, Config, Server};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("productivitypro_updater_server=info")
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [old, old_version, new, new_version, platform] = args.as_slice() else {
        anyhow::bail!("usage: delta_build_time OLD OLD_VERSION NEW NEW_VERSION PLATFORM");
    };
    let platform: Platform = platform.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let dir = tempfile::tempdir()?;
    let kp = minisign::KeyPair::generate_unencrypted_keypair()?;
    let public = kp.pk.to_box()?.to_string();
    let mut config = Config {
        listen: "127.0.0.1:0".parse()?,
        database_url: format!("sqlite://{}/updater.db", dir.path().display()),
        artifacts: ArtifactConfig::Local {
            path: dir.path().join("artifacts"),
        },
        staging_dir: dir.path().join("staging"),
        public_key: Some(public),
        log_format: "text".into(),
        ..Config::default()
    };
    config.telemetry.secret = Some(Secret("bench-telemetry-secret-of-at-least-32-chars".into()));
    let server = Server::start(config, Arc::new(SystemClock)).await?;
    let (secret, id) = auth::generate(&mut rand::rngs::OsRng);
    server
        .state
        .db
        .insert_token(&id, "bench", &auth::hash(&secret), "admin", 0, None)
        .await?;
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    for (path, version) in [(old, old_version), (new, new_version)] {
        let bytes = std::fs::read(path).with_context(|| format!("reading {path}"))?;
        let name = std::path::Path::new(path)
            .file_name()
            .context("file name")?
            .to_string_lossy()
            .into_owned();
        let trusted = signature::trusted_comment(1_700_000_000, &name, version);
        let sig = minisign::sign(
            Some(&kp.pk),
            &kp.sk,
            std::io::Cursor::new(&bytes),
            Some(&trusted),
            None,
        )?
        .to_string();
        let req = PublishRequest {
            version: version.clone(),
            notes: String::new(),
            channel: Channel::Stable,
            percent: 100.0,
            artifacts: vec![ArtifactSpec {
                platform,
                file_name: name,
                signature: sig,
                url: None,
            }],
        };
        let form = reqwest::multipart::Form::new()
            .text("release", serde_json::to_string(&req)?)
            .part(
                platform.to_string(),
                reqwest::multipart::Part::bytes(bytes).file_name("f"),
            );
        let r = http
            .post(format!("{base}/v1/releases"))
            .bearer_auth(&secret)
            .multipart(form)
            .send()
            .await?;
        anyhow::ensure!(r.status() == 201, "publish {version}: {}", r.text().await?);
    }
    let published = Instant::now();
    let check = format!(
        "{base}/v1/update/{}/{}/{old_version}?bundle_type={}",
        platform.os, platform.arch, platform.bundle
    );
    loop {
        let r = http.get(&check).send().await?;
        if r.status() == 200 {
            let offer = UpdateOffer::parse(&r.bytes().await?)?;
            if let Some(d) = offer.delta {
                println!(
                    "{platform} {old_version} -> {new_version}: method {}, patch {} of {} bytes ({:.1}%), announced {:.1} s after the publish returned",
                    d.method,
                    d.size,
                    d.full_size,
                    100.0 * d.size as f64 / d.full_size as f64,
                    published.elapsed().as_secs_f64()
                );
                break;
            }
        }
        anyhow::ensure!(
            published.elapsed() < Duration::from_secs(1800),
            "no delta after 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.stop().await
}
