//! dashledger's shared protocol crate: the formats the agent, the cloud and the requester
//! agree on, defined once. No network I/O.
//!
//! * [`hash`] — streaming Keccak-256 of segments.
//! * [`record`] — the 96-byte evidence record and its 161-byte signed form.
//! * [`chain`] — gap / fork / break / reorder findings over a device's records.
//! * [`seal`] — chunked AES-256-GCM sealed clips.
//! * [`wrap`] — Umbral key wrapping, kfrags, cfrags.
//! * [`keys`] — keystore and per-accident owner keys and owner Umbral keys.
//! * [`frames`] (with [`mp4`]) — per-second frame leaves, Merkle tree, `framesRoot`, diffs.
//! * [`release`] — the key tree and chunk commitment for releasing a time window (format only:
//!   not used by the flow yet).
//! * [`eip712`] — typed data for relayed Evidence Contract creation.
//! * [`auth`] — signed API requests to the cloud.
//! * [`bindings`] — alloy contract bindings from the forge artifacts.
//! * `layers` (feature `config`) — layered configuration (defaults → TOML file → environment →
//!   overrides) for the agent and the cloud.
//!
//! Byte layouts are specified in `docs/formats.md`.
//!
//! # Owner → requester, end to end
//!
//! ```
//! use dashledger_protocol::{keys::OwnerSeed, seal, wrap};
//!
//! # fn main() -> Result<(), dashledger_protocol::Error> {
//! // The owner's seed (kept in the keystore) gives accident #0's Umbral key and EC owner key.
//! let seed = OwnerSeed::generate();
//! let owner_umbral = seed.owner_umbral_key(0)?;
//!
//! // Agent, on an accident: seal the clip under a fresh session key and wrap the key.
//! let clip = vec![0x42u8; 200_000];
//! let session_key = seal::SessionKey::generate();
//! let mut sealed = Vec::new();
//! seal::seal(&clip[..], &mut sealed, &session_key)?;
//! let wrapped = wrap::wrap(&owner_umbral.public_key(), &session_key)?;
//! let key_commitment = session_key.commitment(); // goes on-chain with the EC
//! let owner_key = seed.owner_key(0)?; // accident #0's EC owner
//!
//! // A requester asks with their Umbral public key; the owner grants a kfrag.
//! let requester = wrap::UmbralSecretKey::generate();
//! let kfrag = wrap::grant(&owner_umbral, &owner_key.kfrag_signer(), &requester.public_key());
//!
//! // The requester recovers the session key (checked against the commitment) and opens.
//! let signer_pk = owner_key.kfrag_signer().verifying_key();
//! assert_eq!(signer_pk.eth_address(), owner_key.address());
//! let key = wrap::recover(
//!     &requester,
//!     &owner_umbral.public_key(),
//!     &signer_pk,
//!     &wrapped,
//!     &kfrag,
//!     &key_commitment,
//! )?;
//! let mut opened = Vec::new();
//! seal::open(&sealed[..], &mut opened, &key)?;
//! assert_eq!(opened, clip);
//! # Ok(())
//! # }
//! ```

pub mod auth;
pub mod bindings;
pub mod chain;
pub mod eip712;
pub mod error;
pub mod frames;
pub mod hash;
pub mod keys;
#[cfg(feature = "config")]
pub mod layers;
pub mod mp4;
pub mod record;
pub mod release;
pub mod seal;
pub mod status;
pub mod wrap;

pub use alloy::primitives::{Address, B256};
pub use error::{Error, Result};
