//! Per-second frame leaves and the frames Merkle tree (the EC's `framesRoot`).
//!
//! * Leaf `i` (second `i` of a segment) = `keccak256("dashledger:frame-leaf:v1" || u32 BE i ||
//!   samples)`, where `samples` concatenates, for each track in ascending `track_ID` order and
//!   each of its samples in decode order whose decode time `dts / timescale` (integer
//!   division) equals `i`: `u32 BE track_ID || u32 BE size || the sample's bytes`. The number of
//!   leaves is `1 + max second` over all samples; a second without samples still has a leaf.
//! * Tree: positional (leaf order = time order). Inner node = `keccak256(0x01 || left ||
//!   right)`; an odd last node is carried up unchanged. `framesRoot = keccak256(0x02 || u32 BE
//!   leaf_count || tree root)` (binds the number of seconds).
//!
//! [`diff_leaves`] says which seconds differ between the leaves stored with an upload and the
//! leaves recomputed from a clip.

use std::io::{Read, Seek, SeekFrom};

use alloy::primitives::B256;
use keccak_asm::{Digest, Keccak256};

use crate::{
    error::{Error, Result},
    mp4::{Sample, Track, read_tracks},
};

/// Domain tag at the start of every leaf preimage.
pub const LEAF_TAG: &[u8; 24] = b"dashledger:frame-leaf:v1";
/// Prefix byte of inner-node preimages.
pub const NODE_PREFIX: u8 = 0x01;
/// Prefix byte of the root preimage.
pub const ROOT_PREFIX: u8 = 0x02;
/// Most seconds a segment may have (a day).
pub const MAX_SECONDS: u64 = 86_400;

fn h(parts: &[&[u8]]) -> B256 {
    let mut k = Keccak256::new();
    for p in parts {
        k.update(p);
    }
    let out: [u8; 32] = k.finalize().into();
    B256::from(out)
}

fn node(l: &B256, r: &B256) -> B256 {
    h(&[&[NODE_PREFIX], l.as_slice(), r.as_slice()])
}

/// Computes the per-second leaves of an MP4 segment (reads samples with a 64 KiB buffer).
pub fn frame_leaves<R: Read + Seek>(mut reader: R) -> Result<Vec<B256>> {
    let tracks = read_tracks(&mut reader)?;
    leaves_from_tracks(&mut reader, &tracks)
}

/// Computes the leaves of an MP4 file on disk.
pub fn frame_leaves_file(path: impl AsRef<std::path::Path>) -> Result<Vec<B256>> {
    let f = std::fs::File::open(path).map_err(Error::io("opening the segment"))?;
    frame_leaves(std::io::BufReader::new(f))
}

fn leaves_from_tracks<R: Read + Seek>(reader: &mut R, tracks: &[Track]) -> Result<Vec<B256>> {
    let mut buf = vec![0u8; 64 * 1024];
    leaf_samples(tracks)?
        .into_iter()
        .enumerate()
        .map(|(sec, samples)| {
            let mut k = leaf_hasher(sec as u32);
            for (track_id, s) in samples {
                k.update(track_id.to_be_bytes());
                k.update(s.size.to_be_bytes());
                reader
                    .seek(SeekFrom::Start(s.offset))
                    .map_err(Error::io("seeking to a sample"))?;
                let mut left = s.size as usize;
                while left > 0 {
                    let n = left.min(buf.len());
                    reader
                        .read_exact(&mut buf[..n])
                        .map_err(Error::io("reading a sample"))?;
                    k.update(&buf[..n]);
                    left -= n;
                }
            }
            let out: [u8; 32] = k.finalize().into();
            Ok(B256::from(out))
        })
        .collect()
}

