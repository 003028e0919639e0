//! Keystore access: the password comes from `keystore_password_file` or the
//! `DASHLEDGER_AGENT_KEYSTORE_PASSWORD` environment variable, never from the configuration file.
//! The keystore format itself (device key, owner seed, Umbral key) is the protocol crate's.

use dashledger_protocol::keys::{self, KdfParams, Secrets};
use zeroize::Zeroizing;

use crate::config::{Config, PASSWORD_ENV};
use crate::error::AgentError;

/// Reads the keystore password (first line of the password file, or the environment variable).
pub fn password(config: &Config) -> Result<Zeroizing<Vec<u8>>, AgentError> {
    if !config.keystore_password_file.as_os_str().is_empty() {
        let p = &config.keystore_password_file;
        let raw = Zeroizing::new(
            std::fs::read(p)
                .map_err(|e| AgentError::io("cannot read keystore password file", p, e))?,
        );
        let line_end = raw.iter().position(|&b| b == b'\n').unwrap_or(raw.len());
        let mut line = &raw[..line_end];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        if line.is_empty() {
            return Err(AgentError::Config(format!(
                "keystore password file {} is empty",
                p.display()
            )));
        }
        return Ok(Zeroizing::new(line.to_vec()));
    }
    match std::env::var(PASSWORD_ENV) {
        Ok(v) if !v.is_empty() => Ok(Zeroizing::new(v.into_bytes())),
        _ => Err(AgentError::Config(format!(
            "no keystore password: set keystore_password_file or {PASSWORD_ENV}"
        ))),
    }
}

/// Creates a new keystore at the configured path; refuses to overwrite an existing one.
pub fn create(config: &Config, params: KdfParams) -> Result<Secrets, AgentError> {
    let path = &config.keystore;
    if path.exists() {
        return Err(AgentError::Config(format!(
            "keystore {} already exists; refusing to overwrite it (move it away first)",
            path.display()
        )));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| AgentError::io("cannot create keystore directory", dir, e))?;
    }
    let pw = password(config)?;
    let secrets = Secrets::generate();
    keys::save_keystore(path, &secrets, &pw, params).map_err(|source| AgentError::Keystore {
        action: "write",
        path: path.clone(),
        source,
    })?;
    Ok(secrets)
}

/// Opens the configured keystore.
pub fn open(config: &Config) -> Result<Secrets, AgentError> {
    let pw = password(config)?;
    keys::load_keystore(&config.keystore, &pw).map_err(|source| AgentError::Keystore {
        action: "open",
        path: config.keystore.clone(),
        source,
    })
}
