//! Typed configuration: built-in defaults, then a TOML file, then `DASHLEDGER_AGENT_*` environment
//! variables, then command-line flags (each layer overrides the previous one).
//!
//! Environment variables name a key by its path with `__` between table levels, e.g.
//! `DASHLEDGER_AGENT_WATCH_DIR=/media/cam` or `DASHLEDGER_AGENT_CLOUD__URL=http://cloud:8080`.
//! Secrets never come from here: keys live in the keystore, whose password comes from
//! `keystore_password_file` or the `DASHLEDGER_AGENT_KEYSTORE_PASSWORD` variable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dashledger_protocol::layers;
use serde::{Deserialize, Serialize};

use crate::error::AgentError;

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "DASHLEDGER_AGENT_";
/// Environment variable holding the keystore password (read only when no password file is set).
pub const PASSWORD_ENV: &str = "DASHLEDGER_AGENT_KEYSTORE_PASSWORD";
/// Environment variable naming the configuration file (same as `--config`).
pub const CONFIG_ENV: &str = "DASHLEDGER_AGENT_CONFIG";
/// Environment variable with the log filter (same as `--log`).
pub const LOG_ENV: &str = "DASHLEDGER_AGENT_LOG";

/// Whole agent configuration. Every field has a default; see `print-config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory the camera writes its 1-minute segments into.
    pub watch_dir: PathBuf,
    /// File extensions (lower case, without dot) that count as segments.
    pub segment_extensions: Vec<String>,
    /// A segment counts as finished once its size and mtime have not changed for this long.
    pub settle_secs: u64,
    /// How often the watch directory is scanned.
    pub poll_interval_ms: u64,
    /// Directory for the outbox database and sealed clips.
    pub state_dir: PathBuf,
    /// Keystore file (created by `init`).
    pub keystore: PathBuf,
    /// File holding the keystore password (first line). Empty: use the environment variable.
    pub keystore_password_file: PathBuf,
    /// Manual event trigger: when this file appears, the current segment is marked as an accident
    /// and the file is removed. Empty path: `<watch_dir>/EVENT`.
    pub event_file: PathBuf,
    /// Cloud service.
    pub cloud: CloudConfig,
    /// Chain access for evidence contracts.
    pub chain: ChainConfig,
    /// Accident detection.
    pub detect: DetectConfig,
    /// Location source (NMEA 0183).
    pub location: LocationConfig,
    /// Motion channel (accelerometer; speed from the location feed).
    pub motion: MotionConfig,
    /// Retry policy for the cloud, the chain and uploads.
    pub retry: RetryConfig,
    /// Owner-side policy.
    pub owner: OwnerConfig,
    /// C2PA sidecar manifests on accident clips (off until a certificate is configured).
    pub c2pa: C2paConfig,
}

/// C2PA signing (docs/formats.md "C2PA on the shared clip"): the device's P-256 key and the
/// certificate chain the operator's device CA issued for it (`scripts/device-cert`). Both empty:
/// no sidecar is made (the clip is shared without one).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct C2paConfig {
    /// PEM: the device certificate, then the CA's.
    pub cert_chain: PathBuf,
    /// PEM (PKCS#8) file holding the device's P-256 signing key (a secret: mode 0600).
    pub key: PathBuf,
}

impl C2paConfig {
    /// Whether signing is configured.
    pub fn enabled(&self) -> bool {
        !self.cert_chain.as_os_str().is_empty() || !self.key.as_os_str().is_empty()
    }
}

/// Cloud service settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudConfig {
    /// Base URL of the cloud API, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// Per-request timeout.
    pub timeout_secs: u64,
    /// Upload chunk size for sealed clips.
    pub upload_chunk_bytes: u64,
}

/// How evidence contracts are created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EcVia {
    /// The device signs an EIP-712 request; the cloud relayer submits it.
    Relayer,
    /// The accident's owner key sends `createEvidence` itself (funded from the owner wallet).
    Direct,
}

/// Chain settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainConfig {
    /// JSON-RPC URL.
    pub rpc_url: String,
    /// Deployment file (`deployments/<chainId>.json`) with the factory address.
    pub deployments: PathBuf,
    /// Direct transactions or the cloud relayer.
    pub ec_via: EcVia,
}