/// The samples of every second's leaf, in leaf order: per second, each track's samples (tracks
/// in the given order) whose decode time falls in that second, each track walked in decode
/// order. Shared by the seeking reader and [`LeafStream`], so both hash the same samples.
fn leaf_samples(tracks: &[Track]) -> Result<Vec<Vec<(u32, Sample)>>> {
    let max = last_second(tracks)?;
    let mut cursors = vec![0usize; tracks.len()];
    Ok((0..=max)
        .map(|sec| {
            let mut out = Vec::new();
            for (t, cur) in tracks.iter().zip(cursors.iter_mut()) {
                while let Some(s) = t.samples.get(*cur) {
                    if s.dts / u64::from(t.timescale) != sec {
                        break;
                    }
                    out.push((t.track_id, *s));
                    *cur += 1;
                }
            }
            out
        })
        .collect())
}

/// The hasher of second `sec`'s leaf, its tag and index absorbed.
fn leaf_hasher(sec: u32) -> Keccak256 {
    let mut k = Keccak256::new();
    k.update(LEAF_TAG);
    k.update(sec.to_be_bytes());
    k
}

/// The per-second leaves computed from the segment's bytes as they stream past in file order: the
/// sealer's one sequential pass gives them too, instead of a second read that seeks to every
/// sample. The sample tables come first ([`read_tracks`] reads only the box headers and `moov`).
///
/// A sample that arrives before the ones it follows in its leaf (track order, then decode order)
/// is held until they are hashed, up to `max_held` bytes. A file whose tracks are not interleaved
/// by time needs more than that: [`LeafStream::update`] then fails and the caller uses
/// [`frame_leaves`] (which seeks). Either way the leaves are the same bytes.
#[derive(Debug)]
pub struct LeafStream {
    max_held: usize,
    held: usize,
    pos: u64,
    /// Samples hashed into some leaf, sorted by offset: (offset, size, id).
    by_offset: Vec<(u64, u32, usize)>,
    next_start: usize,
    /// Started, not yet complete: (offset, size, id, bytes so far).
    active: Vec<(u64, u32, usize, Vec<u8>)>,
    /// Per sample id: its second, track ID and size.
    meta: Vec<(usize, u32, u32)>,
    /// Complete samples not yet hashed, by id.
    ready: Vec<Option<Vec<u8>>>,
    /// Per second: sample ids in leaf order, how many are hashed, the leaf's hasher.
    order: Vec<Vec<usize>>,
    hashed: Vec<usize>,
    hashers: Vec<Keccak256>,
}

impl LeafStream {
    /// A stream over a file with these `tracks` (as [`read_tracks`] returns them), holding at
    /// most `max_held` bytes of early samples.
    pub fn new(tracks: &[Track], max_held: usize) -> Result<Self> {
        let per_second = leaf_samples(tracks)?;
        let seconds = per_second.len();
        let (mut meta, mut by_offset, mut order) =
            (Vec::new(), Vec::new(), vec![Vec::new(); seconds]);
        for (sec, (samples, ids)) in per_second.iter().zip(order.iter_mut()).enumerate() {
            for &(track_id, s) in samples {
                ids.push(meta.len());
                by_offset.push((s.offset, s.size, meta.len()));
                meta.push((sec, track_id, s.size));
            }
        }
        by_offset.sort_unstable();
        let hashers = (0..seconds as u32).map(leaf_hasher).collect();
        Ok(Self {
            max_held,
            held: 0,
            pos: 0,
            ready: vec![None; meta.len()],
            by_offset,
            next_start: 0,
            active: Vec::new(),
            meta,
            hashed: vec![0; seconds],
            order,
            hashers,
        })
    }

    /// The next bytes of the file (the first call gets offset 0).
    pub fn update(&mut self, bytes: &[u8]) -> Result<()> {
        let (start, end) = (self.pos, self.pos + bytes.len() as u64);
        self.start_samples_before(end)?;
        let mut i = 0;
        while i < self.active.len() {
            let (off, size, _, buf) = &mut self.active[i];
            let (from, to) = ((*off).max(start), (*off + u64::from(*size)).min(end));
            if from < to {
                buf.extend_from_slice(&bytes[(from - start) as usize..(to - start) as usize]);
            }
            if buf.len() == *size as usize {
                let (_, _, id, buf) = self.active.swap_remove(i);
                self.complete(id, buf);
            } else {
                i += 1;
            }
        }
        self.pos = end;
        Ok(())
    }

