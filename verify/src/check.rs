//! The offline verification of a bundle: every check that needs nothing but the bundle's bytes.
//!
//! Each [`Check`] has a name and says what it compared; a failed one says what broke. What
//! cannot be checked offline is listed in [`Verdict::not_checked`] with how to check it.

use std::io::Cursor;

use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::EIP1186AccountProofResponse;
use alloy::sol_types::SolEvent;
use alloy_eips::eip2718::Encodable2718;
use alloy_trie::{Nibbles, TrieAccount, proof::verify_proof};
use dashledger_protocol::bindings::{EvidenceContract, EvidenceFactory};
use dashledger_protocol::chain::{ChainChecker, ChainTip};
use dashledger_protocol::frames::{self, MerkleProof};
use dashledger_protocol::hash::keccak256;
use dashledger_protocol::record::{SIGNED_RECORD_LEN, SignedRecord};
use dashledger_protocol::{eip712, record::EvidenceRecord};
use serde::Serialize;

use crate::format::{
    BlockFile, Bundle, EC_STATUS_SLOT, EC_STATUS_VERIFIED, EvidenceInfo, FORMAT, FramesFile,
    Manifest, Params, StateProof, TxRef, owner_of_slot, paths,
};

/// One check and its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Short stable name (`manifest`, `clip`, `frames`, `ec-account-proof`, …).
    pub name: String,
    /// Whether it held.
    pub ok: bool,
    /// What was compared (ok) or what broke (failed).
    pub detail: String,
}

/// Something the verifier could not check from the bundle alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotChecked {
    /// What is unchecked.
    pub what: String,
    /// How to check it.
    pub how: String,
}

/// The outcome of verifying a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// `"verified"` when every check held, else `"failed"`.
    pub result: &'static str,
    /// The Evidence Contract, when `evidence.json` could be read.
    pub ec: Option<Address>,
    /// Chain id, when `evidence.json` could be read.
    pub chain_id: Option<u64>,
    /// The block the state proofs are against: number and (recomputed) hash.
    pub proof_block: Option<(u64, B256)>,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// What could not be checked offline, and how to check it.
    pub not_checked: Vec<NotChecked>,
}

impl Verdict {
    /// Whether every check held.
    pub fn verified(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }

    /// Appends checks (e.g. the live ones) and updates `result`.
    pub fn extend(&mut self, checks: impl IntoIterator<Item = Check>) {
        self.checks.extend(checks);
        self.result = if self.verified() {
            "verified"
        } else {
            "failed"
        };
    }

