//! EIP-712 typed data for relayed Evidence Contract creation
//! (`EvidenceFactory.createEvidenceFor(params, owner, deadline, signature)`), byte-identical to
//! what the factory checks (see `contracts/src/interfaces/IEvidenceFactory.sol`), and for the
//! relayed owner actions on a Request Contract (`respondFor`, `declineFor`, `claimFor`,
//! `withdrawFor`; domain verifyingContract = the REQC; see [`OwnerAction`]).
//!
//! Domain: `EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)`
//! with name `"dashledger"`, version `"1"`, verifyingContract = the factory.
//!
//! Primary type:
//! `CreateEvidence(address owner,Evidence evidence,uint256 deadline)Evidence(bytes32 videoHash,
//! bytes32 cipherHash,bytes32 frameHash,bytes32 framesRoot,bytes32 keyCommitment,uint64
//! recordedAt,int32 latitude,int32 longitude,bytes capsule,bytes wrappedKey,bytes
//! ownerUmbralKey)`.

use alloy::{
    primitives::{Address, B256, U256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol,
    sol_types::{Eip712Domain, SolStruct, eip712_domain},
};

use crate::{
    error::{Error, Result},
    record::recover_strict,
};

sol! {
    /// The evidence fields fixed at EC creation (`IEvidenceFactory.EvidenceParams`).
    #[derive(Debug, Default, PartialEq, Eq)]
    struct Evidence {
        bytes32 videoHash;
        bytes32 cipherHash;
        bytes32 frameHash;
        bytes32 framesRoot;
        bytes32 keyCommitment;
        uint64 recordedAt;
        int32 latitude;
        int32 longitude;
        bytes capsule;
        bytes wrappedKey;
        bytes ownerUmbralKey;
    }

    /// The message an owner signs so a relayer may create the EC for them.
    #[derive(Debug, PartialEq, Eq)]
    struct CreateEvidence {
        address owner;
        Evidence evidence;
        uint256 deadline;
    }
}

sol! {
    /// Owner (EC owner key): respond with this kfrag; a relayer fronts the deposit and is owed it
    /// back plus `relayerFee` out of the owner's share (`IRequestContract.respondFor`).
    #[derive(Debug, PartialEq, Eq)]
    struct Respond {
        bytes kfrag;
        bytes ownerUmbralKey;
        string downloadLink;
        uint256 relayerFee;
        uint256 deadline;
    }

    /// Owner: decline the request (`declineFor`).
    #[derive(Debug, PartialEq, Eq)]
    struct Decline {
        uint256 deadline;
    }

    /// Owner: claim after the confirm window (`claimFor`).
    #[derive(Debug, PartialEq, Eq)]
    struct Claim {
        uint256 deadline;
    }

    /// Owner: pay my share to `to`, `relayerFee` of it to the sender (`withdrawFor`).
    #[derive(Debug, PartialEq, Eq)]
    struct Withdraw {
        address to;
        uint256 relayerFee;
        uint256 deadline;
    }
}

/// A relayed owner action on one Request Contract, signed by the EC's owner key.
#[derive(Debug, PartialEq, Eq)]
pub enum OwnerAction {
    /// `respondFor`.
    Respond(Respond),
    /// `declineFor`.
    Decline(Decline),
    /// `claimFor`.
    Claim(Claim),
    /// `withdrawFor`.
    Withdraw(Withdraw),
}

impl OwnerAction {
    /// The digest the REQC checks (`hashRespond` / `hashDecline` / `hashClaim` / `hashWithdraw`):
    /// domain name "dashledger", version "1", `chain_id`, verifyingContract = `reqc`.
    pub fn digest(&self, chain_id: u64, reqc: Address) -> B256 {
        let d = domain(chain_id, reqc);
        match self {
            Self::Respond(m) => m.eip712_signing_hash(&d),
            Self::Decline(m) => m.eip712_signing_hash(&d),
            Self::Claim(m) => m.eip712_signing_hash(&d),
            Self::Withdraw(m) => m.eip712_signing_hash(&d),
        }
    }

    /// Signs with the EC's owner key: 65 bytes `r || s || v` (v = 27/28, low s).
    pub fn sign(
        &self,
        owner_key: &PrivateKeySigner,
        chain_id: u64,
        reqc: Address,
    ) -> Result<[u8; 65]> {
        let sig = owner_key
            .sign_hash_sync(&self.digest(chain_id, reqc))
            .map_err(|e| Error::Eip712(e.to_string()))?;
        Ok(sig.as_bytes())
    }

    /// Checks a signature as the REQC does (strict v/s) against the REQC's `owner`.
    pub fn verify(
        &self,
        chain_id: u64,
        reqc: Address,
        owner: Address,
        signature: &[u8; 65],
    ) -> Result<()> {
        let recovered = recover_strict(&self.digest(chain_id, reqc), signature)?;
        if recovered != owner {
            return Err(Error::WrongSigner {
                expected: owner,
                recovered,
            });
        }
        Ok(())
    }
}

/// EIP-712 domain name.
pub const DOMAIN_NAME: &str = "dashledger";
/// EIP-712 domain version.
pub const DOMAIN_VERSION: &str = "1";

/// The EIP-712 domain of `verifying_contract`: the EvidenceFactory for `CreateEvidence`, a
/// Request Contract for the owner actions.
pub fn domain(chain_id: u64, factory: Address) -> Eip712Domain {
    eip712_domain! {
        name: DOMAIN_NAME,
        version: DOMAIN_VERSION,
        chain_id: chain_id,
        verifying_contract: factory,
    }
}

/// The EC's `evidenceHash`: the EIP-712 struct hash of `Evidence`.
pub fn evidence_hash(evidence: &Evidence) -> B256 {
    evidence.eip712_hash_struct()
}

/// The digest the owner signs (`hashCreateEvidence` on the factory).
pub fn create_evidence_digest(
    evidence: &Evidence,
    owner: Address,
    deadline: U256,
    chain_id: u64,
    factory: Address,
) -> B256 {
    let msg = CreateEvidence {
        owner,
        evidence: evidence.clone(),
        deadline,
    };
    msg.eip712_signing_hash(&domain(chain_id, factory))
}

/// Signs a `CreateEvidence` message with the owner key: 65 bytes `r || s || v`, v = 27/28,
/// low s (what `createEvidenceFor` accepts). The owner is the signer's address.
pub fn sign_create_evidence(
    owner_key: &PrivateKeySigner,
    evidence: &Evidence,
    deadline: U256,
    chain_id: u64,
    factory: Address,
) -> Result<[u8; 65]> {
    let digest = create_evidence_digest(evidence, owner_key.address(), deadline, chain_id, factory);
    let sig = owner_key
        .sign_hash_sync(&digest)
        .map_err(|e| Error::Eip712(e.to_string()))?;
    Ok(sig.as_bytes())
}

/// Checks a `CreateEvidence` signature as the factory does (strict v/s) and returns the
/// recovered owner, which must equal `owner`.
pub fn verify_create_evidence(
    evidence: &Evidence,
    owner: Address,
    deadline: U256,
    chain_id: u64,
    factory: Address,
    signature: &[u8; 65],
) -> Result<Address> {
    let digest = create_evidence_digest(evidence, owner, deadline, chain_id, factory);
    let recovered = recover_strict(&digest, signature)?;
    if recovered != owner {
        return Err(Error::WrongSigner {
            expected: owner,
            recovered,
        });
    }
    Ok(recovered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_string_matches_the_contract() {
        let ts = CreateEvidence::eip712_encode_type();
        assert_eq!(
            ts,
            "CreateEvidence(address owner,Evidence evidence,uint256 deadline)Evidence(bytes32 videoHash,bytes32 \
             cipherHash,bytes32 frameHash,bytes32 framesRoot,bytes32 keyCommitment,uint64 recordedAt,int32 latitude,\
             int32 longitude,bytes capsule,bytes wrappedKey,bytes ownerUmbralKey)"
        );
    }

    #[test]
    fn owner_action_type_strings_match_the_contract() {
        assert_eq!(
            Respond::eip712_encode_type(),
            "Respond(bytes kfrag,bytes ownerUmbralKey,string downloadLink,uint256 relayerFee,uint256 deadline)"
        );
        assert_eq!(Decline::eip712_encode_type(), "Decline(uint256 deadline)");
        assert_eq!(Claim::eip712_encode_type(), "Claim(uint256 deadline)");
        assert_eq!(
            Withdraw::eip712_encode_type(),
            "Withdraw(address to,uint256 relayerFee,uint256 deadline)"
        );
    }

    #[test]
    fn owner_action_bound_to_one_request() {
        let k = PrivateKeySigner::random();
        let m = OwnerAction::Withdraw(Withdraw {
            to: Address::repeat_byte(3),
            relayerFee: U256::from(7),
            deadline: U256::from(100),
        });
        let a = Address::repeat_byte(1);
        let sig = m.sign(&k, 31337, a).unwrap();
        m.verify(31337, a, k.address(), &sig).unwrap();
        assert!(
            m.verify(31337, Address::repeat_byte(2), k.address(), &sig)
                .is_err()
        );
        assert!(m.verify(1, a, k.address(), &sig).is_err());
    }

    #[test]
    fn sign_and_verify() {
        let k = PrivateKeySigner::random();
        let e = Evidence {
            videoHash: B256::repeat_byte(1),
            recordedAt: 5,
            latitude: -3,
            ..Default::default()
        };
        let f = Address::repeat_byte(9);
        let sig = sign_create_evidence(&k, &e, U256::from(100), 31337, f).unwrap();
        assert_eq!(
            verify_create_evidence(&e, k.address(), U256::from(100), 31337, f, &sig).unwrap(),
            k.address()
        );
        assert!(verify_create_evidence(&e, k.address(), U256::from(101), 31337, f, &sig).is_err());
        assert!(verify_create_evidence(&e, k.address(), U256::from(100), 1, f, &sig).is_err());
    }
}
