//! dashledger's dashcam agent.
//!
//! The camera writes 1-minute segments into a directory; the agent notices each finished file
//! ([`watcher`]), hashes it and queues a signed evidence record in a durable SQLite outbox
//! ([`outbox`], [`segments`]), and sends the records to the cloud in order ([`cloud`],
//! [`daemon`]). Segments are decoded with GStreamer ([`decode`]) for accident detection;
//! location comes from an NMEA 0183 source ([`nmea`], [`location`]) and only ever goes into
//! evidence contracts.
//!
//! ```
//! use dashledger_agent::nmea::{Sentence, parse};
//!
//! let s = parse("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47").unwrap();
//! let Sentence::Fix(fix) = s else { panic!("no fix") };
//! assert!((fix.lat - 48.1173).abs() < 1e-6);
//! assert!(parse("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48").is_err());
//! ```

pub mod accident;
pub mod bench;
pub mod cloud;
pub mod config;
pub mod daemon;
pub mod decode;
pub mod detection;
pub mod error;
pub mod feed;
pub mod keystore;
pub mod location;
pub mod motion;
pub mod nmea;
pub mod outbox;
pub mod owner;
pub mod pipeline;
pub mod provenance;
pub mod segments;
pub mod watcher;

pub use config::Config;
pub use error::AgentError;