    /// `"name: detail"` of every failed check, one per line.
    pub fn failure_summary(&self) -> String {
        self.failures()
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

type Outcome = std::result::Result<String, String>;

#[derive(Default)]
struct Checks(Vec<Check>);

impl Checks {
    fn add(&mut self, name: &str, r: Outcome) -> bool {
        let ok = r.is_ok();
        self.0.push(Check {
            name: name.to_owned(),
            ok,
            detail: r.unwrap_or_else(|e| e),
        });
        ok
    }
}

fn fail<T>(msg: impl Into<String>) -> std::result::Result<T, String> {
    Err(msg.into())
}

/// What a verification may take from outside the bundle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// PEM roots the C2PA signer must chain to (the operator's device CA), if known.
    pub c2pa_roots: Option<String>,
}

/// Verifies `bundle` without any network: see the crate documentation for the list of checks.
pub fn verify(bundle: &Bundle) -> Verdict {
    verify_with(bundle, &Options::default())
}

/// [`verify`] with [`Options`].
pub fn verify_with(bundle: &Bundle, options: &Options) -> Verdict {
    let mut c = Checks::default();
    let mut not_checked = Vec::new();
    c.add("manifest", check_manifest(bundle));
    let info = read_evidence(bundle, &mut c);
    let proof_block = info
        .as_ref()
        .and_then(|info| check_evidence(bundle, info, &mut c, &mut not_checked));
    let roots = options.c2pa_roots.as_deref();
    if let Some(info) = &info
        && let Some(outcome) = crate::provenance::check(bundle, info, roots)
    {
        c.add("c2pa", outcome);
    }
    not_checked.extend(crate::provenance::not_checked(bundle, roots));
    not_checked.push(NotChecked {
        what: "that the device key of the records belongs to an approved dashcam".into(),
        how: format!(
            "{} is the cloud's statement (not signed); the operator can confirm it",
            paths::DEVICE
        ),
    });
    let mut v = Verdict {
        result: "failed",
        ec: info.as_ref().map(|i| i.ec),
        chain_id: info.as_ref().map(|i| i.chain_id),
        proof_block,
        checks: Vec::new(),
        not_checked,
    };
    v.extend(c.0);
    v
}

/// The `evidence` check: `evidence.json` read, or why not.
fn read_evidence(bundle: &Bundle, c: &mut Checks) -> Option<EvidenceInfo> {
    match bundle.json::<EvidenceInfo>(paths::EVIDENCE) {
        Ok(i) => {
            c.add(
                "evidence",
                Ok(format!(
                    "{} read: EC {} on chain {}",
                    paths::EVIDENCE,
                    i.ec,
                    i.chain_id
                )),
            );
            Some(i)
        }
        Err(e) => {
            c.add("evidence", Err(e.to_string()));
            None
        }
    }
}

/// Every check of the EC `info` describes, in order (clip, frames, thumbnail, evidence hash,
/// state proof, transactions, records), and what of it cannot be checked offline; returns the
/// state proof's block when its header holds.
fn check_evidence(
    bundle: &Bundle,
    info: &EvidenceInfo,
    c: &mut Checks,
    not_checked: &mut Vec<NotChecked>,
) -> Option<(u64, B256)> {
    let p = &info.params;
    c.add("clip", check_clip(bundle, p));
    c.add("frames", check_frames(bundle, p));
    if bundle.get(paths::THUMBNAIL).is_some() {
        c.add("thumbnail", check_thumbnail(bundle, p));
    } else {
        not_checked.push(NotChecked {
            what: "the thumbnail (EC frameHash)".into(),
            how: format!("{} is not in this bundle", paths::THUMBNAIL),
        });
    }
    c.add("evidence-hash", check_evidence_hash(info));
    let proof_block = match bundle.json::<StateProof>(paths::STATE_PROOF) {
        Ok(sp) => check_state_proof(info, &sp, c),
        Err(e) => {
            c.add("state-proof", Err(e.to_string()));
            None
        }
    };
    c.add("created-tx", check_created(bundle, info));
    c.add("verified-tx", check_verified(bundle, info));
    if bundle.get(paths::RECORDS).is_some() {
        c.add("records", check_records(bundle, p));
    } else {
        not_checked.push(NotChecked {
            what: "the device's evidence records".into(),
            how: format!(
                "{} is not in this bundle; ask the owner or the cloud operator for them",
                paths::RECORDS
            ),
        });
    }
    not_checked.push(canonical_headers_unchecked(info, proof_block));
    not_checked.push(NotChecked {
        what: format!(
            "that {} is dashledger's EvidenceFactory on chain {}",
            info.evidence_factory, info.chain_id
        ),
        how: "compare it with the deployment the operator publishes (deployments/<chainId>.json: evidenceFactory)".into(),
    });
    proof_block
}

/// The checks of `state-proof.json`: its header, the EC's code, account and status, the
/// SearchContract's account and listing, and that it is not older than the verification;
/// returns its block when the header holds.
fn check_state_proof(info: &EvidenceInfo, sp: &StateProof, c: &mut Checks) -> Option<(u64, B256)> {
    let mut proof_block = None;
    let hash = sp.header.inner.hash_slow();
    if c.add("state-proof-header", check_header(&sp.header)) {
        proof_block = Some((sp.header.inner.number, hash));
    }
    c.add("ec-code", check_ec_code(info, sp));
    let root = sp.header.inner.state_root;
    c.add(
        "ec-account-proof",
        check_account(root, info.ec, &sp.ec_account),
    );
    c.add("ec-status-proof", check_ec_status(&sp.ec_account));
    c.add(
        "search-account-proof",
        check_search_account(info, root, &sp.search_account),
    );
    c.add(
        "search-listing-proof",
        check_listing(info, &sp.search_account),
    );
    if sp.header.inner.number < info.verified.block {
        c.add(
            "proof-block",
            fail(format!(
                "the state proof is for block {}, before the verification in block {}",
                sp.header.inner.number, info.verified.block
            )),
        );
    }
    proof_block
}

/// That the bundle's block headers (creation, verification, state proof) are on the canonical
/// chain: only a node can tell.
fn canonical_headers_unchecked(
    info: &EvidenceInfo,
    proof_block: Option<(u64, B256)>,
) -> NotChecked {
    let mut heights = vec![info.created.block, info.verified.block];
    if let Some((n, _)) = proof_block {
        heights.push(n);
    }
    heights.sort_unstable();
    heights.dedup();
    NotChecked {
        what: format!(
            "that the block headers in the bundle (blocks {}) are part of chain {}'s canonical chain",
            heights
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            info.chain_id
        ),
        how: "compare each header hash with a node or block explorer you trust: `cast block <number> --field hash --rpc-url <URL>`, or run `dashledger-verify --rpc <URL> BUNDLE`".into(),
    }
}

fn check_manifest(bundle: &Bundle) -> Outcome {
    let raw = bundle
        .get(paths::MANIFEST)
        .ok_or_else(|| format!("{} is missing", paths::MANIFEST))?;
    let m: Manifest = serde_json::from_slice(raw)
        .map_err(|e| format!("{} is not valid: {e}", paths::MANIFEST))?;
    if m.format != FORMAT {
        return fail(format!(
            "unknown bundle format {:?} (this verifier reads {FORMAT:?})",
            m.format
        ));
    }
    if m.to_bytes() != raw {
        return fail(format!(
            "{} is not in its canonical form (pretty JSON, lower-case hex, final newline): it was edited",
            paths::MANIFEST
        ));
    }
    let mut problems = Vec::new();
    for e in &m.files {
        match bundle.get(&e.path) {
            None => problems.push(format!("{} is listed but missing", e.path)),
            Some(b) => {
                if b.len() as u64 != e.bytes {
                    problems.push(format!(
                        "{} is {} bytes, the manifest says {}",
                        e.path,
                        b.len(),
                        e.bytes
                    ));
                }
                let h = keccak256(b);
                if h != e.keccak256 {
                    problems.push(format!(
                        "{} has Keccak-256 {h}, the manifest says {}",
                        e.path, e.keccak256
                    ));
                }
            }
        }
    }
    for p in bundle.files.keys() {
        if p != paths::MANIFEST && !m.files.iter().any(|e| &e.path == p) {
            problems.push(format!("{p} is not listed in the manifest"));
        }
    }
    if !m.files.windows(2).all(|w| w[0].path < w[1].path) {
        problems.push("the manifest's files are not sorted by path".into());
    }
    if problems.is_empty() {
        Ok(format!(
            "{} files, each length and Keccak-256 as listed",
            m.files.len()
        ))
    } else {
        Err(problems.join("; "))
    }
}

fn need<'a>(bundle: &'a Bundle, path: &str) -> std::result::Result<&'a [u8], String> {
    bundle
        .get(path)
        .ok_or_else(|| format!("{path} is missing from the bundle"))
}