    /// The leaves, once the whole file went through [`update`](Self::update).
    pub fn finish(mut self) -> Result<Vec<B256>> {
        // Empty samples at the very end of the file start (and complete) here.
        self.start_samples_before(self.pos + 1)?;
        let beyond = self
            .active
            .iter()
            .map(|&(off, size, _, _)| (off, size))
            .chain(
                self.by_offset[self.next_start..]
                    .iter()
                    .map(|&(off, size, _)| (off, size)),
            )
            .min();
        if let Some((off, size)) = beyond {
            return Err(Error::Mp4(format!(
                "a sample at offset {off} ({size} bytes) lies beyond the end of the file ({} bytes)",
                self.pos
            )));
        }
        Ok(self
            .hashers
            .into_iter()
            .map(|k| {
                let out: [u8; 32] = k.finalize().into();
                B256::from(out)
            })
            .collect())
    }

    /// Starts every sample that begins before `end` (an empty one is complete at once); fails
    /// before holding more than `max_held` bytes.
    fn start_samples_before(&mut self, end: u64) -> Result<()> {
        while let Some(&(off, size, id)) = self.by_offset.get(self.next_start) {
            if off >= end {
                break;
            }
            self.next_start += 1;
            self.held += size as usize;
            if self.held > self.max_held {
                return Err(self.not_interleaved());
            }
            if size == 0 {
                self.complete(id, Vec::new());
            } else {
                self.active.push((off, size, id, Vec::new()));
            }
        }
        Ok(())
    }

    fn not_interleaved(&self) -> Error {
        Error::Mp4Unsupported(format!(
            "the tracks are not interleaved by time: more than {} bytes of samples arrive before \
             the samples they follow",
            self.max_held
        ))
    }

    /// Hashes what of sample `id`'s leaf can be hashed now that it is complete.
    fn complete(&mut self, id: usize, bytes: Vec<u8>) {
        let sec = self.meta[id].0;
        self.ready[id] = Some(bytes);
        while let Some(&next) = self.order[sec].get(self.hashed[sec]) {
            let Some(b) = self.ready[next].take() else {
                break;
            };
            let (_, track_id, size) = self.meta[next];
            let k = &mut self.hashers[sec];
            k.update(track_id.to_be_bytes());
            k.update(size.to_be_bytes());
            k.update(&b);
            self.held -= size as usize;
            self.hashed[sec] += 1;
        }
    }
}

/// The last second any sample of `tracks` starts in (checked against [`MAX_SECONDS`]).
fn last_second(tracks: &[Track]) -> Result<u64> {
    let max = tracks
        .iter()
        .filter_map(|t| t.samples.last().map(|s| s.dts / u64::from(t.timescale)))
        .max()
        .ok_or_else(|| Error::Mp4("the file has no media samples".into()))?;
    if max >= MAX_SECONDS {
        return Err(Error::Mp4Unsupported(format!(
            "segment spans {} seconds (max {MAX_SECONDS})",
            max + 1
        )));
    }
    Ok(max)
}

/// One level up a positional tree: neighbours paired (`keccak256(0x01 || l || r)`), an odd last
/// node carried up unchanged. Shared with the chunk commitment ([`crate::release`]).
pub(crate) fn pair_up(level: &[B256]) -> Vec<B256> {
    level
        .chunks(2)
        .map(|c| {
            if c.len() == 2 {
                node(&c[0], &c[1])
            } else {
                c[0]
            }
        })
        .collect()
}

