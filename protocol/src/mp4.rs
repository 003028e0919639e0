//! A small, strict reader of MP4 / ISO-BMFF sample tables (non-fragmented files only).
//!
//! It reads `moov/trak/{tkhd, mdia/{mdhd, hdlr, minf/stbl/{stts, stsz|stz2, stsc, stco|co64}}}`
//! and expands them into each track's samples: file offset, size and decode timestamp (DTS, in
//! the track's timescale). Edit lists and composition offsets (`ctts`) are deliberately
//! ignored: the frame leaves only need a deterministic assignment of samples to seconds.
//! Every count is checked against the bytes that hold it before anything is allocated, and
//! every sample must lie inside the file.

use std::io::{Read, Seek, SeekFrom};

use crate::error::{Error, Result};

/// At most this many samples per file (a 1-minute segment has a few thousand).
pub const MAX_SAMPLES: usize = 1 << 22;
/// At most this large a `moov` box (it is read into memory).
pub const MAX_MOOV_LEN: u64 = 64 * 1024 * 1024;

/// One media sample.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Sample {
    /// Absolute file offset of the sample's first byte.
    pub offset: u64,
    /// Size in bytes.
    pub size: u32,
    /// Decode timestamp in the track's timescale.
    pub dts: u64,
}

/// One track's samples.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Track {
    /// `tkhd` track_ID.
    pub track_id: u32,
    /// `hdlr` handler type, e.g. `b"vide"`, `b"soun"`.
    pub handler: [u8; 4],
    /// `mdhd` timescale (ticks per second), never zero.
    pub timescale: u32,
    /// Samples in decode order.
    pub samples: Vec<Sample>,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Mp4(msg.into())
}

/// A cursor over an in-memory box payload with checked reads.
struct Cur<'a> {
    b: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Cur<'a> {
    fn new(b: &'a [u8], what: &'static str) -> Self {
        Self { b, pos: 0, what }
    }
    fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(bad(format!("{} box is truncated", self.what)));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4")))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8")))
    }
    /// Reads a u32 entry count and checks that `count * entry_len` bytes follow.
    fn count(&mut self, entry_len: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.checked_mul(entry_len)
            .is_none_or(|len| len > self.remaining())
        {
            return Err(bad(format!(
                "{} box claims {n} entries but holds {} bytes",
                self.what,
                self.remaining()
            )));
        }
        Ok(n)
    }
}

/// Iterates the child boxes of an in-memory payload: yields (type, payload).
fn children<'a>(b: &'a [u8], parent: &'static str) -> Result<Vec<([u8; 4], &'a [u8])>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < b.len() {
        if b.len() - pos < 8 {
            return Err(bad(format!(
                "trailing {} bytes in {parent} box",
                b.len() - pos
            )));
        }
        let size32 = u32::from_be_bytes(b[pos..pos + 4].try_into().expect("4"));
        let typ: [u8; 4] = b[pos + 4..pos + 8].try_into().expect("4");
        let (hdr, size) = match size32 {
            0 => (8usize, (b.len() - pos) as u64),
            1 => {
                if b.len() - pos < 16 {
                    return Err(bad(format!("truncated large box header in {parent}")));
                }
                (
                    16,
                    u64::from_be_bytes(b[pos + 8..pos + 16].try_into().expect("8")),
                )
            }
            s => (8, u64::from(s)),
        };
        if size < hdr as u64 || size > (b.len() - pos) as u64 {
            return Err(bad(format!(
                "box {:?} in {parent} has size {size}, outside its parent",
                String::from_utf8_lossy(&typ)
            )));
        }
        out.push((typ, &b[pos + hdr..pos + size as usize]));
        pos += size as usize;
    }
    Ok(out)
}

fn child<'a>(
    kids: &[([u8; 4], &'a [u8])],
    typ: &[u8; 4],
    parent: &'static str,
) -> Result<&'a [u8]> {
    let mut it = kids.iter().filter(|(t, _)| t == typ);
    let first = it.next().ok_or_else(|| {
        bad(format!(
            "{parent} has no {} box",
            String::from_utf8_lossy(typ)
        ))
    })?;
    if it.next().is_some() {
        return Err(bad(format!(
            "{parent} has more than one {} box",
            String::from_utf8_lossy(typ)
        )));
    }
    Ok(first.1)
}

fn opt_child<'a>(kids: &[([u8; 4], &'a [u8])], typ: &[u8; 4]) -> Option<&'a [u8]> {
    kids.iter().find(|(t, _)| t == typ).map(|(_, p)| *p)
}

