//! Releasing a time window of a clip (issue 16, part 3): the key tree that lets an owner hand
//! out the keys of some chunks and no others, and the chunk commitment a requester checks the
//! released chunks against. The format is in docs/formats.md ("Window release"); this module is
//! its reference implementation. The seal format, the EC field and the request flow that use it
//! are not built yet (docs/formats.md says what is decided and what is open).
//!
//! * **Key tree.** A clip of `n` chunks (1..=[`MAX_CHUNKS`]) has a binary tree of depth
//!   `d = ⌈log2 n⌉` over its chunks. The root key is
//!   `keccak256("dashledger:key-tree:v1" || u32 BE n || session key)`, a child's key
//!   `keccak256("dashledger:key-node:v1" || side || parent key)` (side 0 left, 1 right), and
//!   chunk `i`'s key is the key of leaf `i` (depth `d`). A node's key gives every chunk key
//!   below it and nothing else (Keccak-256 as a PRF).
//! * **Cover.** The fewest nodes whose chunks are exactly a window `[a, b)`: at most two per
//!   level ([`cover`]). Releasing a window is releasing those node keys ([`WindowKeys`]).
//! * **Chunk commitment.** Leaf `i` = `keccak256("dashledger:chunk-leaf:v1" || u32 BE i ||
//!   keccak256(ciphertext of chunk i))`, the frames tree's shape (inner node
//!   `keccak256(0x01 || l || r)`, an odd last node carried up) and
//!   `chunksRoot = keccak256(0x03 || u32 BE n || tree root)`. A [`RangeProof`] proves a
//!   contiguous run of leaves with the siblings along its two edges.
//!
//! ```
//! use dashledger_protocol::release::{KeyTree, chunk_leaf, chunks_root, prove_range};
//! use dashledger_protocol::seal::SessionKey;
//!
//! // The device: 60 one-second chunks under one session key, their commitment in the EC.
//! let session = SessionKey::from_bytes([7; 32]);
//! let tree = KeyTree::new(&session, 60).unwrap();
//! let ciphertexts: Vec<Vec<u8>> = (0..60u8).map(|i| vec![i; 100]).collect();
//! let leaves: Vec<_> = ciphertexts.iter().enumerate().map(|(i, c)| chunk_leaf(i as u32, c)).collect();
//! let root = chunks_root(&leaves).unwrap();
//!
//! // The owner releases seconds 20..40: a handful of node keys, not the session key.
//! let granted = tree.window(20..40).unwrap();
//! assert!(granted.nodes().len() <= 2 * 6);
//!
//! // The requester derives the 20 chunk keys, and no other, and checks the chunks it got.
//! assert!(granted.chunk_key(25).unwrap() == tree.chunk_key(25).unwrap());
//! assert!(granted.chunk_key(19).is_none() && granted.chunk_key(40).is_none());
//! let proof = prove_range(&leaves, 20..40).unwrap();
//! assert!(proof.verify(&root, &leaves[20..40]));
//! ```

use std::ops::Range;

use alloy::primitives::B256;

use crate::error::{Error, Result};
use crate::frames::{self, MerkleLevels};
use crate::hash::keccak256;
use crate::seal::SessionKey;

/// Domain tag of the root key's preimage.
pub const TREE_TAG: &[u8; 22] = b"dashledger:key-tree:v1";
/// Domain tag of a child key's preimage.
pub const NODE_TAG: &[u8; 22] = b"dashledger:key-node:v1";
/// Domain tag of a chunk leaf's preimage.
pub const CHUNK_LEAF_TAG: &[u8; 24] = b"dashledger:chunk-leaf:v1";
/// Prefix byte of the `chunksRoot` preimage (the frames tree uses 0x02).
pub const CHUNKS_ROOT_PREFIX: u8 = 0x03;
/// Most chunks a clip may have (depth 16).
pub const MAX_CHUNKS: u32 = 1 << 16;

/// A node of the key tree: `depth` 0 is the root; node `(k, j)` has children `(k + 1, 2j)` and
/// `(k + 1, 2j + 1)`; the leaves are at the tree's depth, leaf `i` being chunk `i`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Node {
    /// Distance from the root.
    pub depth: u8,
    /// Position among the nodes of its depth, from the left.
    pub index: u32,
}

/// The shape of a tree of `chunks` leaves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Shape {
    chunks: u32,
    depth: u8,
}