fn check_clip(bundle: &Bundle, p: &Params) -> Outcome {
    let clip = need(bundle, paths::CLIP)?;
    let h = keccak256(clip);
    if h == p.video_hash {
        Ok(format!(
            "Keccak-256 of {} ({} bytes) = the EC's videoHash {h}",
            paths::CLIP,
            clip.len()
        ))
    } else {
        fail(format!(
            "{} has Keccak-256 {h}, but the EC's videoHash is {}: not the clip of this EC",
            paths::CLIP,
            p.video_hash
        ))
    }
}

fn check_frames(bundle: &Bundle, p: &Params) -> Outcome {
    let f: FramesFile = bundle.json(paths::FRAMES).map_err(|e| e.to_string())?;
    let clip = need(bundle, paths::CLIP)?;
    let actual = frames::frame_leaves(Cursor::new(clip))
        .map_err(|e| format!("cannot read the frame leaves of {}: {e}", paths::CLIP))?;
    let d = frames::diff_leaves(&f.leaves, &actual);
    if !d.is_empty() {
        return fail(format!(
            "the leaves in {} differ from those of {}: seconds changed {:?}, missing {:?}, extra {:?}",
            paths::FRAMES,
            paths::CLIP,
            d.changed,
            d.missing,
            d.extra
        ));
    }
    let root = frames::frames_root(&f.leaves).map_err(|e| e.to_string())?;
    if root != p.frames_root || f.frames_root != p.frames_root {
        return fail(format!(
            "the leaves' framesRoot is {root} ({} says {}), but the EC's framesRoot is {}",
            paths::FRAMES,
            f.frames_root,
            p.frames_root
        ));
    }
    if f.proofs.len() != f.leaves.len() {
        return fail(format!(
            "{} has {} proofs for {} seconds",
            paths::FRAMES,
            f.proofs.len(),
            f.leaves.len()
        ));
    }
    let leaf_count = u32::try_from(f.leaves.len()).map_err(|_| "too many leaves".to_owned())?;
    let bad: Vec<u32> = f
        .proofs
        .iter()
        .enumerate()
        .filter(|(i, pr)| {
            let proof = MerkleProof {
                index: pr.index,
                leaf_count,
                siblings: pr.siblings.clone(),
            };
            pr.index as usize != *i || !proof.verify(&p.frames_root, &f.leaves[*i])
        })
        .map(|(i, _)| i as u32)
        .collect();
    if !bad.is_empty() {
        return fail(format!(
            "the inclusion proofs of seconds {bad:?} in {} do not verify against framesRoot {}",
            paths::FRAMES,
            p.frames_root
        ));
    }
    Ok(format!(
        "{} per-second leaves recomputed from the clip; their root and each second's proof = the EC's framesRoot {}",
        f.leaves.len(),
        p.frames_root
    ))
}