/// The child boxes of one container: (type, payload), in file order.
type Boxes<'a> = [([u8; 4], &'a [u8])];

/// Parses one `trak` box into its track; `None` for a track without samples. `total` counts the
/// samples of the file's tracks so far and is checked against [`MAX_SAMPLES`].
fn parse_track(trak: &[u8], file_len: u64, total: &mut usize) -> Result<Option<Track>> {
    let kids = children(trak, "trak")?;
    let track_id = read_track_id(&kids)?;
    let mdia = children(child(&kids, b"mdia", "trak")?, "mdia")?;
    let (timescale, handler) = read_media_header(&mdia, track_id)?;
    let minf = children(child(&mdia, b"minf", "mdia")?, "minf")?;
    let stbl = children(child(&minf, b"stbl", "minf")?, "stbl")?;

    let sizes = read_sample_sizes(&stbl, track_id)?;
    let n = sizes.len();
    if n == 0 {
        return Ok(None);
    }
    *total += n;
    if *total > MAX_SAMPLES {
        return Err(Error::Mp4Unsupported(format!(
            "more than {MAX_SAMPLES} samples"
        )));
    }
    let dts = read_decode_times(&stbl, track_id, n)?;
    let offsets = read_chunk_offsets(&stbl, track_id)?;
    let runs = read_samples_per_chunk(&stbl, track_id)?;
    let samples = place_samples(&sizes, &dts, &offsets, &runs, track_id, file_len)?;
    Ok(Some(Track {
        track_id,
        handler,
        timescale,
        samples,
    }))
}

/// The `tkhd` track_ID of a `trak` box's children.
fn read_track_id(trak: &Boxes<'_>) -> Result<u32> {
    let mut tkhd = Cur::new(child(trak, b"tkhd", "trak")?, "tkhd");
    let v = tkhd.u8()?;
    tkhd.take(3)?;
    if v == 1 {
        tkhd.take(16)?;
    } else {
        tkhd.take(8)?;
    }
    tkhd.u32()
}

/// The `mdhd` timescale (never zero) and the `hdlr` handler type of an `mdia` box's children.
fn read_media_header(mdia: &Boxes<'_>, track_id: u32) -> Result<(u32, [u8; 4])> {
    let mut mdhd = Cur::new(child(mdia, b"mdhd", "mdia")?, "mdhd");
    let v = mdhd.u8()?;
    mdhd.take(3)?;
    mdhd.take(if v == 1 { 16 } else { 8 })?;
    let timescale = mdhd.u32()?;
    if timescale == 0 {
        return Err(bad(format!("track {track_id} has timescale 0")));
    }
    let mut hdlr = Cur::new(child(mdia, b"hdlr", "mdia")?, "hdlr");
    hdlr.take(8)?;
    let handler: [u8; 4] = hdlr.take(4)?.try_into().expect("4");
    Ok((timescale, handler))
}

/// Sample sizes, from `stsz` or else `stz2`.
fn read_sample_sizes(stbl: &Boxes<'_>, track_id: u32) -> Result<Vec<u32>> {
    if let Some(stsz) = opt_child(stbl, b"stsz") {
        read_stsz(stsz, track_id)
    } else if let Some(stz2) = opt_child(stbl, b"stz2") {
        read_stz2(stz2)
    } else {
        Err(bad(format!("track {track_id} has neither stsz nor stz2")))
    }
}

/// Sample sizes of an `stsz` box: a table, or one fixed size for every sample.
fn read_stsz(stsz: &[u8], track_id: u32) -> Result<Vec<u32>> {
    let mut c = Cur::new(stsz, "stsz");
    c.take(4)?;
    let fixed = c.u32()?;
    if fixed == 0 {
        let n = c.count(4)?;
        (0..n).map(|_| c.u32()).collect::<Result<_>>()
    } else {
        let n = c.u32()? as usize;
        if n > MAX_SAMPLES {
            return Err(Error::Mp4Unsupported(format!(
                "track {track_id} has {n} samples (max {MAX_SAMPLES})"
            )));
        }
        Ok(vec![fixed; n])
    }
}