/// Detection settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// Run detection at all (records are made either way).
    pub enabled: bool,
    /// Directory with the ONNX models and their cards.
    pub models_dir: PathBuf,
    /// Image backbone: `effnet-lite0` (light, for the Pi) or `vgg16` (the paper's); selects the
    /// card `<models_dir>/accident-image-<backbone>.card.json` unless `image_card` is set.
    pub backbone: String,
    /// Image model card (empty: derived from `backbone`).
    pub image_card: PathBuf,
    /// Audio model card (empty: the first `<models_dir>/accident-audio*.card.json`; none found:
    /// the agent runs image-only and says so).
    pub audio_card: PathBuf,
    /// How the channels decide: `window` (default: image, sound and motion over a window of
    /// seconds, with a stated rule per missing channel, `detect.window`; see docs/agent.md
    /// "Detection"), or one of the older per-second rules of the detect crate: `max`, `mean`,
    /// `image-only`, `audio-only`, `weighted:<image weight>` (counted against
    /// `min_positive_seconds`; a motion second over its bar still decides alone).
    pub fusion: String,
    /// The window rule's bars (`fusion = "window"`).
    pub window: dashledger_detect::DecisionRule,
    /// A soundtrack quieter than this (RMS, dBFS) counts as no sound channel (muted microphone).
    pub silent_audio_dbfs: f32,
    /// Override of the card's threshold (negative: use the card's).
    pub threshold_override: f32,
    /// Seconds whose fused score reaches the threshold needed to call the segment an accident.
    pub min_positive_seconds: u32,
    /// Longest a segment's decoding may take (wall clock) before it counts as undecodable. The
    /// default fits any real device; emulators (qemu in `scripts/test aarch64`) need more.
    pub decode_timeout_secs: u64,
}

/// Location source settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocationConfig {
    /// `none`, `file:/path/to/nmea.log`, `serial:/dev/ttyUSB0` or `gpsd:127.0.0.1:2947`.
    pub source: String,
    /// A fix older than this is not used.
    pub max_fix_age_secs: u64,
}

/// Motion channel settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MotionConfig {
    /// `none` (default), `iio:/sys/bus/iio/devices/iio:deviceN` (polled through sysfs) or
    /// `lines:PATH` (a file, FIFO or serial port of `t,ax,ay,az` lines: unix seconds, m/s²).
    pub source: String,
    /// How often an IIO device is polled, Hz.
    pub rate_hz: f64,
    /// Use the location feed's RMC speed for sudden stops.
    pub gps_speed: bool,
    /// The scorer's bars (defaults argued in models/motion.md).
    pub bars: dashledger_detect::MotionParams,
}

impl Default for MotionConfig {
    fn default() -> Self {
        Self {
            source: "none".into(),
            rate_hz: 100.0,
            gps_speed: true,
            bars: dashledger_detect::MotionParams::default(),
        }
    }
}

/// Exponential backoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// First delay.
    pub base_ms: u64,
    /// Largest delay.
    pub max_ms: u64,
}

/// Owner-side policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OwnerConfig {
    /// Approve every pending request automatically (off by default).
    pub auto_approve: bool,
    /// Auto-approve only requests offering at least this reward (wei, decimal string).
    pub auto_approve_min_reward_wei: String,
    /// How often the daemon asks the cloud for open requests when `auto_approve` is on.
    pub poll_secs: u64,
    /// Owner actions (approve, decline, claim, withdraw): `relayer` (the EC owner key signs
    /// EIP-712 messages, the cloud sends them and fronts the deposit; nothing on chain links the
    /// accidents) or `direct` (the owner key sends them, funded from the owner wallet). The
    /// commands' `--direct` flag picks `direct` for one call.
    pub via: EcVia,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            watch_dir: PathBuf::from("/var/lib/dashledger/segments"),
            segment_extensions: vec!["mp4".into(), "mkv".into(), "mov".into(), "ts".into()],
            settle_secs: 5,
            poll_interval_ms: 1000,
            state_dir: PathBuf::from("/var/lib/dashledger/state"),
            keystore: PathBuf::from("/var/lib/dashledger/keystore.json"),
            keystore_password_file: PathBuf::new(),
            event_file: PathBuf::new(),
            cloud: CloudConfig::default(),
            chain: ChainConfig::default(),
            detect: DetectConfig::default(),
            location: LocationConfig::default(),
            motion: MotionConfig::default(),
            retry: RetryConfig::default(),
            owner: OwnerConfig::default(),
            c2pa: C2paConfig::default(),
        }
    }
}