fn check_thumbnail(bundle: &Bundle, p: &Params) -> Outcome {
    let t = need(bundle, paths::THUMBNAIL)?;
    let h = keccak256(t);
    if h == p.frame_hash {
        Ok(format!(
            "Keccak-256 of the thumbnail = the EC's frameHash {h}"
        ))
    } else {
        fail(format!(
            "{} has Keccak-256 {h}, but the EC's frameHash is {}",
            paths::THUMBNAIL,
            p.frame_hash
        ))
    }
}

fn check_evidence_hash(info: &EvidenceInfo) -> Outcome {
    let h = eip712::evidence_hash(&info.params.to_eip712());
    if h == info.evidence_hash {
        Ok(format!(
            "EIP-712 hashStruct(Evidence) of the parameters = evidenceHash {h}"
        ))
    } else {
        fail(format!(
            "the parameters in {} hash to {h}, not to the evidenceHash {} it states",
            paths::EVIDENCE,
            info.evidence_hash
        ))
    }
}

fn check_header(h: &alloy::rpc::types::Header) -> Outcome {
    let computed = h.inner.hash_slow();
    if computed == h.hash {
        Ok(format!(
            "block {}: Keccak-256 of the RLP header = {computed}",
            h.inner.number
        ))
    } else {
        fail(format!(
            "block {}: the header's fields hash to {computed}, not to the hash {} it states",
            h.inner.number, h.hash
        ))
    }
}

/// EIP-1167 proxy around the implementation address (docs/contracts.md).
const PROXY_HEAD: [u8; 10] = [0x36, 0x3d, 0x3d, 0x37, 0x3d, 0x3d, 0x3d, 0x36, 0x3d, 0x73];
const PROXY_TAIL: [u8; 15] = [
    0x5a, 0xf4, 0x3d, 0x82, 0x80, 0x3e, 0x90, 0x3d, 0x91, 0x60, 0x2b, 0x57, 0xfd, 0x5b, 0xf3,
];
const EC_ARGS_LEN: usize = 68;

