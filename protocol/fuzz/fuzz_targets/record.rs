//! Signed and unsigned evidence records: decoding never panics, and whatever decodes re-encodes
//! to the same bytes.
#![no_main]
use dashledger_protocol::record::{EvidenceRecord, SegmentTime, SignedRecord};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = SignedRecord::decode(data) {
        assert_eq!(&s.encode()[..], data);
        let _ = s.verify();
    }
    if let Ok(r) = EvidenceRecord::decode(data.get(..96).unwrap_or(data)) {
        assert_eq!(EvidenceRecord::decode(&r.encode()).unwrap(), r);
    }
    if let Ok(t) = SegmentTime::from_bytes(data.get(..7).unwrap_or(data)) {
        assert_eq!(SegmentTime::from_unix(t.to_unix()).unwrap(), t);
        assert_eq!(SegmentTime::parse_file_name(&t.file_name()).unwrap(), t);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = SegmentTime::parse_file_name(s);
    }
});
