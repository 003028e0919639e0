//! Streaming Keccak-256 (the Ethereum hash, *not* FIPS SHA3-256) of segments and clips.
//!
//! Memory is bounded by a 64 KiB read buffer whatever the input size. The result equals
//! Solidity's `keccak256(bytes)` and `cast keccak 0x<hex>` of the same bytes (see
//! `vectors/keccak.json`).

use std::{fs::File, io::Read, path::Path};

use alloy::primitives::B256;
// CRYPTOGAMS assembly Keccak (the same code OpenSSL ships), behind the RustCrypto `Digest` API.
use keccak_asm::{Digest, Keccak256};

use crate::error::{Error, Result};

/// Read buffer size used by the streaming hashers.
pub const HASH_BUF_SIZE: usize = 64 * 1024;

/// Keccak-256 of a byte slice.
pub fn keccak256(data: impl AsRef<[u8]>) -> B256 {
    let out: [u8; 32] = Keccak256::digest(data.as_ref()).into();
    B256::from(out)
}

/// Keccak-256 of everything `reader` yields, read in 64 KiB pieces.
///
/// Returns the hash and the number of bytes hashed.
pub fn keccak256_reader(mut reader: impl Read) -> Result<(B256, u64)> {
    let mut hasher = Keccak256::new();
    let mut buf = vec![0u8; HASH_BUF_SIZE];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("reading the data to hash")(e)),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    let out: [u8; 32] = hasher.finalize().into();
    Ok((B256::from(out), total))
}

/// Keccak-256 of a file's contents (streamed; bounded memory).
pub fn keccak256_file(path: impl AsRef<Path>) -> Result<B256> {
    let file = File::open(path.as_ref()).map_err(Error::io("opening the file to hash"))?;
    Ok(keccak256_reader(file)?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_is_the_ethereum_empty_hash() {
        // keccak256("") as used everywhere in Ethereum (differs from SHA3-256("")).
        assert_eq!(
            keccak256([]).to_string(),
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
        assert_eq!(keccak256_reader(&[][..]).unwrap().0, keccak256([]));
    }

    #[test]
    fn streaming_equals_one_shot_across_buffer_boundaries() {
        let data: Vec<u8> = (0..(3 * HASH_BUF_SIZE + 17))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let (h, n) = keccak256_reader(&data[..]).unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(h, keccak256(&data));
    }
}