/// The fields in an EC clone's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EcCode {
    /// The implementation the proxy delegates to.
    pub implementation: Address,
    /// `evidenceHash`.
    pub evidence_hash: B256,
    /// Owner.
    pub owner: Address,
    /// Segment start.
    pub recorded_at: u64,
    /// Latitude (1e-6 degrees).
    pub latitude: i32,
    /// Longitude (1e-6 degrees).
    pub longitude: i32,
}

impl EcCode {
    /// Parses an EC clone's runtime code.
    pub fn parse(code: &[u8]) -> std::result::Result<Self, String> {
        if code.len() != 45 + EC_ARGS_LEN || code[..10] != PROXY_HEAD || code[30..45] != PROXY_TAIL
        {
            return fail(format!(
                "the EC's code ({} bytes) is not an EIP-1167 clone with 68 bytes of arguments",
                code.len()
            ));
        }
        let a = &code[45..];
        let mut u64b = [0u8; 8];
        u64b.copy_from_slice(&a[52..60]);
        let mut i32a = [0u8; 4];
        i32a.copy_from_slice(&a[60..64]);
        let mut i32b = [0u8; 4];
        i32b.copy_from_slice(&a[64..68]);
        Ok(Self {
            implementation: Address::from_slice(&code[10..30]),
            evidence_hash: B256::from_slice(&a[..32]),
            owner: Address::from_slice(&a[32..52]),
            recorded_at: u64::from_be_bytes(u64b),
            latitude: i32::from_be_bytes(i32a),
            longitude: i32::from_be_bytes(i32b),
        })
    }
}

/// The address a factory's CREATE2 (salt 0) gives a clone with runtime `code`.
pub fn clone_address(factory: Address, code: &[u8]) -> Address {
    let len = u16::try_from(code.len()).unwrap_or(u16::MAX).to_be_bytes();
    let mut init = vec![
        0x61, len[0], len[1], 0x80, 0x60, 0x0a, 0x3d, 0x39, 0x3d, 0xf3,
    ];
    init.extend_from_slice(code);
    factory.create2(B256::ZERO, keccak256(&init))
}

fn check_ec_code(info: &EvidenceInfo, sp: &StateProof) -> Outcome {
    let code = &sp.ec_code;
    let h = keccak256(code);
    if h != sp.ec_account.code_hash {
        return fail(format!(
            "the EC code in {} has Keccak-256 {h}, but the account proof's codeHash is {}",
            paths::STATE_PROOF,
            sp.ec_account.code_hash
        ));
    }
    let c = EcCode::parse(code)?;
    let implementation = info.evidence_factory.create(2);
    if c.implementation != implementation {
        return fail(format!(
            "the EC delegates to {}, not to the factory's EvidenceContract implementation {implementation}",
            c.implementation
        ));
    }
    let at = clone_address(info.evidence_factory, code);
    if at != info.ec {
        return fail(format!(
            "a clone with this code made by factory {} would be at {at}, not at the EC {}",
            info.evidence_factory, info.ec
        ));
    }
    let p = &info.params;
    let mut diffs = Vec::new();
    if c.evidence_hash != info.evidence_hash {
        diffs.push(format!(
            "evidenceHash {} (bundle: {})",
            c.evidence_hash, info.evidence_hash
        ));
    }
    if c.owner != info.owner {
        diffs.push(format!("owner {} (bundle: {})", c.owner, info.owner));
    }
    if c.recorded_at != p.recorded_at {
        diffs.push(format!(
            "recordedAt {} (bundle: {})",
            c.recorded_at, p.recorded_at
        ));
    }
    if (c.latitude, c.longitude) != (p.latitude, p.longitude) {
        diffs.push(format!(
            "place {},{} (bundle: {},{})",
            c.latitude, c.longitude, p.latitude, p.longitude
        ));
    }
    if !diffs.is_empty() {
        return fail(format!("the EC's code on chain holds {}", diffs.join(", ")));
    }
    Ok(format!(
        "code hash = the account's codeHash; an EvidenceFactory {} clone at {} holding evidenceHash, owner {}, recordedAt {}, place {},{}",
        info.evidence_factory, info.ec, c.owner, c.recorded_at, c.latitude, c.longitude
    ))
}

