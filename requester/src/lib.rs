//! dashledger's requester side: the library behind the `dashledger-requester` CLI.
//!
//! * [`chain`] — open a Request Contract, read states and the owner's response, confirm,
//!   dispute, cancel, withdraw; reverts decoded into the contracts' custom errors.
//! * [`cloud`] — search verified clips and download a sealed clip (signed, resumable).
//! * [`keys`] — the requester's Umbral keys on disk (generated on first use, export/import).
//! * [`open`] — open a sealed clip chunk by chunk and check it against the Evidence Contract.
//! * [`bundle`] — an evidence bundle of a verified clip for `dashledger-verify`.
//! * [`bindings`] — contract bindings from `protocol/abi/`.
//!
//! The guide is `docs/requester.md`.
//!
//! ```
//! use dashledger_protocol::{hash::keccak256, seal};
//! use dashledger_requester::open::open_and_verify;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let clip = vec![7u8; 100_000];
//! let key = seal::SessionKey::generate();
//! let mut sealed = Vec::new();
//! seal::seal(&clip[..], &mut sealed, &key).unwrap();
//! let sealed_path = dir.path().join("clip.sealed");
//! std::fs::write(&sealed_path, &sealed).unwrap();
//!
//! let out = dir.path().join("clip.mp4");
//! let v = open_and_verify(
//!     &sealed_path,
//!     &out,
//!     &key,
//!     keccak256(&sealed), // the EC's cipherHash
//!     keccak256(&clip),   // the EC's videoHash
//!     &indicatif::ProgressBar::hidden(),
//! )
//! .unwrap();
//! assert_eq!(v.plaintext_len, 100_000);
//! assert_eq!(std::fs::read(out).unwrap(), clip);
//! ```

pub mod area;
pub mod bindings;
pub mod bundle;
pub mod chain;
pub mod cloud;
pub mod config;
pub mod error;
pub mod keys;
pub mod open;

pub use error::{Error, Result};
