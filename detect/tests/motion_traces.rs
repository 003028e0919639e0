//! The motion scorer's default bars on the real traces of `../shared/datasets/motion` (or
//! `$DASHLEDGER_DATASETS/motion`): every NHTSA crash pulse, as a dashcam's MEMS G-sensor would
//! see it, is an accident in the second of the impact; no second of normal or aggressive driving
//! (comma2k19 highway IMU with its CAN speed, three phone-on-windshield trips with labelled
//! aggressive braking, acceleration, turns and lane changes, an e-scooter's normal ride) is; the
//! e-scooter's crash logs are. `cargo test -p dashledger-detect --test motion_traces -- --nocapture`
//! prints the measured figures (models/motion.md quotes them).

use std::path::{Path, PathBuf};
use std::process::Command;

use dashledger_detect::motion::{
    AccelSample, G, MotionParams, MotionSecond, SpeedSample, mems_resample, score_trace,
};

fn motion_dir() -> PathBuf {
    let base = std::env::var_os("DASHLEDGER_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets"));
    let dir = base.join("motion");
    assert!(
        dir.is_dir(),
        "{} is missing: the shared data sets must sit beside the repository (or set DASHLEDGER_DATASETS)",
        dir.display()
    );
    dir
}

fn csv_rows(text: &str, sep: char) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(sep).map(|c| c.trim().to_string()).collect())
        .collect()
}

