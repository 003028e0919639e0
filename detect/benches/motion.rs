//! The motion channel's cost on the device: a minute of a 400-Hz accelerometer through the
//! scorer, and the window decision over a minute of three channels.
//!
//! `cargo bench -p dashledger-detect --bench motion` (results in docs/benchmarks.md).

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use dashledger_detect::decision::{DecisionRule, Second};
use dashledger_detect::motion::{AccelSample, G, MotionParams, score_trace};

fn minute(hz: f64) -> Vec<AccelSample> {
    (0..(60.0 * hz) as usize)
        .map(|i| {
            let t = i as f64 / hz;
            let v = 0.05 * G * ((t * 37.0).sin() as f32);
            AccelSample {
                t,
                a: [v, -0.5 * v, G + v],
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let samples = minute(400.0);
    c.bench_function("motion: score a minute at 400 Hz (24 000 samples)", |b| {
        b.iter(|| score_trace(MotionParams::default(), black_box(&samples), &[]))
    });
    let seconds: Vec<Second> = (0..60)
        .map(|i| Second {
            image: Some((i as f32 * 0.37).sin().abs()),
            audio: Some((i as f32 * 0.11).cos().abs()),
            motion: Some(0.01),
        })
        .collect();
    let rule = DecisionRule::default();
    c.bench_function("decision: window rule over a minute of 3 channels", |b| {
        b.iter(|| rule.decide(black_box(&seconds)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