impl Shape {
    fn new(chunks: u32) -> Result<Self> {
        if chunks == 0 || chunks > MAX_CHUNKS {
            return Err(Error::Proof(format!(
                "a key tree has 1..={MAX_CHUNKS} chunks, got {chunks}"
            )));
        }
        // ⌈log2 n⌉: 0 for one chunk (the root is its leaf).
        let depth = (32 - (chunks - 1).leading_zeros()) as u8;
        Ok(Self { chunks, depth })
    }

    /// The chunks under `node` that exist: `[first, end)`, empty for a node right of the last.
    fn span(&self, node: Node) -> Range<u32> {
        let shift = u32::from(self.depth - node.depth);
        let first = u64::from(node.index) << shift;
        let end = (u64::from(node.index) + 1) << shift;
        let clamp = |x: u64| x.min(u64::from(self.chunks)) as u32;
        clamp(first)..clamp(end)
    }

    fn check_node(&self, node: Node) -> Result<()> {
        if node.depth > self.depth || self.span(node).is_empty() {
            return Err(Error::Proof(format!(
                "node {node:?} is not in a key tree of {} chunks",
                self.chunks
            )));
        }
        Ok(())
    }

    fn check_window(&self, window: &Range<u32>) -> Result<()> {
        if window.start >= window.end || window.end > self.chunks {
            return Err(Error::Proof(format!(
                "window {}..{} is not a non-empty part of 0..{}",
                window.start, window.end, self.chunks
            )));
        }
        Ok(())
    }
}

/// The fewest nodes of a tree of `chunks` chunks whose chunks are exactly `window`, left to
/// right (at most two per depth below the root).
pub fn cover(chunks: u32, window: Range<u32>) -> Result<Vec<Node>> {
    let shape = Shape::new(chunks)?;
    shape.check_window(&window)?;
    let mut out = Vec::new();
    let mut stack = vec![Node { depth: 0, index: 0 }];
    while let Some(node) = stack.pop() {
        let span = shape.span(node);
        if span.is_empty() || span.end <= window.start || span.start >= window.end {
            continue;
        }
        if window.start <= span.start && span.end <= window.end {
            out.push(node);
            continue;
        }
        // Partly inside: look at the children (right pushed first, so left comes out first).
        let depth = node.depth + 1;
        stack.push(Node {
            depth,
            index: 2 * node.index + 1,
        });
        stack.push(Node {
            depth,
            index: 2 * node.index,
        });
    }
    Ok(out)
}

fn child_key(parent: &SessionKey, right: bool) -> SessionKey {
    let mut pre = Vec::with_capacity(NODE_TAG.len() + 33);
    pre.extend_from_slice(NODE_TAG);
    pre.push(u8::from(right));
    pre.extend_from_slice(parent.expose_secret());
    let key = SessionKey::from_bytes(keccak256(&pre).0);
    zeroize::Zeroize::zeroize(&mut pre);
    key
}

/// `from`'s key walked down to `to` (a node below it, or itself).
fn descend(from: Node, key: &SessionKey, to: Node) -> SessionKey {
    let mut k = key.clone();
    for depth in from.depth..to.depth {
        let bit = (to.index >> (to.depth - depth - 1)) & 1;
        k = child_key(&k, bit == 1);
    }
    k
}

/// Whether `to` is `from` or below it.
fn is_under(from: Node, to: Node) -> bool {
    to.depth >= from.depth && (to.index >> (to.depth - from.depth)) == from.index
}

/// The key tree of one sealed clip (held by whoever holds the session key).
#[derive(Clone, Debug)]
pub struct KeyTree {
    shape: Shape,
    root: SessionKey,
}

impl KeyTree {
    /// The tree of `chunks` chunks under `session`.
    pub fn new(session: &SessionKey, chunks: u32) -> Result<Self> {
        let shape = Shape::new(chunks)?;
        let mut pre = Vec::with_capacity(TREE_TAG.len() + 36);
        pre.extend_from_slice(TREE_TAG);
        pre.extend_from_slice(&chunks.to_be_bytes());
        pre.extend_from_slice(session.expose_secret());
        let root = SessionKey::from_bytes(keccak256(&pre).0);
        zeroize::Zeroize::zeroize(&mut pre);
        Ok(Self { shape, root })
    }