impl Default for CloudConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8080".into(),
            timeout_secs: 30,
            upload_chunk_bytes: 1 << 20,
        }
    }
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            rpc_url: "http://127.0.0.1:8545".into(),
            deployments: PathBuf::from("deployments/31337.json"),
            ec_via: EcVia::Relayer,
        }
    }
}

impl Default for DetectConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            models_dir: PathBuf::from("models"),
            backbone: "effnet-lite0".into(),
            image_card: PathBuf::new(),
            audio_card: PathBuf::new(),
            fusion: "window".into(),
            window: dashledger_detect::DecisionRule::default(),
            silent_audio_dbfs: -70.0,
            threshold_override: -1.0,
            min_positive_seconds: 1,
            decode_timeout_secs: 600,
        }
    }
}

impl Default for LocationConfig {
    fn default() -> Self {
        Self {
            source: "none".into(),
            max_fix_age_secs: 30,
        }
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            base_ms: 500,
            max_ms: 60_000,
        }
    }
}

impl Default for OwnerConfig {
    fn default() -> Self {
        Self {
            auto_approve: false,
            auto_approve_min_reward_wei: "0".into(),
            poll_secs: 30,
            via: EcVia::Relayer,
        }
    }
}

/// Flag-level overrides (the last layer). `None` leaves the value from the lower layers.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--watch-dir`.
    pub watch_dir: Option<PathBuf>,
    /// `--state-dir`.
    pub state_dir: Option<PathBuf>,
    /// `--keystore`.
    pub keystore: Option<PathBuf>,
    /// `--cloud-url`.
    pub cloud_url: Option<String>,
    /// `--rpc-url`.
    pub rpc_url: Option<String>,
    /// `--backbone`.
    pub backbone: Option<String>,
}

impl Overrides {
    /// The flags as configuration keys and values, the last layer of [`Config::load`].
    fn assignments(&self) -> Result<Vec<(String, String)>, AgentError> {
        let mut out = Vec::new();
        let paths = [
            ("--watch-dir", "watch_dir", &self.watch_dir),
            ("--state-dir", "state_dir", &self.state_dir),
            ("--keystore", "keystore", &self.keystore),
        ];
        for (flag, key, value) in paths {
            if let Some(path) = value {
                let text = path.to_str().ok_or_else(|| {
                    AgentError::Config(format!(
                        "{flag}: path {} is not valid UTF-8",
                        path.display()
                    ))
                })?;
                out.push((key.to_owned(), text.to_owned()));
            }
        }
        let strings = [
            ("cloud.url", &self.cloud_url),
            ("chain.rpc_url", &self.rpc_url),
            ("detect.backbone", &self.backbone),
        ];
        for (key, value) in strings {
            if let Some(v) = value {
                out.push((key.to_owned(), v.clone()));
            }
        }
        Ok(out)
    }
}