/// Sample sizes of an `stz2` box (compact sizes of 4, 8 or 16 bits).
fn read_stz2(stz2: &[u8]) -> Result<Vec<u32>> {
    let mut c = Cur::new(stz2, "stz2");
    c.take(7)?;
    let field = c.u8()?;
    let n = c.u32()? as usize;
    let bytes = match field {
        4 => n.div_ceil(2),
        8 => n,
        16 => n.saturating_mul(2),
        f => return Err(bad(format!("stz2 field size {f} (must be 4, 8 or 16)"))),
    };
    if bytes > c.remaining() {
        return Err(bad(format!(
            "stz2 claims {n} samples but holds {} bytes",
            c.remaining()
        )));
    }
    let raw = c.take(bytes)?;
    Ok((0..n)
        .map(|i| match field {
            4 => u32::from(if i % 2 == 0 {
                raw[i / 2] >> 4
            } else {
                raw[i / 2] & 0x0f
            }),
            8 => u32::from(raw[i]),
            _ => u32::from(u16::from_be_bytes([raw[2 * i], raw[2 * i + 1]])),
        })
        .collect())
}

/// Decode times of the `n` samples, expanded from `stts`; it must describe exactly `n`.
fn read_decode_times(stbl: &Boxes<'_>, track_id: u32, n: usize) -> Result<Vec<u64>> {
    let mut stts = Cur::new(child(stbl, b"stts", "stbl")?, "stts");
    stts.take(4)?;
    let entries = stts.count(8)?;
    let mut dts = Vec::with_capacity(n);
    let mut t: u64 = 0;
    for _ in 0..entries {
        let count = stts.u32()? as usize;
        let delta = u64::from(stts.u32()?);
        if count > n - dts.len() {
            return Err(bad(format!(
                "track {track_id}: stts describes more samples than stsz ({n})"
            )));
        }
        for _ in 0..count {
            dts.push(t);
            t = t
                .checked_add(delta)
                .ok_or_else(|| bad("decode time overflows"))?;
        }
    }
    if dts.len() != n {
        return Err(bad(format!(
            "track {track_id}: stts describes {} samples, stsz {n}",
            dts.len()
        )));
    }
    Ok(dts)
}

/// Chunk offsets, from `stco` or else `co64`.
fn read_chunk_offsets(stbl: &Boxes<'_>, track_id: u32) -> Result<Vec<u64>> {
    if let Some(stco) = opt_child(stbl, b"stco") {
        let mut c = Cur::new(stco, "stco");
        c.take(4)?;
        let k = c.count(4)?;
        (0..k)
            .map(|_| c.u32().map(u64::from))
            .collect::<Result<_>>()
    } else if let Some(co64) = opt_child(stbl, b"co64") {
        let mut c = Cur::new(co64, "co64");
        c.take(4)?;
        let k = c.count(8)?;
        (0..k).map(|_| c.u64()).collect::<Result<_>>()
    } else {
        Err(bad(format!("track {track_id} has neither stco nor co64")))
    }
}

/// The `stsc` runs: (first_chunk, samples_per_chunk), first_chunk starting at 1 and increasing.
fn read_samples_per_chunk(stbl: &Boxes<'_>, track_id: u32) -> Result<Vec<(u32, u32)>> {
    let mut stsc = Cur::new(child(stbl, b"stsc", "stbl")?, "stsc");
    stsc.take(4)?;
    let runs = stsc.count(12)?;
    let mut table = Vec::with_capacity(runs);
    for _ in 0..runs {
        let first = stsc.u32()?;
        let per = stsc.u32()?;
        stsc.u32()?;
        if first == 0 || table.last().is_some_and(|&(f, _)| first <= f) {
            return Err(bad(format!(
                "track {track_id}: stsc first_chunk values must start at 1 and increase"
            )));
        }
        table.push((first, per));
    }
    if table.first().map(|&(f, _)| f) != Some(1) {
        return Err(bad(format!("track {track_id}: stsc must start at chunk 1")));
    }
    Ok(table)
}

/// Lays the samples out in their chunks: each chunk's samples follow one another from the
/// chunk's offset. Every sample must lie inside the file, and the chunks must hold exactly the
/// samples of `sizes`.
fn place_samples(
    sizes: &[u32],
    dts: &[u64],
    offsets: &[u64],
    table: &[(u32, u32)],
    track_id: u32,
    file_len: u64,
) -> Result<Vec<Sample>> {
    let n = sizes.len();
    let mut samples = Vec::with_capacity(n);
    let mut s = 0usize;
    'chunks: for (ci, &chunk_off) in offsets.iter().enumerate() {
        let chunk_no = ci as u64 + 1;
        let per = table
            .iter()
            .rev()
            .find(|&&(f, _)| u64::from(f) <= chunk_no)
            .map(|&(_, p)| p)
            .unwrap_or(0);
        let mut off = chunk_off;
        for _ in 0..per {
            if s == n {
                break 'chunks;
            }
            let size = sizes[s];
            let end = off
                .checked_add(u64::from(size))
                .ok_or_else(|| bad("sample offset overflows"))?;
            if end > file_len {
                return Err(bad(format!(
                    "track {track_id} sample {s} (offset {off}, size {size}) lies outside the {file_len}-byte file"
                )));
            }
            samples.push(Sample {
                offset: off,
                size,
                dts: dts[s],
            });
            off = end;
            s += 1;
        }
    }
    if s != n {
        return Err(bad(format!(
            "track {track_id}: chunks hold {s} samples, stsz says {n}"
        )));
    }
    Ok(samples)
}