    /// Number of chunks.
    pub fn chunks(&self) -> u32 {
        self.shape.chunks
    }

    /// Depth of the leaves (0 for a single chunk).
    pub fn depth(&self) -> u8 {
        self.shape.depth
    }

    /// The key of `node`.
    pub fn node_key(&self, node: Node) -> Result<SessionKey> {
        self.shape.check_node(node)?;
        Ok(descend(Node { depth: 0, index: 0 }, &self.root, node))
    }

    /// The key chunk `i` is sealed with.
    pub fn chunk_key(&self, i: u32) -> Result<SessionKey> {
        self.node_key(Node {
            depth: self.shape.depth,
            index: i,
        })
    }

    /// The node keys that release exactly `window` ([`cover`]).
    pub fn window(&self, window: Range<u32>) -> Result<WindowKeys> {
        let nodes = cover(self.shape.chunks, window.clone())?
            .into_iter()
            .map(|n| self.node_key(n).map(|k| (n, k)))
            .collect::<Result<Vec<_>>>()?;
        Ok(WindowKeys {
            shape: self.shape,
            window,
            nodes,
        })
    }
}

/// The node keys of a released window: what a requester gets instead of the session key.
#[derive(Clone, Debug)]
pub struct WindowKeys {
    shape: Shape,
    window: Range<u32>,
    nodes: Vec<(Node, SessionKey)>,
}

impl WindowKeys {
    /// Checks received node keys: `nodes` must be exactly the cover of `window` in a tree of
    /// `chunks` chunks (their keys are checked by opening the chunks, whose AES-GCM tags and
    /// committed hashes fail under a wrong key).
    pub fn from_nodes(
        chunks: u32,
        window: Range<u32>,
        nodes: Vec<(Node, SessionKey)>,
    ) -> Result<Self> {
        let shape = Shape::new(chunks)?;
        let want = cover(chunks, window.clone())?;
        let got: Vec<Node> = nodes.iter().map(|(n, _)| *n).collect();
        if got != want {
            return Err(Error::Proof(format!(
                "the nodes {got:?} are not the cover {want:?} of window {}..{} in {chunks} chunks",
                window.start, window.end
            )));
        }
        Ok(Self {
            shape,
            window,
            nodes,
        })
    }

    /// The released window of chunks.
    pub fn window_range(&self) -> Range<u32> {
        self.window.clone()
    }

    /// The released nodes and their keys, left to right.
    pub fn nodes(&self) -> &[(Node, SessionKey)] {
        &self.nodes
    }

    /// Chunk `i`'s key, or `None` outside the window.
    pub fn chunk_key(&self, i: u32) -> Option<SessionKey> {
        if !self.window.contains(&i) {
            return None;
        }
        let leaf = Node {
            depth: self.shape.depth,
            index: i,
        };
        self.nodes
            .iter()
            .find(|(n, _)| is_under(*n, leaf))
            .map(|(n, k)| descend(*n, k, leaf))
    }
}

/// Leaf `i` of the chunk commitment: binds the chunk's position and its ciphertext.
pub fn chunk_leaf(i: u32, ciphertext: &[u8]) -> B256 {
    let mut pre = Vec::with_capacity(CHUNK_LEAF_TAG.len() + 36);
    pre.extend_from_slice(CHUNK_LEAF_TAG);
    pre.extend_from_slice(&i.to_be_bytes());
    pre.extend_from_slice(keccak256(ciphertext).as_slice());
    keccak256(&pre)
}

fn check_leaf_count(n: usize) -> Result<u32> {
    match u32::try_from(n) {
        Ok(n) if (1..=MAX_CHUNKS).contains(&n) => Ok(n),
        _ => Err(Error::Proof(format!(
            "a chunk commitment has 1..={MAX_CHUNKS} leaves, got {n}"
        ))),
    }
}

fn bind(count: u32, tree_root: &B256) -> B256 {
    frames::bind_count(CHUNKS_ROOT_PREFIX, count, tree_root)
}

/// `chunksRoot` of the chunk leaves (at least one).
pub fn chunks_root(leaves: &[B256]) -> Result<B256> {
    let count = check_leaf_count(leaves.len())?;
    Ok(bind(count, &MerkleLevels::of(leaves).root()))
}

