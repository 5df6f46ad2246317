//! Update-service benchmark: runs the service in-process on loopback and prints
//!
//! 1. update checks per second and p99 (wrk, 2 threads, 64 connections,
//!    `--latency`) for the dynamic check endpoint (5 releases × 6 platforms on
//!    stable, the newest at 25%, an `X-Install-Id` from a pool of random ids,
//!    every answer carrying telemetry tokens) and for
//!    the service's static `latest.json`, next to nginx serving the same
//!    `latest.json` from disk with the same wrk settings;
//! 2. telemetry ingestion with tokens (tokens/s, reports/s, events/s) from a
//!    bounded Rust load generator, then checks that every event that counts
//!    landed in the database;
//! 3. the process RSS with 100 releases × 6 platforms published, and after
//!    10k update checks (run first, while the process is fresh).
//!
//! `cargo bench -p productivitypro-updater-server --bench updater [-- --secs N --repeat R]`
//! (default 10 s per wrk run and for the telemetry load; `--repeat` runs the
//! wrk targets R times interleaved and reports medians, for noisy machines). wrk and nginx come
//! from apt (`apt-get install -y wrk nginx-light`); without them those parts
//! are skipped with a message. Prints a Markdown table; numbers, not assertions.

use std::collections::HashMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use productivitypro_protocol::api::{ArtifactSpec, Health, PublishRequest};
use productivitypro_protocol::telemetry::{EventKind, TelemetryEvent, TelemetryReport};
use productivitypro_protocol::{Arch, Channel, Os};
use productivitypro_updater_server::clock::SystemClock;
use productivitypro_updater_server::config::ArtifactConfig;
use productivitypro_updater_server::{auth, Config, Server};
use rand::{Rng, SeedableRng};
use reqwest::multipart::{Form, Part};
use uuid::Uuid;

/// Platform key, and the file name pattern (`{v}` = version) of its artifact.
const PLATFORMS: [(&str, &str); 6] = [
    (
        "linux-x86_64-appimage",
        "ProductivityPro_{v}_amd64.AppImage",
    ),
    ("linux-x86_64-deb", "productivitypro_{v}_amd64.deb"),
    ("linux-x86_64-rpm", "productivitypro-{v}-1.x86_64.rpm"),
    ("windows-x86_64-nsis", "ProductivityPro_{v}_x64-setup.exe"),
    ("windows-x86_64-msi", "ProductivityPro_{v}_x64_en-US.msi"),
    (
        "darwin-aarch64-app",
        "ProductivityPro_{v}_aarch64.app.tar.gz",
    ),
];

/// The check path and query for each platform (current version 1.0.0).
const CHECKS: [&str; 6] = [
    "/v1/update/linux/x86_64/1.0.0?channel=stable&bundle_type=appimage",
    "/v1/update/linux/x86_64/1.0.0?channel=stable&bundle_type=deb",
    "/v1/update/linux/x86_64/1.0.0?channel=stable&bundle_type=rpm",
    "/v1/update/windows/x86_64/1.0.0?channel=stable&bundle_type=nsis",
    "/v1/update/windows/x86_64/1.0.0?channel=stable&bundle_type=msi",
    "/v1/update/darwin/aarch64/1.0.0?channel=stable&bundle_type=app",
];

const WRK_THREADS: u32 = 2;
const WRK_CONNECTIONS: u32 = 64;
const TELEMETRY_TASKS: usize = 64;
/// Per-install allowance (`telemetry.burst`): an install sends at most this many events.
const INSTALL_BUDGET: usize = 60;

/// Picks an `X-Install-Id` at random from a pool of 1000 random v4-shaped
/// ids per wrk thread for every request: the rollout bucket is computed on
/// every check, and every check is answered with telemetry tokens (the pool's
/// installs are known to the service after their first check, as a fleet's
/// are after their first check of the hour).
const WRK_SCRIPT: &str = r#"
local counter = 1
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
local pool = {}
local function r16() return math.random(0, 65535) end
function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  for i = 1, 10 do math.random() end
  for i = 1, 1000 do
    pool[i] = string.format("%04x%04x-%04x-4%03x-%04x-%04x%04x%04x",
      r16(), r16(), r16(), math.random(0, 4095), 32768 + math.random(0, 16383), r16(), r16(), r16())
  end
end
function request()
  wrk.headers["X-Install-Id"] = pool[math.random(1, 1000)]
  return wrk.format(nil, nil, wrk.headers)
