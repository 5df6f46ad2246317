//! The forged-telemetry attack of issue 11.1, against the real service on
//! loopback, with figures instead of assertions.
//!
//! Before the fix, three anonymous `POST /v1/telemetry` requests (fresh
//! install ids, 30 `update_failed` events each) rolled back stable within a
//! gate interval. This bench:
//!
//! 1. publishes 1.0.0 and 1.1.0 to stable at 100% and lets `--real` installs
//!    (each on a network of its own) check 1.0.0, take 1.1.0 and report a
//!    session and a successful update with the token their check answered;
//! 2. sends `--reports` forged reports of 30 `update_failed` events for
//!    1.1.0 from one attacker network, each under a fresh install id: 40%
//!    without a token (the original attack), 40% after one real update check
//!    per fake install to obtain a token, 20% repeating the installs that did
//!    obtain one;
//! 3. lets the service's own gate loop (1 s interval) judge, and reports the
//!    release's state and counted health;
//! 4. has `--failing` more real installs report failed updates and measures
//!    how long the gate loop takes to roll 1.1.0 back.
//!
//! `cargo bench -p productivitypro-updater-server --bench forged_telemetry
//! [-- --reports N --real N --failing N]`. SQLite; prints a Markdown table.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use productivitypro_protocol::api::{ArtifactSpec, PublishRequest};
use productivitypro_protocol::manifest::UpdateOffer;
use productivitypro_protocol::Channel;
use productivitypro_updater_server::clock::SystemClock;
use productivitypro_updater_server::config::{ArtifactConfig, Secret};
use productivitypro_updater_server::{auth, Config, Server};
use reqwest::multipart::{Form, Part};
use serde_json::json;
use uuid::Uuid;

const PLATFORM: &str = "linux-x86_64-appimage";
const CHECK: &str = "/v1/update/linux/x86_64/1.0.0?channel=stable&bundle_type=appimage";
const ATTACKER: &str = "203.0.113.66";
const FAILED_EVENTS: usize = 30;

struct Args {
    reports: usize,
    real: usize,
    failing: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        reports: 1000,
        real: 300,
        failing: 60,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let slot = match flag.as_str() {
            "--reports" => &mut a.reports,
            "--real" => &mut a.real,
            "--failing" => &mut a.failing,
            // `cargo bench` passes `--bench`; anything else is ignored.
            _ => continue,
        };
        *slot = it
            .next()
            .with_context(|| format!("{flag} needs a number"))?
            .parse()
            .with_context(|| flag.clone())?;
    }
    Ok(a)
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = parse_args()?;
    // The service on its own runtime, the attacker and the fleet on another.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("service")
        .enable_all()
        .build()?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("clients")
        .enable_all()
        .build()?;
    println!(
        "# forged telemetry (issue 11.1): {} forged reports, {} real installs, {} real failures (load average {})\n",
        args.reports,
        args.real,
        args.failing,
        loadavg()
    );
    let dir = tempfile::tempdir()?;
    let kp = minisign::KeyPair::generate_unencrypted_keypair()?;
    let mut config = Config {
        listen: "127.0.0.1:0".parse()?,
        database_url: format!("sqlite://{}/u.db", dir.path().display()),
        artifacts: ArtifactConfig::Local {
            path: dir.path().join("artifacts"),
        },
        staging_dir: dir.path().join("staging"),
        public_key: Some(kp.pk.to_box()?.to_string()),
        log_format: "text".into(),
        // Everything comes from loopback: as a trusted proxy it lets each
        // install (and the attacker) name its network in X-Forwarded-For.
        trusted_proxies: vec!["127.0.0.1".parse()?],
        gate_interval: Duration::from_secs(1),
        ..Config::default()
    };
    config.telemetry.secret = Some(Secret(format!("bench-{}", Uuid::new_v4().simple())));
    config.telemetry.flush_interval = Duration::from_millis(200);
    let server = server_rt.block_on(Server::start(config, Arc::new(SystemClock)))?;
    let (secret, id) = auth::generate(&mut rand::rngs::OsRng);
    server_rt.block_on(server.state.db.insert_token(
        &id,
        "bench",
        &auth::hash(&secret),
        "admin",
        Utc::now().timestamp(),
        None,
    ))?;
    let svc = Client {
        base: format!("http://{}", server.addr),
        admin: secret,
        http: client_rt.block_on(async {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
        })?,
    };

    let rows = client_rt.block_on(run(&svc, &kp, &args))?;
    server_rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(15), server.stop())
            .await
            .context("the service did not stop within 15 s")?
    })?;
    println!("| Figure | Value |\n|---|---|");
    for (a, b) in rows {
        println!("| {a} | {b} |");
    }
    Ok(())
}

