//! `pprelease`: the release engineer's client for the update service —
//! signing keys, publishing, promotion, staged rollouts and their health.

mod client;
mod keys;
mod output;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use productivitypro_protocol::api::{
    AdvanceResponse, ArtifactSpec, AuditResponse, PublishRequest, ReasonRequest, ReleaseStatus,
    RolloutRequest, StatusResponse,
};
use productivitypro_protocol::policy::Policy;
use productivitypro_protocol::{Channel, Platform};

use client::{Client, ServiceError};

#[derive(Parser)]
#[command(
    name = "pprelease",
    version,
    about = "Publish and roll out ProductivityPro releases"
)]
struct Cli {
    /// The update service.
    #[arg(
        long,
        global = true,
        env = "PPRELEASE_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// Machine-readable output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a signing key pair (Tauri-compatible). Password: TAURI_SIGNING_PRIVATE_KEY_PASSWORD (may be empty).
    Keygen {
        /// Secret key file to write; the public key goes to FILE.pub.
        #[arg(long, short)]
        out: PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Sign FILE for release VERSION into FILE.sig (key: --key or TAURI_SIGNING_PRIVATE_KEY,
    /// a path or the key itself). The version is signed too, so the build can only be
    /// published (and installed) as that version.
    Sign {
        file: PathBuf,
        /// The release version this build is (as `tauri signer sign --app-version`).
        #[arg(long, visible_alias = "app-version")]
        version: String,
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Publish a release with its signed artifacts.
    Publish {
        #[arg(long)]
        version: String,
        /// Markdown release notes.
        #[arg(long)]
        notes: Option<PathBuf>,
        /// PLATFORM=PATH, e.g. linux-x86_64-appimage=target/.../app.AppImage; PATH.sig must exist
        /// (tauri build writes it) unless a signing key is given.
        #[arg(long = "artifact")]
        artifacts: Vec<String>,
        /// PLATFORM=URL for artifacts hosted elsewhere, with --artifact-sig PLATFORM=FILE.sig.
        #[arg(long = "artifact-url")]
        artifact_urls: Vec<String>,
        #[arg(long = "artifact-sig")]
        artifact_sigs: Vec<String>,
        #[arg(long, default_value = "canary")]
        channel: Channel,
        #[arg(long, default_value_t = 100.0)]
        percent: f64,
        /// Sign artifacts without a .sig with this key (or TAURI_SIGNING_PRIVATE_KEY).
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Offer a release to a wider channel.
    Promote {
        version: String,
        #[arg(long)]
        to: Channel,
        #[arg(long, default_value_t = 100.0)]
        percent: f64,
    },
    /// Set the share of a channel a release reaches.
    Rollout {
        version: String,
        #[arg(long)]
        channel: Channel,
        #[arg(long)]
        percent: f64,
    },
    /// Stop offering a release; installs on it stay.
    Halt {
        version: String,
        #[arg(long)]
        reason: Option<String>,
        /// Only this platform (e.g. linux-x86_64-appimage); the others keep their state.
        #[arg(long)]
        platform: Option<Platform>,
    },
    /// Offer a halted or rolled-back release again, to the same installs.
    Resume {
        version: String,
        #[arg(long)]
        reason: Option<String>,
        /// Only this platform (e.g. linux-x86_64-appimage); the others keep their state.
        #[arg(long)]
        platform: Option<Platform>,
    },
    /// Stop offering a release and send installs on it back to the previous good one.
    Rollback {
        version: String,
        #[arg(long)]
        reason: Option<String>,
        /// Only this platform (e.g. linux-x86_64-appimage); the others keep their state.
        #[arg(long)]
        platform: Option<Platform>,
    },
    /// Releases with their rollouts and health.
    Status,
    /// The audit log, newest first.
    Audit {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Take one step of the canary policy (for the scheduled CI job).
    Advance {
        #[arg(long, default_value = "installers/rollout-policy.toml")]
        policy: PathBuf,
    },
}

fn main() {
    let cli = Cli::parse();
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pprelease: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run(cli)) {
        match e.downcast_ref::<ServiceError>() {
            Some(s) if json => {
                println!(
                    "{}",
                    serde_json::json!({"error": {"code": s.code, "message": s.message, "status": s.status}})
                )
            }
            Some(s) => eprintln!("pprelease: {}: {}", s.code, s.message),
            None => eprintln!("pprelease: {e:#}"),
        }
        std::process::exit(if e.downcast_ref::<ServiceError>().is_some() {
            3
        } else {
            1
        });
    }
}

fn token() -> Option<String> {
    std::env::var("PPRELEASE_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
}

fn password() -> String {
    std::env::var("TAURI_SIGNING_PRIVATE_KEY_PASSWORD").unwrap_or_default()
}

/// The secret key from --key, or TAURI_SIGNING_PRIVATE_KEY (a path or the key itself).
fn secret_key(key: Option<&Path>) -> anyhow::Result<Option<minisign::SecretKey>> {
    let content = match key {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => match std::env::var("TAURI_SIGNING_PRIVATE_KEY") {
            Ok(v) if Path::new(&v).is_file() => std::fs::read_to_string(&v)?,
            Ok(v) if !v.is_empty() => v,
            _ => return Ok(None),
        },
    };
    Ok(Some(keys::load_secret(&content, &password())?))
}

fn parse_release_version(v: &str) -> anyhow::Result<semver::Version> {
    if v.starts_with('v') {
        bail!("--version {v:?}: write the version without a leading v");
    }
    semver::Version::parse(v).with_context(|| format!("--version {v:?} is not semver"))
}

/// Refuses before uploading a `.sig` signed for another version; a `.sig`
/// without a version is left for the service to judge (it may be configured
/// to accept those from builds whose file name carries the version).
fn check_signed_version(
    sig_text: &str,
    sig_path: &Path,
    version: &semver::Version,
) -> anyhow::Result<()> {
    let sig = productivitypro_protocol::signature::parse(sig_text)
        .with_context(|| format!("{}", sig_path.display()))?;
    if let Some(signed) = productivitypro_protocol::signature::trusted_field(&sig, "version") {
        if semver::Version::parse(signed.strip_prefix('v').unwrap_or(signed))
            .ok()
            .as_ref()
            != Some(version)
        {
            bail!(
                "{} is signed for version {signed}, not {version}; re-sign with `pprelease sign FILE --version {version}`",
                sig_path.display()
            );
        }
    }
    Ok(())
}

fn split_pair(s: &str) -> anyhow::Result<(Platform, &str)> {
    let (k, v) = s
        .split_once('=')
        .with_context(|| format!("{s:?}: expected PLATFORM=VALUE"))?;
    Ok((k.parse().with_context(|| format!("{s:?}"))?, v))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let client = || Client::new(&cli.server, token());
    let json = cli.json;
    match cli.command {
        Command::Keygen { out, force } => {
            let pub_path = PathBuf::from(format!("{}.pub", out.display()));
            if !force && (out.exists() || pub_path.exists()) {
                bail!("{} exists; pass --force to overwrite", out.display());
            }
            let g = keys::generate(&password())?;
            write_private(&out, &g.secret_file)?;
            std::fs::write(&pub_path, &g.public_b64)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"secret_key_file": out, "public_key": g.public_b64})
                );
            } else {
                eprintln!(
                    "secret key: {} (keep it secret; CI reads it from TAURI_SIGNING_PRIVATE_KEY)",
                    out.display()
                );
                eprintln!("public key: {} — put it in tauri.conf.json plugins.updater.pubkey and UPDATER_PUBLIC_KEY:", pub_path.display());
                println!("{}", g.public_b64);
            }
        }
        Command::Sign { file, version, key } => {
            let parsed = parse_release_version(&version)?;
            let sk = secret_key(key.as_deref())?
                .context("no signing key: pass --key or set TAURI_SIGNING_PRIVATE_KEY")?;
            let sig = keys::sign_file(&sk, &file, &parsed.to_string())?;
            let sig_path = PathBuf::from(format!("{}.sig", file.display()));
            std::fs::write(&sig_path, keys::signature_file_content(&sig))?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"signature_file": sig_path, "signature": sig})
                );
            } else {
                eprintln!("wrote {}", sig_path.display());
            }
        }
        Command::Publish {
            version,
            notes,
            artifacts,
            artifact_urls,
            artifact_sigs,
            channel,
            percent,
            key,
        } => {
            let notes = match notes {
                Some(p) => std::fs::read_to_string(&p)
                    .with_context(|| format!("reading {}", p.display()))?,
                None => String::new(),
            };
            let parsed = parse_release_version(&version)?;
            let sk = secret_key(key.as_deref())?;
            let mut specs = Vec::new();
            let mut files = Vec::new();
            for a in &artifacts {
                let (platform, path) = split_pair(a)?;
                let path = Path::new(path);
                let file_name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .with_context(|| format!("{} has no file name", path.display()))?
                    .to_string();
                let sig_path = PathBuf::from(format!("{}.sig", path.display()));
                let signature = if sig_path.exists() {
                    let sig = keys::read_signature(&sig_path)?;
                    check_signed_version(&sig, &sig_path, &parsed)?;
                    sig
                } else if let Some(sk) = &sk {
                    keys::sign_file(sk, path, &version)?
                } else {
                    bail!("{} is missing and no signing key was given (--key or TAURI_SIGNING_PRIVATE_KEY)", sig_path.display());
                };
                specs.push(ArtifactSpec {
                    platform,
                    file_name,
                    signature,
                    url: None,
                });
                files.push((platform.to_string(), path));
            }
            for a in &artifact_urls {
                let (platform, url) = split_pair(a)?;
                let sig = artifact_sigs
                    .iter()
                    .filter_map(|s| split_pair(s).ok())
                    .find(|(p, _)| *p == platform)
                    .with_context(|| {
                        format!(
                            "--artifact-url {platform} needs --artifact-sig {platform}=FILE.sig"
                        )
                    })?;
                let file_name = url.rsplit('/').next().unwrap_or_default().to_string();
                let signature = keys::read_signature(Path::new(sig.1))?;
                check_signed_version(&signature, Path::new(sig.1), &parsed)?;
                specs.push(ArtifactSpec {
                    platform,
                    file_name,
                    signature,
                    url: Some(url.to_string()),
                });
            }
            if specs.is_empty() {
                bail!("give at least one --artifact PLATFORM=PATH or --artifact-url");
            }
            let req = PublishRequest {
                version,
                notes,
                channel,
                percent,
                artifacts: specs,
            };
            let files: Vec<(String, &Path)> = files.iter().map(|(p, f)| (p.clone(), *f)).collect();
            let r: ReleaseStatus = client()?.publish(&req, &files, json).await?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                eprintln!(
                    "published {} to {} at {}% ({} platforms)",
                    r.version,
                    channel,
                    percent,
                    r.platforms.len()
                );
            }
        }
        Command::Promote {
            version,
            to,
            percent,
        } => {
            client()?
                .post::<serde_json::Value>(
                    &format!("/v1/releases/{version}/promote"),
                    &RolloutRequest {
                        channel: to,
                        percent,
                    },
                )
                .await?;
            done(json, &format!("{version} promoted to {to} at {percent}%"));
        }
        Command::Rollout {
            version,
            channel,
            percent,
        } => {
            client()?
                .post::<serde_json::Value>(
                    &format!("/v1/releases/{version}/rollout"),
                    &RolloutRequest { channel, percent },
                )
                .await?;
            done(json, &format!("{version} in {channel} at {percent}%"));
        }
        Command::Halt {
            version,
            reason,
            platform,
        } => act(&client()?, json, &version, "halt", reason, platform).await?,
        Command::Resume {
            version,
            reason,
            platform,
        } => act(&client()?, json, &version, "resume", reason, platform).await?,
        Command::Rollback {
            version,
            reason,
            platform,
        } => act(&client()?, json, &version, "rollback", reason, platform).await?,
        Command::Status => {
            let s: StatusResponse = client()?.get("/v1/status").await?;
            if json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                print!("{}", output::status_table(&s));
            }
        }
        Command::Audit { limit } => {
            let a: AuditResponse = client()?.get(&format!("/v1/audit?limit={limit}")).await?;
            if json {
                println!("{}", serde_json::to_string(&a)?);
            } else {
                print!("{}", output::audit_table(&a));
            }
        }
        Command::Advance { policy } => {
            let text = std::fs::read_to_string(&policy)
                .with_context(|| format!("reading {}", policy.display()))?;
            let policy =
                Policy::from_toml(&text).with_context(|| format!("{}", policy.display()))?;
            let r: Option<AdvanceResponse> =
                client()?.post("/v1/rollouts/advance", &policy).await?;
            let r = r.context("the service returned no advance report")?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                print!("{}", output::advance_lines(&r));
            }
        }
    }
    Ok(())
}

async fn act(
    client: &Client,
    json: bool,
    version: &str,
    action: &str,
    reason: Option<String>,
    platform: Option<Platform>,
) -> anyhow::Result<()> {
    client
        .post::<serde_json::Value>(
            &format!("/v1/releases/{version}/{action}"),
            &ReasonRequest { reason, platform },
        )
        .await?;
    match platform {
        Some(p) => done(json, &format!("{version} on {p}: {action} done")),
        None => done(json, &format!("{version}: {action} done")),
    }
    Ok(())
}

fn done(json: bool, message: &str) {
    if json {
        println!("{}", serde_json::json!({"ok": true, "message": message}));
    } else {
        eprintln!("{message}");
    }
}

fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(content.as_bytes())?;
    Ok(())
}
