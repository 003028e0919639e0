//! Known-answer vectors in `protocol/vectors/`.
//!
//! `keccak.json`, `records.json`, `keys.json`, `keystore-cast.json` and `release-cast.json` come
//! from Foundry's `cast` (`protocol/vectors/gen_cast_vectors.py`). `seal.json`, `wrap.json` and
//! `release.json` are written by this crate for the web page (`DASHLEDGER_WRITE_VECTORS=1 cargo
//! test -p dashledger-protocol --test vectors` regenerates them) and checked here in both
//! directions.

use std::path::PathBuf;

use alloy::signers::local::PrivateKeySigner;
use dashledger_protocol::{
    B256,
    hash::{keccak256, keccak256_reader},
    keys::{self, OwnerSeed},
    record::{EvidenceRecord, SignedRecord},
    seal::{self, Opener, SealHeader, Sealer, SessionKey},
    wrap::{self, UmbralPublicKey, UmbralSecretKey, WrappedKey},
};
use serde_json::{Value, json};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

fn load(name: &str) -> Value {
    let p = dir().join(name);
    serde_json::from_str(
        &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    let s = v.as_str().expect("hex string");
    hex::decode(s.strip_prefix("0x").unwrap_or(s)).expect("valid hex")
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

fn writing() -> bool {
    std::env::var_os("DASHLEDGER_WRITE_VECTORS").is_some()
}

#[test]
fn keccak_matches_cast() {
    let v = load("keccak.json");
    let vectors = v["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 10);
    for t in vectors {
        let data = match t.get("len") {
            Some(n) => pattern(n.as_u64().unwrap() as usize),
            None => t["utf8"].as_str().unwrap().as_bytes().to_vec(),
        };
        let want: B256 = t["keccak256"].as_str().unwrap().parse().unwrap();
        assert_eq!(keccak256(&data), want, "len {}", data.len());
        // Through a reader that returns small, uneven pieces.
        struct Dribble<'a>(&'a [u8]);
        impl std::io::Read for Dribble<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(self.0.len()).min(4099);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        assert_eq!(keccak256_reader(Dribble(&data)).unwrap().0, want);
    }
}

#[test]
fn records_match_cast_signatures() {
    let v = load("records.json");
    let key: PrivateKeySigner = v["private_key"].as_str().unwrap().parse().unwrap();
    for t in v["vectors"].as_array().unwrap() {
        let bytes = unhex(&t["record"]);
        let rec = EvidenceRecord::decode(&bytes).unwrap();
        assert_eq!(rec.encode().to_vec(), bytes);
        assert_eq!(u64::from(rec.seq), t["seq"].as_u64().unwrap());
        let when = t["start_utc"]
            .as_str()
            .unwrap()
            .replace(['-', ':', 'Z'], "")
            .replace('T', "-");
        assert_eq!(rec.start.to_string(), when);
        // RFC 6979 signatures are deterministic: ours must equal cast's byte for byte.
        let signed = rec.sign(&key).unwrap();
        assert_eq!(signed.signature().to_vec(), unhex(&t["signature"]));
        let parsed = SignedRecord::decode(&unhex(&t["signed_record"])).unwrap();
        assert_eq!(parsed.verify().unwrap().device(), key.address());
    }
}

#[test]
fn owner_keys_match_cast_derivation() {
    let v = load("keys.json");
    let seed = OwnerSeed::from_mnemonic(
        v["mnemonic"].as_str().unwrap(),
        v["passphrase"].as_str().unwrap(),
    )
    .unwrap();
    for t in v["vectors"].as_array().unwrap() {
        let path = t["path"].as_str().unwrap();
        let indices: Vec<u32> = path
            .trim_start_matches("m/")
            .split('/')
            .map(|c| match c.strip_suffix('\'') {
                Some(h) => h.parse::<u32>().unwrap() | keys::HARDENED,
                None => c.parse().unwrap(),
            })
            .collect();
        let want: alloy::primitives::Address = t["address"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            seed.derive_path(&indices).unwrap().address(),
            want,
            "{path}"
        );
        if let Some(idx) = path.strip_prefix("m/44'/60'/7'/0/") {
            assert_eq!(
                seed.owner_key(idx.parse().unwrap()).unwrap().address(),
                want
            );
        }
        if let Some(idx) = path.strip_prefix("m/44'/60'/7'/1'/") {
            let index = idx.trim_end_matches('\'').parse().unwrap();
            assert_eq!(
                seed.owner_umbral_key(index)
                    .unwrap()
                    .public_key()
                    .eth_address(),
                want,
                "the accident's owner Umbral key is the scalar at {path}"
            );
        }
    }
}

#[test]
fn decrypts_a_cast_keystore() {
    let v = load("keystore-cast.json");
    let json = v["keystore"].to_string();
    let pk = keys::decrypt_v3(&json, v["password"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(pk.to_vec(), unhex(&v["private_key"]));
    assert!(keys::decrypt_v3(&json, b"wrong").is_err());
    // A plain Ethereum keystore is not a dashledger keystore.
    assert!(keys::decrypt_keystore(&json, v["password"].as_str().unwrap().as_bytes()).is_err());
}

const SEAL_CASES: [(usize, u32); 4] = [(2600, 1024), (0, 1024), (2048, 1024), (100, 65536)];

fn seal_vectors() -> Value {
    let key = SessionKey::from_bytes(core::array::from_fn(|i| i as u8));
    let prefix = [0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6];
    let cases: Vec<Value> = SEAL_CASES
        .iter()
        .map(|&(len, cs)| {
            let pt = pattern(len);
            let sealer = Sealer::with_nonce_prefix(&key, cs, prefix).unwrap();
            let mut out = Vec::new();
            let stats = seal::seal_with(&pt[..], &mut out, &sealer).unwrap();
            let header = sealer.header();
            let hl = dashledger_protocol::seal::SEAL_HEADER_LEN;
            let (count, _) = header.chunk_layout((out.len() - hl) as u64).unwrap();
            assert_eq!(count, stats.chunks);
            let full = cs as usize + 16;
            let chunks: Vec<Value> = (0..count)
                .map(|i| {
                    let start = hl + i as usize * full;
                    let end = (start + full).min(out.len());
                    let last = i + 1 == count;
                    json!({
                        "index": i,
                        "final": last,
                        "iv": format!("0x{}", hex::encode(header.nonce(i, last))),
                        "ciphertext_and_tag": format!("0x{}", hex::encode(&out[start..end])),
                    })
                })
                .collect();
            json!({
                "chunk_size": cs,
                "plaintext": format!("0x{}", hex::encode(&pt)),
                "header": format!("0x{}", hex::encode(header.to_bytes())),
                "chunks": chunks,
                "sealed": format!("0x{}", hex::encode(&out)),
                "sealed_keccak256": keccak256(&out).to_string(),
            })
        })
        .collect();
    json!({
        "description": "dashledger sealed clips (docs/formats.md, 'Sealed clip'): AES-256-GCM, iv = nonce_prefix || u32 BE index || final flag, additionalData = the 56-byte header, 128-bit tag appended to each chunk",
        "key": format!("0x{}", hex::encode(key.expose_secret())),
        "key_commitment": key.commitment().to_string(),
        "nonce_prefix": format!("0x{}", hex::encode(prefix)),
        "plaintext_pattern": "byte i = (i * 31) % 251",
        "cases": cases,
    })
}

#[test]
fn seal_vectors_are_reproduced_and_open() {
    let generated = seal_vectors();
    let path = dir().join("seal.json");
    if writing() {
        std::fs::write(&path, serde_json::to_string_pretty(&generated).unwrap()).unwrap();
    }
    let stored = load("seal.json");
    assert_eq!(
        stored, generated,
        "seal.json differs from what the crate produces"
    );
    let key = SessionKey::from_bytes(unhex(&stored["key"]).try_into().unwrap());
    for case in stored["cases"].as_array().unwrap() {
        let sealed = unhex(&case["sealed"]);
        let mut pt = Vec::new();
        seal::open(&sealed[..], &mut pt, &key).unwrap();
        assert_eq!(pt, unhex(&case["plaintext"]));
        // Chunk-level opening, as the web page does it.
        let header = unhex(&case["header"]);
        let opener = Opener::new(&header, &key).unwrap();
        let mut joined = Vec::new();
        for c in case["chunks"].as_array().unwrap() {
            let i = c["index"].as_u64().unwrap() as u32;
            let fin = c["final"].as_bool().unwrap();
            assert_eq!(
                SealHeader::parse(&header).unwrap().nonce(i, fin).to_vec(),
                unhex(&c["iv"])
            );
            joined.extend(
                opener
                    .open_chunk(i, fin, &unhex(&c["ciphertext_and_tag"]))
                    .unwrap(),
            );
            assert!(
                opener
                    .open_chunk(i, !fin, &unhex(&c["ciphertext_and_tag"]))
                    .is_err()
            );
        }
        assert_eq!(joined, pt);
    }
}

#[test]
fn wrap_vectors_recover() {
    let path = dir().join("wrap.json");
    if writing() {
        let owner = UmbralSecretKey::from_be_bytes(&[0x11; 32]).unwrap();
        let requester = UmbralSecretKey::from_be_bytes(&[0x22; 32]).unwrap();
        let seed = OwnerSeed::from_mnemonic(
            "test test test test test test test test test test test junk",
            "",
        )
        .unwrap();
        let owner_key = seed.owner_key(0).unwrap();
        let signer = owner_key.kfrag_signer();
        let key = SessionKey::from_bytes([0x33; 32]);
        let w = wrap::wrap(&owner.public_key(), &key).unwrap();
        let kfrag = wrap::grant(&owner, &signer, &requester.public_key());
        let vk = wrap::verify_kfrag(
            &kfrag,
            &signer.verifying_key(),
            &owner.public_key(),
            &requester.public_key(),
        )
        .unwrap();
        let cfrag = wrap::reencrypt(&w, vk).to_bytes();
        let v = json!({
            "description": "umbral-pre 0.11 msgpack objects (docs/formats.md, 'Session key and key wrapping'); randomised, so regenerating changes capsule/kfrag/cfrag",
            "owner_umbral_secret_key": format!("0x{}", hex::encode(*owner.to_be_bytes())),
            "owner_umbral_public_key": format!("0x{}", hex::encode(owner.public_key().to_bytes())),
            "requester_umbral_secret_key": format!("0x{}", hex::encode(*requester.to_be_bytes())),
            "requester_umbral_public_key": format!("0x{}", hex::encode(requester.public_key().to_bytes())),
            "kfrag_signer_public_key": format!("0x{}", hex::encode(signer.verifying_key().to_bytes())),
            "kfrag_signer_address": owner_key.address().to_checksum(None),
            "session_key": format!("0x{}", hex::encode(key.expose_secret())),
            "key_commitment": key.commitment().to_string(),
            "capsule": format!("0x{}", hex::encode(w.capsule_bytes())),
            "wrapped_key": format!("0x{}", hex::encode(w.ciphertext())),
            "kfrag": format!("0x{}", hex::encode(&kfrag)),
            "cfrag": format!("0x{}", hex::encode(&cfrag)),
        });
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    }
    let v = load("wrap.json");
    let pk = |k: &str| UmbralPublicKey::from_bytes(&unhex(&v[k])).unwrap();
    let requester = UmbralSecretKey::from_be_bytes(
        &unhex(&v["requester_umbral_secret_key"]).try_into().unwrap(),
    )
    .unwrap();
    let owner =
        UmbralSecretKey::from_be_bytes(&unhex(&v["owner_umbral_secret_key"]).try_into().unwrap())
            .unwrap();
    assert_eq!(owner.public_key(), pk("owner_umbral_public_key"));
    assert_eq!(requester.public_key(), pk("requester_umbral_public_key"));
    let signer_pk = pk("kfrag_signer_public_key");
    assert_eq!(
        signer_pk.eth_address().to_checksum(None),
        v["kfrag_signer_address"].as_str().unwrap()
    );
    let w = WrappedKey::from_parts(&unhex(&v["capsule"]), &unhex(&v["wrapped_key"])).unwrap();
    let commitment: B256 = v["key_commitment"].as_str().unwrap().parse().unwrap();
    let key = wrap::recover(
        &requester,
        &owner.public_key(),
        &signer_pk,
        &w,
        &unhex(&v["kfrag"]),
        &commitment,
    )
    .unwrap();
    assert_eq!(key.expose_secret().to_vec(), unhex(&v["session_key"]));
    let vc = wrap::verify_cfrag(
        &unhex(&v["cfrag"]),
        &w,
        &signer_pk,
        &owner.public_key(),
        &requester.public_key(),
    )
    .unwrap();
    assert_eq!(
        wrap::decrypt_with_cfrag(&requester, &owner.public_key(), &w, vc, &commitment).unwrap(),
        key
    );
    assert_eq!(wrap::unwrap_own(&owner, &w, &commitment).unwrap(), key);
}

/// `release.json`: the window-release key tree and chunk commitment (docs/formats.md, "Window
/// release") for a 60-chunk clip under the key 00 01 … 1f, window 20..40; written by this crate,
/// reproduced here, and re-derived from the stored node keys alone.
/// The chunks whose keys `release.json` lists (inside and outside the window).
const CHUNK_KEYS: [u32; 5] = [0, 19, 20, 39, 59];

fn release_vectors() -> Value {
    use dashledger_protocol::release::{KeyTree, chunk_leaf, chunks_root, prove_range};
    let session = SessionKey::from_bytes(core::array::from_fn(|i| i as u8));
    let tree = KeyTree::new(&session, 60).unwrap();
    let window = tree.window(20..40).unwrap();
    let leaves: Vec<B256> = (0..60u32)
        .map(|i| chunk_leaf(i, &pattern(100 + i as usize)))
        .collect();
    let proof = prove_range(&leaves, 20..40).unwrap();
    json!({
        "session_key": format!("0x{}", hex::encode(session.expose_secret())),
        "chunks": 60,
        "depth": tree.depth(),
        "chunk_keys": (CHUNK_KEYS.iter().map(|&i| json!({
            "chunk": i,
            "key": format!("0x{}", hex::encode(tree.chunk_key(i).unwrap().expose_secret())),
        })).collect::<Vec<_>>()),
        "window": [20, 40],
        "cover": (window.nodes().iter().map(|(n, k)| json!({
            "depth": n.depth, "index": n.index,
            "key": format!("0x{}", hex::encode(k.expose_secret())),
        })).collect::<Vec<_>>()),
        "chunk_ciphertext": "chunk i is pattern(100 + i): byte j = (j * 31) mod 251",
        "leaves": (leaves.iter().map(|l| l.to_string()).collect::<Vec<_>>()),
        "chunks_root": chunks_root(&leaves).unwrap().to_string(),
        "range_proof_siblings": (proof.siblings.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
    })
}

#[test]
fn release_vectors_are_reproduced_and_rederived() {
    use dashledger_protocol::release::{Node, RangeProof, WindowKeys};
    let generated = release_vectors();
    let path = dir().join("release.json");
    if writing() {
        std::fs::write(&path, serde_json::to_string_pretty(&generated).unwrap()).unwrap();
    }
    let stored = load("release.json");
    assert_eq!(
        stored, generated,
        "release.json differs from what the crate produces"
    );
    // A requester holding only the cover's node keys gets the window's chunk keys.
    let nodes: Vec<(Node, SessionKey)> = stored["cover"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let node = Node {
                depth: c["depth"].as_u64().unwrap() as u8,
                index: c["index"].as_u64().unwrap() as u32,
            };
            (
                node,
                SessionKey::from_bytes(unhex(&c["key"]).try_into().unwrap()),
            )
        })
        .collect();
    let keys = WindowKeys::from_nodes(60, 20..40, nodes).unwrap();
    for c in stored["chunk_keys"].as_array().unwrap() {
        let i = c["chunk"].as_u64().unwrap() as u32;
        match keys.chunk_key(i) {
            Some(k) => assert_eq!(k.expose_secret().to_vec(), unhex(&c["key"]), "chunk {i}"),
            None => assert!(!(20..40).contains(&i), "chunk {i} is in the window"),
        }
    }
    let leaves: Vec<B256> = stored["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().parse().unwrap())
        .collect();
    let proof = RangeProof {
        leaf_count: 60,
        range: 20..40,
        siblings: stored["range_proof_siblings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().parse().unwrap())
            .collect(),
    };
    let root: B256 = stored["chunks_root"].as_str().unwrap().parse().unwrap();
    assert!(proof.verify(&root, &leaves[20..40]));
}

#[test]
fn release_key_tree_matches_cast() {
    use dashledger_protocol::release::{KeyTree, Node};
    let v = load("release-cast.json");
    let session = SessionKey::from_bytes(unhex(&v["session_key"]).try_into().unwrap());
    let tree = KeyTree::new(&session, v["chunks"].as_u64().unwrap() as u32).unwrap();
    for n in v["nodes"].as_array().unwrap() {
        let node = Node {
            depth: n["depth"].as_u64().unwrap() as u8,
            index: n["index"].as_u64().unwrap() as u32,
        };
        assert_eq!(
            tree.node_key(node).unwrap().expose_secret().to_vec(),
            unhex(&n["key"]),
            "{node:?}"
        );
    }
}
