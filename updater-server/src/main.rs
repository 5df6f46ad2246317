//! `updater-server`: run the update service, or manage its API tokens.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use productivitypro_updater_server::clock::{rfc3339, Clock, SystemClock};
use productivitypro_updater_server::config::Config;
use productivitypro_updater_server::db::Db;
use productivitypro_updater_server::server::shutdown_signal;
use productivitypro_updater_server::{auth, Server};

#[derive(Parser)]
#[command(
    name = "updater-server",
    version,
    about = "ProductivityPro's update service"
)]
struct Cli {
    /// TOML config file; every key can also be set as UPDATER_<KEY> (nested: UPDATER_A__B).
    #[arg(long, short, global = true, env = "UPDATER_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve (the default).
    Serve,
    /// API tokens for pprelease and CI.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once and stored only hashed.
    Create {
        /// A name for the audit log, e.g. "ci-release" or "alice".
        #[arg(long)]
        name: String,
        /// Comma-separated: publish, rollout, admin.
        #[arg(long)]
        scope: String,
        /// Lifetime (e.g. 90d, 12h) or "never".
        #[arg(long, default_value = "90d")]
        expires_in: String,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id.
    Revoke { id: String },
}

fn main() {
    let cli = Cli::parse();
    let result = Config::load(cli.config.as_deref()).and_then(|config| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config))
    });
    if let Err(e) = result {
        eprintln!("updater-server: {e:#}");
        std::process::exit(1);
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            init_tracing(&config.log_format);
            let signal = shutdown_signal()?;
            let server = Server::start(config, Arc::new(SystemClock)).await?;
            eprintln!("updater-server listening on http://{}", server.addr);
            server.run_until(signal).await
        }
        Command::Token(t) => token(t, &config).await,
    }
}

async fn token(t: TokenCommand, config: &Config) -> anyhow::Result<()> {
    let db = Db::connect(&config.database_url)
        .await
        .context("opening the database")?;
    let now = SystemClock.now().timestamp();
    match t {
        TokenCommand::Create {
            name,
            scope,
            expires_in,
        } => {
            let scopes = auth::parse_scopes(&scope).map_err(anyhow::Error::msg)?;
            if name.trim().is_empty() {
                bail!("--name must not be empty");
            }
            let expires_at = match expires_in.as_str() {
                "never" => None,
                s => Some(
                    now + humantime::parse_duration(s)
                        .with_context(|| format!("--expires-in {s:?}"))?
                        .as_secs() as i64,
                ),
            };
            let (secret, id) = auth::generate(&mut rand::rngs::OsRng);
            let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
            db.insert_token(
                &id,
                &name,
                &auth::hash(&secret),
                &scopes.join(","),
                now,
                expires_at,
            )
            .await?;
            eprintln!(
                "token {id} ({name}) scopes {} expires {}; it is shown only now:",
                scopes.join(","),
                expires_at.map_or("never".into(), rfc3339)
            );
            println!("{secret}");
        }
        TokenCommand::List => {
            println!(
                "{:<14} {:<20} {:<22} {:<22} status",
                "id", "name", "scopes", "expires"
            );
            for t in db.tokens().await? {
                let status = match (t.revoked_at, t.expires_at) {
                    (Some(_), _) => "revoked",
                    (None, Some(e)) if e <= now => "expired",
                    _ => "active",
                };
                let _ = t.created_at;
                println!(
                    "{:<14} {:<20} {:<22} {:<22} {status}",
                    t.id,
                    t.name,
                    t.scopes,
                    t.expires_at.map_or("never".into(), rfc3339)
                );
            }
        }
        TokenCommand::Revoke { id } => {
            if !db.revoke_token(&id, now).await? {
                bail!("no active token {id}");
            }
            eprintln!("token {id} revoked");
        }
    }
    Ok(())
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "text" {
        builder.init();
    } else {
        builder.json().init();
    }
}
