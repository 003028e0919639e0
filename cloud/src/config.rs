//! Typed configuration, layered: built-in defaults → TOML file → environment
//! (`DASHLEDGER_CLOUD_*`, `__` separates sections) → command-line overrides (`--set key=value`).
//!
//! Secrets (the admin token, the chain signer key, S3 credentials) are read from files whose paths
//! the configuration names, or from a dedicated environment variable; they are held in
//! [`Secret`], which zeroizes on drop and never prints.

use std::fmt;
use std::path::{Path, PathBuf};

use dashledger_protocol::layers;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::CloudError;

/// Prefix of every environment variable the configuration reads.
pub const ENV_PREFIX: &str = "DASHLEDGER_CLOUD_";

/// The whole service configuration. Every field has a default that needs no setup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// Directory for the default SQLite database, the local blob store and the upload spool.
    pub data_dir: PathBuf,
    /// Database URL: `sqlite://path` or `postgres://user@host:port/db`. Empty: `<data_dir>/cloud.db`.
    pub database_url: String,
    /// Maximum connections in the database pool.
    pub database_max_connections: u32,
    /// File holding the operator's admin token (alternative: env `DASHLEDGER_CLOUD_ADMIN_TOKEN`).
    pub admin_token_file: Option<PathBuf>,
    /// Blob storage for sealed clips and thumbnails.
    pub blob: BlobConfig,
    /// Upload limits.
    pub upload: UploadConfig,
    /// Evidence ingest limits.
    pub ingest: IngestConfig,
    /// Signed API requests (owner / requester endpoints).
    pub auth: AuthConfig,
    /// Search limits.
    pub search: SearchConfig,
    /// Chain access (verifier, relayer, indexer).
    pub chain: ChainConfig,
    /// The requester's web page served at `/`.
    pub web: WebConfig,
    /// Seconds to wait for in-flight requests on SIGTERM / Ctrl-C.
    pub shutdown_grace_secs: u64,
    /// Connection limits and timeouts.
    pub http: HttpConfig,
}

/// Connection limits and timeouts of the HTTP server (see `server.rs`). The defaults suit a
/// dashcam on a bad mobile link: a stall of most of a minute does not cut an upload, a client
/// that sends nothing is dropped within a minute.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Seconds a client has to send a request's head; also how long an idle keep-alive
    /// connection is kept.
    pub header_timeout_secs: u64,
    /// Seconds a request body may deliver nothing before the request ends with 408.
    pub body_idle_timeout_secs: u64,
    /// Most connections served at once; more wait in the accept queue.
    pub max_connections: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_timeout_secs: 30,
            body_idle_timeout_secs: 60,
            max_connections: 2048,
        }
    }
}

/// Where blobs live.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BlobConfig {
    /// `local` (a directory) or `s3` (an S3-compatible object store; implied by `url`).
    pub backend: String,
    /// Directory of the local backend. Empty: `<data_dir>/blobs`.
    pub dir: PathBuf,
    /// S3 location `s3://bucket[/prefix]`. Non-empty selects the S3 backend.
    pub url: String,
    /// S3 endpoint URL, `http(s)://host:port` (MinIO, s3s-fs, Ceph RGW, ...). Empty: AWS S3 of
    /// `region`.
    pub endpoint: String,
    /// S3 region (used for request signing).
    pub region: String,
    /// File holding the S3 access key id (alternative: env `AWS_ACCESS_KEY_ID`).
    pub access_key_id_file: Option<PathBuf>,
    /// File holding the S3 secret access key (alternative: env `AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key_file: Option<PathBuf>,
}

/// Upload size caps.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct UploadConfig {
    /// Largest sealed clip accepted, in bytes.
    pub max_clip_bytes: u64,
    /// Largest body of one chunk PUT, in bytes (the body limit is raised to this on chunk routes only).
    pub max_chunk_bytes: u64,
    /// Largest thumbnail, in bytes.
    pub max_thumbnail_bytes: u64,
    /// Largest C2PA sidecar manifest store, in bytes.
    pub max_c2pa_bytes: u64,
    /// Largest number of per-second leaves (one per second of video).
    pub max_leaves: u32,
    /// Directory where in-progress uploads are spooled. Empty: `<data_dir>/spool`.
    pub spool_dir: PathBuf,
    /// Most uploads one device may have open at once (bounds the spool a device can fill).
    pub max_open_per_device: u32,
}