/// A proof that a contiguous run of leaves `[start, end)` is part of a `chunksRoot`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RangeProof {
    /// Number of leaves in the tree.
    pub leaf_count: u32,
    /// The proven leaves.
    pub range: Range<u32>,
    /// From the leaves upwards, per level the left edge's sibling (when the run starts at a
    /// right child), then the right edge's (when it ends at a left child that has a sibling).
    pub siblings: Vec<B256>,
}

/// The proof of `leaves[range]`.
pub fn prove_range(leaves: &[B256], range: Range<u32>) -> Result<RangeProof> {
    let leaf_count = check_leaf_count(leaves.len())?;
    Shape::new(leaf_count)?.check_window(&range)?;
    let mut siblings = Vec::new();
    let (mut lo, mut hi) = (range.start as usize, range.end as usize);
    for level in MerkleLevels::of(leaves)
        .levels()
        .iter()
        .take_while(|l| l.len() > 1)
    {
        if lo % 2 == 1 {
            siblings.push(level[lo - 1]);
            lo -= 1;
        }
        if hi % 2 == 1 && hi < level.len() {
            siblings.push(level[hi]);
            hi += 1;
        }
        lo /= 2;
        hi = hi.div_ceil(2);
    }
    Ok(RangeProof {
        leaf_count,
        range,
        siblings,
    })
}

impl RangeProof {
    /// The `chunksRoot` this proof yields for `leaves` (the leaves of `range`, in order).
    pub fn root_for(&self, leaves: &[B256]) -> Result<B256> {
        let count = check_leaf_count(self.leaf_count as usize)?;
        Shape::new(count)?.check_window(&self.range)?;
        if leaves.len() != self.range.len() {
            return Err(Error::Proof(format!(
                "the proof is for {} leaves, {} given",
                self.range.len(),
                leaves.len()
            )));
        }
        let short = || Error::Proof("too few siblings".into());
        let mut sib = self.siblings.iter();
        let mut run = leaves.to_vec();
        let (mut lo, mut hi, mut len) = (
            self.range.start as usize,
            self.range.end as usize,
            count as usize,
        );
        while len > 1 {
            if lo % 2 == 1 {
                run.insert(0, *sib.next().ok_or_else(short)?);
                lo -= 1;
            }
            if hi % 2 == 1 && hi < len {
                run.push(*sib.next().ok_or_else(short)?);
                hi += 1;
            }
            run = frames::pair_up(&run);
            lo /= 2;
            hi = hi.div_ceil(2);
            len = len.div_ceil(2);
        }
        if sib.next().is_some() {
            return Err(Error::Proof("too many siblings".into()));
        }
        Ok(bind(count, &run[0]))
    }

