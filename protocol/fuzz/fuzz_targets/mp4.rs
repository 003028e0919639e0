//! The MP4 sample-table reader and frame leaves on arbitrary bytes: errors, never panics,
//! never allocates beyond its limits, and every sample it returns lies inside the input.
#![no_main]
use std::io::Cursor;

use dashledger_protocol::{frames, mp4};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tracks) = mp4::read_tracks(&mut Cursor::new(data)) {
        for t in &tracks {
            assert!(t.timescale > 0);
            for s in &t.samples {
                assert!(s.offset + u64::from(s.size) <= data.len() as u64);
            }
        }
    }
    let _ = frames::frame_leaves(Cursor::new(data));
});
