//! Known-answer vectors of the bundle format (docs/formats.md "Evidence bundle"), computed
//! independently with `cast` (Foundry), and a property test of the manifest.

use std::collections::BTreeMap;

use alloy::primitives::{Address, address, b256};
use dashledger_verify::check::{EcCode, clone_address};
use dashledger_verify::format::{Manifest, owner_of_slot, paths};
use dashledger_verify::{Bundle, verify};
use proptest::prelude::*;

/// The devnet factory (anvil account 0's first deployment), as in docs/contracts.md.
const FACTORY: Address = address!("5FbDB2315678afecb367f032d93F642f64180aa3");

#[test]
fn addresses_and_slots_match_cast() {
    // cast compute-address --nonce 1 / 2 <factory>
    assert_eq!(
        FACTORY.create(1),
        address!("a16E02E87b7454126E5E10d957A927A7F5B5d2be"),
        "SearchContract"
    );
    assert_eq!(
        FACTORY.create(2),
        address!("B7A5bd0345EF1Cc5E66bf61BdeC17D2461fBd968"),
        "EC implementation"
    );
    // cast index address 0x1111…1111 1
    assert_eq!(
        owner_of_slot(address!("1111111111111111111111111111111111111111")),
        b256!("8eec1c9afb183a84aac7003cf8e730bfb6385f6e43761d6425fba4265de3a9eb")
    );
}

#[test]
fn ec_clone_code_and_address_match_cast() {
    // Runtime code of a clone of the devnet implementation carrying the docs/contracts.md
    // EIP-712 vector (evidenceHash 0x1bb2…ce4f, owner 0x…dEaD, 1700000000, -33868820, 151209296).
    let code = hex::decode(
        "363d3d373d3d3d363d73b7a5bd0345ef1cc5e66bf61bdec17d2461fbd9685af43d82803e903d91602b57fd5bf3\
         1bb28b966b31c25874612b7cc3a165fd2d6616f7f4ec8b98ddaaadb0ca07ce4f\
         000000000000000000000000000000000000dead000000006553f100fdfb33ec09034550",
    )
    .unwrap();
    let c = EcCode::parse(&code).unwrap();
    assert_eq!(c.implementation, FACTORY.create(2));
    assert_eq!(
        c.evidence_hash,
        b256!("1bb28b966b31c25874612b7cc3a165fd2d6616f7f4ec8b98ddaaadb0ca07ce4f")
    );
    assert_eq!(
        c.owner,
        address!("000000000000000000000000000000000000dEaD")
    );
    assert_eq!(
        (c.recorded_at, c.latitude, c.longitude),
        (1_700_000_000, -33_868_820, 151_209_296)
    );
    // cast create2 --deployer <factory> --salt 0x00…00 --init-code-hash
    //   $(cast keccak 0x610071 80600a3d393df3 <code>)
    assert_eq!(
        clone_address(FACTORY, &code),
        address!("7Aa126ff7FDcd3550702DB1E8D2753f79D137810")
    );
    let mut bad = code.clone();
    bad[0] ^= 1;
    assert!(EcCode::parse(&bad).is_err());
    assert!(EcCode::parse(&code[..100]).is_err());
}

#[test]
fn manifest_vector() {
    let b = Bundle::new(BTreeMap::from([("a.txt".to_owned(), b"hello".to_vec())]));
    let text = String::from_utf8(b.get(paths::MANIFEST).unwrap().to_vec()).unwrap();
    assert_eq!(
        text,
        r#"{
  "format": "dashledger-bundle/1",
  "files": [
    {
      "path": "a.txt",
      "bytes": 5,
      "keccak256": "0x1c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8"
    }
  ]
}
"#
    );
    let m: Manifest = serde_json::from_str(&text).unwrap();
    assert_eq!(m.to_bytes(), text.as_bytes());
    // The same files always give the same zip.
    assert_eq!(b.to_zip().unwrap(), b.clone().to_zip().unwrap());
}

fn small_bundle() -> Bundle {
    Bundle::new(BTreeMap::from([
        ("clip.mp4".to_owned(), vec![7u8; 300]),
        ("evidence.json".to_owned(), b"{\"x\": 1}\n".to_vec()),
        ("records.bin".to_owned(), vec![1u8; 161]),
    ]))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any single-byte change of any file, the manifest included, fails the manifest check,
    /// naming the file (or the manifest).
    #[test]
    fn every_byte_flip_breaks_the_manifest(f in 0usize..4, at in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let b = small_bundle();
        let before = verify(&b);
        prop_assert!(before.checks.iter().any(|c| c.name == "manifest" && c.ok));
        let path = b.files.keys().nth(f).unwrap().clone();
        let mut altered = b.clone();
        let bytes = altered.files.get_mut(&path).unwrap();
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        let zip = altered.to_zip().unwrap();
        let back = Bundle::from_reader(std::io::Cursor::new(zip), "t.zip").unwrap();
        let v = verify(&back);
        let m = v.checks.iter().find(|c| c.name == "manifest").unwrap();
        prop_assert!(!m.ok, "{} byte {} ^ {:#x} unnoticed", path, i, xor);
        prop_assert!(path == paths::MANIFEST || m.detail.contains(&path), "{}", m.detail);
    }
}

#[test]
fn extra_and_missing_files_are_named() {
    let mut b = small_bundle();
    b.files.insert("extra.txt".into(), b"x".to_vec());
    let v = verify(&b);
    let m = v.failures().find(|c| c.name == "manifest").unwrap();
    assert!(m.detail.contains("extra.txt is not listed"), "{}", m.detail);
    let mut b = small_bundle();
    b.files.remove("records.bin");
    let v = verify(&b);
    let m = v.failures().find(|c| c.name == "manifest").unwrap();
    assert!(
        m.detail.contains("records.bin is listed but missing"),
        "{}",
        m.detail
    );
}
