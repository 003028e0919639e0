//! The evidence chain never waits for the network: an accident's clip upload crawls (every chunk
//! held for seconds by a proxy in front of the real cloud) while three new segments arrive.
//! Their evidence records are made and acknowledged while the upload is still going; SIGTERM
//! stops the daemon at once instead of waiting for the upload; after a restart (the proxy gone)
//! the upload resumes and the accident ends verified, with every record in the cloud and no
//! alarm. Real parts: anvil with the forge-compiled contracts, the real cloud, the agent binary.
// A test reads as one story, step by step: its length is its steps.
#![allow(clippy::too_many_lines)]
// Needs the chain + cloud harness (dashledger-testkit), which the Pi cross build leaves out.
#![cfg(not(dashledger_cross))]

mod chain_env;
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chain_env::Env;
use dashledger_agent::outbox::{Counts, Outbox};
use dashledger_protocol::record::SegmentTime;

/// How long the proxy holds every upload chunk before passing it on.
const CRAWL: Duration = Duration::from_secs(15);

/// An HTTP proxy in front of the cloud that passes everything through at once, except upload
/// chunks (`PUT /v1/uploads/{id}/chunks/{offset}`), which it holds for [`CRAWL`] each.
struct SlowUploads {
    url: String,
    chunks_seen: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl SlowUploads {
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let chunks_seen = Arc::new(AtomicUsize::new(0));
        let seen = chunks_seen.clone();
        let client = reqwest::Client::new();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let (client, target, seen) = (client.clone(), target.clone(), seen.clone());
            async move { forward(&client, &target, &seen, req).await }
        });
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            chunks_seen,
            task,
        }
    }

    fn chunks_seen(&self) -> usize {
        self.chunks_seen.load(Ordering::SeqCst)
    }
}

impl Drop for SlowUploads {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    client: &reqwest::Client,
    target: &str,
    seen: &AtomicUsize,
    req: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 64 << 20).await.unwrap();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    if parts.method == axum::http::Method::PUT && path.contains("/chunks/") {
        seen.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(CRAWL).await;
    }
    let mut out = client.request(parts.method, format!("{target}{path}"));
    for (k, v) in &parts.headers {
        if k != axum::http::header::HOST && k != axum::http::header::CONTENT_LENGTH {
            out = out.header(k, v);
        }
    }
    match out.body(body).send().await {
        Ok(resp) => {
            let mut b = axum::response::Response::builder().status(resp.status());
            for (k, v) in resp.headers() {
                if k != axum::http::header::CONTENT_LENGTH
                    && k != axum::http::header::TRANSFER_ENCODING
                {
                    b = b.header(k, v);
                }
            }
            let bytes = resp.bytes().await.unwrap_or_default();
            b.body(axum::body::Body::from(bytes)).unwrap()
        }
        Err(e) => axum::response::Response::builder()
            .status(502)
            .body(axum::body::Body::from(e.to_string()))
            .unwrap(),
    }
}

fn counts(env: &Env) -> Counts {
    Outbox::open(&env.outbox_path()).unwrap().counts().unwrap()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crawling_upload_holds_up_no_record_and_sigterm_stops_at_once() {
    // The relayer path (no `chain.rpc_url`): every network step of the accident goes to the cloud.
    let mut env = Env::start_with("", "", false).await;
    let proxy = SlowUploads::start(env.cloud_url()).await;
    let direct = std::fs::read_to_string(&env.config).unwrap();
    assert!(direct.contains(&env.cloud_url()));
    std::fs::write(&env.config, direct.replace(&env.cloud_url(), &proxy.url)).unwrap();

    // The accident: a crash minute ten minutes ago, marked by the event button.
    let watch = env.agent_root.join("watch");
    let start = unix_now() - 600;
    let crash = watch.join(format!("{}.mp4", SegmentTime::from_unix(start).unwrap()));
    std::fs::copy(common::minute_of("crash_cctv.mp4"), &crash).unwrap();
    std::fs::write(watch.join("EVENT"), b"").unwrap();
    let daemon = common::Daemon::start(&env.config);

    // Wait until the clip upload is under way (the first chunk is being held).
    let deadline = Instant::now() + Duration::from_secs(180);
    while proxy.chunks_seen() == 0 {
        assert!(
            Instant::now() < deadline,
            "the upload never started: {:?}",
            counts(&env)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(counts(&env).records_sent, 1, "the crash minute's record");

    // Three new segments arrive while the upload crawls.
    let normal = common::minute_of("normal_dashcam.mp4");
    let arrived = Instant::now();
    for i in 1..=3u64 {
        let name = format!("{}.mp4", SegmentTime::from_unix(start + 60 * i).unwrap());
        std::fs::copy(&normal, watch.join(name)).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let deadline = arrived + Duration::from_secs(60);
    loop {
        let c = counts(&env);
        if c.records_sent == 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "records of the new segments held up by the upload: {c:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = arrived.elapsed();
    let c = counts(&env);
    assert_eq!(
        (c.accidents_open, c.accidents_done),
        (1, 0),
        "the upload must still be going for this test to mean anything: {c:?}"
    );
    println!(
        "4 records acknowledged {took:?} after the new segments arrived, upload chunk {} held",
        proxy.chunks_seen()
    );

    // SIGTERM in the middle of the crawling upload: the daemon stops at once, cleanly.
    let stop_started = Instant::now();
    assert!(daemon.stop(), "SIGTERM stops the daemon cleanly");
    let stop_took = stop_started.elapsed();
    println!("SIGTERM to exit: {stop_took:?} (a chunk takes {CRAWL:?} through the proxy)");
    assert!(
        stop_took < Duration::from_secs(3),
        "the daemon waited for the upload: {stop_took:?}"
    );
    let o = Outbox::open(&env.outbox_path()).unwrap();
    let open = o.open_accidents().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        open[0].stage,
        dashledger_agent::outbox::AccidentStage::EcCreated,
        "the EC exists, the upload is open"
    );
    let p: dashledger_agent::accident::Prepared =
        serde_json::from_str(open[0].detail.as_deref().unwrap()).unwrap();
    assert!(
        p.upload_id.is_some(),
        "the upload session is kept to resume"
    );
    drop(o);
    let (attempts, last_error): (i64, Option<String>) =
        rusqlite::Connection::open(env.outbox_path())
            .unwrap()
            .query_row("SELECT attempts, last_error FROM accidents", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
    assert_eq!(
        (attempts, last_error.as_deref()),
        (0, None),
        "a stop is not a failure"
    );

    // Restart without the proxy: the upload resumes and the accident ends verified and listed.
    drop(proxy);
    std::fs::write(&env.config, direct).unwrap();
    let daemon = common::Daemon::start(&env.config);
    let prepared = env.wait_accident_done(1).await;
    env.wait_verified_and_listed(&prepared).await;
    assert!(daemon.stop(), "SIGTERM stops the daemon cleanly");

    let c = counts(&env);
    assert_eq!((c.records_sent, c.records_unsent), (4, 0), "{c:?}");
    let device = env.init["device_address"].as_str().unwrap().to_owned();
    let dev = env
        .cloud
        .admin_get(&format!("/v1/admin/devices/{device}"))
        .await;
    assert_eq!(dev["last_seq"], serde_json::json!(3), "{dev}");
    let alarms = env.cloud.admin_get("/v1/admin/alarms").await.to_string();
    assert!(
        !alarms.contains("gap") && !alarms.contains("fork") && !alarms.contains("reorder"),
        "alarms: {alarms}"
    );
    env.cloud.shutdown().await;
}
