//! The HTTP/1.1 connection loop: hyper under the axum router, with the limits a public service
//! needs (issue 19, item 3) — `axum::serve` has no knobs for them.
//!
//! * **header timeout** (`http.header_timeout_secs`): a client must send a request's whole head
//!   within this time; it also bounds how long an idle keep-alive connection is kept (hyper's
//!   timer starts whenever the connection waits for a head);
//! * **body idle timeout** (`http.body_idle_timeout_secs`): a request body that delivers nothing
//!   for this long ends with 408 `body_timeout` and the connection is closed (tower-http's
//!   `RequestBodyTimeout`: the timer restarts with every frame, so a slow but moving upload on a
//!   bad mobile link is never cut);
//! * **connection limit** (`http.max_connections`): beyond it, new connections wait in the
//!   kernel's accept queue until one closes.
//!
//! Shutdown is graceful: the listener closes, idle connections close, in-flight requests finish
//! within the grace period; connections still open after it are dropped.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tower_http::timeout::RequestBodyTimeout;

use crate::config::HttpConfig;

/// The service each connection runs: the router under the body idle timeout.
type Service = TowerToHyperService<RequestBodyTimeout<Router>>;

/// One HTTP/1.1 connection.
type Connection = http1::Connection<TokioIo<TcpStream>, Service>;

/// Serves `app` on `listener` until `shutdown` resolves, then drains for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &HttpConfig,
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) {
    let service = RequestBodyTimeout::new(
        app,
        Duration::from_secs(limits.body_idle_timeout_secs.max(1)),
    );
    let http = http1_builder(limits);
    let max = limits.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(max as usize));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while conns.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(service.clone()),
        );
        conns.spawn(run_connection(conn, permit, stop_rx.clone(), peer));
    }
    drop(listener);
    drain(conns, stop_tx, grace).await;
}

/// HTTP/1.1 with keep-alive and the header timeout.
fn http1_builder(limits: &HttpConfig) -> http1::Builder {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.header_timeout_secs.max(1)))
        .keep_alive(true);
    http
}

/// Per-connection failures (reset before accept) and fd exhaustion: the listener itself is
/// fine; back off briefly on the latter.
async fn accept_failed(e: &std::io::Error) {
    tracing::warn!(error = %e, "accept failed");
    if !matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
    ) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs one connection, holding its `permit`, until it ends or `stop` turns true (then it
/// shuts down gracefully: the request in flight finishes).
async fn run_connection(
    conn: Connection,
    permit: OwnedSemaphorePermit,
    mut stop: watch::Receiver<bool>,
    peer: SocketAddr,
) {
    let _permit = permit;
    tokio::pin!(conn);
    let stopping = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let res = tokio::select! {
        r = conn.as_mut() => r,
        () = stopping => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = res {
        // Timeouts and clients that go away end here: expected on a public service.
        tracing::debug!(%peer, error = %e, "connection closed with an error");
    }
}

/// Tells every connection to stop and waits for them for at most `grace`; drops the rest.
async fn drain(mut conns: JoinSet<()>, stop_tx: watch::Sender<bool>, grace: Duration) {
    tracing::info!(
        open = conns.len(),
        "shutdown requested: draining in-flight requests"
    );
    let _ = stop_tx.send(true);
    let drained =
        tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            open = conns.len(),
            "grace period over: closing remaining connections"
        );
        conns.shutdown().await;
    }
}

/// Whether an error (or one of its sources) is the body idle timeout.
pub(crate) fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(x) = cur {
        if x.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cur = x.source();
    }
    false
}
