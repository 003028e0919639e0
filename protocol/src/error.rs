//! The crate's error type: one enum, one variant per distinct failure, each message naming
//! what is wrong and (where it helps) what to do about it.

use alloy::primitives::{Address, B256};

/// Everything that can go wrong in `dashledger-protocol`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a stream or file failed.
    #[error("I/O error while {context}: {source}")]
    Io {
        /// What we were doing.
        context: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    // ---- records -------------------------------------------------------------------------
    /// A byte string had the wrong length for the format being decoded.
    #[error("{what} must be exactly {expected} bytes, got {got}")]
    Length {
        /// The format being decoded.
        what: &'static str,
        /// The required length.
        expected: usize,
        /// The length received.
        got: usize,
    },
    /// The device id's version byte is not one we know.
    #[error("unknown device id version 0x{0:02x} (only 0x01 = Ethereum address is defined)")]
    DeviceIdVersion(u8),
    /// The record's segment start time (its "file name") is not a valid UTC date-time.
    #[error("invalid segment start time in record: {0}")]
    SegmentTime(String),
    /// A signature is malformed (bad v, zero r/s, high s) or does not recover a key.
    #[error("invalid signature: {0}")]
    Signature(String),
    /// A signature is well-formed but was made by a different key than required.
    #[error("signature was made by {recovered}, expected {expected}")]
    WrongSigner {
        /// The required signer.
        expected: Address,
        /// The address the signature recovers to.
        recovered: Address,
    },
    /// The record's device id names a different address than the one that signed it.
    #[error("record claims device {claimed} but is signed by {recovered}")]
    DeviceMismatch {
        /// The address in the record's device id.
        claimed: Address,
        /// The address the signature recovers to.
        recovered: Address,
    },

    // ---- chain ---------------------------------------------------------------------------
    /// A record of another device was given to a per-device chain checker.
    #[error("chain checker for device {expected} was given a record of device {got}")]
    ForeignRecord {
        /// The checker's device.
        expected: Address,
        /// The record's device.
        got: Address,
    },

    // ---- frames / mp4 ----------------------------------------------------------------------
    /// The MP4 file could not be parsed.
    #[error("malformed MP4: {0}")]
    Mp4(String),
    /// The MP4 file uses a feature the sample reader does not support.
    #[error("unsupported MP4: {0}")]
    Mp4Unsupported(String),
    /// A Merkle proof is malformed (index out of range, wrong number of siblings).
    #[error("malformed Merkle proof: {0}")]
    Proof(String),

    // ---- seal ----------------------------------------------------------------------------
    /// The sealed-clip header is malformed or of an unknown version.
    #[error("invalid sealed-clip header: {0}")]
    SealHeader(String),
    /// The session key does not match the key commitment in the sealed clip header.
    #[error(
        "wrong session key: the clip was sealed under key commitment {expected}, this key commits to {got}"
    )]
    WrongKey {
        /// Commitment in the header.
        expected: B256,
        /// Commitment of the supplied key.
        got: B256,
    },
    /// A chunk failed authentication: the clip was modified, truncated, reordered or mixed.
    #[error(
        "sealed clip chunk {index} failed authentication (tampered, truncated, reordered or from another clip)"
    )]
    ChunkAuth {
        /// Index of the chunk that failed.
        index: u32,
    },
    /// The sealed clip ended before its final chunk.
    #[error(
        "sealed clip is truncated: stream ended after chunk {after_chunk} without a final chunk"
    )]
    Truncated {
        /// Number of chunks successfully read.
        after_chunk: u32,
    },
    /// The sealed clip is too long (chunk counter would overflow).
    #[error("sealed clip has too many chunks (more than 2^32 - 1)")]
    TooManyChunks,
    /// A chunk handed to the chunk-level API has an impossible size.
    #[error("chunk {index} has {len} bytes of ciphertext; {rule}")]
    ChunkSize {
        /// Chunk index.
        index: u32,
        /// Ciphertext length received.
        len: usize,
        /// The size rule that was violated.
        rule: String,
    },

    // ---- wrap ----------------------------------------------------------------------------
    /// An Umbral object (key, capsule, kfrag, cfrag) could not be decoded.
    #[error("invalid Umbral {what}: {reason}")]
    UmbralDecode {
        /// Which object.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A kfrag failed verification against the owner's signer and the public keys.
    #[error("kfrag verification failed: {0}")]
    KfragVerification(String),
    /// A cfrag failed verification against the capsule, the signer and the public keys.
    #[error("cfrag verification failed: {0}")]
    CfragVerification(String),
    /// Umbral encryption or decryption failed.
    #[error("Umbral {op} failed: {reason}")]
    Umbral {
        /// Which operation.
        op: &'static str,
        /// Why.
        reason: String,
    },
    /// The recovered session key does not match the on-chain key commitment.
    #[error("recovered session key commits to {got}, but the evidence contract says {expected}")]
    CommitmentMismatch {
        /// Expected commitment.
        expected: B256,
        /// Commitment of the recovered key.
        got: B256,
    },

    // ---- keys ----------------------------------------------------------------------------
    /// The keystore file is malformed.
    #[error("invalid keystore: {0}")]
    Keystore(String),
    /// The keystore MAC did not match: wrong password or corrupted file.
    #[error("keystore MAC mismatch: wrong password or corrupted keystore")]
    KeystorePassword,
    /// A secret key is out of range (zero or ≥ the curve order).
    #[error("invalid secret key: {0}")]
    SecretKey(String),
    /// BIP-32 derivation failed or the accident index is out of range.
    #[error("key derivation failed: {0}")]
    Derivation(String),

    // ---- auth ----------------------------------------------------------------------------
    /// A signed-request header is missing or malformed.
    #[error("signed request: header {header} {problem}")]
    AuthHeader {
        /// Header name.
        header: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The signed request has expired.
    #[error("signed request expired at {expires} (now {now})")]
    Expired {
        /// Expiry (unix seconds).
        expires: u64,
        /// Current time (unix seconds).
        now: u64,
    },
    /// The signed request's expiry is too far in the future.
    #[error(
        "signed request expiry {expires} is more than {max_validity_secs} s after now ({now}); clocks skewed or lifetime too long"
    )]
    ExpiryTooFar {
        /// Expiry (unix seconds).
        expires: u64,
        /// Current time (unix seconds).
        now: u64,
        /// Maximum accepted lifetime.
        max_validity_secs: u64,
    },
    /// A request field cannot be represented in the canonical text (e.g. contains a newline).
    #[error("signed request: {0}")]
    AuthField(String),

    // ---- eip712 --------------------------------------------------------------------------
    /// EIP-712 signing failed.
    #[error("EIP-712 signing failed: {0}")]
    Eip712(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Error::Io { context, source }
    }
}
