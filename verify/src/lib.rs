//! dashledger evidence bundles: one zip a requester hands to an insurer, a lawyer or a court,
//! which checks without trusting dashledger's cloud or running a node.
//!
//! * [`format`] — the files of a bundle (`dashledger-bundle/1`) and the zip I/O.
//! * [`check`] — the offline verification: [`verify`] returns a [`Verdict`] with every check
//!   by name and what could not be checked offline (that the block headers are canonical, that
//!   the factory is dashledger's deployment, that the device is an approved dashcam).
//! * [`live`] — the same bundle re-checked against a node (`--rpc URL`).
//! * [`build`] — making a bundle from its parts (used by `dashledger-requester bundle`).
//! * [`report`] — the HTML and PDF report inside the bundle.
//!
//! What the offline checks establish, from the bundle's bytes alone:
//!
//! 1. `manifest` — every file has the length and Keccak-256 the manifest lists; no file is
//!    missing or extra; the manifest is in its canonical form (so every byte of it matters).
//! 2. `clip`, `frames`, `thumbnail` — Keccak-256 of the clip is the EC's `videoHash`; the
//!    per-second frame leaves recomputed from the clip are the listed ones, their root is the
//!    EC's `framesRoot` and each second's Merkle proof verifies; the thumbnail is `frameHash`.
//! 3. `evidence-hash`, `ec-code` — the parameters hash (EIP-712) to the `evidenceHash` stored
//!    in the EC's code; that code is a clone of the factory's implementation, deployed by the
//!    factory at the EC's address (CREATE2), holding the owner, time and place.
//! 4. `state-proof-header`, `ec-account-proof`, `ec-status-proof`, `search-account-proof`,
//!    `search-listing-proof` — the header's hash recomputed from its fields; `eth_getProof`
//!    account proofs of the EC and the SearchContract against its `stateRoot` (alloy-trie's
//!    Merkle-Patricia verifier), the EC's status slot = not Rejected, the SearchContract's
//!    `ownerOf[ec]` = the owner (listed).
//! 5. `created-tx`, `verified-tx` — the blocks of the creating and verifying transactions:
//!    header hashes, transactions and receipts hashing to the header's roots, the
//!    `EvidenceCreated` event with these parameters and the `EvidenceVerified` event.
//! 6. `records` — the device's signed evidence records: signatures, one device, an unbroken
//!    hash chain, and the segment's record carrying `videoHash` and starting at `recordedAt`.
//! 7. `c2pa` — when the bundle has the device's C2PA sidecar (`clip.c2pa`): it validates
//!    against the clip (claim signature, BMFF hard binding of every byte) and its capture
//!    assertion names the EC, chain, `videoHash`, `recordedAt` and the records' device; with
//!    [`Options::c2pa_roots`] the signer chains to the operator's device CA.
//!
//! ```
//! use std::collections::BTreeMap;
//! use dashledger_verify::{Bundle, verify};
//!
//! // A bundle is a set of files plus a manifest; this one lacks everything but a clip.
//! let b = Bundle::new(BTreeMap::from([("clip.mp4".to_owned(), b"not a clip".to_vec())]));
//! let zip = b.to_zip().unwrap();
//! let back = Bundle::from_reader(std::io::Cursor::new(zip), "example.zip").unwrap();
//! assert_eq!(back, b);
//!
//! let verdict = verify(&back);
//! assert_eq!(verdict.result, "failed");
//! let manifest = verdict.checks.iter().find(|c| c.name == "manifest").unwrap();
//! assert!(manifest.ok, "the manifest matches the files");
//! let evidence = verdict.failures().find(|c| c.name == "evidence").unwrap();
//! assert!(evidence.detail.contains("evidence.json"), "{}", evidence.detail);
//! ```

pub mod build;
pub mod check;
pub mod error;
pub mod format;
pub mod live;
pub mod provenance;
pub mod report;

pub use check::{Check, NotChecked, Options, Verdict, verify, verify_with};
pub use error::{Error, Result};
pub use format::Bundle;
