//! The motion channel's sources with real formats: an IIO accelerometer laid out as the kernel
//! lays it out in sysfs (the IIO dummy driver cannot be loaded here), the `lines:` feed carrying
//! the comma2k19 highway minute, and that minute's CAN speed as NMEA RMC sentences through the
//! agent's NMEA parser.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dashledger_agent::motion::{MotionLog, MotionSource, spawn};
use dashledger_agent::nmea::{self, Sentence};
use dashledger_detect::motion::{MotionCause, MotionParams, SpeedSample};

fn comma2k19() -> PathBuf {
    let base = std::env::var_os("DASHLEDGER_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets"));
    let dir = base.join("motion/comma2k19");
    assert!(dir.is_dir(), "{} is missing", dir.display());
    dir
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes an attribute the way sysfs presents it: whole, never half-written.
fn attr(dir: &Path, name: &str, value: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, format!("{value}\n")).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

#[test]
fn an_iio_accelerometer_polled_through_sysfs_sees_an_impact() {
    // An MPU-6050 as `inv-mpu6050` exposes it: raw counts, one shared scale (m/s² per count at
    // ±2 g: 0.000598), per-axis calibration offsets 0, a device name.
    let dev = tempfile::tempdir().unwrap();
    let d = dev.path();
    attr(d, "name", "mpu6050");
    attr(d, "in_accel_scale", "0.000598");
    for ax in ["x", "y", "z"] {
        attr(d, &format!("in_accel_{ax}_offset"), "0");
    }
    attr(d, "in_accel_x_raw", "0");
    attr(d, "in_accel_y_raw", "0");
    attr(d, "in_accel_z_raw", "16400"); // 9.807 m/s²
    let log = MotionLog::new(
        MotionParams {
            range_g: 2.0,
            ..MotionParams::default()
        },
        "iio:test",
    );
    spawn(MotionSource::Iio(d.to_path_buf()), log.clone(), 200.0);
    wait_until("IIO samples", || log.status().samples > 400); // 2 s of gravity learning
    // A 150-ms deceleration at the part's full scale (clipped at ±2 g: 32767 counts).
    attr(d, "in_accel_x_raw", "-32767");
    std::thread::sleep(Duration::from_millis(150));
    attr(d, "in_accel_x_raw", "0");
    let t_impact = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    std::thread::sleep(Duration::from_millis(2100)); // the impact's seconds complete
    let seconds = log.seconds(t_impact - 2, 4);
    let hit: Vec<_> = seconds
        .iter()
        .flatten()
        .filter(|s| s.score >= 0.5)
        .collect();
    assert!(
        !hit.is_empty()
            && hit
                .iter()
                .all(|s| matches!(s.cause, Some(MotionCause::Impact | MotionCause::Saturation))),
        "{seconds:?}"
    );
    let st = log.status();
    assert_eq!(st.dropped, 0);
    assert!(st.last_error.is_none(), "{st:?}");
}

#[test]
fn the_comma2k19_minute_through_the_line_feed_and_its_speed_through_nmea_is_normal() {
    let dir = comma2k19();
    // The IMU as the line feed (t, forward, right, down in m/s² with gravity).
    let imu = std::fs::read_to_string(dir.join("seg40_imu.csv")).unwrap();
    let feed_dir = tempfile::tempdir().unwrap();
    let feed = feed_dir.path().join("imu.csv");
    let mut body = String::from("t,ax,ay,az\n");
    let mut n = 0u64;
    for line in imu.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        body.push_str(&format!("{},{},{},{}\n", f[0], f[1], f[2], f[3]));
        n += 1;
    }
    std::fs::write(&feed, body).unwrap();
    let log = MotionLog::new(MotionParams::default(), "lines:comma2k19");

    // The CAN speed at 1 Hz as RMC sentences, parsed by the agent's NMEA parser.
    let can = std::fs::read_to_string(dir.join("seg40_can_speed.csv")).unwrap();
    let mut next = f64::MIN;
    let mut speeds = 0;
    for line in can.lines().skip(1) {
        let (t, v) = line.split_once(',').unwrap();
        let (t, v): (f64, f64) = (t.parse().unwrap(), v.parse().unwrap());
        if t < next {
            continue;
        }
        next = t + 1.0;
        let knots = v * 3600.0 / 1852.0;
        let rmc = nmea::frame(&format!(
            "GPRMC,101500.00,A,3745.1234,N,12225.5678,W,{knots:.3},90.0,021126,,,A"
        ));
        let Ok(Sentence::Fix(fix)) = nmea::parse(&rmc) else {
            panic!("{rmc}")
        };
        let speed = fix.speed_ms.expect("RMC speed");
        assert!((speed - v).abs() < 0.01, "{speed} vs {v}");
        log.push_speed(SpeedSample {
            t,
            speed: speed as f32,
        });
        speeds += 1;
    }
    assert!(speeds >= 55, "{speeds} speed readings");

    spawn(MotionSource::Lines(feed), log.clone(), 100.0);
    wait_until("the whole feed", || log.status().samples == n);
    let st = log.status();
    assert!(st.seconds_kept >= 55, "{st:?}");
    assert_eq!(st.seconds_flagged, 0, "{st:?}");
    assert_eq!(st.dropped, 0);
}
