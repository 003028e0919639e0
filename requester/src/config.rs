//! Deployment addresses (`deployments/<chainId>.json`, written by `scripts/devnet`).

use std::path::Path;

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The contract addresses of one deployment.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Chain id the contracts live on.
    pub chain_id: u64,
    /// `EvidenceFactory`.
    pub evidence_factory: Address,
    /// `RequestFactory`.
    pub request_factory: Address,
    /// `ResponseContract`.
    pub response_contract: Address,
    /// `SearchContract`.
    pub search_contract: Address,
    /// First block with dashledger logs (log queries start here).
    #[serde(default)]
    pub start_block: u64,
}

impl Deployment {
    /// Reads and parses a deployment file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(Error::io("reading the deployment file", path))?;
        serde_json::from_str(&text).map_err(|e| {
            Error::Config(format!(
                "{} is not a dashledger deployment file (need chainId, evidenceFactory, requestFactory, responseContract, searchContract): {e}",
                path.display()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devnet_file_and_names_missing_fields() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("31337.json");
        std::fs::write(
            &p,
            r#"{"chainId":31337,"evidenceFactory":"0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "requestFactory":"0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
            "responseContract":"0xCafac3dD18aC6c6e92c921884f9E4176737C052c",
            "searchContract":"0xa16E02E87b7454126E5E10d957A927A7F5B5d2be","startBlock":3,"verifier":"0x70997970C51812dc3A010C7d01b50e0d17dc79C8"}"#,
        )
        .unwrap();
        let d = Deployment::load(&p).unwrap();
        assert_eq!(d.chain_id, 31337);
        assert_eq!(d.start_block, 3);
        std::fs::write(&p, r#"{"chainId":1}"#).unwrap();
        let e = Deployment::load(&p).unwrap_err().to_string();
        assert!(e.contains("evidenceFactory"), "{e}");
        let e = Deployment::load(&dir.path().join("nope.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope.json"), "{e}");
    }
}