/// Every level of the positional tree over some leaves, from the leaves up to the root.
pub(crate) struct MerkleLevels(Vec<Vec<B256>>);

impl MerkleLevels {
    /// The levels over `leaves` (at least one).
    pub(crate) fn of(leaves: &[B256]) -> Self {
        let mut levels = vec![leaves.to_vec()];
        while levels.last().expect("non-empty").len() > 1 {
            let next = pair_up(levels.last().expect("non-empty"));
            levels.push(next);
        }
        Self(levels)
    }

    /// The levels, leaves first.
    pub(crate) fn levels(&self) -> &[Vec<B256>] {
        &self.0
    }

    /// The tree root (before the count is bound to it).
    pub(crate) fn root(&self) -> B256 {
        self.0.last().expect("non-empty")[0]
    }
}

fn bind(count: u32, tree_root: &B256) -> B256 {
    bind_count(ROOT_PREFIX, count, tree_root)
}

/// `keccak256(prefix || u32 BE count || tree root)`: a root that binds its number of leaves
/// (`framesRoot` with 0x02; the chunk commitment of [`crate::release`] with 0x03).
pub(crate) fn bind_count(prefix: u8, count: u32, tree_root: &B256) -> B256 {
    h(&[&[prefix], &count.to_be_bytes(), tree_root.as_slice()])
}

/// `framesRoot` of a list of leaves (at least one).
pub fn frames_root(leaves: &[B256]) -> Result<B256> {
    let count = check_count(leaves.len())?;
    Ok(bind(count, &MerkleLevels::of(leaves).root()))
}

fn check_count(n: usize) -> Result<u32> {
    if n == 0 || n as u64 > MAX_SECONDS {
        return Err(Error::Proof(format!(
            "a frames tree has 1..={MAX_SECONDS} leaves, got {n}"
        )));
    }
    Ok(n as u32)
}

/// An inclusion proof of one second's leaf.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MerkleProof {
    /// The second (leaf index).
    pub index: u32,
    /// Number of leaves in the tree.
    pub leaf_count: u32,
    /// Sibling hashes from the leaf level upwards (levels where the node is carried up have
    /// none).
    pub siblings: Vec<B256>,
}

/// The inclusion proof of leaf `index`.
pub fn prove(leaves: &[B256], index: u32) -> Result<MerkleProof> {
    let leaf_count = check_count(leaves.len())?;
    if index >= leaf_count {
        return Err(Error::Proof(format!(
            "index {index} outside {leaf_count} leaves"
        )));
    }
    let mut siblings = Vec::new();
    let mut i = index as usize;
    for level in MerkleLevels::of(leaves)
        .levels()
        .iter()
        .take_while(|l| l.len() > 1)
    {
        if i % 2 == 1 {
            siblings.push(level[i - 1]);
        } else if i + 1 < level.len() {
            siblings.push(level[i + 1]);
        }
        i /= 2;
    }
    Ok(MerkleProof {
        index,
        leaf_count,
        siblings,
    })
}

impl MerkleProof {
    /// The `framesRoot` this proof yields for `leaf` (errors if the proof's shape is wrong).
    pub fn root_for(&self, leaf: &B256) -> Result<B256> {
        check_count(self.leaf_count as usize)?;
        if self.index >= self.leaf_count {
            return Err(Error::Proof(format!(
                "index {} outside {} leaves",
                self.index, self.leaf_count
            )));
        }
        let mut acc = *leaf;
        let mut i = self.index as usize;
        let mut len = self.leaf_count as usize;
        let mut sib = self.siblings.iter();
        while len > 1 {
            if i % 2 == 1 {
                let s = sib
                    .next()
                    .ok_or_else(|| Error::Proof("too few siblings".into()))?;
                acc = node(s, &acc);
            } else if i + 1 < len {
                let s = sib
                    .next()
                    .ok_or_else(|| Error::Proof("too few siblings".into()))?;
                acc = node(&acc, s);
            }
            i /= 2;
            len = len.div_ceil(2);
        }
        if sib.next().is_some() {
            return Err(Error::Proof("too many siblings".into()));
        }
        Ok(bind(self.leaf_count, &acc))
    }
    /// Whether `leaf` is second `index` of the segment with this `frames_root`.
    pub fn verify(&self, frames_root: &B256, leaf: &B256) -> bool {
        self.root_for(leaf).is_ok_and(|r| r == *frames_root)
    }
}