end
"#;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut secs = 10u64;
    let mut repeat = 1u32;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--repeat" {
            repeat = args
                .next()
                .context("--repeat needs a number")?
                .parse()
                .context("--repeat")?;
            repeat = repeat.max(1);
        } else if a == "--secs" {
            secs = args
                .next()
                .context("--secs needs a number")?
                .parse()
                .context("--secs")?;
        }
        // `cargo bench` passes `--bench`; anything else is ignored.
    }

    // The service gets its own 2-worker runtime; the clients (publishing, the
    // telemetry load, sanity checks) run on a separate one, wrk and nginx are
    // separate processes. All of it shares the machine's cores.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("service")
        .enable_all()
        .build()?;
    let load_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("load")
        .enable_all()
        .build()?;
    let mut rows: Vec<[String; 3]> = Vec::new();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "# updater-server benchmark ({cores} cores visible, {secs} s per run, load average {})\n",
        loadavg()
    );

    memory(&server_rt, &load_rt, &mut rows)?;
    let svc = Service::start(&server_rt, &load_rt)?;
    let versions: Vec<String> = (1..=5).map(|i| format!("1.{i}.0")).collect();
    let prepared: Vec<Prepared> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| prepare(&svc.kp, v, if i == 4 { 25.0 } else { 100.0 }, 1024))
        .collect::<anyhow::Result<_>>()?;
    load_rt.block_on(async {
        for p in &prepared {
            svc.publish(p).await?;
        }
        anyhow::Ok(())
    })?;
    throughput(&svc, &load_rt, secs, repeat, &mut rows)?;
    telemetry(&svc, &server_rt, &load_rt, &versions, secs, &mut rows)?;
    svc.stop(&server_rt)?;

    println!("\n## Summary\n");
    println!("| Figure | Value | Target / note |");
    println!("|---|---|---|");
    for [a, b, c] in &rows {
        println!("| {a} | {b} | {c} |");
    }
    Ok(())
}

// ---------------------------------------------------------------- service

struct Service {
    server: Server,
    dir: tempfile::TempDir,
    kp: minisign::KeyPair,
    secret: String,
    base: String,
    client: reqwest::Client,
}

impl Service {
    fn start(
        server_rt: &tokio::runtime::Runtime,
        load_rt: &tokio::runtime::Runtime,
    ) -> anyhow::Result<Service> {
        let dir = tempfile::tempdir()?;
        let kp = minisign::KeyPair::generate_unencrypted_keypair()?;
        let pub_text = kp.pk.to_box()?.to_string();
        let mut config = Config {
            listen: "127.0.0.1:0".parse()?,
            database_url: format!("sqlite://{}/u.db", dir.path().display()),
            artifacts: ArtifactConfig::Local {
                path: dir.path().join("artifacts"),
            },
            staging_dir: dir.path().join("staging"),
            public_key: Some(pub_text),
            log_format: "text".into(),
            ..Config::default()
        };
        // All load comes from one loopback address: lift the per-network
        // allowance of new installs so every install gets its token.
        config.telemetry.new_installs_per_ip = u32::MAX;
        config.telemetry.new_installs_per_wide_network = u32::MAX;
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
        let base = format!("http://{}", server.addr);
        let client = load_rt.block_on(async {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
        })?;
        Ok(Service {
            server,
            dir,
            kp,
            secret,
            base,
            client,
        })
    }

    async fn publish(&self, p: &Prepared) -> anyhow::Result<()> {
        let mut form = Form::new().part(
            "release",
            Part::text(p.json.clone()).mime_str("application/json")?,
        );
        for (platform, name, bytes) in &p.files {
            form = form.part(
                platform.to_string(),
                Part::bytes(bytes.clone())
                    .file_name(name.clone())
                    .mime_str("application/octet-stream")?,
            );
        }
        let resp = self
            .client
            .post(format!("{}/v1/releases", self.base))
            .bearer_auth(&self.secret)
            .multipart(form)
            .send()
            .await?;
        let status = resp.status();
        if status != reqwest::StatusCode::CREATED {
            bail!(
                "publishing {}: {status} {}",
                p.version,
                resp.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }

    fn stop(self, server_rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
        drop(self.client);
        server_rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(15), self.server.stop())
                .await
                .context("the service did not stop within 15 s")?
        })
    }
}