    /// Whether `leaves` are the leaves of `range` under `chunks_root`.
    pub fn verify(&self, chunks_root: &B256, leaves: &[B256]) -> bool {
        self.root_for(leaves).is_ok_and(|r| r == *chunks_root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn session() -> SessionKey {
        SessionKey::from_bytes(std::array::from_fn(|i| i as u8))
    }

    fn leaves(n: u32) -> Vec<B256> {
        (0..n).map(|i| chunk_leaf(i, &i.to_be_bytes())).collect()
    }

    fn chunks_and_window() -> impl Strategy<Value = (u32, Range<u32>)> {
        (1u32..300).prop_flat_map(|n| {
            (0..n).prop_flat_map(move |a| (a + 1..=n).prop_map(move |b| (n, a..b)))
        })
    }

    proptest! {
        /// The cover is disjoint, its chunks are exactly the window, and it is small.
        #[test]
        fn cover_is_exactly_the_window((n, w) in chunks_and_window()) {
            let shape = Shape::new(n).unwrap();
            let nodes = cover(n, w.clone()).unwrap();
            let mut covered: Vec<u32> = nodes.iter().flat_map(|&c| shape.span(c)).collect();
            let len = covered.len();
            covered.dedup();
            prop_assert_eq!(covered.len(), len, "overlapping nodes {:?}", nodes);
            prop_assert_eq!(covered, w.clone().collect::<Vec<_>>());
            prop_assert!(nodes.len() <= 2 * usize::from(shape.depth).max(1), "{:?}", nodes);
            // Minimal: no two released siblings (their parent would do).
            for pair in nodes.windows(2) {
                let (l, r) = (pair[0], pair[1]);
                prop_assert!(!(l.depth == r.depth && l.index % 2 == 0 && r.index == l.index + 1
                    && shape.span(Node { depth: l.depth - 1, index: l.index / 2 }).end <= w.end),
                    "{:?} and {:?} could be their parent", l, r);
            }
        }

        /// A window's keys give exactly the tree's chunk keys inside it and nothing outside.
        #[test]
        fn window_keys_open_the_window_only((n, w) in chunks_and_window()) {
            let tree = KeyTree::new(&session(), n).unwrap();
            let granted = tree.window(w.clone()).unwrap();
            for i in 0..n {
                match granted.chunk_key(i) {
                    Some(k) => {
                        prop_assert!(w.contains(&i));
                        prop_assert!(k == tree.chunk_key(i).unwrap());
                    }
                    None => prop_assert!(!w.contains(&i)),
                }
            }
            // What the requester receives is accepted as the cover, and nothing else is.
            let nodes = granted.nodes().to_vec();
            prop_assert!(WindowKeys::from_nodes(n, w.clone(), nodes.clone()).is_ok());
            if w.end < n {
                prop_assert!(WindowKeys::from_nodes(n, w.start..w.end + 1, nodes).is_err());
            }
        }

        /// A range proof verifies its leaves and fails for any other leaf, sibling or range.
        #[test]
        fn range_proofs_bind_leaves_and_place((n, w) in chunks_and_window(), flip in any::<prop::sample::Index>()) {
            let all = leaves(n);
            let root = chunks_root(&all).unwrap();
            let proof = prove_range(&all, w.clone()).unwrap();
            let run = &all[w.start as usize..w.end as usize];
            prop_assert!(proof.verify(&root, run));
            let mut bad = run.to_vec();
            let j = flip.index(bad.len());
            bad[j].0[0] ^= 1;
            prop_assert!(!proof.verify(&root, &bad));
            if !proof.siblings.is_empty() {
                let mut p = proof.clone();
                let j = flip.index(p.siblings.len());
                p.siblings[j].0[31] ^= 1;
                prop_assert!(!p.verify(&root, run));
            }
            if w.start > 0 {
                // The same leaves claimed one chunk to the left.
                let shifted = RangeProof { range: w.start - 1..w.end - 1, ..proof.clone() };
                prop_assert!(!shifted.verify(&root, run));
            }
            let shorter = RangeProof { leaf_count: n + 1, ..proof };
            prop_assert!(!shorter.verify(&root, run));
        }
    }

    #[test]
    fn single_chunk_proofs_agree_with_the_frames_shape() {
        // A one-leaf window's proof is the frames tree's inclusion proof over the same leaves.
        let all = leaves(7);
        for i in 0..7 {
            let range = prove_range(&all, i..i + 1).unwrap();
            let single = frames::prove(&all, i).unwrap();
            assert_eq!(range.siblings, single.siblings, "leaf {i}");
        }
    }

    #[test]
    fn bad_shapes_are_named_errors() {
        assert!(
            cover(0, 0..1)
                .unwrap_err()
                .to_string()
                .contains("1..=65536 chunks")
        );
        assert!(
            cover(10, 5..5)
                .unwrap_err()
                .to_string()
                .contains("window 5..5")
        );
        assert!(cover(10, 3..11).unwrap_err().to_string().contains("0..10"));
        let tree = KeyTree::new(&session(), 10).unwrap();
        assert!(tree.chunk_key(10).is_err());
        assert!(tree.node_key(Node { depth: 1, index: 1 }).is_ok());
        assert!(
            tree.node_key(Node { depth: 2, index: 3 }).is_err(),
            "right of the last chunk"
        );
        assert!(chunks_root(&[]).is_err());
        let proof = prove_range(&leaves(10), 2..5).unwrap();
        assert!(
            proof
                .root_for(&leaves(10)[2..4])
                .unwrap_err()
                .to_string()
                .contains("3 leaves, 2 given")
        );
    }

    #[test]
    fn trees_of_other_sizes_or_sessions_have_other_keys() {
        let a = KeyTree::new(&session(), 60).unwrap();
        let b = KeyTree::new(&session(), 61).unwrap();
        let c = KeyTree::new(&SessionKey::from_bytes([9; 32]), 60).unwrap();
        let k = a.chunk_key(0).unwrap();
        assert!(k != b.chunk_key(0).unwrap() && k != c.chunk_key(0).unwrap());
        assert!(k != session(), "a chunk key is not the session key");
    }
}
