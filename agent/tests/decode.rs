//! GStreamer decoding and detection on real media built from the shared videos.
// A test reads as one story, step by step: its length is its steps.
#![allow(clippy::too_many_lines)]

mod common;

use std::path::PathBuf;

use dashledger_agent::config::Config;
use dashledger_agent::decode::{AUDIO_RATE, DecodeOptions, decode};
use std::time::Duration;

use dashledger_detect::motion::{AccelSample, G};

fn opts() -> DecodeOptions {
    DecodeOptions {
        scale_to: None,
        timeout: Duration::from_secs(120),
    }
}
use dashledger_agent::detection::Detector;

fn models_config() -> Config {
    let mut c = Config::default();
    c.detect.models_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models");
    c
}

#[test]
fn a_minute_decodes_to_sixty_frames_and_sixty_seconds_of_audio() {
    let seg = common::minute_of("crash_cctv.mp4");
    let d = decode(&seg, &opts()).unwrap();
    assert!(
        (59..=61).contains(&d.frames.len()),
        "{} frames",
        d.frames.len()
    );
    let f = &d.frames[0];
    assert_eq!((f.width, f.height), (1280, 720));
    assert_eq!(f.rgb.len(), 1280 * 720 * 3);
    // Frames are one second apart.
    let dt = d.frames[10].pts_ns - d.frames[9].pts_ns;
    assert_eq!(dt, 1_000_000_000);
    let secs = d.audio.as_ref().unwrap().len() as f64 / f64::from(AUDIO_RATE);
    assert!((59.0..=61.0).contains(&secs), "{secs} s of audio");
    assert!(
        d.audio.as_ref().unwrap().iter().any(|&s| s.abs() > 0.01),
        "audio is not silence"
    );
    let windows = d.padded_audio_windows();
    assert!(windows.iter().all(|w| w.len() == AUDIO_RATE as usize));
    assert!((59..=61).contains(&windows.len()));

    // Scaled output honours the requested size (odd width: rows are padded to 4 bytes in
    // GStreamer and must be unpadded here).
    let d = decode(
        &seg,
        &DecodeOptions {
            scale_to: Some((225, 127)),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((d.frames[0].width, d.frames[0].height), (225, 127));
    assert_eq!(d.frames[0].rgb.len(), 225 * 127 * 3);
}

#[test]
fn missing_audio_truncated_and_garbage_are_clear() {
    let d = decode(&common::minute_without_audio("normal_dashcam.mp4"), &opts()).unwrap();
    assert!(d.audio.is_none());
    assert!((59..=61).contains(&d.frames.len()));
    assert_eq!((d.frames[0].width, d.frames[0].height), (640, 360));

    let cut = common::truncated("normal_dashcam.mp4", 300_000);
    let e = decode(&cut, &opts()).unwrap_err().to_string();
    assert!(
        e.contains("cannot decode segment") && e.contains("truncated-300000"),
        "{e}"
    );

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.mp4");
    std::fs::write(&junk, vec![0x5a; 100_000]).unwrap();
    let e = decode(&junk, &opts()).unwrap_err().to_string();
    assert!(e.contains("junk.mp4"), "{e}");

    let e = decode(&dir.path().join("absent.mp4"), &opts())
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not exist"), "{e}");
}

#[test]
fn detector_scores_real_segments() {
    let det = Detector::load(&models_config()).unwrap();
    let (normal_seg, crash_seg) = common::made_segments();
    // Normal dashcam driving: no accident (the frame model flags some frames, the sound
    // does not; the default fusion lets the sound lead).
    let normal = det.analyse(&normal_seg).unwrap();
    assert!((59..=61).contains(&normal.p_image.len()));
    assert!(
        (59..=61).contains(&normal.p_audio.len()),
        "{}",
        normal.p_audio.len()
    );
    assert!(
        !normal.accident,
        "normal segment flagged: image {:?} audio {:?} fused {:?}",
        normal.p_image, normal.p_audio, normal.p_fused
    );
    // The thumbnails detection keeps are the first and last 1-fps frames a second decode
    // would give (what sealing used to decode again).
    let frames = decode(&normal_seg, &opts()).unwrap().frames;
    let (first, last) = normal.thumbnails.as_ref().expect("thumbnails");
    assert!(first == &frames[0] && last == frames.last().unwrap());
    // The same minute with the motion channel: a quiet sensor and a harsh braking (0.9 g for
    // 3 s, reached in 0.3 s) change nothing; a 15 g, 100 ms impact at 30.4 s decides alone, in
    // its second.
    let feed = |braking: bool, impact: bool| {
        let samples: Vec<AccelSample> = (0..6000)
            .map(|i| {
                let t = f64::from(i) / 100.0;
                let mut x = 0.02 * G * (t * 61.0).sin() as f32;
                if braking && (12.0..15.0).contains(&t) {
                    x -= 0.9 * G * ((t - 12.0) / 0.3).min(1.0) as f32;
                }
                if impact && (30.4..30.5).contains(&t) {
                    x -= 15.0 * G * ((t - 30.4) / 0.1 * std::f64::consts::PI).sin() as f32;
                }
                AccelSample { t, a: [x, 0.0, G] }
            })
            .collect();
        dashledger_agent::bench::score_feed(&models_config(), &samples)
    };
    for braking in [false, true] {
        let v = det.decide(&normal.p_image, &normal.p_audio, &feed(braking, false));
        assert!(
            !v.decision.accident && v.decision.channels.motion,
            "braking {braking}: {:?}",
            v.decision
        );
        assert!(v.decision.max_motion.unwrap() < 0.5);
        assert_eq!(v.p_fused, normal.p_fused);
    }
    // Under the older per-second rule the motion channel decides alone too.
    let mut legacy_config = models_config();
    legacy_config.detect.fusion = "weighted:0.3".into();
    let legacy = Detector::load(&legacy_config).unwrap();
    let v = legacy.decide(&normal.p_image, &normal.p_audio, &feed(true, false));
    assert!(!v.decision.accident, "{:?}", v.decision);
    let v = legacy.decide(&normal.p_image, &normal.p_audio, &feed(true, true));
    assert_eq!(
        (v.decision.cause, v.decision.at_second),
        (Some(dashledger_detect::decision::Cause::Motion), Some(30))
    );
    let hit = det.decide(&normal.p_image, &normal.p_audio, &feed(true, true));
    assert_eq!(
        (hit.decision.cause, hit.decision.at_second),
        (Some(dashledger_detect::decision::Cause::Motion), Some(30)),
        "{:?}",
        hit.decision
    );
    // The crash minute: the crash sounds (from 46.5 s) make it an accident, in those seconds.
    let crash = det.analyse(&crash_seg).unwrap();
    assert!((59..=61).contains(&crash.p_image.len()));
    assert!(
        crash.accident,
        "crash segment: audio {:?} fused {:?}",
        crash.p_audio, crash.p_fused
    );
    // The window rule: the first window over the bar starts at most a window before the crash.
    let first = crash.p_fused.iter().position(|&p| p >= det.threshold());
    assert!(
        first.is_some_and(|s| (41..=55).contains(&s)),
        "first positive window {first:?}: {:?}",
        crash.p_fused
    );
    assert_eq!(crash.decision.at_second, first);
    assert_eq!(
        crash.decision.cause,
        Some(dashledger_detect::decision::Cause::ImageAndAudio)
    );
    assert!(crash.decision.channels.image && crash.decision.channels.audio);
    assert!(!crash.decision.channels.motion, "no sensor data given");
    assert!(crash.max_fused().unwrap() >= det.threshold());
    let quiet = det
        .analyse(&common::minute_without_audio("normal_dashcam.mp4"))
        .unwrap();
    assert!(quiet.p_audio.is_empty());
    assert!(
        quiet.note.as_deref().unwrap_or("").contains("image-only"),
        "{:?}",
        quiet.note
    );
    assert!((59..=61).contains(&quiet.p_image.len()));
    // Without audio the window score is the calibrated image score of each window's second
    // best frame, held to the higher image-alone bar.
    let seconds: Vec<dashledger_detect::decision::Second> = quiet
        .p_image
        .iter()
        .map(|&p| dashledger_detect::decision::Second {
            image: Some(dashledger_detect::fusion::calibrate(
                p,
                det.image_threshold(),
            )),
            audio: None,
            motion: None,
        })
        .collect();
    let rule = dashledger_detect::DecisionRule::default();
    let expected = rule.window_scores(&seconds, quiet.decision.channels);
    assert_eq!(quiet.p_fused, expected);
    assert_eq!(
        quiet.accident,
        expected.iter().any(|&w| w >= rule.image_alone),
        "{expected:?}"
    );
    assert!(!quiet.decision.channels.audio);
    for p in crash.p_image.iter().chain(&quiet.p_image) {
        assert!((0.0..=1.0).contains(p));
    }
    assert_eq!(
        crash.positive_seconds,
        crash
            .p_fused
            .iter()
            .filter(|&&p| p >= det.threshold())
            .count()
    );
}
