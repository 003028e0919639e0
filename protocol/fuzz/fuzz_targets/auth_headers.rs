//! Signed-request headers from untrusted strings: parsing and verification never panic and
//! never accept a request nobody signed.
#![no_main]
use dashledger_protocol::auth::{self, AuthHeaders, RequestParts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let parts: Vec<&str> = s.splitn(5, '\n').collect();
    let get = |name: &'static str| -> Option<&str> {
        let i = [
            auth::HEADER_ADDRESS,
            auth::HEADER_NONCE,
            auth::HEADER_EXPIRES,
            auth::HEADER_SIGNATURE,
        ]
        .iter()
        .position(|h| *h == name)?;
        parts.get(i).copied()
    };
    if let Ok(h) = AuthHeaders::from_lookup(get) {
        let body = parts.get(4).copied().unwrap_or("").as_bytes();
        let req = RequestParts {
            chain_id: 31337,
            method: "POST",
            path: "/v1/records",
            body,
        };
        let _ = auth::verify_request(&h, &req, h.expires.saturating_sub(1), 300);
    }
});