struct Client {
    base: String,
    admin: String,
    http: reqwest::Client,
}

impl Client {
    async fn publish(&self, kp: &minisign::KeyPair, version: &str) -> anyhow::Result<()> {
        let name = format!("pp_{version}_amd64.AppImage");
        let bytes = format!("ProductivityPro {version}").into_bytes();
        let trusted = format!(
            "timestamp:{}\tfile:{name}\tversion:{version}",
            Utc::now().timestamp()
        );
        let signature = minisign::sign(
            Some(&kp.pk),
            &kp.sk,
            Cursor::new(&bytes),
            Some(&trusted),
            None,
        )?
        .to_string();
        let req = PublishRequest {
            version: version.into(),
            notes: String::new(),
            channel: Channel::Stable,
            percent: 100.0,
            artifacts: vec![ArtifactSpec {
                platform: PLATFORM.parse()?,
                file_name: name.clone(),
                signature,
                url: None,
            }],
        };
        let form = Form::new()
            .part(
                "release",
                Part::text(serde_json::to_string(&req)?).mime_str("application/json")?,
            )
            .part(PLATFORM, Part::bytes(bytes).file_name(name));
        let r = self
            .http
            .post(format!("{}/v1/releases", self.base))
            .bearer_auth(&self.admin)
            .multipart(form)
            .send()
            .await?;
        if r.status() != reqwest::StatusCode::CREATED {
            bail!("publishing {version}: {} {}", r.status(), r.text().await?);
        }
        Ok(())
    }

    /// One update check of 1.0.0 from `install` on `network`.
    async fn check(&self, install: &Uuid, network: &str) -> anyhow::Result<Option<UpdateOffer>> {
        let r = self
            .http
            .get(format!("{}{CHECK}", self.base))
            .header("X-Install-Id", install.to_string())
            .header("X-Forwarded-For", network)
            .send()
            .await?;
        match r.status().as_u16() {
            204 => Ok(None),
            200 => Ok(Some(UpdateOffer::parse(&r.bytes().await?)?)),
            s => bail!("the check answered {s}: {}", r.text().await?),
        }
    }

    /// Sends a report; its status and error code ("" for an accepted one).
    async fn report(
        &self,
        install: &Uuid,
        token: Option<&str>,
        kinds: &[&str],
        network: &str,
    ) -> anyhow::Result<(u16, String)> {
        let at = Utc::now().to_rfc3339();
        let mut body = json!({
            "install_id": install, "version": "1.1.0", "channel": "stable", "os": "linux",
            "arch": "x86_64", "bundle_type": "appimage",
            "events": kinds.iter().map(|k| json!({"kind": k, "at": at})).collect::<Vec<_>>(),
        });
        if let Some(t) = token {
            body["token"] = json!(t);
        }
        let r = self
            .http
            .post(format!("{}/v1/telemetry", self.base))
            .header("X-Forwarded-For", network)
            .json(&body)
            .send()
            .await?;
        let status = r.status().as_u16();
        let code = match status {
            202 => String::new(),
            _ => r.json::<serde_json::Value>().await?["code"]
                .as_str()
                .unwrap_or("?")
                .to_string(),
        };
        Ok((status, code))
    }

