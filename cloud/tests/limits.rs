//! Issue 19, item 3: the connection limits and timeouts hold against slow and idle clients
//! (slowloris), on a real server and raw TCP.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, DeviceChain, TestServer};
use dashledger_protocol::frames::{encode_leaves, frames_root};
use dashledger_protocol::hash::keccak256;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection (or `limit` passes: a failure). Returns what
/// was read and how long it took.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(start.elapsed()), s.read(&mut buf)).await {
            Err(_) => panic!(
                "the server kept the connection open for {limit:?}; read so far: {}",
                String::from_utf8_lossy(&out)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), start.elapsed())
}

fn addr(s: &TestServer) -> String {
    s.url.trim_start_matches("http://").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_is_cut_with_408() {
    let s = TestServer::start(
        Backend::Sqlite,
        &[
            "http.body_idle_timeout_secs=1",
            "http.header_timeout_secs=30",
        ],
    )
    .await
    .unwrap();
    // Announces 1 MB, sends 1 KB, then nothing (the slowloris, within the route's limit).
    let mut c = TcpStream::connect(addr(&s)).await.unwrap();
    c.write_all(
        b"POST /v1/evidence HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n",
    )
    .await
    .unwrap();
    c.write_all(&[0u8; 1024]).await.unwrap();
    let (answer, took) = read_until_closed(&mut c, Duration::from_secs(20)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!(took < Duration::from_secs(10), "{took:?}");

    // The same on a chunk of a real upload: nothing of the stalled chunk is kept.
    let dev = DeviceChain::new();
    s.approve_device(&dev.key).await;
    let leaves: Vec<_> = (0..3u8).map(|i| keccak256([i])).collect();
    let body = serde_json::to_vec(&json!({
        "ec_address": "0x00000000000000000000000000000000000000ec", "size": 50_000,
        "leaves": format!("0x{}", hex::encode(encode_leaves(&leaves))),
        "frames_root": frames_root(&leaves).unwrap(),
    }))
    .unwrap();
    let up: Value = s
        .signed(&dev.key, reqwest::Method::POST, "/v1/uploads", body)
        .await
        .json()
        .await
        .unwrap();
    let id = up["upload_id"].as_str().unwrap().to_owned();
    let mut c = TcpStream::connect(addr(&s)).await.unwrap();
    c.write_all(
        format!(
            "PUT /v1/uploads/{id}/chunks/0 HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 50000\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    c.write_all(&[7u8; 1000]).await.unwrap();
    let (answer, _) = read_until_closed(&mut c, Duration::from_secs(20)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let st: Value = s
        .client
        .get(s.u(&format!("/v1/uploads/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["received"], 0, "the stalled chunk left nothing: {st}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_and_idle_connections_are_closed() {
    let s = TestServer::start(Backend::Sqlite, &["http.header_timeout_secs=1"])
        .await
        .unwrap();
    // Half a request head, then silence.
    let mut c = TcpStream::connect(addr(&s)).await.unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (_, took) = read_until_closed(&mut c, Duration::from_secs(20)).await;
    assert!(took < Duration::from_secs(10), "{took:?}");
    // A connection that says nothing at all.
    let mut c = TcpStream::connect(addr(&s)).await.unwrap();
    let (answer, took) = read_until_closed(&mut c, Duration::from_secs(20)).await;
    assert!(
        answer.is_empty() && took < Duration::from_secs(10),
        "{answer} {took:?}"
    );
    // A keep-alive connection after a complete request: answered, then closed when idle.
    let mut c = TcpStream::connect(addr(&s)).await.unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (answer, took) = read_until_closed(&mut c, Duration::from_secs(20)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_wait_for_a_free_one() {
    let s = TestServer::start(
        Backend::Sqlite,
        &["http.max_connections=2", "http.header_timeout_secs=60"],
    )
    .await
    .unwrap();
    let idle1 = TcpStream::connect(addr(&s)).await.unwrap();
    let _idle2 = TcpStream::connect(addr(&s)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(800))
        .build()
        .unwrap();
    assert!(
        quick.get(s.u("/healthz")).send().await.is_err(),
        "a third connection is not served while two are open"
    );
    drop(idle1);
    let r = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .get(s.u("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(_idle2);
    s.stop().await;
}