impl Config {
    /// Loads the layered configuration. `file` may be `None` (defaults + env + flags only); a
    /// named file that does not exist is an error. The layering is
    /// [`dashledger_protocol::layers::load`]'s; the checks that follow are the agent's.
    pub fn load(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
        flags: &Overrides,
    ) -> Result<Self, AgentError> {
        let config: Config = layers::load(
            file,
            env,
            ENV_PREFIX,
            &[PASSWORD_ENV, CONFIG_ENV, LOG_ENV],
            &flags.assignments()?,
        )
        .map_err(config_error)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), AgentError> {
        let bad = |m: String| Err(AgentError::Config(m));
        if self.poll_interval_ms == 0 {
            return bad("poll_interval_ms must be > 0".into());
        }
        if self.segment_extensions.is_empty() {
            return bad("segment_extensions must name at least one extension".into());
        }
        if self.c2pa.enabled()
            && (self.c2pa.cert_chain.as_os_str().is_empty() || self.c2pa.key.as_os_str().is_empty())
        {
            return bad(
                "c2pa: set both cert_chain and key (scripts/device-cert makes them), or neither"
                    .into(),
            );
        }
        if self.detect.fusion != "window"
            && let Err(e) = self.detect.fusion.parse::<dashledger_detect::Fusion>()
        {
            return bad(format!("detect.fusion: {e} (or `window`)"));
        }
        if let Err(e) = self.detect.window.validate() {
            return bad(e);
        }
        crate::motion::MotionSource::parse(&self.motion.source)?;
        if let Err(e) = self.motion.bars.validate() {
            return bad(e);
        }
        if !(self.motion.rate_hz.is_finite() && (1.0..=1000.0).contains(&self.motion.rate_hz)) {
            return bad(format!(
                "motion.rate_hz must be 1..=1000, got {}",
                self.motion.rate_hz
            ));
        }
        if self.detect.min_positive_seconds == 0 {
            return bad("detect.min_positive_seconds must be at least 1".into());
        }
        if self.detect.decode_timeout_secs == 0 {
            return bad("detect.decode_timeout_secs must be at least 1".into());
        }
        if self.detect.threshold_override > 1.0 {
            return bad(format!(
                "detect.threshold_override must be <= 1 (negative = 0.5 on the calibrated scale), got {}",
                self.detect.threshold_override
            ));
        }
        if alloy::primitives::U256::from_str_radix(
            self.owner.auto_approve_min_reward_wei.trim(),
            10,
        )
        .is_err()
        {
            return bad(format!(
                "owner.auto_approve_min_reward_wei must be a decimal amount of wei, got {:?}",
                self.owner.auto_approve_min_reward_wei
            ));
        }
        if self.owner.poll_secs == 0 {
            return bad("owner.poll_secs must be at least 1".into());
        }
        if self.cloud.upload_chunk_bytes < 1024 {
            return bad("cloud.upload_chunk_bytes must be at least 1024".into());
        }
        if self.retry.base_ms == 0 || self.retry.max_ms < self.retry.base_ms {
            return bad("retry.base_ms must be > 0 and retry.max_ms >= retry.base_ms".into());
        }
        crate::location::LocationSource::parse(&self.location.source)?;
        Ok(())
    }

    /// The manual event trigger file.
    pub fn event_path(&self) -> PathBuf {
        if self.event_file.as_os_str().is_empty() {
            self.watch_dir.join("EVENT")
        } else {
            self.event_file.clone()
        }
    }

    /// The image model card for the configured backbone.
    pub fn image_card_path(&self) -> PathBuf {
        if self.detect.image_card.as_os_str().is_empty() {
            self.detect
                .models_dir
                .join(format!("accident-image-{}.card.json", self.detect.backbone))
        } else {
            self.detect.image_card.clone()
        }
    }

    /// The audio model card: the configured one, else the first `accident-audio*.card.json` in
    /// `models_dir` (none: image-only detection).
    pub fn audio_card_path(&self) -> Option<PathBuf> {
        if !self.detect.audio_card.as_os_str().is_empty() {
            return Some(self.detect.audio_card.clone());
        }
        let mut cards: Vec<PathBuf> = std::fs::read_dir(&self.detect.models_dir)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("accident-audio") && n.ends_with(".card.json"))
            })
            .collect();
        cards.sort();
        cards.into_iter().next()
    }

    /// The outbox database file.
    pub fn outbox_path(&self) -> PathBuf {
        self.state_dir.join("outbox.sqlite")
    }

    /// Where the running daemon writes the motion channel's status (read by `status`).
    pub fn motion_status_path(&self) -> PathBuf {
        self.state_dir.join("motion-status.json")
    }

    /// Renders the effective configuration as TOML.
    pub fn to_toml(&self) -> Result<String, AgentError> {
        layers::render(self).map_err(config_error)
    }
}