/// Reads the sample tables of a non-fragmented MP4 file. Tracks are returned sorted by
/// `track_ID`; tracks without samples are omitted.
pub fn read_tracks<R: Read + Seek>(reader: &mut R) -> Result<Vec<Track>> {
    let file_len = reader
        .seek(SeekFrom::End(0))
        .map_err(Error::io("seeking the MP4 file"))?;
    let moov = read_moov(reader, file_len)?;
    tracks_of_moov(&moov, file_len)
}

/// Walks the top-level boxes of the file and returns the payload of its only `moov` box.
/// Fragmented files (`moof`) are refused.
fn read_moov<R: Read + Seek>(reader: &mut R, file_len: u64) -> Result<Vec<u8>> {
    let mut pos = 0u64;
    let mut moov: Option<Vec<u8>> = None;
    while pos < file_len {
        let (typ, hdr, size) = read_top_box_header(reader, pos, file_len)?;
        match &typ {
            b"moov" => {
                if moov.is_some() {
                    return Err(bad("more than one moov box"));
                }
                if size - hdr > MAX_MOOV_LEN {
                    return Err(Error::Mp4Unsupported(format!(
                        "moov box of {size} bytes (max {MAX_MOOV_LEN})"
                    )));
                }
                let mut buf = vec![0u8; (size - hdr) as usize];
                reader
                    .read_exact(&mut buf)
                    .map_err(Error::io("reading the moov box"))?;
                moov = Some(buf);
            }
            b"moof" => {
                return Err(Error::Mp4Unsupported(
                    "fragmented MP4 (moof); record non-fragmented segments".into(),
                ));
            }
            _ => {}
        }
        pos += size;
    }
    moov.ok_or_else(|| bad("no moov box (not an MP4 file, or an unfinished recording)"))
}

/// Reads the header of the top-level box at `pos`: (type, header length, box size). The box
/// must lie inside the file; the reader is left at its payload.
fn read_top_box_header<R: Read + Seek>(
    reader: &mut R,
    pos: u64,
    file_len: u64,
) -> Result<([u8; 4], u64, u64)> {
    reader
        .seek(SeekFrom::Start(pos))
        .map_err(Error::io("seeking the MP4 file"))?;
    if file_len - pos < 8 {
        return Err(bad(format!(
            "{} trailing bytes after the last box",
            file_len - pos
        )));
    }
    let mut h = [0u8; 16];
    reader
        .read_exact(&mut h[..8])
        .map_err(Error::io("reading an MP4 box header"))?;
    let size32 = u32::from_be_bytes(h[0..4].try_into().expect("4"));
    let typ: [u8; 4] = h[4..8].try_into().expect("4");
    let (hdr, size) = match size32 {
        0 => (8u64, file_len - pos),
        1 => {
            reader
                .read_exact(&mut h[8..16])
                .map_err(Error::io("reading an MP4 box header"))?;
            (16, u64::from_be_bytes(h[8..16].try_into().expect("8")))
        }
        s => (8, u64::from(s)),
    };
    if size < hdr || size > file_len - pos {
        return Err(bad(format!(
            "top-level box {:?} at offset {pos} has size {size}, beyond the {file_len}-byte file",
            String::from_utf8_lossy(&typ)
        )));
    }
    Ok((typ, hdr, size))
}

