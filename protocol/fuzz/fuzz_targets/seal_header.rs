//! Sealed-clip headers: parsing never panics, round-trips, and the chunk layout arithmetic is
//! consistent for any body length.
#![no_main]
use dashledger_protocol::seal::{SEAL_HEADER_LEN, SealHeader, TAG_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (h, rest) = data.split_at(data.len().min(SEAL_HEADER_LEN));
    if let Ok(hdr) = SealHeader::parse(h) {
        assert_eq!(&hdr.to_bytes()[..], h);
        let body_len = rest
            .iter()
            .take(8)
            .fold(0u64, |a, b| (a << 8) | u64::from(*b))
            >> 8;
        if let Ok((count, last)) = hdr.chunk_layout(body_len) {
            let full = u64::from(hdr.chunk_size()) + TAG_LEN as u64;
            assert!(count >= 1 && (TAG_LEN as u64..=full).contains(&last));
            assert_eq!(u64::from(count - 1) * full + last, body_len);
        }
    }
});