/// A signed release ready to upload.
struct Prepared {
    version: String,
    json: String,
    files: Vec<(&'static str, String, Vec<u8>)>,
}

fn prepare(
    kp: &minisign::KeyPair,
    version: &str,
    percent: f64,
    size: usize,
) -> anyhow::Result<Prepared> {
    let mut artifacts = Vec::new();
    let mut files = Vec::new();
    let now = Utc::now().timestamp();
    for (n, (platform, pattern)) in PLATFORMS.iter().enumerate() {
        let name = pattern.replace("{v}", version);
        let seed = version
            .bytes()
            .fold(n as u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
        let bytes: Vec<u8> = (0..size)
            .map(|i| (i as u8).wrapping_mul(7) ^ seed)
            .collect();
        let trusted = format!("timestamp:{now}\tfile:{name}\tversion:{version}");
        let sig = minisign::sign(
            Some(&kp.pk),
            &kp.sk,
            Cursor::new(&bytes),
            Some(&trusted),
            None,
        )?
        .to_string();
        artifacts.push(ArtifactSpec {
            platform: platform.parse()?,
            file_name: name.clone(),
            signature: sig,
            url: None,
        });
        files.push((*platform, name, bytes));
    }
    let req = PublishRequest {
        version: version.into(),
        notes: format!(
            "## ProductivityPro {version}\n\n- Faster sync for large vaults\n- Fixed a crash when importing \
             calendars with recurring events\n- Updated translations"
        ),
        channel: Channel::Stable,
        percent,
        artifacts,
    };
    Ok(Prepared {
        version: version.into(),
        json: serde_json::to_string(&req)?,
        files,
    })
}

// ---------------------------------------------------------------- 1. wrk

fn throughput(
    svc: &Service,
    load_rt: &tokio::runtime::Runtime,
    secs: u64,
    repeat: u32,
    rows: &mut Vec<[String; 3]>,
) -> anyhow::Result<()> {
    println!("## 1. Update checks (wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{secs}s --latency)\n");
    let check_url = format!("{}{}", svc.base, CHECKS[0]);
    let latest_url = format!("{}/v1/channels/stable/latest.json", svc.base);

    // Correctness first: the 25% rollout of 1.5.0 must split random installs.
    let (latest, split, check_len) = load_rt.block_on(async {
        let latest = svc
            .client
            .get(&latest_url)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        let mut split: HashMap<String, u32> = HashMap::new();
        let mut check_len = 0;
        let mut with_tokens = 0;
        for _ in 0..4000 {
            let resp = svc
                .client
                .get(&check_url)
                .header("X-Install-Id", Uuid::new_v4().to_string())
                .send()
                .await?;
            if resp.status() != reqwest::StatusCode::OK {
                bail!("update check answered {}", resp.status());
            }
            let body = resp.bytes().await?;
            check_len = body.len();
            let v: serde_json::Value = serde_json::from_slice(&body)?;
            with_tokens += usize::from(
                v["telemetry_tokens"]
                    .as_object()
                    .is_some_and(|t| !t.is_empty()),
            );
            *split
                .entry(v["version"].as_str().unwrap_or("?").to_string())
                .or_default() += 1;
        }
        if with_tokens != 4000 {
            bail!("{with_tokens} of 4000 check answers carried telemetry tokens");
        }
        anyhow::Ok((latest, split, check_len))
    })?;
    let offered_new = *split.get("1.5.0").unwrap_or(&0) as f64 / 4000.0;
    let static_version = serde_json::from_slice::<serde_json::Value>(&latest)?["version"]
        .as_str()
        .unwrap_or("?")
        .to_string();
    println!(
        "sanity: 4000 checks with random install ids were offered {split:?} ({:.1}% the 25% release); \
         latest.json is {static_version} ({} bytes); a check answer is {check_len} bytes\n",
        offered_new * 100.0,
        latest.len()
    );
    rows.push([
        "Sanity: share of random installs offered the 25% release".into(),
        format!("{:.1}% of 4000 (others got 1.4.0)", offered_new * 100.0),
        "≈ 25%".into(),
    ]);

    let Some(wrk) = find_program("wrk") else {
        println!(
            "**wrk not found: install it with `apt-get install -y wrk`. Skipping the wrk figures (part 1).**\n"
        );
        rows.push([
            "Update check / latest.json throughput".into(),
            "skipped: wrk missing".into(),
            "apt-get install -y wrk".into(),
        ]);
        return Ok(());
    };
    let scratch = tempfile::tempdir()?;
    let script = scratch.path().join("install-id.lua");
    std::fs::write(&script, WRK_SCRIPT)?;

    let nginx = match find_program("nginx") {
        None => {
            println!(
                "**nginx not found: install it with `apt-get install -y nginx-light` (or `nginx`). \
                 Skipping the nginx reference.**\n"
            );
            None
        }
        Some(bin) => Some(Nginx::start(&bin, &latest)?),
    };
    let mut targets = vec![
        ("service, dynamic update check", check_url.clone()),
        ("service, static latest.json", latest_url.clone()),
    ];
    if let Some(n) = &nginx {
        targets.push((
            "nginx, static latest.json",
            format!("http://127.0.0.1:{}/latest.json", n.port),
        ));
    }
    // Rounds interleave the targets so drifting machine load hits all alike.
    let mut runs: Vec<Vec<WrkResult>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 1..=repeat {
        for (i, (name, url)) in targets.iter().enumerate() {
            let r = run_wrk(&wrk, url, &script, secs).with_context(|| format!("wrk on {name}"))?;
            print_wrk(&format!("{name} (round {round}/{repeat})"), &r);
            runs[i].push(r);
        }
    }
    if let Some(n) = nginx {
        n.stop();
    }
    let mut medians = runs.iter().map(|r| WrkResult::median(r));
    let dynamic = medians.next().context("no dynamic runs")?;
    let svc_static = medians.next().context("no static runs")?;
    let nginx_result = medians.next();
    let of = if repeat > 1 {
        format!(" (median of {repeat} runs)")
    } else {
        String::new()
    };

    rows.push([
        format!("Dynamic check, service{of}"),
        dynamic.summary(),
        format!("{check_len}-byte answer"),
    ]);
    rows.push([
        format!("Static latest.json, service{of}"),
        svc_static.summary(),
        format!("{}-byte file", latest.len()),
    ]);
    match &nginx_result {
        Some(n) => {
            rows.push([
                format!("Static latest.json, nginx (2 workers){of}"),
                n.summary(),
                "reference".into(),
            ]);
            for (what, r) in [
                ("Dynamic check", &dynamic),
                ("Service latest.json", &svc_static),
            ] {
                let rps = r.rps / n.rps;
                let p99 = r.p99_ms / n.p99_ms;
                rows.push([
                    format!("{what} ÷ nginx: req/s"),
                    format!("{rps:.2}"),
                    format!("≥ 0.5 — {}", if rps >= 0.5 { "met" } else { "**NOT met**" }),
                ]);
                rows.push([
                    format!("{what} ÷ nginx: p99"),
                    format!("{p99:.2}"),
                    format!("≤ 2 — {}", if p99 <= 2.0 { "met" } else { "**NOT met**" }),
                ]);
            }
        }
        None => rows.push([
            "Static latest.json, nginx".into(),
            "skipped: nginx missing".into(),
            "apt-get install -y nginx-light".into(),
        ]),
    }
    Ok(())
}

struct WrkResult {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    non_2xx: u64,
    socket_errors: Option<String>,
    raw: String,
    load_before: String,
}

impl WrkResult {
    /// Per-figure medians of several runs; error counts are summed.
    fn median(runs: &[WrkResult]) -> WrkResult {
        let med = |f: fn(&WrkResult) -> f64| {
            let mut v: Vec<f64> = runs.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
        };
        let errors: Vec<String> = runs
            .iter()
            .filter_map(|r| r.socket_errors.clone())
            .collect();
        WrkResult {
            rps: med(|r| r.rps),
            p50_ms: med(|r| r.p50_ms),
            p99_ms: med(|r| r.p99_ms),
            requests: runs.iter().map(|r| r.requests).sum(),
            non_2xx: runs.iter().map(|r| r.non_2xx).sum(),
            socket_errors: (!errors.is_empty()).then(|| errors.join("; ")),
            raw: String::new(),
            load_before: String::new(),
        }
    }

    fn summary(&self) -> String {
        let mut s = format!(
            "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
            self.rps, self.p50_ms, self.p99_ms
        );
        if self.non_2xx > 0 {
            s.push_str(&format!(", **{} non-2xx**", self.non_2xx));
        }
        if let Some(e) = &self.socket_errors {
            s.push_str(&format!(", socket errors: {e}"));
        }
        s
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn print_wrk(what: &str, r: &WrkResult) {
    println!(
        "### {what} (load average before: {})\n\n```\n{}```\n",
        r.load_before, r.raw
    );
    println!("{what}: {} ({} requests)\n", r.summary(), r.requests);
}

fn run_wrk(wrk: &Path, url: &str, script: &Path, secs: u64) -> anyhow::Result<WrkResult> {
    let run = |d: u64| -> anyhow::Result<String> {
        let out = Command::new(wrk)
            .args([
                format!("-t{WRK_THREADS}"),
                format!("-c{WRK_CONNECTIONS}"),
                format!("-d{d}s"),
                "--latency".into(),
                "-s".into(),
                script.display().to_string(),
                url.into(),
            ])
            .stdin(Stdio::null())
            .output()
            .context("running wrk")?;
        if !out.status.success() {
            bail!(
                "wrk failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    run(2)?; // warm-up: connections, caches, allocator
    let load_before = loadavg();
    let raw = run(secs)?;
    let mut r = parse_wrk(&raw)?;
    r.load_before = load_before;
    Ok(r)
}

fn parse_wrk(raw: &str) -> anyhow::Result<WrkResult> {
    let mut r = WrkResult {
        rps: f64::NAN,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        requests: 0,
        non_2xx: 0,
        socket_errors: None,
        raw: raw.to_string(),
        load_before: String::new(),
    };
    for line in raw.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Requests/sec:") {
            r.rps = v.trim().parse()?;
        } else if let Some(v) = t.strip_prefix("50%") {
            r.p50_ms = parse_duration_ms(v.trim())?;
        } else if let Some(v) = t.strip_prefix("99%") {
            r.p99_ms = parse_duration_ms(v.trim())?;
        } else if let Some(v) = t.strip_prefix("Non-2xx or 3xx responses:") {
            r.non_2xx = v.trim().parse()?;
        } else if let Some(v) = t.strip_prefix("Socket errors:") {
            r.socket_errors = Some(v.trim().to_string());
        } else if t.contains(" requests in ") {
            r.requests = t.split_whitespace().next().unwrap_or("0").parse()?;
        }
    }
    if r.rps.is_nan() || r.p99_ms.is_nan() {
        bail!("could not read wrk's output:\n{raw}");
    }
    Ok(r)
}

/// wrk's `852.00us`, `1.23ms`, `1.00s`, `2.00m`, in milliseconds.
fn parse_duration_ms(s: &str) -> anyhow::Result<f64> {
    let split = s
        .find(|c: char| c.is_ascii_alphabetic())
        .context("a duration without a unit")?;
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse()?;
    Ok(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        "h" => n * 3_600_000.0,
        _ => bail!("unknown wrk unit {unit:?}"),
    })
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// nginx serving `latest.json` from a temp dir on a free loopback port, run as
/// the current user in the foreground; stopped by its own pid.
struct Nginx {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Nginx {
    fn start(bin: &Path, latest: &[u8]) -> anyhow::Result<Nginx> {
        let dir = tempfile::tempdir()?;
        let d = dir.path().display().to_string();
        std::fs::create_dir_all(dir.path().join("www"))?;
        std::fs::write(dir.path().join("www/latest.json"), latest)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        // As root nginx would hand workers to `nobody`, who cannot read the temp dir.
        let user = if is_root() { "user root;" } else { "" };
        let conf = format!(
            "worker_processes 2;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n{user}\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 1000000;\n\
               client_body_temp_path {d}/client_body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
               uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               types {{ application/json json; }}\n  default_type application/octet-stream;\n\
               server {{\n    listen 127.0.0.1:{port};\n    root {d}/www;\n    location / {{ add_header Cache-Control no-cache; }}\n  }}\n}}\n"
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf)?;
        let child = Command::new(bin)
            .arg("-p")
            .arg(format!("{d}/"))
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(format!("{d}/error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nginx")?;
        let mut nginx = Nginx {
            child: Some(child),
            port,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = nginx
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                let log =
                    std::fs::read_to_string(nginx.dir.path().join("error.log")).unwrap_or_default();
                nginx.child = None;
                bail!("nginx exited at start ({status}):\n{log}");
            }
            if http_get_body(port, "/latest.json").is_some_and(|b| b == latest) {
                return Ok(nginx);
            }
            if Instant::now() > deadline {
                bail!("nginx did not serve latest.json within 10 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SIGTERM to the master we started: it stops its workers and exits.
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// A minimal HTTP/1.0 GET, for the readiness probe (no runtime needed).
fn http_get_body(port: u16, path: &str) -> Option<Vec<u8>> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    if !buf.starts_with(b"HTTP/1.1 200") && !buf.starts_with(b"HTTP/1.0 200") {
        return None;
    }
    Some(buf[head_end + 4..].to_vec())
}

// ---------------------------------------------------------------- 2. telemetry

#[derive(Default)]
struct LoadStats {
    reports: u64,
    events: u64,
    tokens: u64,
    statuses: HashMap<u16, u64>,
    transport_errors: u64,
    latencies: Vec<Duration>,
    token_latencies: Vec<Duration>,
    /// What must land in the database: per install and kind, only the first
    /// `COUNTED_PER_HOUR` events count; install counts are distinct installs.
    expected: HashMap<String, Health>,
}

fn add(e: &mut Health, h: &Health) {
    e.installs += h.installs;
    e.crashed_installs += h.crashed_installs;
    e.update_installs += h.update_installs;
    e.failed_update_installs += h.failed_update_installs;
    e.sessions += h.sessions;
    e.crashes += h.crashes;
    e.updates_installed += h.updates_installed;
    e.updates_failed += h.updates_failed;
}

impl LoadStats {
    fn merge(&mut self, o: LoadStats) {
        self.reports += o.reports;
        self.events += o.events;
        self.tokens += o.tokens;
        for (k, v) in o.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        self.transport_errors += o.transport_errors;
        self.latencies.extend(o.latencies);
        self.token_latencies.extend(o.token_latencies);
        for (v, h) in o.expected {
            add(self.expected.entry(v).or_default(), &h);
        }
    }
}

/// The service's default: events of one kind from one install that count per hour.
const COUNTED_PER_HOUR: u64 = 3;

/// One simulated install's events that count, by kind (`EventKind::ALL` order).
#[derive(Default)]
struct Counted([u64; 4]);

impl Counted {
    fn into_health(self) -> Health {
        let [s, c, i, f] = self.0;
        Health {
            installs: u64::from(s + c > 0),
            crashed_installs: u64::from(c > 0),
            update_installs: u64::from(i + f > 0),
            failed_update_installs: u64::from(f > 0),
            sessions: s,
            crashes: c,
            updates_installed: i,
            updates_failed: f,
        }
    }
}

fn random_kind(rng: &mut impl Rng) -> EventKind {
    match rng.gen_range(0..100) {
        0..=59 => EventKind::SessionStart,
        60..=95 => EventKind::UpdateInstalled,
        96..=97 => EventKind::Crash,
        _ => EventKind::UpdateFailed,
    }
}

/// One simulated client: installs on random published versions, each asking
/// for a telemetry token (`POST /v1/telemetry/token`, as an install whose
/// check was answered 204 does), then sending reports of 1-32 events (the
/// first a session start) until its 60-event allowance is used, then a new
/// install takes over.
async fn telemetry_task(
    client: reqwest::Client,
    base: String,
    versions: Arc<Vec<String>>,
    deadline: Instant,
) -> LoadStats {
    let mut st = LoadStats::default();
    let mut rng = rand::rngs::StdRng::from_entropy();
    let url = format!("{base}/v1/telemetry");
    let token_url = format!("{base}/v1/telemetry/token");
    while Instant::now() < deadline {
        let install = Uuid::new_v4();
        let version = versions[rng.gen_range(0..versions.len())].clone();
        let t = Instant::now();
        let token = client
            .post(&token_url)
            .json(&serde_json::json!({"install_id": install, "version": version, "channel": "stable"}))
            .send()
            .await;
        let token = match token {
            Ok(r) if r.status() == reqwest::StatusCode::OK => {
                match r.json::<serde_json::Value>().await {
                    Ok(v) => v["token"].as_str().unwrap_or_default().to_string(),
                    Err(_) => {
                        st.transport_errors += 1;
                        continue;
                    }
                }
            }
            Ok(r) => {
                *st.statuses.entry(r.status().as_u16()).or_default() += 1;
                continue;
            }
            Err(_) => {
                st.transport_errors += 1;
                continue;
            }
        };
        st.token_latencies.push(t.elapsed());
        st.tokens += 1;
        let mut budget = INSTALL_BUDGET;
        let mut counted = Counted::default();
        while Instant::now() < deadline {
            let n = rng.gen_range(1..=32usize);
            if n > budget {
                break;
            }
            budget -= n;
            let at = Utc::now();
            let events: Vec<TelemetryEvent> = (0..n)
                .map(|i| TelemetryEvent {
                    kind: if i == 0 {
                        EventKind::SessionStart
                    } else {
                        random_kind(&mut rng)
                    },
                    at,
                })
                .collect();
            let report = TelemetryReport {
                install_id: install,
                version: version.clone(),
                channel: Channel::Stable,
                os: Os::Linux,
                arch: Arch::X86_64,
                bundle_type: None,
                token: token.clone(),
                events,
            };
            let body = serde_json::to_vec(&report).expect("a report serialises");
            let t = Instant::now();
            let resp = client
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await;
            let status = match resp {
                Ok(r) => {
                    let s = r.status().as_u16();
                    let _ = r.bytes().await;
                    s
                }
                Err(_) => {
                    st.transport_errors += 1;
                    continue;
                }
            };
            st.latencies.push(t.elapsed());
            *st.statuses.entry(status).or_default() += 1;
            if status == 202 {
                st.reports += 1;
                st.events += n as u64;
                for e in &report.events {
                    let i = EventKind::ALL
                        .iter()
                        .position(|k| *k == e.kind)
                        .unwrap_or(0);
                    counted.0[i] = (counted.0[i] + 1).min(COUNTED_PER_HOUR);
                }
            }
        }
        add(
            st.expected.entry(version.clone()).or_default(),
            &counted.into_health(),
        );
    }
    st
}

fn telemetry(
    svc: &Service,
    server_rt: &tokio::runtime::Runtime,
    load_rt: &tokio::runtime::Runtime,
    versions: &[String],
    secs: u64,
    rows: &mut Vec<[String; 3]>,
) -> anyhow::Result<()> {
    println!(
        "## 2. Telemetry ingestion with tokens ({TELEMETRY_TASKS} concurrent reqwest clients, {secs} s)\n"
    );
    let versions = Arc::new(versions.to_vec());
    let before = server_rt.block_on(svc.server.state.db.health(0))?;
    let started = Instant::now();
    let stats = load_rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let tasks: Vec<_> = (0..TELEMETRY_TASKS)
            .map(|_| {
                tokio::spawn(telemetry_task(
                    svc.client.clone(),
                    svc.base.clone(),
                    versions.clone(),
                    deadline,
                ))
            })
            .collect();
        let mut all = LoadStats::default();
        for t in tasks {
            all.merge(t.await?);
        }
        anyhow::Ok(all)
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    let flush_started = Instant::now();
    server_rt.block_on(svc.server.state.flush_telemetry())?;
    let flush = flush_started.elapsed();
    let after = server_rt.block_on(svc.server.state.db.health(0))?;

    let pct = |lat: &[Duration], p: f64| {
        let mut lat = lat.to_vec();
        lat.sort();
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    let rps = stats.reports as f64 / elapsed;
    let eps = stats.events as f64 / elapsed;
    let tps = stats.tokens as f64 / elapsed;
    println!(
        "{} tokens, {} reports / {} events accepted in {elapsed:.1} s: {tps:.0} tokens/s, {rps:.0} reports/s, \
         {eps:.0} events/s; report latency p50 {:.2} ms, p99 {:.2} ms; token p99 {:.2} ms; statuses {:?}; \
         transport errors {}",
        stats.tokens,
        stats.reports,
        stats.events,
        pct(&stats.latencies, 0.50),
        pct(&stats.latencies, 0.99),
        pct(&stats.token_latencies, 0.99),
        stats.statuses,
        stats.transport_errors
    );

    // Every counted event and install must be in the database, per version.
    let mut mismatches = Vec::new();
    let (mut landed_events, mut landed_installs) = (0, 0);
    for v in versions.iter() {
        let b = before.overall.get(v).cloned().unwrap_or_default();
        let a = after.overall.get(v).cloned().unwrap_or_default();
        let got = Health {
            installs: a.installs - b.installs,
            crashed_installs: a.crashed_installs - b.crashed_installs,
            update_installs: a.update_installs - b.update_installs,
            failed_update_installs: a.failed_update_installs - b.failed_update_installs,
            sessions: a.sessions - b.sessions,
            crashes: a.crashes - b.crashes,
            updates_installed: a.updates_installed - b.updates_installed,
            updates_failed: a.updates_failed - b.updates_failed,
        };
        landed_events += got.sessions + got.crashes + got.updates_installed + got.updates_failed;
        landed_installs += got.installs;
        let want = stats.expected.get(v).cloned().unwrap_or_default();
        if got != want {
            mismatches.push(format!("{v}: database {got:?}, expected {want:?}"));
        }
    }
    let verdict = if mismatches.is_empty() {
        format!("all landed: {landed_events} counted events, {landed_installs} distinct installs")
    } else {
        format!("**MISMATCH**: {}", mismatches.join("; "))
    };
    println!(
        "verification after a forced flush ({:.0} ms): {verdict} (of {} events sent)\n",
        flush.as_secs_f64() * 1000.0,
        stats.events
    );
    let rejected: u64 = stats
        .statuses
        .iter()
        .filter(|(s, _)| **s != 202)
        .map(|(_, n)| n)
        .sum();
    rows.push([
        "Telemetry ingestion (each install asks for a token first)".into(),
        format!(
            "{rps:.0} reports/s, {eps:.0} events/s (mean {:.1} events/report), p99 {:.2} ms; {tps:.0} tokens/s, token p99 {:.2} ms",
            stats.events as f64 / stats.reports.max(1) as f64,
            pct(&stats.latencies, 0.99),
            pct(&stats.token_latencies, 0.99),
        ),
        format!(
            "{TELEMETRY_TASKS} clients; {rejected} non-2xx, {} transport errors",
            stats.transport_errors
        ),
    ]);
    rows.push([
        "Telemetry in the database".into(),
        verdict,
        format!("final flush {:.0} ms", flush.as_secs_f64() * 1000.0),
    ]);
    Ok(())
}

// ---------------------------------------------------------------- 3. memory

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn memory(
    server_rt: &tokio::runtime::Runtime,
    load_rt: &tokio::runtime::Runtime,
    rows: &mut Vec<[String; 3]>,
) -> anyhow::Result<()> {
    println!("## 3. Memory: 100 releases × 6 platforms (1 KiB artifacts), then 10k checks\n");
    let svc = Service::start(server_rt, load_rt)?;
    // Signed before the baseline so the payloads are not counted as the service's.
    let prepared: Vec<Prepared> = (1..=100)
        .map(|i| prepare(&svc.kp, &format!("1.{i}.0"), 100.0, 1024))
        .collect::<anyhow::Result<_>>()?;
    let rss_start = rss_kib();
    let mut rss_10 = 0;
    let started = Instant::now();
    load_rt.block_on(async {
        for (i, p) in prepared.iter().enumerate() {
            svc.publish(p).await?;
            if i == 9 {
                rss_10 = rss_kib();
            }
        }
        anyhow::Ok(())
    })?;
    let publish_secs = started.elapsed().as_secs_f64();
    let rss_published = rss_kib();
    let snap = svc.server.state.snapshot.load_full();
    if snap.releases.len() != 100 {
        bail!(
            "the snapshot holds {} releases, expected 100",
            snap.releases.len()
        );
    }
    // What the snapshot itself must hold: its strings and pre-rendered manifests.
    let snapshot_bytes: usize = snap
        .releases
        .iter()
        .map(|r| {
            r.version_text.len()
                + r.notes.len()
                + r.pub_date.len()
                + r.artifacts
                    .values()
                    .map(|a| {
                        a.file_name.len()
                            + a.url.len()
                            + a.sha256.len()
                            + a.signature_b64.len()
                            + a.object_key.as_ref().map_or(0, String::len)
                    })
                    .sum::<usize>()
        })
        .sum::<usize>()
        + snap
            .static_manifests
            .iter()
            .flatten()
            .map(|b| b.len())
            .sum::<usize>();
    drop(snap);
    let file_kib =
        |f: &str| std::fs::metadata(svc.dir.path().join(f)).map_or(0, |m| m.len()) / 1024;
    let (db_kib, wal_kib) = (file_kib("u.db"), file_kib("u.db-wal"));

    // 10k update checks: random platform, random install, 16 at a time.
    let started = Instant::now();
    let (ok, other) = load_rt.block_on(async {
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let client = svc.client.clone();
                let base = svc.base.clone();
                tokio::spawn(async move {
                    let (mut ok, mut other) = (0u32, 0u32);
                    for _ in 0..625 {
                        let path = CHECKS[rand::thread_rng().gen_range(0..CHECKS.len())];
                        let r = client
                            .get(format!("{base}{path}"))
                            .header("X-Install-Id", Uuid::new_v4().to_string())
                            .send()
                            .await;
                        match r {
                            Ok(r) if r.status() == reqwest::StatusCode::OK => {
                                let body = r.bytes().await.unwrap_or_default();
                                if body.windows(9).any(|w| w == b"\"1.100.0\"") {
                                    ok += 1;
                                } else {
                                    other += 1;
                                }
                            }
                            _ => other += 1,
                        }
                    }
                    (ok, other)
                })
            })
            .collect();
        let (mut ok, mut other) = (0, 0);
        for t in tasks {
            let (a, b) = t.await?;
            ok += a;
            other += b;
        }
        anyhow::Ok((ok, other))
    })?;
    let check_secs = started.elapsed().as_secs_f64();
    let rss_checked = rss_kib();
    drop(prepared);
    svc.stop(server_rt)?;

    let delta = rss_published.saturating_sub(rss_start);
    let per_release = rss_published.saturating_sub(rss_10) as f64 / 90.0;
    println!(
        "RSS: {} at start, {} after 10 releases, {} after 100 ({:.1} s to publish), {} after 10k checks \
         ({ok} offered 1.100.0, {other} other, {:.0} checks/s with 16 clients)\n",
        mib(rss_start),
        mib(rss_10),
        mib(rss_published),
        publish_secs,
        mib(rss_checked),
        10_000.0 / check_secs
    );
    rows.push([
        "RSS, service started, no releases".into(),
        mib(rss_start),
        "whole bench process".into(),
    ]);
    rows.push([
        "RSS, 100 releases × 6 platforms published".into(),
        format!("{} (Δ {})", mib(rss_published), mib(delta)),
        format!(
            "snapshot strings ≈ {:.0} KiB; SQLite u.db {db_kib} KiB + WAL {wal_kib} KiB \
             (4 pooled connections, each with its own page cache); published in {publish_secs:.1} s",
            snapshot_bytes as f64 / 1024.0,
        ),
    ]);
    rows.push([
        "RSS per release (releases 11→100)".into(),
        format!("{per_release:.1} KiB"),
        "marginal; excludes one-off first-publish costs".into(),
    ]);
    rows.push([
        "RSS after 10k update checks".into(),
        format!(
            "{} (Δ {})",
            mib(rss_checked),
            mib(rss_checked.saturating_sub(rss_published))
        ),
        format!("{ok} of 10000 offered 1.100.0"),
    ]);
    Ok(())
}