/// Which seconds differ between two leaf lists.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct LeafDiff {
    /// Seconds present in both whose leaves differ.
    pub changed: Vec<u32>,
    /// Seconds present in `expected` only (the clip is shorter).
    pub missing: Vec<u32>,
    /// Seconds present in `actual` only (the clip is longer).
    pub extra: Vec<u32>,
}

impl LeafDiff {
    /// True when the lists are identical.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.extra.is_empty()
    }
}

/// Compares the leaves stored with an upload (`expected`) with the leaves of a clip (`actual`).
pub fn diff_leaves(expected: &[B256], actual: &[B256]) -> LeafDiff {
    let common = expected.len().min(actual.len());
    LeafDiff {
        changed: (0..common)
            .filter(|&i| expected[i] != actual[i])
            .map(|i| i as u32)
            .collect(),
        missing: (common..expected.len()).map(|i| i as u32).collect(),
        extra: (common..actual.len()).map(|i| i as u32).collect(),
    }
}

/// Leaves as stored/uploaded: their 32-byte values concatenated.
pub fn encode_leaves(leaves: &[B256]) -> Vec<u8> {
    leaves.iter().flat_map(|l| l.0).collect()
}

/// Parses [`encode_leaves`] output.
pub fn decode_leaves(bytes: &[u8]) -> Result<Vec<B256>> {
    if !bytes.len().is_multiple_of(32) {
        return Err(Error::Length {
            what: "frame leaves (multiple of 32)",
            expected: bytes.len() / 32 * 32,
            got: bytes.len(),
        });
    }
    Ok(bytes.chunks_exact(32).map(B256::from_slice).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp4::tests::synthetic_mp4;

    fn leaves(n: usize) -> Vec<B256> {
        (0..n).map(|i| B256::repeat_byte(i as u8)).collect()
    }

    #[test]
    fn proofs_for_all_shapes() {
        for n in 1..=17 {
            let l = leaves(n);
            let root = frames_root(&l).unwrap();
            for i in 0..n as u32 {
                let p = prove(&l, i).unwrap();
                assert!(p.verify(&root, &l[i as usize]), "n={n} i={i}");
                assert!(!p.verify(&root, &B256::repeat_byte(0xEE)));
                let mut wrong = p.clone();
                wrong.leaf_count += 1;
                assert!(!wrong.verify(&root, &l[i as usize]));
            }
        }
        // Explicit shape for 3 leaves: root binds the count.
        let l = leaves(3);
        let tree = node(&node(&l[0], &l[1]), &l[2]);
        assert_eq!(frames_root(&l).unwrap(), bind(3, &tree));
        assert!(frames_root(&[]).is_err());
    }

    #[test]
    fn diff_names_changed_seconds() {
        let a = leaves(5);
        let mut b = a.clone();
        b[2] = B256::ZERO;
        b.truncate(4);
        let d = diff_leaves(&a, &b);
        assert_eq!(
            d,
            LeafDiff {
                changed: vec![2],
                missing: vec![4],
                extra: vec![]
            }
        );
        assert!(diff_leaves(&a, &a).is_empty());
        assert_eq!(decode_leaves(&encode_leaves(&a)).unwrap(), a);
    }

    /// The leaves of `f` through a [`LeafStream`] fed `chunk` bytes at a time.
    fn streamed(f: &[u8], chunk: usize, max_held: usize) -> Result<Vec<B256>> {
        let tracks = read_tracks(&mut std::io::Cursor::new(f))?;
        let mut s = LeafStream::new(&tracks, max_held)?;
        for c in f.chunks(chunk.max(1)) {
            s.update(c)?;
        }
        s.finish()
    }

    proptest::proptest! {
        /// Streamed in pieces of any size, in either storage order of the tracks, the leaves
        /// are the seeking reader's.
        #[test]
        fn streamed_leaves_are_the_seeking_ones(
            video in proptest::collection::vec(0u32..300, 1..12),
            audio in proptest::collection::vec(0u32..200, 1..8),
            chunk in 1usize..900,
            audio_first in proptest::bool::ANY,
        ) {
            let (v, a) = ((1, 1000, video, 500), (2, 48_000, audio, 48_000));
            let f = synthetic_mp4(&if audio_first { [a, v] } else { [v, a] });
            let want = frame_leaves(std::io::Cursor::new(&f)).unwrap();
            proptest::prop_assert_eq!(streamed(&f, chunk, usize::MAX).unwrap(), want);
        }
    }

    #[test]
    fn a_stream_holds_only_so_much_and_wants_the_whole_file() {
        // Track 2 stored before track 1: its samples arrive before track 1's of the same second.
        let f = synthetic_mp4(&[
            (2, 48_000, vec![50, 50, 50], 48_000),
            (1, 1000, vec![100, 100, 100, 100], 500),
        ]);
        let want = frame_leaves(std::io::Cursor::new(&f)).unwrap();
        // Track 2's samples of seconds 0 and 1 wait for track 1's: 100 bytes held, plus what
        // is being read. A cap below that fails by name; a roomier one gives the leaves.
        assert_eq!(streamed(&f, 1, 1024).unwrap(), want);
        assert_eq!(streamed(&f, 64, 1024).unwrap(), want);
        let e = streamed(&f, 1, 99).unwrap_err().to_string();
        assert!(e.contains("not interleaved by time"), "{e}");
        // A file cut short: the samples past its end are named.
        let tracks = read_tracks(&mut std::io::Cursor::new(&f)).unwrap();
        let mut s = LeafStream::new(&tracks, usize::MAX).unwrap();
        s.update(&f[..100]).unwrap();
        let e = s.finish().unwrap_err().to_string();
        assert!(e.contains("beyond the end of the file (100 bytes)"), "{e}");
    }

    #[test]
    fn leaves_of_synthetic_mp4_localise_tampering() {
        // Track 1: 4 samples at 0, 0.5, 1.0, 1.5 s; track 2: 3 samples at 0, 1, 2 s.
        let f = synthetic_mp4(&[
            (1, 1000, vec![100, 100, 100, 100], 500),
            (2, 48_000, vec![50, 50, 50], 48_000),
        ]);
        let l = frame_leaves(std::io::Cursor::new(&f)).unwrap();
        assert_eq!(l.len(), 3);
        // Second 2 holds only track 2's third sample.
        let tracks = read_tracks(&mut std::io::Cursor::new(&f)).unwrap();
        let s = tracks[1].samples[2];
        let mut pre = LEAF_TAG.to_vec();
        pre.extend_from_slice(&2u32.to_be_bytes());
        pre.extend_from_slice(&2u32.to_be_bytes());
        pre.extend_from_slice(&50u32.to_be_bytes());
        pre.extend_from_slice(&f[s.offset as usize..s.offset as usize + 50]);
        assert_eq!(l[2], crate::hash::keccak256(&pre));
        // Flip a byte inside track 1's third sample (second 1).
        let off = tracks[0].samples[2].offset as usize + 10;
        let mut g = f.clone();
        g[off] ^= 1;
        let l2 = frame_leaves(std::io::Cursor::new(&g)).unwrap();
        assert_eq!(
            diff_leaves(&l, &l2),
            LeafDiff {
                changed: vec![1],
                ..Default::default()
            }
        );
    }
}
