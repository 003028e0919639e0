//! Property tests for every format: round trips, and "any flipped bit or truncation fails".

use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use dashledger_protocol::{
    B256,
    auth::{self, RequestParts},
    chain::{self, Finding},
    frames, mp4,
    record::{DeviceId, EvidenceRecord, SegmentTime, SignedRecord},
    seal::{self, SEAL_HEADER_LEN, SealHeader, Sealer, SessionKey},
};
use proptest::prelude::*;

fn key() -> PrivateKeySigner {
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
        .parse()
        .unwrap()
}

prop_compose! {
    fn record()(seq in any::<u32>(), t in 0u64..253_402_300_800, p in any::<[u8; 32]>(), h in any::<[u8; 32]>()) -> EvidenceRecord {
        EvidenceRecord {
            seq,
            device: DeviceId::from_address(key().address()),
            start: SegmentTime::from_unix(t).unwrap(),
            prev_hash: B256::from(p),
            segment_hash: B256::from(h),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn record_round_trip(r in record()) {
        prop_assert_eq!(EvidenceRecord::decode(&r.encode()).unwrap(), r);
        let s = r.sign(&key()).unwrap();
        let v = SignedRecord::decode(&s.encode()).unwrap().verify().unwrap();
        prop_assert_eq!(v.record(), &r);
    }

    #[test]
    fn any_bit_flip_in_a_signed_record_is_rejected(r in record(), bit in 0usize..(161 * 8)) {
        let mut b = r.sign(&key()).unwrap().encode();
        b[bit / 8] ^= 1 << (bit % 8);
        let verdict = SignedRecord::decode(&b).and_then(|s| s.verify());
        prop_assert!(verdict.is_err(), "bit {} accepted", bit);
    }

    #[test]
    fn any_truncation_of_a_signed_record_is_rejected(r in record(), cut in 0usize..161) {
        let b = r.sign(&key()).unwrap().encode();
        prop_assert!(SignedRecord::decode(&b[..cut]).is_err());
    }

    #[test]
    fn segment_time_unix_round_trip(t in 0u64..253_402_300_800) {
        let s = SegmentTime::from_unix(t).unwrap();
        prop_assert_eq!(s.to_unix(), t);
        prop_assert_eq!(SegmentTime::from_bytes(&s.to_bytes()).unwrap(), s);
    }

    #[test]
    fn seal_round_trip(data in proptest::collection::vec(any::<u8>(), 0..9000), cs in 1024u32..3000) {
        let key = SessionKey::generate();
        let mut out = Vec::new();
        let st = seal::seal_with(&data[..], &mut out, &Sealer::new(&key, cs).unwrap()).unwrap();
        prop_assert_eq!(st.sealed_len as usize, out.len());
        prop_assert_eq!(SealHeader::parse(&out[..SEAL_HEADER_LEN]).unwrap().sealed_len(data.len() as u64), out.len() as u64);
        let mut back = Vec::new();
        seal::open(&out[..], &mut back, &key).unwrap();
        prop_assert_eq!(back, data);
    }

    #[test]
    fn any_bit_flip_or_truncation_of_a_sealed_clip_fails(
        data in proptest::collection::vec(any::<u8>(), 0..5000),
        pos in any::<proptest::sample::Index>(),
        bit in 0u8..8,
        cut in any::<proptest::sample::Index>(),
    ) {
        let key = SessionKey::generate();
        let mut out = Vec::new();
        seal::seal_with(&data[..], &mut out, &Sealer::new(&key, 1024).unwrap()).unwrap();
        let mut flipped = out.clone();
        flipped[pos.index(out.len())] ^= 1 << bit;
        prop_assert!(seal::open(&flipped[..], Vec::new(), &key).is_err());
        let c = cut.index(out.len());
        prop_assert!(seal::open(&out[..c], Vec::new(), &key).is_err(), "truncation to {} accepted", c);
        let mut longer = out.clone();
        longer.push(bit);
        prop_assert!(seal::open(&longer[..], Vec::new(), &key).is_err());
    }

    #[test]
    fn merkle_proofs_verify_and_bind_position(n in 1usize..300, i in any::<proptest::sample::Index>(), j in any::<proptest::sample::Index>()) {
        let leaves: Vec<B256> = (0..n).map(|k| dashledger_protocol::hash::keccak256((k as u32).to_be_bytes())).collect();
        let root = frames::frames_root(&leaves).unwrap();
        let (i, j) = (i.index(n), j.index(n));
        let p = frames::prove(&leaves, i as u32).unwrap();
        prop_assert!(p.verify(&root, &leaves[i]));
        if i != j {
            prop_assert!(!p.verify(&root, &leaves[j]));
        }
    }

    #[test]
    fn diff_finds_exactly_the_changed_seconds(n in 1usize..200, changed in proptest::collection::btree_set(0usize..200, 0..10)) {
        let a: Vec<B256> = (0..n).map(|k| B256::with_last_byte(k as u8)).collect();
        let mut b = a.clone();
        let want: Vec<u32> = changed.iter().copied().filter(|&c| c < n).map(|c| c as u32).collect();
        for &c in &want {
            b[c as usize] = B256::repeat_byte(0xff);
        }
        prop_assert_eq!(frames::diff_leaves(&a, &b).changed, want);
    }

    #[test]
    fn chain_reports_exactly_the_deleted_records(n in 2u32..60, gone in proptest::collection::btree_set(1u32..60, 0..6)) {
        let device = DeviceId::from_address(Address::repeat_byte(7));
        let mut prev = B256::ZERO;
        let all: Vec<EvidenceRecord> = (0..n).map(|seq| {
            let h = B256::with_last_byte(seq as u8 + 1);
            let r = EvidenceRecord { seq, device, start: SegmentTime::from_unix(60 * u64::from(seq)).unwrap(), prev_hash: prev, segment_hash: h };
            prev = h;
            r
        }).collect();
        let kept: Vec<EvidenceRecord> = all.iter().filter(|r| !gone.contains(&r.seq) || r.seq == n - 1).copied().collect();
        let findings = chain::check_batch(&kept).unwrap();
        let mut missing = Vec::new();
        for f in &findings {
            match f {
                Finding::Gap { from, to } => missing.extend(*from..=*to),
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        let want: Vec<u32> = gone.iter().copied().filter(|&g| g < n - 1).collect();
        prop_assert_eq!(missing, want);
    }

    #[test]
    fn auth_binds_the_body(body in proptest::collection::vec(any::<u8>(), 0..512), flip in any::<proptest::sample::Index>()) {
        let k = key();
        let req = RequestParts { chain_id: 31337, method: "PUT", path: "/v1/clips/abc", body: &body };
        let h = auth::sign_request(&k, &req, 1_000_100).unwrap();
        prop_assert_eq!(auth::verify_request(&h, &req, 1_000_000, 300).unwrap().address(), k.address());
        if !body.is_empty() {
            let mut other = body.clone();
            other[flip.index(body.len())] ^= 1;
            let req2 = RequestParts { body: &other, ..req };
            prop_assert!(auth::verify_request(&h, &req2, 1_000_000, 300).is_err());
        }
    }

    #[test]
    fn mp4_reader_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = mp4::read_tracks(&mut std::io::Cursor::new(&data));
        let _ = frames::frame_leaves(std::io::Cursor::new(&data));
    }
}