fn read(path: &Path) -> String {
    if path.extension().is_some_and(|e| e == "gz") {
        let out = Command::new("gzip")
            .arg("-dc")
            .arg(path)
            .output()
            .expect("gzip");
        assert!(out.status.success(), "gzip -dc {}", path.display());
        String::from_utf8(out.stdout).unwrap()
    } else {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

fn f(s: &str) -> f64 {
    s.parse()
        .unwrap_or_else(|e| panic!("not a number `{s}`: {e}"))
}

fn flagged(v: &[MotionSecond]) -> Vec<&MotionSecond> {
    v.iter().filter(|s| s.score >= 0.5).collect()
}

fn max_of(v: &[MotionSecond], k: impl Fn(&MotionSecond) -> f32) -> f32 {
    v.iter().map(k).fold(0.0, f32::max)
}

/// Driving before and after a crash pulse: 0.02 g of road vibration (deterministic) on every
/// axis, plus gravity (in g, in the sensor's axes).
fn road(t0: f64, secs: f64, hz: f64, gravity: [f32; 3]) -> Vec<AccelSample> {
    let n = (secs * hz) as usize;
    (0..n)
        .map(|i| {
            let t = t0 + i as f64 / hz;
            let v = (0.02 * G) * ((t * 71.0).sin() as f32);
            AccelSample {
                t,
                a: [gravity[0] * G + v, gravity[1] * G - v, gravity[2] * G + v],
            }
        })
        .collect()
}

struct Pulse {
    name: String,
    /// (t, [x, y, z] in g) at the lab rate, t = 0 at contact.
    trace: Vec<(f64, [f32; 3])>,
}

fn nhtsa_pulses() -> Vec<Pulse> {
    let mut out = Vec::new();
    let dir = motion_dir().join("crash_tests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        2,
        "two NHTSA tests expected in {}",
        dir.display()
    );
    for path in files {
        let rows = csv_rows(&read(&path), ',');
        let header = &rows[0];
        // Sensor locations: column names `<location>_<axis>_g`.
        let mut locations: Vec<String> = header[1..]
            .iter()
            .filter_map(|h| h.strip_suffix("_X_g").map(str::to_string))
            .collect();
        locations.sort();
        locations.dedup();
        for loc in locations {
            let col = |axis: &str| header.iter().position(|h| *h == format!("{loc}_{axis}_g"));
            let (x, y, z) = (col("X").unwrap(), col("Y"), col("Z"));
            let trace = rows[1..]
                .iter()
                .map(|r| {
                    let g = |c: Option<usize>| c.map_or(0.0, |c| f(&r[c]) as f32);
                    (f(&r[0]), [g(Some(x)), g(y), g(z)])
                })
                .collect();
            let stem = path.file_stem().unwrap().to_string_lossy().to_string();
            out.push(Pulse {
                name: format!("{stem}:{loc}"),
                trace,
            });
        }
    }
    out
}

/// Mount orientations: the sensor's axes as rows of a rotation from the car's frame (x forward,
/// y left, z up): flat, upside down, turned 90° on the windshield, standing on its edge (z
/// forward), and a skewed mount (30° pitch, 20° roll, 45° yaw).
fn mounts() -> Vec<(&'static str, [[f32; 3]; 3])> {
    let rot = |pitch: f32, roll: f32, yaw: f32| {
        let (sp, cp) = pitch.to_radians().sin_cos();
        let (sr, cr) = roll.to_radians().sin_cos();
        let (sy, cy) = yaw.to_radians().sin_cos();
        let rz = [[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]];
        let ry = [[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]];
        let rx = [[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]];
        let mul = |a: [[f32; 3]; 3], b: [[f32; 3]; 3]| -> [[f32; 3]; 3] {
            std::array::from_fn(|i| {
                std::array::from_fn(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum())
            })
        };
        mul(rx, mul(ry, rz))
    };
    vec![
        ("flat", [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
        (
            "upside-down",
            [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]],
        ),
        (
            "turned-90",
            [[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
        ),
        (
            "on-edge",
            [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]],
        ),
        ("skewed", rot(30.0, 20.0, 45.0)),
    ]
}

fn apply(m: &[[f32; 3]; 3], v: [f32; 3]) -> [f32; 3] {
    [0, 1, 2].map(|i| m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2])
}

#[test]
fn every_nhtsa_pulse_is_an_impact_in_its_second_at_every_mount_and_sensor_setting() {
    let p = MotionParams::default();
    let pulses = nhtsa_pulses();
    assert!(pulses.len() >= 8, "{} sensor locations", pulses.len());
    let mut lowest = f32::MAX;
    let mut cases = 0;
    for pulse in &pulses {
        for (mount, m) in mounts() {
            // The pulse and gravity in the sensor's axes; contact at t = 0 lands at 16.5 s of
            // half a minute of driving.
            let trace: Vec<(f64, [f32; 3])> = pulse
                .trace
                .iter()
                .map(|&(t, a)| (t + 16.5, apply(&m, a)))
                .collect();
            let gravity = apply(&m, [0.0, 0.0, 1.0]);
            for rate in [100.0, 200.0, 400.0] {
                for (range_g, lsb_g) in [(8.0, 0.004), (16.0, 0.0078)] {
                    let mems = mems_resample(&trace, rate, range_g, lsb_g, gravity);
                    let t_first = mems[0].t;
                    let t_last = mems.last().unwrap().t;
                    let mut all = road(0.0, t_first, rate, gravity);
                    all.extend(mems);
                    all.extend(road(t_last + 1.0 / rate, 30.0 - t_last, rate, gravity));
                    let out = score_trace(MotionParams { range_g, ..p }, &all, &[]);
                    let hit = flagged(&out);
                    let what = format!("{} mounted {mount} at {rate} Hz ±{range_g} g", pulse.name);
                    assert!(
                        !hit.is_empty() && hit[0].second == 16,
                        "{what}: flagged {:?}",
                        hit.iter().map(|s| (s.second, s.score)).collect::<Vec<_>>()
                    );
                    assert!(
                        hit.iter().all(|s| (16..=17).contains(&s.second)),
                        "{what}: flagged outside the impact: {:?}",
                        hit.iter().map(|s| s.second).collect::<Vec<_>>()
                    );
                    lowest = lowest.min(hit.iter().map(|s| s.score).fold(0.0, f32::max));
                    cases += 1;
                }
            }
        }
    }
    println!(
        "{{\"nhtsa\": {{\"locations\": {}, \"mounts\": {}, \"cases\": {cases}, \"detected\": {cases}, \"lowest_score\": {lowest:.3}}}}}",
        pulses.len(),
        mounts().len()
    );
}

#[test]
fn a_crash_seen_as_a_sudden_stop_by_a_1_hz_speed_feed() {
    // The Camry test: 57 km/h to rest, the speed integrated from its rear cross-member pulse
    // and sampled once a second as GPS would; no accelerometer channel beyond a quiet one.
    let pulse = nhtsa_pulses()
        .into_iter()
        .find(|p| p.name.contains("10146") && p.name.contains("L_rear"))
        .unwrap();
    let v0 = 57.0 / 3.6;
    let mut dv = 0.0f64;
    let mut speed_at = Vec::new();
    let mut last_t = pulse.trace[0].0;
    for &(t, a) in &pulse.trace {
        dv += f64::from(a[0]) * 9.806_65 * (t - last_t);
        last_t = t;
        // Whatever the channel's sign convention, the car loses |Δv| (and does not reverse).
        speed_at.push((t, (v0 - dv.abs()).max(0.0)));
    }
    let speed = |t: f64| -> f32 {
        if t < 0.0 {
            (57.0 / 3.6) as f32
        } else {
            speed_at
                .iter()
                .rev()
                .find(|s| s.0 <= t)
                .map_or(speed_at.last().unwrap().1, |s| s.1) as f32
        }
    };
    let speeds: Vec<SpeedSample> = (0..60)
        .map(|i| SpeedSample {
            t: f64::from(i) + 0.25,
            speed: speed(f64::from(i) + 0.25 - 46.5),
        })
        .collect();
    let out = score_trace(
        MotionParams::default(),
        &road(0.0, 60.0, 50.0, [0.0, 0.0, 1.0]),
        &speeds,
    );
    let hit = flagged(&out);
    assert_eq!(
        hit.iter().map(|s| s.second).collect::<Vec<_>>(),
        vec![47],
        "{:?}",
        hit
    );
    assert!(hit[0].decel_g.unwrap() > 1.4, "{:?}", hit[0]);
}

#[test]
fn comma2k19_highway_minute_is_normal() {
    let dir = motion_dir().join("comma2k19");
    let imu = csv_rows(&read(&dir.join("seg40_imu.csv")), ',');
    let samples: Vec<AccelSample> = imu[1..]
        .iter()
        .map(|r| AccelSample {
            t: f(&r[0]),
            a: [f(&r[1]) as f32, f(&r[2]) as f32, f(&r[3]) as f32],
        })
        .collect();
    let can = csv_rows(&read(&dir.join("seg40_can_speed.csv")), ',');
    let speeds: Vec<SpeedSample> = can[1..]
        .iter()
        .map(|r| SpeedSample {
            t: f(&r[0]),
            speed: f(&r[1]) as f32,
        })
        .collect();
    let out = score_trace(MotionParams::default(), &samples, &speeds);
    assert!(out.len() >= 55, "{} seconds", out.len());
    assert!(flagged(&out).is_empty(), "{:?}", flagged(&out));
    println!(
        "{{\"comma2k19\": {{\"seconds\": {}, \"flagged\": 0, \"max_score\": {:.3}, \"max_peak_g\": {:.2}, \"max_dv_ms\": {:.2}, \"max_decel_g\": {:.2}}}}}",
        out.len(),
        max_of(&out, |s| s.score),
        max_of(&out, |s| s.peak_g),
        max_of(&out, |s| s.dv_ms),
        max_of(&out, |s| s.decel_g.unwrap_or(0.0))
    );
}

#[test]
fn aggressive_driving_trips_are_normal() {
    let dir = motion_dir().join("driver_behavior");
    let mut total = 0;
    for trip in ["trip17", "trip20", "trip21"] {
        let rows = csv_rows(
            &read(&dir.join(trip).join("acelerometro_terra.csv.gz")),
            ',',
        );
        let t0 = f(&rows[1][1]);
        let mut samples: Vec<AccelSample> = rows[1..]
            .iter()
            .map(|r| AccelSample {
                t: (f(&r[1]) - t0) / 1e9,
                a: [f(&r[2]) as f32, f(&r[3]) as f32, f(&r[4]) as f32],
            })
            .collect();
        samples.sort_by(|a, b| a.t.total_cmp(&b.t));
        let out = score_trace(MotionParams::default(), &samples, &[]);
        assert!(out.len() > 300, "{trip}: {} seconds", out.len());
        // The labelled aggressive events: their seconds' highest score.
        let truth = csv_rows(&read(&dir.join(trip).join("groundTruth.csv")), ',');
        let mut events = 0;
        let mut event_max = 0.0f32;
        for e in &truth[1..] {
            let (a, b) = (f(&e[1]).floor() as i64, f(&e[2]).ceil() as i64);
            events += 1;
            for s in out.iter().filter(|s| (a..=b).contains(&s.second)) {
                event_max = event_max.max(s.score);
            }
        }
        assert!(events > 0);
        let hit = flagged(&out);
        assert!(
            hit.is_empty(),
            "{trip}: {:?}",
            hit.iter()
                .map(|s| (s.second, s.peak_g, s.dv_ms, s.tilt_deg))
                .collect::<Vec<_>>()
        );
        println!(
            "{{\"{trip}\": {{\"seconds\": {}, \"events\": {events}, \"event_max_score\": {event_max:.3}, \"max_score\": {:.3}, \"max_peak_g\": {:.2}, \"max_dv_ms\": {:.2}, \"max_tilt_deg\": {:.1}}}}}",
            out.len(),
            max_of(&out, |s| s.score),
            max_of(&out, |s| s.peak_g),
            max_of(&out, |s| s.dv_ms),
            max_of(&out, |s| s.tilt_deg)
        );
        total += out.len();
    }
    assert!(total > 1200, "{total} seconds in all");
}

fn escooter(name: &str) -> Vec<MotionSecond> {
    let rows = csv_rows(&read(&motion_dir().join("escooter").join(name)), '\t');
    let samples: Vec<AccelSample> = rows
        .iter()
        .map(|r| AccelSample {
            t: f(&r[1]) / 1000.0,
            a: [f(&r[2]) as f32, f(&r[3]) as f32, f(&r[4]) as f32],
        })
        .collect();
    score_trace(MotionParams::default(), &samples, &[])
}

#[test]
fn escooter_crash_logs_are_flagged_and_its_normal_ride_is_not() {
    let normal = escooter("normal_drive.tsv");
    assert!(flagged(&normal).is_empty(), "{:?}", flagged(&normal));
    for log in ["crash_test.tsv", "step_and_crash.tsv"] {
        let out = escooter(log);
        let hit = flagged(&out);
        assert!(!hit.is_empty(), "{log}: nothing flagged");
        println!(
            "{{\"escooter_{log}\": {{\"seconds\": {}, \"flagged\": {}}}}}",
            out.len(),
            hit.len()
        );
    }
    println!(
        "{{\"escooter_normal\": {{\"seconds\": {}, \"max_score\": {:.3}}}}}",
        normal.len(),
        max_of(&normal, |s| s.score)
    );
}
