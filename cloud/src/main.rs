//! `dashledger-cloud`: the operator's service. `serve`, `migrate`, `print-config`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dashledger_cloud::config::Config;
use dashledger_cloud::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "dashledger-cloud",
    version,
    about = "dashledger cloud: evidence ingest, uploads, verifier, search"
)]
struct Cli {
    /// TOML configuration file (then env DASHLEDGER_CLOUD_*, then --set / flags).
    #[arg(long, short = 'c', global = true, env = "DASHLEDGER_CLOUD_CONFIG")]
    config: Option<PathBuf>,
    /// Override a configuration key, e.g. `--set upload.max_clip_bytes=1000000` (repeatable).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Listen address (same as --set listen=...).
    #[arg(long, global = true)]
    listen: Option<String>,
    /// Database URL (same as --set database_url=...).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Data directory (same as --set data_dir=...).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the HTTP service (migrates the database first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the effective configuration as TOML (secrets are never part of it).
    PrintConfig,
    /// Print the OpenAPI document generated from the handlers (what /openapi.json serves;
    /// `dashledger-cloud openapi > docs/api/openapi.json` refreshes the checked-in copy).
    Openapi,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DASHLEDGER_CLOUD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut overrides = cli.set.clone();
    if let Some(l) = &cli.listen {
        overrides.push(format!("listen={l}"));
    }
    if let Some(u) = &cli.database_url {
        overrides.push(format!("database_url={u}"));
    }
    if let Some(d) = &cli.data_dir {
        overrides.push(format!("data_dir={}", d.display()));
    }
    let env: Vec<(String, String)> = std::env::vars().collect();
    let config = Config::load(cli.config.as_deref(), env.clone(), &overrides)?;
    match cli.cmd {
        Cmd::Openapi => {
            print!("{}", dashledger_cloud::api::openapi_text());
        }
        Cmd::PrintConfig => {
            print!("{}", toml::to_string_pretty(&config)?);
        }
        Cmd::Migrate => {
            std::fs::create_dir_all(&config.data_dir)?;
            let store = Store::connect(&config.database_url(), 1).await?;
            let applied = store.migrate().await?;
            println!(
                "{}",
                serde_json::json!({ "applied": applied, "version": store.schema_version().await? })
            );
            store.close().await;
        }
        Cmd::Serve => {
            let listen = config.listen.clone();
            let state = dashledger_cloud::build_state(config, env).await?;
            let listener = tokio::net::TcpListener::bind(&listen).await?;
            tracing::info!(addr = %listener.local_addr()?, "dashledger-cloud listening");
            dashledger_cloud::run(state, listener, shutdown_signal()).await?;
            tracing::info!("stopped");
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
