//! API tests against a real server bound to port 0, on SQLite and on PostgreSQL.
// A test reads as one story, step by step: its length is its steps.
#![allow(clippy::too_many_lines)]

mod common;

use common::{Backend, DeviceChain, S3sFs, TestServer, batch, expect_error};
use dashledger_protocol::frames::{encode_leaves, frames_root};
use dashledger_protocol::hash::keccak256;
use reqwest::Method;
use serde_json::{Value, json};

async fn service_basics(s: &TestServer) {
    let r = s.client.get(s.u("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = s.client.get(s.u("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = s.client.get(s.u("/openapi.json")).send().await.unwrap();
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for route in [
        "/v1/evidence",
        "/v1/uploads/{id}/chunks/{offset}",
        "/v1/clips",
        "/v1/clips/{ec}/download",
        "/v1/relay/evidence",
        "/v1/disputes/{reqc}",
        "/v1/owner/requests",
        "/v1/admin/alarms",
    ] {
        assert!(doc["paths"][route].is_object(), "OpenAPI documents {route}");
    }
    expect_error(
        s.client.get(s.u("/nope")).send().await.unwrap(),
        404,
        "no_route",
    )
    .await;
    expect_error(
        s.client.delete(s.u("/healthz")).send().await.unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
    // A body over the route's limit is a JSON 413, not axum's plain-text one.
    expect_error(
        s.client
            .post(s.u("/v1/evidence"))
            .header("content-type", "application/octet-stream")
            .body(vec![0u8; 100_000])
            .send()
            .await
            .unwrap(),
        413,
        "body_too_large",
    )
    .await;
    let m = s
        .client
        .get(s.u("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("dashledger_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"), "{m}");
}

async fn devices_and_evidence(s: &TestServer) {
    let mut dev = DeviceChain::new();
    let addr = dev.key.address().to_string();

    // Operator auth.
    expect_error(
        s.client
            .post(s.u("/v1/admin/devices"))
            .json(&json!({"address": addr}))
            .send()
            .await
            .unwrap(),
        401,
        "missing_token",
    )
    .await;
    expect_error(
        s.client
            .post(s.u("/v1/admin/devices"))
            .bearer_auth("wrong")
            .json(&json!({"address": addr}))
            .send()
            .await
            .unwrap(),
        401,
        "bad_token",
    )
    .await;
    expect_error(
        s.admin_post("/v1/admin/devices", json!({"address": "0x1234"}))
            .await,
        400,
        "invalid_address",
    )
    .await;
    expect_error(
        s.admin_post("/v1/admin/devices", json!({"adress": addr}))
            .await,
        422,
        "invalid_body",
    )
    .await;

    // Unknown device: refused.
    let r0 = dev.next(b"segment 0");
    let post = |body: Vec<u8>| {
        s.client
            .post(s.u("/v1/evidence"))
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
    };
    expect_error(post(batch(&[r0])).await.unwrap(), 403, "unknown_device").await;

    // Registered but pending: refused. Approved: accepted.
    let r = s
        .admin_post(
            "/v1/admin/devices",
            json!({"address": addr, "label": "cab 7"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "pending");
    expect_error(
        post(batch(&[r0])).await.unwrap(),
        403,
        "device_not_approved",
    )
    .await;
    let r = s
        .admin_post(&format!("/v1/admin/devices/{addr}/approve"), json!({}))
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "approved");

    let r1 = dev.next(b"segment 1");
    let r2 = dev.next(b"segment 2");
    let res: Value = post(batch(&[r0, r1, r2]))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["accepted"], 3, "{res}");
    assert_eq!(res["duplicates"], 0);
    assert_eq!(res["findings"].as_array().unwrap().len(), 0, "{res}");

    // Re-sent: idempotent (JSON form this time).
    let hexes: Vec<String> = [r1, r2]
        .iter()
        .map(|r| format!("0x{}", hex::encode(r.encode())))
        .collect();
    let res: Value = s
        .client
        .post(s.u("/v1/evidence"))
        .json(&json!({"records": hexes}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (res["accepted"].as_u64(), res["duplicates"].as_u64()),
        (Some(0), Some(2)),
        "{res}"
    );

    // A gap (seq 3 skipped) and then a fork of seq 4.
    let _r3 = dev.next(b"segment 3 (lost)");
    let r4 = dev.next(b"segment 4");
    let res: Value = post(batch(&[r4])).await.unwrap().json().await.unwrap();
    assert_eq!(res["findings"][0]["kind"], "gap", "{res}");
    assert_eq!(res["findings"][0]["seq"], 3);
    let mut forker = DeviceChain {
        key: dev.key.clone(),
        prev: keccak256(b"segment 3 (lost)"),
        seq: 4,
        start: dev.start,
    };
    let r4b = forker.next(b"segment 4, other content");
    let res: Value = post(batch(&[r4b])).await.unwrap().json().await.unwrap();
    assert_eq!(res["accepted"], 0);
    assert_eq!(res["findings"][0]["kind"], "fork", "{res}");

    // A break: seq 5 whose prev_hash is not segment 4's hash.
    let mut breaker = DeviceChain {
        key: dev.key.clone(),
        prev: keccak256(b"not segment 4"),
        seq: 5,
        start: dev.start,
    };
    let res: Value = post(batch(&[breaker.next(b"segment 5")]))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["findings"][0]["kind"], "break", "{res}");

    // The operator sees the alarms.
    let alarms: Value = s
        .admin_get(&format!("/v1/admin/alarms?device={addr}"))
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = alarms["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["gap", "fork", "break"], "{alarms}");
    let id = alarms["alarms"][0]["id"].as_i64().unwrap();
    assert_eq!(
        s.admin_post(&format!("/v1/admin/alarms/{id}/ack"), json!({}))
            .await
            .status(),
        200
    );
    let alarms: Value = s.admin_get("/v1/admin/alarms").await.json().await.unwrap();
    assert_eq!(alarms["alarms"].as_array().unwrap().len(), 2);

    // Bad input: tampered signature, bad lengths, wrong content type, too many records.
    let mut bytes = r0.encode();
    bytes[100] ^= 1;
    expect_error(post(bytes.to_vec()).await.unwrap(), 401, "bad_signature").await;
    let mut bytes = dev.next(b"segment 6").encode().to_vec();
    bytes[70] ^= 1; // segment hash altered after signing
    expect_error(post(bytes).await.unwrap(), 401, "bad_signature").await;
    expect_error(post(vec![0u8; 160]).await.unwrap(), 400, "malformed_batch").await;
    expect_error(post(Vec::new()).await.unwrap(), 400, "empty_batch").await;
    expect_error(
        s.client
            .post(s.u("/v1/evidence"))
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    expect_error(
        s.client
            .post(s.u("/v1/evidence"))
            .json(&json!({"records": ["0xzz"]}))
            .send()
            .await
            .unwrap(),
        400,
        "malformed_record",
    )
    .await;
    let many: Vec<_> = (0..11)
        .map(|i| dev.next(format!("s{i}").as_bytes()))
        .collect();
    expect_error(post(batch(&many)).await.unwrap(), 413, "batch_too_large").await;

    // A batch with one record of an unknown device is refused whole: nothing stored.
    let mut stranger = DeviceChain::new();
    let good = many[0];
    expect_error(
        post(batch(&[good, stranger.next(b"x")])).await.unwrap(),
        403,
        "unknown_device",
    )
    .await;
    let res: Value = post(batch(&[good])).await.unwrap().json().await.unwrap();
    assert_eq!(
        res["accepted"], 1,
        "the refused batch stored nothing: {res}"
    );

    // Revoked: refused.
    s.admin_post(&format!("/v1/admin/devices/{addr}/revoke"), json!({}))
        .await;
    expect_error(
        post(batch(&[many[1]])).await.unwrap(),
        403,
        "revoked_device",
    )
    .await;
    let list: Value = s
        .admin_get("/v1/admin/devices?status=revoked")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let m = s
        .client
        .get(s.u("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("dashledger_evidence_records_accepted_total 6"),
        "{m}"
    );
}

fn jpeg(tag: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0];
    v.extend_from_slice(tag.as_bytes());
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

fn sample_clip(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i.wrapping_mul(7919) >> 3) as u8).collect()
}

async fn c2pa_put(
    s: &TestServer,
    id: &str,
    ct: &str,
    data: Vec<u8>,
) -> reqwest::Result<reqwest::Response> {
    s.client
        .put(s.u(&format!("/v1/uploads/{id}/c2pa")))
        .header("content-type", ct)
        .body(data)
        .send()
        .await
}

async fn upload_flow(mut s: TestServer, s3: Option<&S3sFs>) {
    let dev = DeviceChain::new();
    s.approve_device(&dev.key).await;
    let clip = sample_clip(300_000);
    let leaves: Vec<_> = (0..60u8).map(|i| keccak256([i])).collect();
    let root = frames_root(&leaves).unwrap();
    let ec = "0x00000000000000000000000000000000000000ec";
    let create = |size: usize, root: String| {
        serde_json::to_vec(&json!({
            "ec_address": ec, "size": size,
            "leaves": format!("0x{}", hex::encode(encode_leaves(&leaves))),
            "frames_root": root,
        }))
        .unwrap()
    };

    // Unsigned, unknown signer, bad root, oversized: refused.
    expect_error(
        s.client
            .post(s.u("/v1/uploads"))
            .body(create(clip.len(), root.to_string()))
            .send()
            .await
            .unwrap(),
        401,
        "missing_signature",
    )
    .await;
    let stranger = DeviceChain::new();
    expect_error(
        s.signed(
            &stranger.key,
            Method::POST,
            "/v1/uploads",
            create(clip.len(), root.to_string()),
        )
        .await,
        403,
        "unknown_device",
    )
    .await;
    expect_error(
        s.signed(
            &dev.key,
            Method::POST,
            "/v1/uploads",
            create(clip.len(), keccak256(b"x").to_string()),
        )
        .await,
        422,
        "frames_root_mismatch",
    )
    .await;
    expect_error(
        s.signed(
            &dev.key,
            Method::POST,
            "/v1/uploads",
            create(20_000_000, root.to_string()),
        )
        .await,
        413,
        "clip_too_large",
    )
    .await;

    let r = s
        .signed(
            &dev.key,
            Method::POST,
            "/v1/uploads",
            create(clip.len(), root.to_string()),
        )
        .await;
    assert_eq!(r.status(), 201);
    let up: Value = r.json().await.unwrap();
    let id = up["upload_id"].as_str().unwrap().to_string();
    assert_eq!(up["received"], 0);

    let put = |s: &TestServer, off: usize, data: Vec<u8>| {
        s.client
            .put(s.u(&format!("/v1/uploads/{id}/chunks/{off}")))
            .header("content-type", "application/octet-stream")
            .body(data)
            .send()
    };
    // First 100 kB.
    let r: Value = put(&s, 0, clip[..100_000].to_vec())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["received"], 100_000, "{r}");
    // Wrong offset, oversized chunk, beyond the declared size, wrong content type.
    let e = expect_error(
        put(&s, 50_000, clip[50_000..60_000].to_vec())
            .await
            .unwrap(),
        409,
        "offset_mismatch",
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("100000"));
    expect_error(
        put(&s, 100_000, vec![0u8; 150_000]).await.unwrap(),
        413,
        "chunk_too_large",
    )
    .await;
    expect_error(
        s.client
            .put(s.u(&format!("/v1/uploads/{id}/chunks/100000")))
            .body(vec![1u8; 10])
            .send()
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    // A failed chunk left nothing: status still 100 000.
    let st: Value = s
        .client
        .get(s.u(&format!("/v1/uploads/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["received"], 100_000);

    // Simulate a crash mid-chunk: garbage beyond the acknowledged length in the spool.
    let spool = s.dir.path().join("spool").join(format!("{id}.part"));
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&spool)
            .unwrap();
        f.write_all(&[0xAA; 5000]).unwrap();
    }
    // Restart the server in the middle of the upload.
    s.restart().await;
    let st: Value = s
        .client
        .get(s.u(&format!("/v1/uploads/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["received"], 100_000, "{st}");
    // Re-creating the session for the same EC returns the same upload (resume).
    let again: Value = s
        .signed(
            &dev.key,
            Method::POST,
            "/v1/uploads",
            create(clip.len(), root.to_string()),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["upload_id"], id.as_str());
    let mut off = st["received"].as_u64().unwrap() as usize;
    while off < clip.len() {
        let end = (off + 90_000).min(clip.len());
        let r: Value = put(&s, off, clip[off..end].to_vec())
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        off = r["received"].as_u64().unwrap() as usize;
    }
    expect_error(put(&s, off, vec![1]).await.unwrap(), 413, "beyond_size").await;

    // Thumbnails: JPEG only, then complete.
    expect_error(
        s.client
            .post(s.u(&format!("/v1/uploads/{id}/complete")))
            .send()
            .await
            .unwrap(),
        409,
        "missing_thumbnail",
    )
    .await;
    let thumb = |which: &str, ct: &str, data: Vec<u8>| {
        s.client
            .put(s.u(&format!("/v1/uploads/{id}/thumbnails/{which}")))
            .header("content-type", ct)
            .body(data)
            .send()
    };
    expect_error(
        thumb("first", "image/jpeg", b"not a jpeg".to_vec())
            .await
            .unwrap(),
        422,
        "not_jpeg",
    )
    .await;
    expect_error(
        thumb("first", "image/png", jpeg("a")).await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    expect_error(
        thumb("middle", "image/jpeg", jpeg("a")).await.unwrap(),
        404,
        "unknown_thumbnail",
    )
    .await;
    assert_eq!(
        thumb("first", "image/jpeg", jpeg("first"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        thumb("last", "image/jpeg", jpeg("last"))
            .await
            .unwrap()
            .status(),
        200
    );
    // The C2PA sidecar (optional): application/c2pa, a JUMBF manifest store, capped.
    let mut sidecar = vec![0, 0, 0, 0x40];
    sidecar.extend_from_slice(
        b"jumb\0\0\0\x38jumdc2pa\0\x11\0\x10\x80\0\0\xaa\0\x38\x9b\x71\x03c2pa\0",
    );
    sidecar.resize(200, 7);
    expect_error(
        c2pa_put(&s, &id, "image/jpeg", sidecar.clone())
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    expect_error(
        c2pa_put(&s, &id, "application/c2pa", jpeg("not c2pa"))
            .await
            .unwrap(),
        422,
        "not_c2pa",
    )
    .await;
    expect_error(
        c2pa_put(&s, &id, "application/c2pa", vec![0u8; 300 << 10])
            .await
            .unwrap(),
        413,
        "c2pa_too_large",
    )
    .await;
    let st: Value = s
        .client
        .get(s.u(&format!("/v1/uploads/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["c2pa"], false, "{st}");
    let up = c2pa_put(&s, &id, "application/c2pa", sidecar.clone())
        .await
        .unwrap();
    assert_eq!(up.status(), 200);
    let st: Value = up.json().await.unwrap();
    assert_eq!(st["c2pa"], true, "{st}");
    if s3.is_none() {
        // Simulate a crash after the clip reached blob storage (which consumes the spool file)
        // but before the database recorded it: completing after the restart still works.
        s.stop_keep().await;
        let dest = s.dir.path().join("blobs").join("clips");
        std::fs::create_dir_all(&dest).unwrap();
        std::fs::rename(&spool, dest.join(format!("{ec}.sealed"))).unwrap();
        s.restart().await;
    }
    let done: Value = s
        .client
        .post(s.u(&format!("/v1/uploads/{id}/complete")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done["cipher_hash"], keccak256(&clip).to_string(), "{done}");
    assert_eq!(done["frame_hash"], keccak256(jpeg("first")).to_string());
    assert_eq!(done["size"], clip.len());
    // Completing again is idempotent; the stored bytes are identical; the spool is gone.
    let again: Value = s
        .client
        .post(s.u(&format!("/v1/uploads/{id}/complete")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["cipher_hash"], done["cipher_hash"]);
    let key = format!("clips/{ec}.sealed");
    let stored = match s3 {
        None => common::read_all(&s.dir.path().join("blobs").join(&key)),
        Some(fs) => {
            use dashledger_cloud::blob::BlobStore;
            let b = fs.blobs("uploads");
            assert_eq!(b.size(&key).await.unwrap(), Some(clip.len() as u64));
            b.get_bytes(&key).await.unwrap().unwrap().to_vec()
        }
    };
    assert_eq!(stored, clip, "stored clip equals the uploaded bytes");
    assert!(!spool.exists());
    // The sidecar is kept per upload beside the clip, byte for byte; none can be added now.
    let c2pa_key = format!("c2pa/{ec}/{id}.c2pa");
    let stored_c2pa = match s3 {
        None => common::read_all(&s.dir.path().join("blobs").join(&c2pa_key)),
        Some(fs) => {
            use dashledger_cloud::blob::BlobStore;
            fs.blobs("uploads")
                .get_bytes(&c2pa_key)
                .await
                .unwrap()
                .unwrap()
                .to_vec()
        }
    };
    assert_eq!(stored_c2pa, sidecar);
    expect_error(
        c2pa_put(&s, &id, "application/c2pa", sidecar.clone())
            .await
            .unwrap(),
        409,
        "upload_complete",
    )
    .await;
    // A second session for the same EC is refused; chunks to a finished upload are refused.
    expect_error(
        s.signed(
            &dev.key,
            Method::POST,
            "/v1/uploads",
            create(clip.len(), root.to_string()),
        )
        .await,
        409,
        "already_uploaded",
    )
    .await;
    expect_error(put(&s, 0, vec![1]).await.unwrap(), 409, "upload_complete").await;
    expect_error(
        s.client
            .get(s.u("/v1/uploads/not-an-id"))
            .send()
            .await
            .unwrap(),
        404,
        "unknown_upload",
    )
    .await;
    s.stop().await;
}

/// Issue 19 item 5: a late record that fills a gap is checked against both neighbours.
async fn late_records(s: &TestServer) {
    let post = |body: Vec<u8>| {
        s.client
            .post(s.u("/v1/evidence"))
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
    };
    let kinds = |v: &Value| -> Vec<(String, u64)> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["kind"].as_str().unwrap().to_owned(),
                    f["seq"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    // Each device sends 0, 1 and 3 (a gap at 2), then a record 2.
    for (name, late, want) in [
        ("honest", 0u8, vec![("reordered", 2u64)]),
        ("wrong prev_hash", 1, vec![("reordered", 2), ("break", 2)]),
        (
            "wrong content for 3",
            2,
            vec![("reordered", 2), ("break", 3)],
        ),
    ] {
        let mut dev = DeviceChain::new();
        s.approve_device(&dev.key).await;
        let recs: Vec<_> = (0..4)
            .map(|i| dev.next(format!("segment {i}").as_bytes()))
            .collect();
        let gap: Value = post(batch(&[recs[0], recs[1], recs[3]]))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(kinds(&gap), vec![("gap".to_owned(), 2)], "{name}: {gap}");
        let record2 = match late {
            0 => recs[2],
            1 => DeviceChain {
                key: dev.key.clone(),
                prev: keccak256(b"not segment 1"),
                seq: 2,
                start: dev.start,
            }
            .next(b"segment 2"),
            _ => DeviceChain {
                key: dev.key.clone(),
                prev: keccak256(b"segment 1"),
                seq: 2,
                start: dev.start,
            }
            .next(b"segment 2, other content"),
        };
        let res: Value = post(batch(&[record2])).await.unwrap().json().await.unwrap();
        let want: Vec<(String, u64)> = want.iter().map(|(k, q)| (k.to_string(), *q)).collect();
        assert_eq!(kinds(&res), want, "{name}: {res}");
        assert_eq!(res["accepted"], 1, "{name}: {res}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_service_devices_evidence() {
    let s = TestServer::start(Backend::Sqlite, &["ingest.max_batch_records=10"])
        .await
        .unwrap();
    service_basics(&s).await;
    devices_and_evidence(&s).await;
    late_records(&s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_upload_resumes_across_restart() {
    let s = TestServer::start(
        Backend::Sqlite,
        &[
            "upload.max_chunk_bytes=100000",
            "upload.max_clip_bytes=10000000",
        ],
    )
    .await
    .unwrap();
    upload_flow(s, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_service_devices_evidence() {
    let Some(s) = TestServer::start(Backend::Postgres, &["ingest.max_batch_records=10"]).await
    else {
        return;
    };
    service_basics(&s).await;
    devices_and_evidence(&s).await;
    late_records(&s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_upload_resumes_across_restart() {
    let Some(s) = TestServer::start(
        Backend::Postgres,
        &[
            "upload.max_chunk_bytes=100000",
            "upload.max_clip_bytes=10000000",
        ],
    )
    .await
    else {
        return;
    };
    upload_flow(s, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_request_replay_is_refused() {
    let s = TestServer::start(Backend::Sqlite, &[]).await.unwrap();
    let dev = DeviceChain::new();
    s.approve_device(&dev.key).await;
    let body = b"{}".to_vec();
    let parts = dashledger_protocol::auth::RequestParts {
        chain_id: 31337,
        method: "POST",
        path: "/v1/uploads",
        body: &body,
    };
    let h = dashledger_protocol::auth::sign_request(&dev.key, &parts, common::now() + 60).unwrap();
    let send = || {
        let mut r = s.client.post(s.u("/v1/uploads")).body(body.clone());
        for (k, v) in h.to_pairs() {
            r = r.header(k, v);
        }
        r.send()
    };
    // First use passes auth (then fails on the body), the replay fails on the nonce.
    expect_error(send().await.unwrap(), 400, "malformed_body").await;
    expect_error(send().await.unwrap(), 401, "replayed_request").await;
    // Expired.
    let h2 = dashledger_protocol::auth::sign_request(&dev.key, &parts, common::now() - 1).unwrap();
    let mut r = s.client.post(s.u("/v1/uploads")).body(body.clone());
    for (k, v) in h2.to_pairs() {
        r = r.header(k, v);
    }
    expect_error(r.send().await.unwrap(), 401, "bad_signature").await;
    s.stop().await;
}

/// Writes 30 listings, one a minute from t = 1 000 000, on a line going north from (48.0, 2.0),
/// ~111 m apart.
async fn insert_listings(s: &TestServer) {
    // Listings are written by the indexer in production; here directly, through the same schema.
    let cfg = dashledger_cloud::config::Config::load(
        None,
        Vec::new(),
        &[
            format!("data_dir={}", s.dir.path().display()),
            format!("database_url={}", s.db_url),
        ]
        .into_iter()
        .filter(|o| o != "database_url=")
        .collect::<Vec<_>>(),
    )
    .unwrap();
    let db = dashledger_cloud::store::Store::connect(&cfg.database_url(), 1)
        .await
        .unwrap();
    // 30 clips, one a minute, on a line going north from (48.0, 2.0), ~111 m apart.
    for i in 0..30i64 {
        sqlx::query("INSERT INTO listings (ec_address, t, lat, lon, status, block_number) VALUES ($1, $2, $3, $4, 'verified', 1)")
            .bind(format!("{:#042x}", i + 1))
            .bind(1_000_000 + 60 * i)
            .bind(48.0 + i as f64 * 0.001)
            .bind(2.0)
            .execute(db.pool())
            .await
            .unwrap();
    }
    db.close().await;
}

async fn search_flow(s: &TestServer) {
    insert_listings(s).await;
    let get = |q: String| {
        let c = s.client.clone();
        let u = s.u(&format!("/v1/clips?{q}"));
        async move { c.get(u).send().await.unwrap() }
    };
    // Box, paginated by 7: 30 hits over 5 pages, in time order, no repeats.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r: Value = get(format!(
            "from=1000000&to=1002000&min_lat=47.9&max_lat=48.1&min_lon=1.9&max_lon=2.1&limit=7{cursor}"
        ))
        .await
        .json()
        .await
        .unwrap();
        for it in r["items"].as_array().unwrap() {
            seen.push(it["recorded_at"].as_i64().unwrap());
            assert!(
                it["thumbnails"]["first"]
                    .as_str()
                    .unwrap()
                    .ends_with("/thumbnails/first")
            );
        }
        match r["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (0..30).map(|i| 1_000_000 + 60 * i).collect::<Vec<_>>()
    );
    // Radius 500 m around clip 10: clips 6..=14 (≈111 m apart), and only in the time range.
    let r: Value = get("from=1000000&to=1002000&lat=48.010&lon=2.0&radius_m=500".into())
        .await
        .json()
        .await
        .unwrap();
    let ts: Vec<i64> = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["recorded_at"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ts,
        (6..=14).map(|i| 1_000_000 + 60 * i).collect::<Vec<_>>(),
        "{r}"
    );
    let r: Value = get("from=1000000&to=1000300&lat=48.010&lon=2.0&radius_m=500".into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["items"].as_array().unwrap().len(), 0);
    // Bad queries are 400 with a reason.
    for q in [
        "from=5&to=1&lat=48&lon=2&radius_m=10",
        "from=1&to=5",
        "from=1&to=5&lat=48&lon=2&radius_m=10&min_lat=1&max_lat=2&min_lon=1&max_lon=2",
        "from=1&to=5&lat=91&lon=2&radius_m=10",
        "from=1&to=5&lat=48&lon=2&radius_m=0",
        "from=1&to=5&lat=48&lon=2&radius_m=10&limit=0",
        "from=1&to=5&lat=48&lon=2&radius_m=10&cursor=garbage",
        "from=x&to=5",
        // Issue 19 item 2: extreme values are a 400, not a dropped connection or a wrapped range.
        "from=-9223372036854775808&to=9223372036854775807&lat=48&lon=2&radius_m=10",
        "from=-9223372036854775808&to=0&lat=48&lon=2&radius_m=10",
        "from=0&to=9223372036854775807&min_lat=1&max_lat=2&min_lon=1&max_lon=2",
        "from=0&to=9223372036854775808&lat=48&lon=2&radius_m=10",
    ] {
        let r = get(q.into()).await;
        assert_eq!(r.status(), 400, "{q}");
        let v: Value = r.json().await.unwrap();
        assert!(v["message"].as_str().is_some(), "{q}");
    }
    // The edges of i64 themselves are valid (empty) ranges.
    for q in [
        "from=-9223372036854775808&to=-9223372036854775800&lat=48&lon=2&radius_m=10",
        "from=9223372036854775800&to=9223372036854775807&lat=48&lon=2&radius_m=10",
    ] {
        let r = get(q.into()).await;
        assert_eq!(r.status(), 200, "{q}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["items"].as_array().unwrap().len(), 0, "{q}: {v}");
    }
    expect_error(
        s.client
            .get(s.u("/v1/clips/0x00000000000000000000000000000000000000ff"))
            .send()
            .await
            .unwrap(),
        404,
        "unknown_ec",
    )
    .await;
    // Chain-backed routes without a chain: 503 with a clear code, never a panic.
    expect_error(
        s.client
            .post(s.u("/v1/disputes/0x00000000000000000000000000000000000000ff"))
            .send()
            .await
            .unwrap(),
        503,
        "chain_disabled",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_search() {
    let s = TestServer::start(Backend::Sqlite, &[]).await.unwrap();
    search_flow(&s).await;
    s.stop().await;
}

/// A query without `limit` gets pages of the configured maximum when it is below the default 50,
/// not a 400 (the web page sends no `limit`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_search_default_page_fits_a_small_maximum() {
    let s = TestServer::start(Backend::Sqlite, &["search.max_page_size=4"])
        .await
        .unwrap();
    insert_listings(&s).await;
    let mut seen = 0;
    let mut cursor = String::new();
    loop {
        let r = s
            .client
            .get(s.u(&format!(
                "/v1/clips?from=1000000&to=1002000&min_lat=47.9&max_lat=48.1&min_lon=1.9&max_lon=2.1{cursor}"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        let n = v["items"].as_array().unwrap().len();
        assert!(n <= 4, "{v}");
        seen += n;
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, 30);
    // An explicit limit over the maximum is still refused.
    let r = s
        .client
        .get(s.u("/v1/clips?from=1000000&to=1002000&lat=48&lon=2&radius_m=500&limit=5"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_search() {
    let Some(s) = TestServer::start(Backend::Postgres, &[]).await else {
        return;
    };
    search_flow(&s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_upload_resumes_across_restart() {
    let Some(fs) = S3sFs::start() else {
        return;
    };
    let creds = tempfile::tempdir().unwrap();
    let mut extra = fs.overrides(creds.path(), "uploads");
    extra.push("upload.max_chunk_bytes=100000".into());
    extra.push("upload.max_clip_bytes=10000000".into());
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let s = TestServer::start(Backend::Sqlite, &extra).await.unwrap();
    // Readiness covers the object store (it writes a probe object).
    let r = s.client.get(s.u("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    upload_flow(s, Some(&fs)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_blob_store_round_trips() {
    use dashledger_cloud::blob::BlobStore;
    use futures_util::StreamExt;
    let Some(fs) = S3sFs::start() else {
        return;
    };
    let b = fs.blobs("p");
    b.ready().await.unwrap();
    assert_eq!(b.size("clips/none").await.unwrap(), None);
    assert_eq!(b.get_bytes("clips/none").await.unwrap(), None);
    b.put_bytes("thumbs/a/first.jpg", bytes::Bytes::from_static(b"jpeg"))
        .await
        .unwrap();
    assert_eq!(
        b.get_bytes("thumbs/a/first.jpg").await.unwrap().unwrap(),
        bytes::Bytes::from_static(b"jpeg")
    );
    // A file larger than one part goes up as a multipart upload and comes back identical,
    // also in ranges; the source (spool) file is consumed.
    let data: Vec<u8> = (0..(19u32 << 20) + 12345)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("spool.part");
    std::fs::write(&src, &data).unwrap();
    b.put_file("clips/big.sealed", &src).await.unwrap();
    assert!(!src.exists());
    assert_eq!(
        b.size("clips/big.sealed").await.unwrap(),
        Some(data.len() as u64)
    );
    for (start, end) in [
        (0u64, data.len() as u64),
        (5, 9_000_001),
        (17 << 20, (17 << 20) + 1),
    ] {
        let mut got = Vec::new();
        let mut st = b.read_range("clips/big.sealed", start, end).await.unwrap();
        while let Some(c) = st.next().await {
            got.extend_from_slice(&c.unwrap());
        }
        assert!(
            got == data[start as usize..end as usize],
            "range {start}..{end}"
        );
    }
    // Keys are checked as for the local store.
    assert!(b.put_bytes("../x", bytes::Bytes::new()).await.is_err());
}

/// A database migrated by the hand-written runner before sqlx's (`schema_migrations` at
/// version 1, with rows) is adopted: version 2 runs, nothing is lost, a second run is a no-op.
async fn legacy_database_is_adopted(url: &str, init_sql: &str) {
    use dashledger_cloud::store::Store;
    let store = Store::connect(url, 1).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(init_sql))
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL); \
         INSERT INTO schema_migrations VALUES (1, '0001_init', 0); \
         INSERT INTO devices (address, status, label, created_at, updated_at) VALUES ('0x00000000000000000000000000000000000000aa', 'approved', 'old', 0, 0);",
    )
    .execute(store.pool())
    .await
    .unwrap();
    assert_eq!(store.migrate().await.unwrap(), vec![2]);
    assert_eq!(store.schema_version().await.unwrap(), 2);
    assert!(store.ready().await.is_ok());
    let d = store
        .device("0x00000000000000000000000000000000000000aa")
        .await
        .unwrap()
        .expect("the old row survived");
    assert_eq!(d.label, "old");
    assert!(store.migrate().await.unwrap().is_empty());
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_legacy_database_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    legacy_database_is_adopted(&url, include_str!("../migrations/sqlite/0001_init.sql")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_legacy_database_is_adopted() {
    let Some(pg) = common::PgCluster::start() else {
        return;
    };
    legacy_database_is_adopted(
        &pg.url,
        include_str!("../migrations/postgres/0001_init.sql"),
    )
    .await;
}