/// Evidence ingest limits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Most records in one batch.
    pub max_batch_records: usize,
}

/// Signed API request checks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Longest accepted validity window of a signed request (expiry − now), in seconds.
    pub max_validity_secs: u64,
}

/// Search limits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// Largest page size.
    pub max_page_size: u32,
    /// Longest time range of one search, in seconds.
    pub max_range_secs: i64,
}

/// The requester's web page.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Directory of the built page (`web/dist`). None: no page (`/` answers a JSON 404).
    pub dir: Option<PathBuf>,
    /// Chain name shown by the page (`chainName` of `/config.json`). None: derived from the id.
    pub chain_name: Option<String>,
    /// Base URL of this API as the page should call it (`cloudUrl`); empty = the page's origin.
    pub cloud_url: String,
    /// A MapLibre style URL for the page's map (`map.style`). None: the bundled basemap.
    pub map_style: Option<String>,
    /// Raster tile URL templates for the page's map (`map.tiles`), used without `map_style`.
    pub map_tiles: Vec<String>,
    /// Attribution of the tiles (`map.attribution`).
    pub map_attribution: String,
    /// Pixel size of the raster tiles (`map.tileSize`). None: 256.
    pub map_tile_size: Option<u32>,
    /// Highest zoom of the tile server (`map.maxZoom`). None: 19.
    pub map_max_zoom: Option<u8>,
    /// Place-name search URL with `{query}` (`geocoder.url`). None: coordinates only.
    pub geocoder_url: Option<String>,
    /// Attribution the geocoder's terms require (`geocoder.attribution`).
    pub geocoder_attribution: String,
    /// Block explorer base URL (`explorerUrl`). None: no links.
    pub explorer_url: Option<String>,
}

/// Chain access.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ChainConfig {
    /// Chain id (bound into signed API requests and EIP-712 signatures).
    pub chain_id: u64,
    /// JSON-RPC URL of an Ethereum node. Empty: chain features (verifier, relayer, indexer) off.
    pub rpc_url: String,
    /// Deployment file written by the contracts' deploy script (`deployments/<chainId>.json`).
    pub deployment_file: PathBuf,
    /// File holding the verifier/relayer private key (hex). Never put the key itself here.
    pub signer_key_file: Option<PathBuf>,
    /// Blocks an event must be buried under before the indexer trusts it.
    pub confirmations: u64,
    /// Polling interval of the verifier and indexer, in milliseconds.
    pub poll_interval_ms: u64,
    /// Relayed EC creations allowed per device per hour.
    pub relay_per_device_per_hour: u32,
    /// Least fee (wei) an owner must sign into a relayed `Respond` (`GET /v1/relay/terms`).
    pub relay_respond_fee_wei: u64,
    /// Least fee (wei) an owner must sign into a relayed `Withdraw`.
    pub relay_withdraw_fee_wei: u64,
    /// Largest deposit (wei) the relayer fronts for a relayed response.
    pub relay_max_deposit_wei: u64,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            chain_id: 31337,
            rpc_url: String::new(),
            deployment_file: PathBuf::new(),
            signer_key_file: None,
            confirmations: 2,
            poll_interval_ms: 1000,
            relay_per_device_per_hour: 10,
            relay_respond_fee_wei: 500_000_000_000_000,
            relay_withdraw_fee_wei: 200_000_000_000_000,
            relay_max_deposit_wei: 100_000_000_000_000_000,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("dashledger-cloud-data"),
            database_url: String::new(),
            database_max_connections: 8,
            admin_token_file: None,
            blob: BlobConfig::default(),
            upload: UploadConfig::default(),
            ingest: IngestConfig::default(),
            auth: AuthConfig::default(),
            search: SearchConfig::default(),
            chain: ChainConfig::default(),
            web: WebConfig::default(),
            shutdown_grace_secs: 20,
            http: HttpConfig::default(),
        }
    }
}