    /// 1.1.0's entry in `/v1/status`.
    async fn release(&self) -> anyhow::Result<serde_json::Value> {
        let status: serde_json::Value = self
            .http
            .get(format!("{}/v1/status", self.base))
            .bearer_auth(&self.admin)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        status["releases"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["version"] == "1.1.0"))
            .cloned()
            .context("1.1.0 is not in /v1/status")
    }

    /// Real installs on networks of their own: a check, then a report of
    /// `kinds` with the token the check answered with.
    async fn real_installs(&self, n: usize, kinds: &[&str]) -> anyhow::Result<()> {
        for _ in 0..n {
            let id = Uuid::new_v4();
            let b = id.as_bytes();
            let network = format!("10.{}.{}.{}", b[0], b[1], b[2]);
            let offer = self
                .check(&id, &network)
                .await?
                .context("1.1.0 not offered to a real install")?;
            let token = offer
                .telemetry_tokens
                .get("1.1.0")
                .context("no token for a real install")?;
            let (status, code) = self.report(&id, Some(token), kinds, &network).await?;
            if status != 202 {
                bail!("a real install's report was refused: {status} {code}");
            }
        }
        Ok(())
    }
}

async fn run(
    svc: &Client,
    kp: &minisign::KeyPair,
    args: &Args,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut rows = Vec::new();
    for v in ["1.0.0", "1.1.0"] {
        svc.publish(kp, v).await?;
    }
    svc.real_installs(args.real, &["update_installed", "session_start"])
        .await?;

    let failed = [("update_failed"); FAILED_EVENTS];
    let mut outcomes: BTreeMap<(u16, String), usize> = BTreeMap::new();
    let mut tokened: Vec<(Uuid, String)> = Vec::new();
    let (anonymous, with_check) = (args.reports * 2 / 5, args.reports * 4 / 5);
    let started = Instant::now();
    for n in 0..args.reports {
        let outcome = if n < anonymous {
            svc.report(&Uuid::new_v4(), None, &failed, ATTACKER).await?
        } else if n < with_check || tokened.is_empty() {
            let id = Uuid::new_v4();
            let offer = svc.check(&id, ATTACKER).await?;
            let token = offer.and_then(|o| o.telemetry_tokens.get("1.1.0").cloned());
            if let Some(t) = &token {
                tokened.push((id, t.clone()));
            }
            svc.report(&id, token.as_deref(), &failed, ATTACKER).await?
        } else {
            let (id, t) = &tokened[n % tokened.len()];
            svc.report(id, Some(t), &failed, ATTACKER).await?
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    let attack_time = started.elapsed();
    let accepted = outcomes
        .iter()
        .filter(|((s, _), _)| *s == 202)
        .map(|(_, n)| n)
        .sum::<usize>();
    rows.push((
        "forged reports sent (one attacker network)".into(),
        format!(
            "{} ({} without a token, {} after a real check each, {} repeating tokened installs), {:.1} s",
            args.reports,
            anonymous,
            with_check - anonymous,
            args.reports - with_check,
            attack_time.as_secs_f64()
        ),
    ));
    rows.push((
        "accepted (202)".into(),
        format!(
            "{accepted}, from {} distinct fake installs that obtained a token",
            tokened.len()
        ),
    ));
    for ((status, code), n) in &outcomes {
        if *status != 202 {
            rows.push((format!("refused {status} `{code}`"), n.to_string()));
        }
    }

    // Three gate-loop rounds after the last report.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = svc.release().await?;
    rows.push((
        "1.1.0 after the attack and 3 gate rounds".into(),
        format!(
            "{}; {} of {} installs that tried to update counted as failed",
            r["state"].as_str().unwrap_or("?"),
            r["health"]["failed_update_installs"],
            r["health"]["update_installs"]
        ),
    ));

    let started = Instant::now();
    svc.real_installs(args.failing, &["update_failed"]).await?;
    let reported = started.elapsed();
    let mut state = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let r = svc.release().await?;
        state = r["state"].as_str().unwrap_or("?").to_string();
        if state != "active" {
            rows.push((
                format!("then {} real installs report failed updates", args.failing),
                format!(
                    "{state} by the gate loop {:.1} s after the last report ({}); \
                     {} of {} installs counted as failed",
                    (started.elapsed() - reported).as_secs_f64(),
                    r["state_reason"].as_str().unwrap_or(""),
                    r["health"]["failed_update_installs"],
                    r["health"]["update_installs"]
                ),
            ));
            return Ok(rows);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rows.push((
        format!("then {} real installs report failed updates", args.failing),
        format!("still {state} 20 s later: real failures did NOT trip the gate"),
    ));
    Ok(rows)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
