//! The dashledger cloud's HTTP API as the requester uses it: search (`GET /v1/clips`) and the
//! signed, resumable sealed-clip download (`GET /v1/requests/{reqc}/clip`, HTTP Range).

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use dashledger_protocol::auth::{RequestParts, sign_request};
use futures_util::StreamExt;
use indicatif::ProgressBar;
use reqwest::{StatusCode, Url, header};

use crate::error::{Error, Result};

pub use crate::area::Area;

use dashledger_api::ErrorBody;
use dashledger_api::clips::Page;
/// One search hit, and its thumbnail links (the API's types).
pub use dashledger_api::clips::{Hit, ThumbnailLinks as Thumbs};

/// A cloud client.
#[derive(Clone, Debug)]
pub struct Cloud {
    base: Url,
    http: reqwest::Client,
}

/// An error with its sources ("a: b: c"): reqwest hides the reason (connection refused…) there.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        let m = x.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = x.source();
    }
    s
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Cloud {
    /// A client for the cloud at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Result<Self> {
        let base: Url = base
            .parse()
            .map_err(|e| Error::Config(format!("--cloud-url {base:?} is not a URL: {e}")))?;
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { base, http })
    }

    fn label(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
    }

    fn down(&self, e: impl std::fmt::Display) -> Error {
        Error::CloudDown {
            url: self.label(),
            reason: e.to_string(),
        }
    }

    /// An absolute URL for a path (or an absolute link as is).
    pub fn url(&self, p: &str) -> Result<Url> {
        self.base
            .join(p)
            .map_err(|e| Error::Config(format!("bad cloud link {p:?}: {e}")))
    }

    async fn check(&self, what: &str, resp: reqwest::Response) -> Result<reqwest::Response> {
        let status = resp.status();
        if matches!(status.as_u16(), 502..=504) {
            return Err(self.down(format!("HTTP {status}")));
        }
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let detail = serde_json::from_str::<ErrorBody>(&text)
            .ok()
            .map(|b| format!("{}: {}", b.error, b.message))
            .unwrap_or_else(|| text.chars().take(300).collect());
        Err(Error::CloudHttp {
            what: what.to_owned(),
            status: status.as_u16(),
            detail: if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            },
        })
    }

    /// Verified clips recorded in `[from, to]` (unix s) in `area`, following `next_cursor` up
    /// to `max` hits.
    pub async fn search(&self, from: u64, to: u64, area: Area, max: usize) -> Result<Vec<Hit>> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = self.url("/v1/clips")?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("from", &from.to_string())
                    .append_pair("to", &to.to_string());
                match area {
                    Area::Circle { lat, lon, radius_m } => {
                        q.append_pair("lat", &lat.to_string())
                            .append_pair("lon", &lon.to_string())
                            .append_pair("radius_m", &radius_m.to_string());
                    }
                    Area::Box {
                        min_lat,
                        max_lat,
                        min_lon,
                        max_lon,
                    } => {
                        q.append_pair("min_lat", &min_lat.to_string())
                            .append_pair("max_lat", &max_lat.to_string())
                            .append_pair("min_lon", &min_lon.to_string())
                            .append_pair("max_lon", &max_lon.to_string());
                    }
                }
                q.append_pair("limit", "100");
                if let Some(c) = &cursor {
                    q.append_pair("cursor", c);
                }
            }
            let resp = self
                .http
                .get(url)
                .send()
                .await
                .map_err(|e| self.down(error_chain(&e)))?;
            let resp = self.check("the search", resp).await?;
            let page: Page = resp.json().await.map_err(|e| Error::CloudHttp {
                what: "the search".into(),
                status: 200,
                detail: format!(": unexpected answer: {e}"),
            })?;
            for mut h in page.items {
                for t in [&mut h.thumbnails.first, &mut h.thumbnails.last] {
                    if !t.is_empty() {
                        *t = self.url(t)?.to_string();
                    }
                }
                out.push(h);
            }
            cursor = page.next_cursor;
            if cursor.is_none() || out.len() >= max {
                out.truncate(max);
                return Ok(out);
            }
        }
    }

    /// The cloud's download route for a request: `/v1/clips/{ec}/download?reqc={reqc}`.
    pub fn download_path(ec: Address, reqc: Address) -> String {
        format!("/v1/clips/{ec:#x}/download?reqc={reqc:#x}")
    }

    /// Downloads the sealed clip of a Completed request into `dest`, resuming from its current
    /// length with an HTTP Range request. `link` is a path on this cloud (usually
    /// [`Cloud::download_path`]) or an absolute URL. Each request is signed by the requester's
    /// wallet key. Returns the file's final length and the offset it resumed at (0: from the
    /// start).
    pub async fn download(
        &self,
        link: &str,
        chain_id: u64,
        signer: &PrivateKeySigner,
        dest: &Path,
        pb: &ProgressBar,
    ) -> Result<(u64, u64)> {
        let url = self.url(link.trim())?;
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let have = match std::fs::metadata(dest) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(Error::io("reading", dest)(e)),
        };
        let auth = sign_request(
            signer,
            &RequestParts {
                chain_id,
                method: "GET",
                path: &target,
                body: &[],
            },
            now_secs() + 240,
        )?;
        let mut req = self.http.get(url.clone());
        for (k, v) in auth.to_pairs() {
            req = req.header(k, v);
        }
        if have > 0 {
            req = req.header(header::RANGE, format!("bytes={have}-"));
        }
        let resp = req.send().await.map_err(|e| self.down(error_chain(&e)))?;
        if resp.status() == StatusCode::RANGE_NOT_SATISFIABLE && have > 0 {
            // Nothing after what we have: the file is complete (its hash is checked next).
            return Ok((have, have));
        }
        let resp = self
            .check(&format!("the download of {}", url.path()), resp)
            .await?;
        let resumed = resp.status() == StatusCode::PARTIAL_CONTENT;
        let start = if resumed { have } else { 0 };
        if resumed {
            tracing::info!(offset = have, "resuming the download");
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(resumed)
            .truncate(!resumed)
            .open(dest)
            .map_err(Error::io("opening", dest))?;
        if let Some(len) = resp.content_length() {
            pb.set_length(start + len);
        }
        pb.set_position(start);
        let mut total = start;
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                self.down(format!(
                    "the download broke off after {total} bytes ({e}); run fetch again to resume"
                ))
            })?;
            file.write_all(&chunk).map_err(Error::io("writing", dest))?;
            total += chunk.len() as u64;
            pb.set_position(total);
        }
        file.sync_all().map_err(Error::io("syncing", dest))?;
        Ok((total, start))
    }
}