fn check_account(root: B256, address: Address, a: &EIP1186AccountProofResponse) -> Outcome {
    if a.address != address {
        return fail(format!(
            "the account proof is for {}, not for {address}",
            a.address
        ));
    }
    let account = TrieAccount {
        nonce: a.nonce,
        balance: a.balance,
        storage_root: a.storage_hash,
        code_hash: a.code_hash,
    };
    let key = Nibbles::unpack(keccak256(address));
    verify_proof(
        root,
        key,
        Some(alloy_rlp::encode(account)),
        a.account_proof.iter(),
    )
    .map_err(|e| {
        format!("the account proof of {address} does not verify against the header's stateRoot {root}: {e}")
    })?;
    Ok(format!(
        "account {address} (codeHash {}, storageRoot {}) proven against stateRoot {root}",
        a.code_hash, a.storage_hash
    ))
}

fn check_slot(a: &EIP1186AccountProofResponse, slot: B256, expected: U256, what: &str) -> Outcome {
    let [sp] = a.storage_proof.as_slice() else {
        return fail(format!(
            "expected one storage proof of {} (slot {slot}), got {}",
            a.address,
            a.storage_proof.len()
        ));
    };
    if sp.key.as_b256() != slot {
        return fail(format!(
            "the storage proof of {} is for slot {}, not {slot} ({what})",
            a.address,
            sp.key.as_b256()
        ));
    }
    if sp.value != expected {
        return fail(format!(
            "{what}: slot {slot} of {} holds {}, expected {expected}",
            a.address, sp.value
        ));
    }
    let key = Nibbles::unpack(keccak256(slot));
    // A zero is proven by the slot's absence from the trie, or (nodes such as anvil keep a
    // slot written back to zero as a leaf) by a leaf holding RLP(0).
    let value = (!sp.value.is_zero()).then(|| alloy_rlp::encode(sp.value));
    let proven = verify_proof(a.storage_hash, key, value, sp.proof.iter()).or_else(|e| {
        if sp.value.is_zero() {
            verify_proof(
                a.storage_hash,
                key,
                Some(alloy_rlp::encode(U256::ZERO)),
                sp.proof.iter(),
            )
            .map_err(|_| e)
        } else {
            Err(e)
        }
    });
    proven.map_err(|e| {
        format!(
            "{what}: the storage proof of slot {slot} does not verify against {}'s storageRoot {}: {e}",
            a.address, a.storage_hash
        )
    })?;
    Ok(format!(
        "{what}: slot {slot} = {expected:#x}, proven against storageRoot {}",
        a.storage_hash
    ))
}

fn check_ec_status(a: &EIP1186AccountProofResponse) -> Outcome {
    check_slot(
        a,
        B256::from(U256::from(EC_STATUS_SLOT)),
        U256::from(EC_STATUS_VERIFIED),
        "EC is not Rejected (status slot = Pending; Verified is the listing below)",
    )
}

fn check_search_account(
    info: &EvidenceInfo,
    root: B256,
    a: &EIP1186AccountProofResponse,
) -> Outcome {
    let expected = info.evidence_factory.create(1);
    if info.search_contract != expected {
        return fail(format!(
            "the SearchContract {} is not the one factory {} deployed ({expected})",
            info.search_contract, info.evidence_factory
        ));
    }
    check_account(root, info.search_contract, a)
}

fn check_listing(info: &EvidenceInfo, a: &EIP1186AccountProofResponse) -> Outcome {
    check_slot(
        a,
        owner_of_slot(info.ec),
        U256::from_be_slice(info.owner.as_slice()),
        "SearchContract lists the EC (ownerOf[ec] = owner)",
    )
}

