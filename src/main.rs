//! The `nacore` binary: flags → `Settings` → `server::start`, then wait for SIGINT/SIGTERM.

use clap::Parser;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tracing_subscriber::EnvFilter;

use nacore::settings::{Cli, Settings};

fn main() {
    let cli = Cli::parse();
    let config = match Settings::from_cli(cli) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("nacore: {error}");
            std::process::exit(2);
        }
    };
    init_logging(&config.log_level);
    // Register the handlers before any thread starts, so every thread inherits the mask.
    let mut signals = match Signals::new([SIGINT, SIGTERM]) {
        Ok(signals) => signals,
        Err(error) => {
            eprintln!("nacore: cannot install signal handlers: {error}");
            std::process::exit(1);
        }
    };
    if let Err(error) = std::fs::create_dir_all(&config.data_dir) {
        eprintln!(
            "nacore: cannot create data dir {}: {error}",
            config.data_dir.display()
        );
        std::process::exit(1);
    }
    if let Err(error) = nacore::server::start(&config) {
        tracing::error!("{error}");
        eprintln!("nacore: {error}");
        std::process::exit(1);
    }
    tracing::info!(
        "HTTP listening on {}:{} (Nacos v1/v2 OpenAPI)",
        config.bind,
        config.http_port
    );
    tracing::info!(
        "gRPC listening on {}:{} (Nacos 2.x clients)",
        config.bind,
        config.grpc_port
    );
    tracing::info!(cores = config.cores(), cpus = ?config.cpus, data_dir = %config.data_dir.display(), "nacore ready");
    if let Some(signal) = signals.forever().next() {
        tracing::info!(signal, "stopping");
    }
    // All state of this release lives in memory; nothing needs flushing before exit.
    std::process::exit(0);
}

fn init_logging(level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}