impl Cloud {
    /// The device's signed records around the EC's segment and its standing
    /// (`GET /v1/clips/{ec}/records?reqc=`), signed by the requester of the Completed `reqc`.
    pub async fn device_records(
        &self,
        ec: Address,
        reqc: Address,
        chain_id: u64,
        signer: &PrivateKeySigner,
    ) -> Result<dashledger_api::clips::DeviceRecords> {
        let path = format!("/v1/clips/{ec:#x}/records?reqc={reqc:#x}");
        let resp = self
            .signed_get(&path, chain_id, signer, "the device's records")
            .await?;
        resp.json().await.map_err(|e| Error::CloudHttp {
            what: "the device's records".into(),
            status: 200,
            detail: format!(": unexpected answer: {e}"),
        })
    }

    /// The device's C2PA sidecar of the clip (`GET /v1/clips/{ec}/c2pa`), signed by the
    /// requester of the Completed request `reqc`.
    pub async fn c2pa_sidecar(
        &self,
        ec: Address,
        reqc: Address,
        chain_id: u64,
        signer: &PrivateKeySigner,
    ) -> Result<Vec<u8>> {
        let path = format!("/v1/clips/{ec:#x}/c2pa?reqc={reqc:#x}");
        let what = "the C2PA sidecar";
        let resp = self.signed_get(&path, chain_id, signer, what).await?;
        Ok(resp
            .bytes()
            .await
            .map_err(|e| self.down(error_chain(&e)))?
            .to_vec())
    }

    /// A GET signed by the requester's key (docs/formats.md "Signed API requests"), checked.
    async fn signed_get(
        &self,
        path: &str,
        chain_id: u64,
        signer: &PrivateKeySigner,
        what: &str,
    ) -> Result<reqwest::Response> {
        let url = self.url(path)?;
        let auth = sign_request(
            signer,
            &RequestParts {
                chain_id,
                method: "GET",
                path,
                body: &[],
            },
            now_secs() + 240,
        )?;
        let mut req = self.http.get(url);
        for (k, v) in auth.to_pairs() {
            req = req.header(k, v);
        }
        let resp = req.send().await.map_err(|e| self.down(error_chain(&e)))?;
        self.check(what, resp).await
    }
}