/// Checks a block file's header, transaction and receipt roots; returns the block, the index
/// of `tx` in it and its receipt's logs.
fn check_block(
    bundle: &Bundle,
    tx: &TxRef,
    chain_id: u64,
) -> std::result::Result<(BlockFile, usize), String> {
    let path = paths::block(tx.block);
    let b: BlockFile = bundle.json(&path).map_err(|e| e.to_string())?;
    check_header(&b.header).map_err(|e| format!("{path}: {e}"))?;
    if b.header.inner.number != tx.block {
        return fail(format!(
            "{path} holds block {}, not {}",
            b.header.inner.number, tx.block
        ));
    }
    let envelopes: Vec<_> = b
        .transactions
        .iter()
        .map(|t| t.inner.inner().clone())
        .collect();
    let tx_root = alloy_consensus::proofs::calculate_transaction_root(&envelopes);
    if tx_root != b.header.inner.transactions_root {
        return fail(format!(
            "{path}: the transactions hash to root {tx_root}, the header's transactionsRoot is {}",
            b.header.inner.transactions_root
        ));
    }
    let receipts: Vec<_> = b
        .receipts
        .iter()
        .map(|r| r.inner.clone().into_primitives_receipt())
        .collect();
    let rc_root = alloy_consensus::proofs::calculate_receipt_root(&receipts);
    if rc_root != b.header.inner.receipts_root {
        return fail(format!(
            "{path}: the receipts hash to root {rc_root}, the header's receiptsRoot is {}",
            b.header.inner.receipts_root
        ));
    }
    if receipts.len() != envelopes.len() {
        return fail(format!(
            "{path}: {} transactions but {} receipts",
            envelopes.len(),
            receipts.len()
        ));
    }
    let index = envelopes
        .iter()
        .position(|e| keccak256(e.encoded_2718()) == tx.tx)
        .ok_or_else(|| format!("{path}: transaction {} is not in block {}", tx.tx, tx.block))?;
    if !receipts[index].status() {
        return fail(format!("{path}: transaction {} failed (reverted)", tx.tx));
    }
    // The signed transaction names its chain (EIP-155 / typed transactions).
    let signed_for = alloy_consensus::Transaction::chain_id(&envelopes[index]);
    if signed_for != Some(chain_id) {
        return fail(format!(
            "{path}: transaction {} was signed for chain {signed_for:?}, not for chain {chain_id}",
            tx.tx
        ));
    }
    Ok((b, index))
}

fn check_created(bundle: &Bundle, info: &EvidenceInfo) -> Outcome {
    let (b, i) = check_block(bundle, &info.created, info.chain_id)?;
    let logs = b.receipts[i].inner.clone().into_primitives_receipt();
    let found = logs.logs().iter().find_map(|l| {
        (l.address == info.evidence_factory)
            .then(|| EvidenceFactory::EvidenceCreated::decode_log(l).ok())
            .flatten()
            .filter(|ev| ev.ec == info.ec)
    });
    let Some(ev) = found else {
        return fail(format!(
            "transaction {} has no EvidenceCreated event of factory {} for {}",
            info.created.tx, info.evidence_factory, info.ec
        ));
    };
    let p = &ev.data.params;
    let logged = Params::from_eip712(&eip712::Evidence {
        videoHash: p.videoHash,
        cipherHash: p.cipherHash,
        frameHash: p.frameHash,
        framesRoot: p.framesRoot,
        keyCommitment: p.keyCommitment,
        recordedAt: p.recordedAt,
        latitude: p.latitude,
        longitude: p.longitude,
        capsule: p.capsule.clone(),
        wrappedKey: p.wrappedKey.clone(),
        ownerUmbralKey: p.ownerUmbralKey.clone(),
    });
    if logged != info.params
        || ev.data.owner != info.owner
        || ev.data.videoHash != info.params.video_hash
    {
        return fail(format!(
            "the EvidenceCreated event of transaction {} differs from {} (owner {}, videoHash {})",
            info.created.tx,
            paths::EVIDENCE,
            ev.data.owner,
            p.videoHash
        ));
    }
    Ok(format!(
        "block {} ({}): transaction {} (signed for this chain id) is at index {i}; transactions and receipts hash to the header's roots; its EvidenceCreated event carries these parameters and owner",
        info.created.block, b.header.hash, info.created.tx
    ))
}

