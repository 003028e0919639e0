//! Opening arbitrary bytes as a sealed clip (streaming and chunk-level) never panics and never
//! succeeds unless the bytes are an authentic clip under the key.
#![no_main]
use dashledger_protocol::seal::{self, Opener, Sealer, SessionKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = SessionKey::from_bytes([7u8; 32]);
    let sealer = Sealer::with_nonce_prefix(&key, 1024, [1, 2, 3, 4, 5, 6, 7]).unwrap();
    let header = sealer.header().to_bytes();
    // 1. The data as a body after a valid header: must fail (the fuzzer cannot forge a tag).
    let mut file = header.to_vec();
    file.extend_from_slice(data);
    assert!(seal::open(&file[..], std::io::sink(), &key).is_err());
    // 2. The data as a whole file (header included): must not panic.
    let _ = seal::open(data, std::io::sink(), &key);
    // 3. Chunk-level API with fuzzer-chosen index and flag.
    let opener = Opener::new(&header, &key).unwrap();
    if let Some((&b, rest)) = data.split_first() {
        assert!(
            opener
                .open_chunk(u32::from(b >> 1), b & 1 == 1, rest)
                .is_err()
        );
    }
    // 4. Round trip of the data as plaintext.
    let mut sealed = Vec::new();
    seal::seal_with(data, &mut sealed, &sealer).unwrap();
    let mut back = Vec::new();
    seal::open(&sealed[..], &mut back, &key).unwrap();
    assert_eq!(back, data);
});
