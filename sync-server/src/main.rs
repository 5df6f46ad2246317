//! `sync-server`: run the sync service. `sync-server --data-dir DIR` is all
//! it takes on one machine (SQLite in DIR); `SYNC_DATABASE_URL=postgres://…`
//! for many replicas.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use productivitypro_sync_server::clock::SystemClock;
use productivitypro_sync_server::{Config, Server};

#[derive(Parser)]
#[command(
    name = "sync-server",
    version,
    about = "ProductivityPro's end-to-end encrypted sync service"
)]
struct Cli {
    /// TOML config file; every key can also be set as SYNC_<KEY> (nested: SYNC_A__B).
    #[arg(long, short, env = "SYNC_CONFIG")]
    config: Option<PathBuf>,
    /// Folder for the SQLite database (overrides the config's data_dir).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to listen on (overrides the config's listen).
    #[arg(long)]
    listen: Option<SocketAddr>,
}

fn main() {
    let cli = Cli::parse();
    let result = Config::load(cli.config.as_deref()).and_then(|mut config| {
        if let Some(d) = cli.data_dir {
            config.data_dir = d;
        }
        if let Some(l) = cli.listen {
            config.listen = l;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            init_tracing(&config.log_format);
            let server = Server::start(config, Arc::new(SystemClock)).await?;
            eprintln!("sync-server listening on http://{}", server.addr);
            server.run_until_signal().await
        })
    });
    if let Err(e) = result {
        eprintln!("sync-server: {e:#}");
        std::process::exit(1);
    }
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
