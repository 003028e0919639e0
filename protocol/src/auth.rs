//! Signed API requests (device → cloud, requester → cloud): EIP-191 `personal_sign` by an
//! Ethereum key over a canonical text that binds the chain, method, path, body, a nonce and an
//! expiry. The cloud verifies, then keeps the `(address, nonce)` replay set until expiry.
//!
//! Canonical text (UTF-8, lines joined by `\n`, no trailing newline):
//!
//! ```text
//! dashledger API request v1
//! chain-id: 31337
//! method: POST
//! path: /v1/records?x=1
//! body-keccak256: 0x<64 lowercase hex>
//! nonce: <16..=64 chars of [A-Za-z0-9_-]>
//! expires: <unix seconds>
//! ```
//!
//! `path` is the request target exactly as sent (path plus `?query` if any).

use alloy::{
    primitives::{Address, B256, eip191_hash_message},
    signers::{SignerSync, local::PrivateKeySigner},
};
use rand::RngCore;

use crate::{
    error::{Error, Result},
    hash::keccak256,
    record::recover_strict,
};

/// Header carrying the signer's address (`0x` + 40 hex).
pub const HEADER_ADDRESS: &str = "x-dashledger-address";
/// Header carrying the nonce.
pub const HEADER_NONCE: &str = "x-dashledger-nonce";
/// Header carrying the expiry (unix seconds, decimal).
pub const HEADER_EXPIRES: &str = "x-dashledger-expires";
/// Header carrying the 65-byte signature (`0x` + 130 hex, v = 27/28).
pub const HEADER_SIGNATURE: &str = "x-dashledger-signature";
/// First line of the canonical text.
pub const AUTH_PREAMBLE: &str = "dashledger API request v1";
/// Default maximum lifetime of a signed request accepted by [`verify_request`].
pub const DEFAULT_MAX_VALIDITY_SECS: u64 = 300;

/// The request being signed or verified.
#[derive(Clone, Copy, Debug)]
pub struct RequestParts<'a> {
    /// Chain id of the deployment (binds requests to one network).
    pub chain_id: u64,
    /// HTTP method (case-insensitive; canonicalised to upper case).
    pub method: &'a str,
    /// Request target as sent: path plus optional `?query`.
    pub path: &'a str,
    /// Request body (empty for GET).
    pub body: &'a [u8],
}

/// The four authentication headers.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuthHeaders {
    /// Claimed signer.
    pub address: Address,
    /// Single-use nonce.
    pub nonce: String,
    /// Expiry, unix seconds.
    pub expires: u64,
    /// `r || s || v`.
    pub signature: [u8; 65],
}

/// A request whose signature checked out. Only [`verify_request`] makes one.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedRequest {
    address: Address,
    nonce: String,
    expires: u64,
}

impl VerifiedRequest {
    /// The authenticated signer.
    pub const fn address(&self) -> Address {
        self.address
    }
    /// The nonce (the caller must reject it if seen before expiry).
    pub fn nonce(&self) -> &str {
        &self.nonce
    }
    /// Expiry (keep the nonce in the replay set until then).
    pub const fn expires(&self) -> u64 {
        self.expires
    }
}

fn check_nonce(nonce: &str) -> Result<()> {
    if !(16..=64).contains(&nonce.len())
        || !nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::AuthHeader {
            header: HEADER_NONCE,
            problem: "must be 16-64 characters of [A-Za-z0-9_-]".into(),
        });
    }
    Ok(())
}

/// The canonical text for a request.
pub fn canonical_text(req: &RequestParts<'_>, nonce: &str, expires: u64) -> Result<String> {
    check_nonce(nonce)?;
    if req.method.is_empty() || !req.method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(Error::AuthField(format!(
            "method {:?} must be ASCII letters",
            req.method
        )));
    }
    if !req.path.starts_with('/') || req.path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(Error::AuthField(format!(
            "path {:?} must start with '/' and contain no spaces or control characters",
            req.path
        )));
    }
    Ok(format!(
        "{AUTH_PREAMBLE}\nchain-id: {}\nmethod: {}\npath: {}\nbody-keccak256: {}\nnonce: {nonce}\nexpires: {expires}",
        req.chain_id,
        req.method.to_ascii_uppercase(),
        req.path,
        keccak256(req.body),
    ))
}

/// A fresh random nonce (32 lowercase hex characters).
pub fn new_nonce() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Signs a request valid until `expires` (unix seconds) with a fresh nonce.
pub fn sign_request(
    signer: &PrivateKeySigner,
    req: &RequestParts<'_>,
    expires: u64,
) -> Result<AuthHeaders> {
    sign_request_with_nonce(signer, req, new_nonce(), expires)
}

/// Signs a request with a given nonce.
pub fn sign_request_with_nonce(
    signer: &PrivateKeySigner,
    req: &RequestParts<'_>,
    nonce: String,
    expires: u64,
) -> Result<AuthHeaders> {
    let text = canonical_text(req, &nonce, expires)?;
    let sig = signer
        .sign_hash_sync(&eip191_hash_message(text.as_bytes()))
        .map_err(|e| Error::Signature(e.to_string()))?;
    Ok(AuthHeaders {
        address: signer.address(),
        nonce,
        expires,
        signature: sig.as_bytes(),
    })
}