impl Default for BlobConfig {
    fn default() -> Self {
        Self {
            backend: "local".into(),
            dir: PathBuf::new(),
            url: String::new(),
            endpoint: String::new(),
            region: "us-east-1".into(),
            access_key_id_file: None,
            secret_access_key_file: None,
        }
    }
}

impl Default for UploadConfig {
    fn default() -> Self {
        Self {
            max_clip_bytes: 1 << 30,
            max_chunk_bytes: 16 << 20,
            max_thumbnail_bytes: 1 << 20,
            max_c2pa_bytes: 256 << 10,
            max_leaves: 3600,
            spool_dir: PathBuf::new(),
            max_open_per_device: 4,
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_batch_records: 5000,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            max_validity_secs: 600,
        }
    }
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            max_page_size: 200,
            max_range_secs: 31 * 24 * 3600,
        }
    }
}

impl Config {
    /// Loads the layered configuration: defaults, then `file` (if given), then the environment
    /// `env` (pairs of name and value; pass `std::env::vars()`), then `overrides` (`key=value`,
    /// dotted keys for sections, e.g. `upload.max_clip_bytes=1000`). The layering is
    /// [`dashledger_protocol::layers::load`]'s; the checks that follow are the cloud's.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &[String],
    ) -> Result<Self, CloudError> {
        let overrides = overrides
            .iter()
            .map(|item| layers::parse_assignment(item))
            .collect::<Result<Vec<_>, _>>()
            .map_err(config_error)?;
        let cfg: Config = layers::load(file, env, ENV_PREFIX, NOT_CONFIG_ENV, &overrides)
            .map_err(config_error)?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), CloudError> {
        if !matches!(self.blob.backend.as_str(), "local" | "s3") {
            return Err(CloudError::Config(format!(
                "blob.backend '{}' is not supported (supported: local, s3)",
                self.blob.backend
            )));
        }
        if self.blob.backend == "s3" && self.blob.url.is_empty() {
            return Err(CloudError::Config(
                "blob.backend is s3 but blob.url (s3://bucket[/prefix]) is not set".into(),
            ));
        }
        if !self.blob.url.is_empty() {
            self.s3_location()?;
            let ep = &self.blob.endpoint;
            if !(ep.is_empty() || ep.starts_with("http://") || ep.starts_with("https://")) {
                return Err(CloudError::Config(format!(
                    "blob.endpoint must be an http:// or https:// URL of the S3-compatible server, got '{ep}'"
                )));
            }
        }
        if self.upload.max_chunk_bytes == 0 || self.upload.max_clip_bytes == 0 {
            return Err(CloudError::Config(
                "upload size caps must be positive".into(),
            ));
        }
        if self.http.header_timeout_secs == 0
            || self.http.body_idle_timeout_secs == 0
            || self.http.max_connections == 0
        {
            return Err(CloudError::Config(
                "http.header_timeout_secs, http.body_idle_timeout_secs and http.max_connections must be positive".into(),
            ));
        }
        if self.search.max_page_size == 0 {
            return Err(CloudError::Config(
                "search.max_page_size must be positive".into(),
            ));
        }
        Ok(())
    }

    /// The database URL, defaulting to an SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("cloud.db").display()
            )
        } else {
            self.database_url.clone()
        }
    }

    /// The deployment file: `chain.deployment_file`, or `deployments/<chain_id>.json`.
    pub fn deployment_file(&self) -> PathBuf {
        if self.chain.deployment_file.as_os_str().is_empty() {
            PathBuf::from(format!("deployments/{}.json", self.chain.chain_id))
        } else {
            self.chain.deployment_file.clone()
        }
    }

    /// Bucket and key prefix of `blob.url` (`s3://bucket[/prefix]`).
    pub fn s3_location(&self) -> Result<(String, String), CloudError> {
        let rest = self.blob.url.strip_prefix("s3://").ok_or_else(|| {
            CloudError::Config(format!(
                "blob.url '{}' must look like s3://bucket[/prefix]",
                self.blob.url
            ))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(CloudError::Config(format!(
                "blob.url '{}': '{bucket}' is not a valid bucket name (3-63 of a-z 0-9 . -)",
                self.blob.url
            )));
        }
        Ok((bucket.to_owned(), prefix.trim_matches('/').to_owned()))
    }

    /// The S3 settings (credentials from env `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, or
    /// the files `blob.access_key_id_file` / `blob.secret_access_key_file`); `None` for the
    /// local backend.
    pub fn s3_settings(
        &self,
        env: &[(String, String)],
    ) -> Result<Option<crate::blob::S3Settings>, CloudError> {
        if self.blob.url.is_empty() {
            return Ok(None);
        }
        let (bucket, prefix) = self.s3_location()?;
        let secret = |var: &str, file: &Option<PathBuf>, key: &str| -> Result<Secret, CloudError> {
            if let Some(path) = file {
                return Secret::from_file(path);
            }
            match env.iter().find(|(k, _)| k == var) {
                Some((_, v)) => Secret::new(v.clone(), var),
                None => Err(CloudError::Config(format!(
                    "S3 blob storage needs credentials: set {key} or env {var}"
                ))),
            }
        };
        Ok(Some(crate::blob::S3Settings {
            bucket,
            prefix,
            endpoint: (!self.blob.endpoint.is_empty()).then(|| self.blob.endpoint.clone()),
            region: self.blob.region.clone(),
            access_key_id: secret(
                "AWS_ACCESS_KEY_ID",
                &self.blob.access_key_id_file,
                "blob.access_key_id_file",
            )?,
            secret_access_key: secret(
                "AWS_SECRET_ACCESS_KEY",
                &self.blob.secret_access_key_file,
                "blob.secret_access_key_file",
            )?,
        }))
    }

    /// Directory of the local blob store.
    pub fn blob_dir(&self) -> PathBuf {
        if self.blob.dir.as_os_str().is_empty() {
            self.data_dir.join("blobs")
        } else {
            self.blob.dir.clone()
        }
    }

    /// Directory of the upload spool.
    pub fn spool_dir(&self) -> PathBuf {
        if self.upload.spool_dir.as_os_str().is_empty() {
            self.data_dir.join("spool")
        } else {
            self.upload.spool_dir.clone()
        }
    }

    /// Reads the admin token: env `DASHLEDGER_CLOUD_ADMIN_TOKEN` first, then `admin_token_file`.
    /// `None` disables the operator API (every operator call answers 403).
    pub fn admin_token(
        &self,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Option<Secret>, CloudError> {
        if let Some((_, v)) = env.into_iter().find(|(k, _)| k == ADMIN_TOKEN_ENV) {
            return Secret::new(v, ADMIN_TOKEN_ENV).map(Some);
        }
        match &self.admin_token_file {
            None => Ok(None),
            Some(path) => Secret::from_file(path).map(Some),
        }
    }
}

/// Environment variable holding the operator's admin token (a secret, not a configuration key).
pub const ADMIN_TOKEN_ENV: &str = "DASHLEDGER_CLOUD_ADMIN_TOKEN";
/// Environment variable naming the configuration file (same as `--config`).
pub const CONFIG_ENV: &str = "DASHLEDGER_CLOUD_CONFIG";
/// Environment variable with the log filter.
pub const LOG_ENV: &str = "DASHLEDGER_CLOUD_LOG";

/// `DASHLEDGER_CLOUD_*` variables that are not configuration keys: the admin token (a secret),
/// the log filter and the config file path (read by the binary).
const NOT_CONFIG_ENV: &[&str] = &[ADMIN_TOKEN_ENV, LOG_ENV, CONFIG_ENV];

fn config_error(e: layers::LayerError) -> CloudError {
    CloudError::Config(e.to_string())
}

/// A secret string (token, private key). Zeroized on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret value; refuses an empty one. `origin` names where it came from, for errors.
    pub fn new(value: String, origin: &str) -> Result<Self, CloudError> {
        let v = Zeroizing::new(value);
        let trimmed = v.trim();
        if trimmed.is_empty() {
            return Err(CloudError::Config(format!("secret from {origin} is empty")));
        }
        Ok(Self(Zeroizing::new(trimmed.to_owned())))
    }

    /// Reads a secret from a file (surrounding whitespace trimmed).
    pub fn from_file(path: &Path) -> Result<Self, CloudError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CloudError::Config(format!("cannot read secret file {}: {e}", path.display()))
        })?;
        Self::new(text, &path.display().to_string())
    }

    /// The secret value. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The layering itself (order, typing, unknown keys) is tested in dashledger_protocol::layers;
    // these tests cover the cloud's keys, `--set`, skipped variables and validation.

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn set_overrides_env_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:1\"\n[upload]\nmax_chunk_bytes = 10\nmax_leaves = 7\n",
        )
        .unwrap();
        let env = vars(&[
            ("DASHLEDGER_CLOUD_UPLOAD__MAX_CHUNK_BYTES", "20"),
            ("DASHLEDGER_CLOUD_DATABASE_URL", "12"),
            ("DASHLEDGER_CLOUD_WEB__DIR", "web/dist"),
        ]);
        let sets = [
            "upload.max_leaves=9".to_string(),
            "admin_token_file = /run/admin.token".into(),
            "chain.confirmations=0".into(),
        ];
        let cfg = Config::load(Some(&file), env, &sets).unwrap();
        assert_eq!(cfg.listen, "0.0.0.0:1");
        assert_eq!(cfg.upload.max_chunk_bytes, 20);
        assert_eq!(cfg.upload.max_leaves, 9);
        assert_eq!(cfg.database_url, "12");
        assert_eq!(cfg.web.dir, Some(PathBuf::from("web/dist")));
        assert_eq!(
            cfg.admin_token_file,
            Some(PathBuf::from("/run/admin.token"))
        );
        assert_eq!(cfg.chain.confirmations, 0);
        assert_eq!(cfg.ingest, IngestConfig::default());
    }

    #[test]
    fn token_log_and_config_variables_are_not_config_keys() {
        let env = vars(&[
            (ADMIN_TOKEN_ENV, "tok"),
            (LOG_ENV, "debug"),
            (CONFIG_ENV, "/etc/dashledger/cloud.toml"),
            ("OTHER", "x"),
        ]);
        let cfg = Config::load(None, env.clone(), &[]).unwrap();
        assert_eq!(cfg, Config::default());
        assert!(!toml::to_string(&cfg).unwrap().contains("tok"));
        assert_eq!(cfg.admin_token(env).unwrap().unwrap().expose(), "tok");
    }

    #[test]
    fn bad_keys_and_settings_are_named() {
        let err = Config::load(None, vec![], &["upload.max_clipp=3".into()]).unwrap_err();
        assert!(err.to_string().contains("max_clipp"), "{err}");
        let err = Config::load(None, vars(&[("DASHLEDGER_CLOUD_LISTN", "x")]), &[]).unwrap_err();
        assert!(err.to_string().contains("DASHLEDGER_CLOUD_LISTN"), "{err}");
        let err = Config::load(None, vec![], &["listen".into()]).unwrap_err();
        assert!(err.to_string().contains("key=value"), "{err}");
        for (set, named) in [
            ("blob.backend=ftp", "blob.backend"),
            ("blob.backend=s3", "blob.url"),
            ("blob.url=s3://X", "not a valid bucket name"),
            ("search.max_page_size=0", "search.max_page_size"),
        ] {
            let err = Config::load(None, vec![], &[set.to_string()]).unwrap_err();
            assert!(err.to_string().contains(named), "{set}: {err}");
        }
    }

    #[test]
    fn rendered_config_round_trips() {
        let c = Config {
            admin_token_file: Some("/run/admin.token".into()),
            web: WebConfig {
                chain_name: Some("Anvil".into()),
                ..Default::default()
            },
            chain: ChainConfig {
                rpc_url: "http://127.0.0.1:8545".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, toml::to_string_pretty(&c).unwrap()).unwrap();
        assert_eq!(Config::load(Some(&file), vec![], &[]).unwrap(), c);
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2\n".into(), "test").unwrap();
        assert_eq!(s.expose(), "hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(Secret::new("  ".into(), "test").is_err());
    }
}