fn config_error(e: layers::LayerError) -> AgentError {
    AgentError::Layers(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    // The layering itself (order, typing, unknown keys) is tested in dashledger_protocol::layers;
    // these tests cover the agent's keys, flags, skipped variables and validation.

    #[test]
    fn flags_reach_their_keys_over_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("agent.toml");
        std::fs::write(
            &file,
            "watch_dir = \"/from/file\"\nsettle_secs = 9\n[cloud]\nurl = \"http://file\"\n[detect]\nfusion = \"mean\"\n",
        )
        .unwrap();
        let e = env(&[
            ("DASHLEDGER_AGENT_SETTLE_SECS", "3"),
            ("DASHLEDGER_AGENT_CLOUD__URL", "http://env"),
            ("DASHLEDGER_AGENT_DETECT__THRESHOLD_OVERRIDE", "0.25"),
            ("DASHLEDGER_AGENT_SEGMENT_EXTENSIONS", "mp4, MOV"),
            ("DASHLEDGER_AGENT_CHAIN__EC_VIA", "direct"),
        ]);
        let flags = Overrides {
            watch_dir: Some("/flag/watch".into()),
            state_dir: Some("/flag/state".into()),
            keystore: Some("/flag/keystore.json".into()),
            cloud_url: Some("http://flag".into()),
            rpc_url: Some("http://rpc.flag".into()),
            backbone: Some("vgg16".into()),
        };
        let c = Config::load(Some(&file), &e, &flags).unwrap();
        assert_eq!(c.watch_dir, PathBuf::from("/flag/watch"));
        assert_eq!(c.state_dir, PathBuf::from("/flag/state"));
        assert_eq!(c.keystore, PathBuf::from("/flag/keystore.json"));
        assert_eq!(c.cloud.url, "http://flag");
        assert_eq!(c.chain.rpc_url, "http://rpc.flag");
        assert_eq!(c.detect.backbone, "vgg16");
        assert_eq!(c.settle_secs, 3);
        assert_eq!(c.detect.fusion, "mean");
        assert_eq!(c.detect.threshold_override, 0.25);
        assert_eq!(c.segment_extensions, ["mp4", "MOV"]);
        assert_eq!(c.chain.ec_via, EcVia::Direct);
        assert_eq!(c.poll_interval_ms, Config::default().poll_interval_ms);
    }

    #[test]
    fn bad_keys_values_and_settings_are_named() {
        let err = Config::load(
            None,
            &env(&[("DASHLEDGER_AGENT_SETTLE_SECS", "soon")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("DASHLEDGER_AGENT_SETTLE_SECS"),
            "{err}"
        );

        let err = Config::load(
            None,
            &env(&[("DASHLEDGER_AGENT_CHAIN__EC_VIA", "carrier-pigeon")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("chain.ec_via"), "{err}");

        for (var, value, named) in [
            (
                "DASHLEDGER_AGENT_DETECT__FUSION",
                "weighted:2",
                "detect.fusion",
            ),
            ("DASHLEDGER_AGENT_POLL_INTERVAL_MS", "0", "poll_interval_ms"),
            (
                "DASHLEDGER_AGENT_OWNER__AUTO_APPROVE_MIN_REWARD_WEI",
                "1e18",
                "owner.auto_approve_min_reward_wei",
            ),
            (
                "DASHLEDGER_AGENT_CLOUD__UPLOAD_CHUNK_BYTES",
                "10",
                "cloud.upload_chunk_bytes",
            ),
            (
                "DASHLEDGER_AGENT_C2PA__KEY",
                "/etc/dashledger/c2pa.pem",
                "c2pa",
            ),
        ] {
            let err = Config::load(None, &env(&[(var, value)]), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains(named), "{var}: {err}");
        }
    }

    #[test]
    fn rendered_config_round_trips() {
        let c = Config::default();
        let text = c.to_toml().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("agent.toml");
        std::fs::write(&file, text).unwrap();
        assert_eq!(
            Config::load(Some(&file), &BTreeMap::new(), &Overrides::default()).unwrap(),
            c
        );
    }

    #[test]
    fn password_config_and_log_variables_are_not_config_keys() {
        let c = Config::load(
            None,
            &env(&[
                (PASSWORD_ENV, "hunter2"),
                (CONFIG_ENV, "/etc/dashledger/agent.toml"),
                (LOG_ENV, "debug"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c, Config::default());
        assert!(!c.to_toml().unwrap().contains("hunter2"));
    }
}