/// The tracks of a `moov` payload, sorted by `track_ID` (which must be unique); tracks without
/// samples are omitted. Fragmented files (`mvex`) are refused.
fn tracks_of_moov(moov: &[u8], file_len: u64) -> Result<Vec<Track>> {
    let kids = children(moov, "moov")?;
    if opt_child(&kids, b"mvex").is_some() {
        return Err(Error::Mp4Unsupported(
            "fragmented MP4 (mvex); record non-fragmented segments".into(),
        ));
    }
    let mut total = 0usize;
    let mut tracks = Vec::new();
    for (t, payload) in &kids {
        if t == b"trak"
            && let Some(track) = parse_track(payload, file_len, &mut total)?
        {
            tracks.push(track);
        }
    }
    tracks.sort_by_key(|t| t.track_id);
    if tracks.windows(2).any(|w| w[0].track_id == w[1].track_id) {
        return Err(bad("two tracks share a track_ID"));
    }
    Ok(tracks)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn bx(typ: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(typ);
        v.extend_from_slice(payload);
        v
    }
    fn full(payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; 4];
        v.extend_from_slice(payload);
        v
    }
    fn be(xs: &[u32]) -> Vec<u8> {
        xs.iter().flat_map(|x| x.to_be_bytes()).collect()
    }

    /// Builds a synthetic MP4: one track per `(track_id, timescale, sample sizes, delta)`,
    /// each sample in its own chunk, media data filled with a per-sample pattern.
    pub(crate) fn synthetic_mp4(tracks: &[(u32, u32, Vec<u32>, u32)]) -> Vec<u8> {
        let ftyp = bx(b"ftyp", b"isom\0\0\0\0isom");
        // Layout: ftyp | mdat | moov. Compute mdat payload first.
        let mut mdat = Vec::new();
        let mut offsets: Vec<Vec<u32>> = Vec::new();
        let base = ftyp.len() as u32 + 8;
        for (ti, (_, _, sizes, _)) in tracks.iter().enumerate() {
            let mut offs = Vec::new();
            for (si, &s) in sizes.iter().enumerate() {
                offs.push(base + mdat.len() as u32);
                mdat.extend((0..s).map(|k| (k as usize * 7 + si * 13 + ti * 29) as u8));
            }
            offsets.push(offs);
        }
        let mut moov = bx(b"mvhd", &full(&[0u8; 96]));
        for ((id, ts, sizes, delta), offs) in tracks.iter().zip(&offsets) {
            let tkhd = bx(b"tkhd", &full(&[be(&[0, 0, *id]), vec![0u8; 68]].concat()));
            let mdhd = bx(
                b"mdhd",
                &full(&[be(&[0, 0, *ts, 0]), vec![0u8; 4]].concat()),
            );
            let hdlr = bx(
                b"hdlr",
                &full(&[be(&[0]), b"vide".to_vec(), vec![0u8; 13]].concat()),
            );
            let stts = bx(b"stts", &full(&be(&[1, sizes.len() as u32, *delta])));
            let stsz = bx(
                b"stsz",
                &full(&[be(&[0, sizes.len() as u32]), be(sizes)].concat()),
            );
            let stsc = bx(b"stsc", &full(&be(&[1, 1, 1, 1])));
            let stco = bx(
                b"stco",
                &full(&[be(&[offs.len() as u32]), be(offs)].concat()),
            );
            let stbl = bx(b"stbl", &[stts, stsz, stsc, stco].concat());
            let minf = bx(b"minf", &stbl);
            let mdia = bx(b"mdia", &[mdhd, hdlr, minf].concat());
            moov.extend(bx(b"trak", &[tkhd, mdia].concat()));
        }
        [ftyp, bx(b"mdat", &mdat), bx(b"moov", &moov)].concat()
    }

    #[test]
    fn reads_synthetic_tables() {
        let f = synthetic_mp4(&[
            (2, 1000, vec![10, 20, 30], 500),
            (1, 90_000, vec![5; 4], 45_000),
        ]);
        let tracks = read_tracks(&mut std::io::Cursor::new(&f)).unwrap();
        assert_eq!(tracks.len(), 2);
        assert_eq!(tracks[0].track_id, 1);
        assert_eq!(
            tracks[1].samples[2],
            Sample {
                offset: tracks[1].samples[1].offset + 20,
                size: 30,
                dts: 1000
            }
        );
        assert_eq!(
            tracks[0].samples.iter().map(|s| s.dts).collect::<Vec<_>>(),
            vec![0, 45_000, 90_000, 135_000]
        );
    }

    #[test]
    fn rejects_malformed() {
        let f = synthetic_mp4(&[(1, 1000, vec![10, 20, 30], 500)]);
        // Truncating the file cuts the moov box.
        assert!(read_tracks(&mut std::io::Cursor::new(&f[..f.len() - 4])).is_err());
        assert!(read_tracks(&mut std::io::Cursor::new(b"not an mp4 at all")).is_err());
        assert!(read_tracks(&mut std::io::Cursor::new(Vec::new())).is_err());
    }
}