fn check_verified(bundle: &Bundle, info: &EvidenceInfo) -> Outcome {
    let (b, i) = check_block(bundle, &info.verified, info.chain_id)?;
    let r = b.receipts[i].inner.clone().into_primitives_receipt();
    let found = r.logs().iter().any(|l| {
        l.address == info.ec
            && l.topics().first() == Some(&EvidenceContract::EvidenceVerified::SIGNATURE_HASH)
            && EvidenceContract::EvidenceVerified::decode_log(l).is_ok_and(|e| e.ec == info.ec)
    });
    if !found {
        return fail(format!(
            "transaction {} has no EvidenceVerified event of {}",
            info.verified.tx, info.ec
        ));
    }
    Ok(format!(
        "block {} ({}): transaction {} is at index {i}; roots match; EvidenceVerified emitted by the EC",
        info.verified.block, b.header.hash, info.verified.tx
    ))
}

fn check_records(bundle: &Bundle, p: &Params) -> Outcome {
    let raw = need(bundle, paths::RECORDS)?;
    if raw.is_empty() || raw.len() % SIGNED_RECORD_LEN != 0 {
        return fail(format!(
            "{} is {} bytes, not a sequence of {SIGNED_RECORD_LEN}-byte signed records",
            paths::RECORDS,
            raw.len()
        ));
    }
    let mut records: Vec<EvidenceRecord> = Vec::new();
    let mut device = None;
    for (i, chunk) in raw.chunks(SIGNED_RECORD_LEN).enumerate() {
        let signed = SignedRecord::decode(chunk)
            .map_err(|e| format!("{} record {i}: {e}", paths::RECORDS))?;
        let v = signed.verify().map_err(|e| {
            format!(
                "{} record {i}: the signature does not verify: {e}",
                paths::RECORDS
            )
        })?;
        let d = v.device();
        match device {
            None => device = Some(d),
            Some(first) if first != d => {
                return fail(format!(
                    "{} record {i} (seq {}) is signed by device {d}, the others by {first}: records of another device",
                    paths::RECORDS,
                    v.record().seq
                ));
            }
            Some(_) => {}
        }
        records.push(*v.record());
    }
    let device = device.expect("at least one record");
    let first = &records[0];
    let mut checker = if first.seq == 0 {
        ChainChecker::new(device)
    } else {
        ChainChecker::resume(device, ChainTip::of(first))
    };
    let start = usize::from(first.seq != 0);
    for r in &records[start..] {
        let findings = checker.push(r).map_err(|e| e.to_string())?;
        if let Some(f) = findings.first() {
            return fail(format!(
                "{}: the hash chain does not hold at seq {}: {f:?}",
                paths::RECORDS,
                r.seq
            ));
        }
    }
    let Some(seg) = records.iter().find(|r| r.segment_hash == p.video_hash) else {
        return fail(format!(
            "no record in {} carries the segment hash {} (the EC's videoHash)",
            paths::RECORDS,
            p.video_hash
        ));
    };
    if seg.start.to_unix() != p.recorded_at {
        return fail(format!(
            "the segment's record (seq {}) starts at {}, but the EC's recordedAt is {}",
            seg.seq,
            seg.start.to_unix(),
            p.recorded_at
        ));
    }
    let before = records.iter().filter(|r| r.seq < seg.seq).count();
    let after = records.iter().filter(|r| r.seq > seg.seq).count();
    Ok(format!(
        "{} records of device {device} (seq {}..={}), each signature valid, hash chain unbroken; the segment's record is seq {} ({} before, {} after), its segment hash = videoHash and start = recordedAt",
        records.len(),
        first.seq,
        records.last().map_or(first.seq, |r| r.seq),
        seg.seq,
        before,
        after
    ))
}