impl AuthHeaders {
    /// `(name, value)` pairs to set on the HTTP request.
    pub fn to_pairs(&self) -> [(&'static str, String); 4] {
        [
            (HEADER_ADDRESS, self.address.to_checksum(None)),
            (HEADER_NONCE, self.nonce.clone()),
            (HEADER_EXPIRES, self.expires.to_string()),
            (
                HEADER_SIGNATURE,
                format!("0x{}", hex::encode(self.signature)),
            ),
        ]
    }

    /// Parses the headers with a lookup function (`name` is lower case).
    pub fn from_lookup<'a>(get: impl Fn(&'static str) -> Option<&'a str>) -> Result<Self> {
        let need = |h: &'static str| {
            get(h).ok_or(Error::AuthHeader {
                header: h,
                problem: "is missing".into(),
            })
        };
        let address = need(HEADER_ADDRESS)?
            .trim()
            .parse::<Address>()
            .map_err(|e| Error::AuthHeader {
                header: HEADER_ADDRESS,
                problem: format!("is not an address: {e}"),
            })?;
        let nonce = need(HEADER_NONCE)?.trim().to_owned();
        check_nonce(&nonce)?;
        let expires =
            need(HEADER_EXPIRES)?
                .trim()
                .parse::<u64>()
                .map_err(|e| Error::AuthHeader {
                    header: HEADER_EXPIRES,
                    problem: format!("is not unix seconds: {e}"),
                })?;
        let sig_hex = need(HEADER_SIGNATURE)?.trim();
        let sig = hex::decode(sig_hex.strip_prefix("0x").unwrap_or(sig_hex)).map_err(|e| {
            Error::AuthHeader {
                header: HEADER_SIGNATURE,
                problem: format!("is not hex: {e}"),
            }
        })?;
        let signature: [u8; 65] = sig.try_into().map_err(|v: Vec<u8>| Error::AuthHeader {
            header: HEADER_SIGNATURE,
            problem: format!("is {} bytes, expected 65", v.len()),
        })?;
        Ok(Self {
            address,
            nonce,
            expires,
            signature,
        })
    }
}

/// Verifies a signed request at time `now` (unix seconds): not expired, expiry at most
/// `max_validity_secs` ahead, signature by `headers.address` over this exact request.
/// The caller then checks the nonce against its replay set.
pub fn verify_request(
    headers: &AuthHeaders,
    req: &RequestParts<'_>,
    now: u64,
    max_validity_secs: u64,
) -> Result<VerifiedRequest> {
    if headers.expires < now {
        return Err(Error::Expired {
            expires: headers.expires,
            now,
        });
    }
    if headers.expires - now > max_validity_secs {
        return Err(Error::ExpiryTooFar {
            expires: headers.expires,
            now,
            max_validity_secs,
        });
    }
    let text = canonical_text(req, &headers.nonce, headers.expires)?;
    let digest: B256 = eip191_hash_message(text.as_bytes());
    let recovered = recover_strict(&digest, &headers.signature)?;
    if recovered != headers.address {
        return Err(Error::WrongSigner {
            expected: headers.address,
            recovered,
        });
    }
    Ok(VerifiedRequest {
        address: recovered,
        nonce: headers.nonce.clone(),
        expires: headers.expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: RequestParts<'static> = RequestParts {
        chain_id: 31337,
        method: "post",
        path: "/v1/records",
        body: b"{}",
    };

    #[test]
    fn sign_verify_and_tamper() {
        let k = PrivateKeySigner::random();
        let h = sign_request(&k, &REQ, 1_000_100).unwrap();
        let pairs = h.to_pairs();
        let parsed = AuthHeaders::from_lookup(|n| {
            pairs.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str())
        })
        .unwrap();
        assert_eq!(parsed, h);
        let v = verify_request(&parsed, &REQ, 1_000_000, 300).unwrap();
        assert_eq!(v.address(), k.address());
        let other_body = RequestParts {
            body: b"{ }",
            ..REQ
        };
        assert!(matches!(
            verify_request(&h, &other_body, 1_000_000, 300),
            Err(Error::WrongSigner { .. })
        ));
        let other_chain = RequestParts { chain_id: 1, ..REQ };
        assert!(verify_request(&h, &other_chain, 1_000_000, 300).is_err());
        assert!(matches!(
            verify_request(&h, &REQ, 1_000_101, 300),
            Err(Error::Expired { .. })
        ));
        assert!(matches!(
            verify_request(&h, &REQ, 1_000_000, 60),
            Err(Error::ExpiryTooFar { .. })
        ));
        let mut wrong_addr = h.clone();
        wrong_addr.address = Address::repeat_byte(1);
        assert!(matches!(
            verify_request(&wrong_addr, &REQ, 1_000_000, 300),
            Err(Error::WrongSigner { .. })
        ));
    }

    #[test]
    fn canonical_text_is_exact() {
        let t = canonical_text(&REQ, "0123456789abcdef", 5).unwrap();
        assert_eq!(
            t,
            "dashledger API request v1\nchain-id: 31337\nmethod: POST\npath: /v1/records\nbody-keccak256: 0x\
             b48d38f93eaa084033fc5970bf96e559c33c4cdc07d889ab00b4d63f9590739d\nnonce: 0123456789abcdef\nexpires: 5"
        );
        assert!(canonical_text(&REQ, "short", 5).is_err());
        assert!(
            canonical_text(
                &RequestParts {
                    path: "/a\nb",
                    ..REQ
                },
                "0123456789abcdef",
                5
            )
            .is_err()
        );
        assert!(AuthHeaders::from_lookup(|_| None).is_err());
    }
}
