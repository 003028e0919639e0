//! The sample-table reader and frame leaves on a real MP4 (H.264 + AAC, written by ffmpeg,
//! moov at the end), checked against `ffprobe`'s packet list for the same file.
//!
//! `tests/data/tiny.mp4` was made with
//! `ffmpeg -f lavfi -i testsrc=size=96x64:rate=10:duration=3.5 -f lavfi -i
//! sine=frequency=440:sample_rate=16000:duration=3.5 -c:v libx264 -preset ultrafast -pix_fmt yuv420p
//! -g 10 -c:a aac -b:a 24k -shortest tiny.mp4` and `tiny.ffprobe.json` with `ffprobe -show_entries
//! packet=stream_index,pts,dts,size,pos -show_entries stream=index,time_base,codec_type -of json`.

use std::{io::Cursor, path::PathBuf};

use dashledger_protocol::{frames, mp4};
use serde_json::Value;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

#[test]
fn samples_match_ffprobe_packets() {
    let file = data("tiny.mp4");
    let probe: Value = serde_json::from_slice(&data("tiny.ffprobe.json")).unwrap();
    let tracks = mp4::read_tracks(&mut Cursor::new(&file)).unwrap();
    assert_eq!(tracks.len(), 2);
    assert_eq!(&tracks[0].handler, b"vide");
    assert_eq!(&tracks[1].handler, b"soun");
    for (stream, track) in tracks.iter().enumerate() {
        let tb = probe["streams"][stream]["time_base"].as_str().unwrap();
        assert_eq!(tb, format!("1/{}", track.timescale));
        let packets: Vec<&Value> = probe["packets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["stream_index"] == stream)
            .collect();
        assert_eq!(packets.len(), track.samples.len(), "stream {stream}");
        let offset = packets[0]["dts"].as_i64().unwrap() - track.samples[0].dts as i64;
        for (p, s) in packets.iter().zip(&track.samples) {
            assert_eq!(p["pos"].as_str().unwrap().parse::<u64>().unwrap(), s.offset);
            assert_eq!(p["size"].as_str().unwrap().parse::<u32>().unwrap(), s.size);
            // ffprobe applies the edit list (AAC priming): a constant shift per stream.
            assert_eq!(p["dts"].as_i64().unwrap() - s.dts as i64, offset);
        }
    }
}

#[test]
fn leaves_localise_an_edit_to_its_second() {
    let file = data("tiny.mp4");
    let leaves = frames::frame_leaves(Cursor::new(&file)).unwrap();
    assert_eq!(leaves.len(), 4, "3.5 s of media → seconds 0..=3");
    let root = frames::frames_root(&leaves).unwrap();
    for i in 0..leaves.len() as u32 {
        assert!(
            frames::prove(&leaves, i)
                .unwrap()
                .verify(&root, &leaves[i as usize])
        );
    }
    // Alter one byte inside the video sample decoded at 2.5 s.
    let tracks = mp4::read_tracks(&mut Cursor::new(&file)).unwrap();
    let v = &tracks[0];
    let s = v
        .samples
        .iter()
        .find(|s| s.dts == u64::from(v.timescale) * 5 / 2)
        .unwrap();
    let mut edited = file.clone();
    edited[s.offset as usize + s.size as usize / 2] ^= 0x80;
    let after = frames::frame_leaves(Cursor::new(&edited)).unwrap();
    let d = frames::diff_leaves(&leaves, &after);
    assert_eq!(d.changed, vec![2]);
    assert!(d.missing.is_empty() && d.extra.is_empty());
    assert_ne!(frames::frames_root(&after).unwrap(), root);
    // Cutting the file (an unfinished recording: moov lost) is a clear error.
    let err = frames::frame_leaves(Cursor::new(&file[..file.len() / 2])).unwrap_err();
    assert!(err.to_string().contains("MP4"), "{err}");
}

/// The sealer's single pass: the leaves streamed in the pieces a `BufReader` hands out equal the
/// seeking reader's on a real interleaved file (moov at the end), holding little.
#[test]
fn streamed_leaves_match_on_a_real_file() {
    let f = data("tiny.mp4");
    let want = frames::frame_leaves(Cursor::new(&f)).unwrap();
    let tracks = mp4::read_tracks(&mut Cursor::new(&f)).unwrap();
    for (chunk, max_held) in [(8192, 256 * 1024), (1, 256 * 1024), (65_536, usize::MAX)] {
        let mut s = frames::LeafStream::new(&tracks, max_held).unwrap();
        for c in f.chunks(chunk) {
            s.update(c).unwrap();
        }
        assert_eq!(s.finish().unwrap(), want, "pieces of {chunk} bytes");
    }
}
