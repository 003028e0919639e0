//! Prometheus metrics, hand-written text exposition (format 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (seconds) of the request-duration histogram buckets.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// All counters the service exports.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), RouteStats>>,
    /// Evidence records newly stored.
    pub records_accepted: AtomicU64,
    /// Evidence records received again (idempotent duplicates).
    pub records_duplicate: AtomicU64,
    /// Evidence batches refused (bad signature, unknown/revoked device, malformed).
    pub batches_refused: AtomicU64,
    /// Chain alarms raised.
    pub alarms_raised: AtomicU64,
    /// Upload bytes received.
    pub upload_bytes: AtomicU64,
    /// Uploads completed.
    pub uploads_completed: AtomicU64,
    /// Download bytes served.
    pub download_bytes: AtomicU64,
}

#[derive(Debug, Default, Clone)]
struct RouteStats {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

impl Metrics {
    /// Records one finished HTTP request.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, secs: f64) {
        let mut m = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let s = m
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default();
        s.count += 1;
        s.sum += secs;
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                s.buckets[i] += 1;
            }
        }
    }

    /// Text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        };
        counter(
            &mut out,
            "dashledger_evidence_records_accepted_total",
            "Evidence records newly stored.",
            &self.records_accepted,
        );
        counter(
            &mut out,
            "dashledger_evidence_records_duplicate_total",
            "Evidence records received again.",
            &self.records_duplicate,
        );
        counter(
            &mut out,
            "dashledger_evidence_batches_refused_total",
            "Evidence batches refused.",
            &self.batches_refused,
        );
        counter(
            &mut out,
            "dashledger_chain_alarms_total",
            "Chain alarms raised.",
            &self.alarms_raised,
        );
        counter(
            &mut out,
            "dashledger_upload_bytes_total",
            "Upload bytes received.",
            &self.upload_bytes,
        );
        counter(
            &mut out,
            "dashledger_uploads_completed_total",
            "Uploads completed.",
            &self.uploads_completed,
        );
        counter(
            &mut out,
            "dashledger_download_bytes_total",
            "Download bytes served.",
            &self.download_bytes,
        );
        let m = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let name = "dashledger_http_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} HTTP request durations by route and status.\n# TYPE {name} histogram"
        );
        for ((method, route, status), s) in m.iter() {
            let labels = format!(
                "method=\"{method}\",route=\"{}\",status=\"{status}\"",
                escape(route)
            );
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {}", s.buckets[i]);
            }
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}", s.sum);
            let _ = writeln!(out, "{name}_count{{{labels}}} {}", s.count);
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_histogram_and_counters() {
        let m = Metrics::default();
        m.observe_request("GET", "/v1/clips", 200, 0.003);
        m.observe_request("GET", "/v1/clips", 200, 2.0);
        m.records_accepted.fetch_add(5, Ordering::Relaxed);
        let t = m.render();
        assert!(t.contains("dashledger_evidence_records_accepted_total 5"));
        assert!(t.contains(
            "dashledger_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/clips\",status=\"200\",le=\"0.005\"} 1"
        ));
        assert!(t.contains("_count{method=\"GET\",route=\"/v1/clips\",status=\"200\"} 2"));
    }
}
