//! Prometheus metrics through `prometheus-client` (the Prometheus project's Rust client: typed
//! counters and histograms, a registry, the OpenMetrics text encoder). The workspace already
//! pulls `metrics` (through tract), but its Prometheus exporter brings an HTTP server and a
//! scheduler; `prometheus-client` is the encoder alone.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds (seconds) of the request-duration histogram buckets.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// Labels of one HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: String,
}

type Count = Counter<u64, AtomicU64>;

/// All metrics the service exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Histogram, fn() -> Histogram>,
    /// Evidence records newly stored.
    pub records_accepted: Count,
    /// Evidence records received again (idempotent duplicates).
    pub records_duplicate: Count,
    /// Evidence batches refused (bad signature, unknown/revoked device, malformed).
    pub batches_refused: Count,
    /// Chain alarms raised.
    pub alarms_raised: Count,
    /// Upload bytes received.
    pub upload_bytes: Count,
    /// Uploads completed.
    pub uploads_completed: Count,
    /// Download bytes served.
    pub download_bytes: Count,
}

fn duration_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests: Family<RequestLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(duration_histogram);
        let m = Self {
            requests: requests.clone(),
            records_accepted: Count::default(),
            records_duplicate: Count::default(),
            batches_refused: Count::default(),
            alarms_raised: Count::default(),
            upload_bytes: Count::default(),
            uploads_completed: Count::default(),
            download_bytes: Count::default(),
            registry: Registry::default(),
        };
        for (name, help, c) in [
            (
                "dashledger_evidence_records_accepted",
                "Evidence records newly stored.",
                &m.records_accepted,
            ),
            (
                "dashledger_evidence_records_duplicate",
                "Evidence records received again.",
                &m.records_duplicate,
            ),
            (
                "dashledger_evidence_batches_refused",
                "Evidence batches refused.",
                &m.batches_refused,
            ),
            (
                "dashledger_chain_alarms",
                "Chain alarms raised.",
                &m.alarms_raised,
            ),
            (
                "dashledger_upload_bytes",
                "Upload bytes received.",
                &m.upload_bytes,
            ),
            (
                "dashledger_uploads_completed",
                "Uploads completed.",
                &m.uploads_completed,
            ),
            (
                "dashledger_download_bytes",
                "Download bytes served.",
                &m.download_bytes,
            ),
        ] {
            registry.register(name, help, c.clone());
        }
        registry.register(
            "dashledger_http_request_duration_seconds",
            "HTTP request durations by route and status.",
            requests,
        );
        Self { registry, ..m }
    }
}

impl Metrics {
    /// Records one finished HTTP request.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, secs: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status: status.to_string(),
            })
            .observe(secs);
    }

    /// Text exposition (OpenMetrics 1.0, which Prometheus reads; the label values are escaped
    /// by the encoder).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_histogram_and_counters() {
        let m = Metrics::default();
        m.observe_request("GET", "/v1/clips", 200, 0.003);
        m.observe_request("GET", "/v1/clips", 200, 2.0);
        m.records_accepted.inc_by(5);
        let t = m.render();
        assert!(
            t.contains("dashledger_evidence_records_accepted_total 5"),
            "{t}"
        );
        assert!(
            t.contains(
                "dashledger_http_request_duration_seconds_bucket{le=\"0.005\",method=\"GET\",route=\"/v1/clips\",status=\"200\"} 1"
            ) || t.contains(
                "dashledger_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/clips\",status=\"200\",le=\"0.005\"} 1"
            ),
            "{t}"
        );
        assert!(
            t.contains("_count{method=\"GET\",route=\"/v1/clips\",status=\"200\"} 2"),
            "{t}"
        );
        assert!(t.ends_with("# EOF\n"), "{t}");
    }
}
