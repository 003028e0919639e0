//! # dashledger-cloud
//!
//! The service a dashledger operator runs: a registry of approved dashcam keys, evidence-record
//! ingest with signature and chain checks (findings become alarms), resumable chunked uploads of
//! sealed accident clips, search over listed clips, and an operator API. Every wire format comes
//! from [`dashledger_protocol`]; nothing is redefined here.
//!
//! Storage needs no setup by default (an SQLite file and a local blob directory under
//! `data_dir`); PostgreSQL is selected by URL. See `docs/cloud.md` for the operator guide and the
//! HTTP API (also served as `/openapi.json`).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> anyhow::Result<()> {
//! use dashledger_cloud::{config::Config, spawn};
//! let dir = tempfile::tempdir()?;
//! let cfg = Config::load(None, Vec::new(), &[
//!     "listen=127.0.0.1:0".into(),
//!     format!("data_dir={}", dir.path().display()),
//! ])?;
//! let server = spawn(cfg, Vec::new()).await?; // migrates, binds, serves
//! assert_ne!(server.addr().port(), 0);
//! server.shutdown().await?;
//! # Ok(()) }
//! ```

pub mod api;
pub mod blob;
pub mod chain;
pub mod config;
pub mod error;
pub mod ingest;
pub mod metrics;
pub mod server;
pub mod state;
pub mod store;
pub mod upload;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::blob::{LocalBlobs, S3Blobs};
use crate::config::Config;
use crate::error::CloudError;
use crate::state::AppState;
use crate::store::Store;

/// Seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Opens the database (and migrates it) and the blob store: the shared state of a server.
/// `env` is the process environment (for secrets such as the admin token).
pub async fn build_state(
    config: Config,
    env: Vec<(String, String)>,
) -> Result<Arc<AppState>, CloudError> {
    // Checked here, not when loading the configuration: `--set web.dir=… print-config` is how
    // scripts ask whether this binary knows the key, before the page is built.
    if let Some(dir) = &config.web.dir
        && !dir.join("index.html").is_file()
    {
        return Err(CloudError::Config(format!(
            "web.dir {} has no index.html (build the page first: npm run build in web/)",
            dir.display()
        )));
    }
    let s3 = config.s3_settings(&env)?;
    let admin_token = config.admin_token(env)?;
    if admin_token.is_none() {
        tracing::warn!("no admin token configured: the operator API answers 403");
    }
    std::fs::create_dir_all(&config.data_dir).map_err(|source| CloudError::Io {
        context: format!("creating data_dir {}", config.data_dir.display()),
        source,
    })?;
    let store = Store::connect(&config.database_url(), config.database_max_connections).await?;
    let applied = store.migrate().await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "database migrated");
    }
    let blobs: Box<dyn blob::BlobStore> = match s3 {
        Some(s) => {
            let b = S3Blobs::new(s)?;
            tracing::info!(store = %b.describe(), "blob storage: S3-compatible object store");
            Box::new(b)
        }
        None => Box::new(LocalBlobs::new(config.blob_dir())?),
    };
    let chain = chain::Chain::from_config(&config).await?;
    if chain.is_none() {
        tracing::warn!("chain.rpc_url not set: verifier, relayer, indexer and downloads are off");
    }
    let metrics = Arc::new(metrics::Metrics::default());
    let (ingest, _writer) = ingest::IngestQueue::start(store.clone(), metrics.clone());
    Ok(Arc::new(AppState {
        config,
        store,
        blobs,
        metrics,
        admin_token,
        ingest,
        upload_cursors: Default::default(),
        chain,
        relay_lock: tokio::sync::Mutex::new(()),
    }))
}

/// A server running in the background (tests, embedding). Stop it with [`RunningServer::shutdown`].
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), CloudError>>,
}

impl RunningServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// Graceful shutdown: stops accepting, lets in-flight requests finish, closes the database.
    pub async fn shutdown(mut self) -> Result<(), CloudError> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.await.map_err(|e| CloudError::Io {
            context: "joining the server task".into(),
            source: std::io::Error::other(e.to_string()),
        })?
    }
}

/// Builds the state, binds `config.listen` and serves in the background.
pub async fn spawn(
    config: Config,
    env: Vec<(String, String)>,
) -> Result<RunningServer, CloudError> {
    let listen = config.listen.clone();
    let state = build_state(config, env).await?;
    let listener = TcpListener::bind(&listen)
        .await
        .map_err(|source| CloudError::Io {
            context: format!("binding {listen}"),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| CloudError::Io {
        context: "local_addr".into(),
        source,
    })?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(run(state, listener, async move {
        let _ = rx.await;
    }));
    Ok(RunningServer {
        addr,
        stop: Some(tx),
        task,
    })
}

/// Serves until `shutdown` resolves, then drains in-flight requests (bounded by
/// `shutdown_grace_secs`) and closes the database.
pub async fn run(
    state: Arc<AppState>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), CloudError> {
    let grace = Duration::from_secs(state.config.shutdown_grace_secs);
    let app = api::router(state.clone());
    let (bg_stop, bg_rx) = tokio::sync::watch::channel(false);
    let background = state
        .chain
        .clone()
        .map(|chain| tokio::spawn(chain_loop(state.clone(), chain, bg_rx)));
    server::serve(listener, app, &state.config.http, shutdown, grace).await;
    let _ = bg_stop.send(true);
    if let Some(b) = background {
        let _ = b.await;
    }
    state.store.close().await;
    Ok(())
}

/// Verifier and indexer, every `chain.poll_interval_ms`, until `stop` turns true.
async fn chain_loop(
    state: Arc<AppState>,
    chain: chain::Chain,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let every = Duration::from_millis(state.config.chain.poll_interval_ms.max(50));
    loop {
        if let Err(e) = chain::indexer::run_once(&state.store, &chain).await {
            tracing::warn!(error = %e, "indexer step failed; retrying");
        }
        if let Err(e) = chain::verifier::run_once(&state.store, &chain).await {
            tracing::warn!(error = %e, "verifier step failed; retrying");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}
