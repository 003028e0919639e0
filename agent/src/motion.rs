//! The motion channel's sources: a 3-axis accelerometer read through Linux IIO (the kernel
//! interface of the MPU-6050 / ADXL345 / LIS3DH boards wired to a Pi), or a line feed of
//! `t,ax,ay,az` (unix seconds, m/s², gravity included) from a file followed as it grows, a FIFO
//! or a serial port; plus the speed of the NMEA feed the agent already reads (RMC). A background
//! thread scores every second with [`dashledger_detect::motion`] and keeps the last minutes of
//! per-second features in a [`MotionLog`], from which the detector takes a segment's seconds.
//!
//! No source configured: the agent works as before (frames and sound) and `status` says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dashledger_detect::motion::{
    AccelSample, MotionParams, MotionScorer, MotionSecond, SpeedSample,
};
use serde::Serialize;

use crate::error::AgentError;

/// How many seconds of per-second features are kept (a segment is analysed a few minutes after
/// it ends at most; older seconds are pruned).
pub const KEEP_SECS: i64 = 30 * 60;

/// Where accelerometer samples come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MotionSource {
    /// No sensor.
    None,
    /// An IIO device directory (`/sys/bus/iio/devices/iio:deviceN`), polled through sysfs.
    Iio(PathBuf),
    /// Lines `t,ax,ay,az` from a file (followed), FIFO or serial port.
    Lines(PathBuf),
}

impl MotionSource {
    /// Parses `none`, `iio:DEVICE_DIR` or `lines:PATH`.
    pub fn parse(s: &str) -> Result<Self, AgentError> {
        let bad = || {
            AgentError::Config(format!(
                "motion.source `{s}` must be `none`, `iio:/sys/bus/iio/devices/iio:deviceN` or `lines:PATH` \
                 (a file, FIFO or serial port of `t,ax,ay,az` lines)"
            ))
        };
        if s.is_empty() || s == "none" {
            return Ok(Self::None);
        }
        match s.split_once(':') {
            Some(("iio", p)) if !p.is_empty() => Ok(Self::Iio(p.into())),
            Some(("lines", p)) if !p.is_empty() => Ok(Self::Lines(p.into())),
            _ => Err(bad()),
        }
    }
}

/// What `status` shows about the motion channel (also written to `motion-status.json` in the
/// state directory by the daemon).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct MotionStatus {
    /// The configured source, or `none`.
    pub source: String,
    /// Accelerometer samples taken.
    pub samples: u64,
    /// Samples dropped (time going backwards, not finite, unparsable lines).
    pub dropped: u64,
    /// Speed readings taken.
    pub speeds: u64,
    /// Unix time of the last sample.
    pub last_sample_unix: Option<f64>,
    /// Seconds scored and kept.
    pub seconds_kept: usize,
    /// Seconds at or over the motion bar among those kept.
    pub seconds_flagged: usize,
    /// The last error of the source, if it failed.
    pub last_error: Option<String>,
}

#[derive(Debug)]
struct Inner {
    scorer: MotionScorer,
    seconds: BTreeMap<i64, MotionSecond>,
    status: MotionStatus,
}

/// Shared per-second motion features, fed by the source thread (and the location thread's speed).
#[derive(Debug, Clone)]
pub struct MotionLog(Arc<Mutex<Inner>>);

/// Now, in unix seconds (the time base of the motion channel).
pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl MotionLog {
    /// An empty log scoring with `params`.
    pub fn new(params: MotionParams, source: &str) -> Self {
        Self(Arc::new(Mutex::new(Inner {
            scorer: MotionScorer::new(params),
            seconds: BTreeMap::new(),
            status: MotionStatus {
                source: source.to_string(),
                ..MotionStatus::default()
            },
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an accelerometer sample (unix seconds, m/s²).
    pub fn push_accel(&self, s: AccelSample) {
        let mut g = self.lock();
        let before = g.scorer.dropped();
        let done = g.scorer.push(s);
        if g.scorer.dropped() > before {
            g.status.dropped += 1;
            return;
        }
        g.status.samples += 1;
        g.status.last_sample_unix = Some(s.t);
        if let Some(sec) = done {
            g.seconds.insert(sec.second, sec);
            let oldest = sec.second - KEEP_SECS;
            while g
                .seconds
                .first_key_value()
                .is_some_and(|(k, _)| *k < oldest)
            {
                g.seconds.pop_first();
            }
            if sec.score >= 0.5 {
                tracing::warn!(second = sec.second, score = sec.score, cause = ?sec.cause, peak_g = sec.peak_g, dv_ms = sec.dv_ms, "motion over the bar");
            }
        }
    }

    /// Adds a speed reading (unix seconds, m/s).
    pub fn push_speed(&self, s: SpeedSample) {
        let mut g = self.lock();
        g.scorer.push_speed(s);
        g.status.speeds += 1;
    }

    /// Counts an input that could not be used.
    pub fn note_dropped(&self) {
        self.lock().status.dropped += 1;
    }

    fn note_error(&self, e: &AgentError) {
        self.lock().status.last_error = Some(e.to_string());
    }

    /// The per-second features of `count` seconds from unix second `start` (`None` where the
    /// sensor gave nothing).
    pub fn seconds(&self, start: i64, count: usize) -> Vec<Option<MotionSecond>> {
        let g = self.lock();
        (0..count as i64)
            .map(|i| g.seconds.get(&(start + i)).copied())
            .collect()
    }

    /// The status now.
    pub fn status(&self) -> MotionStatus {
        let g = self.lock();
        let mut s = g.status.clone();
        s.seconds_kept = g.seconds.len();
        s.seconds_flagged = g.seconds.values().filter(|m| m.score >= 0.5).count();
        s
    }
}

/// Parses one feed line `t,ax,ay,az` (commas or whitespace; `#` comments and a header line are
/// skipped with `Ok(None)`). `t` is unix seconds; `t` = `-` takes the arrival time.
pub fn parse_line(line: &str) -> Result<Option<AccelSample>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let fields: Vec<&str> = line
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|f| !f.is_empty())
        .collect();
    if fields.len() != 4 {
        return Err(format!(
            "`{line}` has {} fields, expected 4 (t,ax,ay,az)",
            fields.len()
        ));
    }
    if fields[0].chars().next().is_some_and(char::is_alphabetic) {
        return Ok(None); // header
    }
    let t = if fields[0] == "-" {
        unix_now()
    } else {
        fields[0]
            .parse::<f64>()
            .map_err(|_| format!("time `{}` is not a number of seconds", fields[0]))?
    };
    let mut a = [0.0f32; 3];
    for (i, f) in fields[1..].iter().enumerate() {
        a[i] = f
            .parse::<f32>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("acceleration `{f}` is not a number (m/s²)"))?;
    }
    if !t.is_finite() {
        return Err(format!("time `{}` is not finite", fields[0]));
    }
    Ok(Some(AccelSample { t, a }))
}

/// One IIO accelerometer read through sysfs: `in_accel_{x,y,z}_raw`, with `in_accel_scale` (or
/// per-axis `in_accel_x_scale`) and optional `in_accel_{x,y,z}_offset`; the kernel's unit is m/s²
/// per (raw + offset).
#[derive(Debug, Clone, PartialEq)]
pub struct IioAccel {
    dir: PathBuf,
    scale: [f64; 3],
    offset: [f64; 3],
}

fn read_number(path: &Path) -> Result<f64, AgentError> {
    let s = std::fs::read_to_string(path)
        .map_err(|e| AgentError::io("cannot read IIO attribute", path, e))?;
    s.trim().parse::<f64>().map_err(|_| {
        AgentError::Config(format!(
            "{} holds `{}`, not a number",
            path.display(),
            s.trim()
        ))
    })
}

impl IioAccel {
    /// Opens the device directory and reads its scale and offsets.
    pub fn open(dir: &Path) -> Result<Self, AgentError> {
        let axes = ["x", "y", "z"];
        if !dir.join("in_accel_x_raw").exists() {
            let name = std::fs::read_to_string(dir.join("name")).unwrap_or_default();
            return Err(AgentError::Config(format!(
                "{} is not an IIO accelerometer (no in_accel_x_raw; device name `{}`): see \
                 docs/agent.md \"Motion channel\" for enabling the sensor's overlay",
                dir.display(),
                name.trim()
            )));
        }
        let shared = dir.join("in_accel_scale");
        let mut scale = [0.0; 3];
        let mut offset = [0.0; 3];
        for (i, ax) in axes.iter().enumerate() {
            let own = dir.join(format!("in_accel_{ax}_scale"));
            scale[i] = read_number(if own.exists() { &own } else { &shared })?;
            let off = dir.join(format!("in_accel_{ax}_offset"));
            if off.exists() {
                offset[i] = read_number(&off)?;
            } else if dir.join("in_accel_offset").exists() {
                offset[i] = read_number(&dir.join("in_accel_offset"))?;
            }
            if !(scale[i].is_finite() && scale[i] > 0.0) {
                return Err(AgentError::Config(format!(
                    "{}: accelerometer scale for {ax} is {}, expected a positive number",
                    dir.display(),
                    scale[i]
                )));
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            scale,
            offset,
        })
    }

    /// One reading in m/s².
    pub fn read(&self) -> Result<[f32; 3], AgentError> {
        let mut a = [0.0f32; 3];
        for (i, ax) in ["x", "y", "z"].iter().enumerate() {
            let raw = read_number(&self.dir.join(format!("in_accel_{ax}_raw")))?;
            a[i] = ((raw + self.offset[i]) * self.scale[i]) as f32;
        }
        Ok(a)
    }
}

/// Starts the source's thread (nothing for `None`). It reopens with backoff forever; errors go
/// to the log and the status, never stop the agent.
pub fn spawn(source: MotionSource, log: MotionLog, rate_hz: f64) {
    if source == MotionSource::None {
        return;
    }
    let described = format!("{source:?}");
    let errors = log.clone();
    let spawned = crate::feed::spawn_retrying(
        "motion",
        move || match &source {
            MotionSource::None => Ok(()), // not started for `None`
            MotionSource::Iio(dir) => poll_iio(dir, &log, rate_hz),
            MotionSource::Lines(path) => follow_lines(path, &log),
        },
        move |e, delay| {
            tracing::warn!(source = %described, error = %e, retry_in = ?delay, "motion source failed");
            errors.note_error(e);
        },
    );
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the motion thread; decisions use frames and sound only");
    }
}

fn poll_iio(dir: &Path, log: &MotionLog, rate_hz: f64) -> Result<(), AgentError> {
    let dev = IioAccel::open(dir)?;
    tracing::info!(device = %dir.display(), rate_hz, "motion: polling the IIO accelerometer");
    let period = Duration::from_secs_f64(1.0 / rate_hz.clamp(1.0, 1000.0));
    let mut next = std::time::Instant::now();
    loop {
        let a = dev.read()?;
        log.push_accel(AccelSample { t: unix_now(), a });
        next += period;
        let now = std::time::Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now; // fell behind (a busy core): do not burst to catch up
        }
    }
}

fn follow_lines(path: &Path, log: &MotionLog) -> Result<(), AgentError> {
    // A regular file is followed as it grows; a FIFO or serial port ends when its writer goes.
    let tail = std::fs::metadata(path)
        .is_ok_and(|m| m.is_file())
        .then_some(Duration::from_millis(50));
    tracing::info!(feed = %path.display(), "motion: reading t,ax,ay,az lines");
    crate::feed::follow_lines(
        path,
        "cannot open the motion feed",
        "cannot read the motion feed",
        tail,
        |line| match parse_line(line) {
            Ok(Some(s)) => log.push_accel(s),
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(error = %e, "motion: ignoring a line");
                log.note_dropped();
            }
        },
    )?;
    Err(AgentError::Config(format!(
        "motion feed {} closed (writer gone)",
        path.display()
    )))
}

/// Reads a whole feed file (for `bench --motion`): samples in file order, bad lines counted.
pub fn read_feed_file(path: &Path) -> Result<(Vec<AccelSample>, usize), AgentError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AgentError::io("cannot read the motion feed", path, e))?;
    let mut out = Vec::new();
    let mut bad = 0;
    for (i, line) in text.lines().enumerate() {
        match parse_line(line) {
            Ok(Some(s)) => out.push(s),
            Ok(None) => {}
            Err(e) => {
                bad += 1;
                if bad <= 3 {
                    tracing::warn!(line = i + 1, error = %e, "motion feed: bad line");
                }
            }
        }
    }
    if out.is_empty() {
        return Err(AgentError::Config(format!(
            "{} holds no `t,ax,ay,az` samples",
            path.display()
        )));
    }
    Ok((out, bad))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dashledger_detect::motion::G;
    use std::io::Write;
    use std::process::Command;

    /// Waits up to 10 s for the reader thread to have taken `n` samples.
    fn wait_for_samples(log: &MotionLog, n: u64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while log.status().samples < n && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn source_strings() {
        assert_eq!(MotionSource::parse("").unwrap(), MotionSource::None);
        assert_eq!(MotionSource::parse("none").unwrap(), MotionSource::None);
        assert_eq!(
            MotionSource::parse("iio:/sys/bus/iio/devices/iio:device0").unwrap(),
            MotionSource::Iio("/sys/bus/iio/devices/iio:device0".into())
        );
        assert_eq!(
            MotionSource::parse("lines:/dev/ttyUSB1").unwrap(),
            MotionSource::Lines("/dev/ttyUSB1".into())
        );
        for bad in ["iio", "iio:", "csv:/x", "/dev/ttyUSB1"] {
            let e = MotionSource::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("motion.source"), "{e}");
        }
    }

    #[test]
    fn feed_lines() {
        let s = parse_line("1795000000.25, 0.1, -0.2, 9.8")
            .unwrap()
            .unwrap();
        assert_eq!(s.t, 1_795_000_000.25);
        assert_eq!(s.a, [0.1, -0.2, 9.8]);
        assert_eq!(parse_line("1 2 3 4").unwrap().unwrap().a, [2.0, 3.0, 4.0]);
        assert!(parse_line("t,ax,ay,az").unwrap().is_none());
        assert!(parse_line("# comment").unwrap().is_none());
        assert!(parse_line("-,0,0,9.8").unwrap().unwrap().t > 1.7e9);
        assert!(parse_line("1,2,3").unwrap_err().contains("3 fields"));
        assert!(parse_line("1,2,x,4").unwrap_err().contains("`x`"));
        assert!(parse_line("1,2,NaN,4").unwrap_err().contains("NaN"));
    }

    #[test]
    fn iio_sysfs_device_reads_in_m_s2() {
        // The attribute files of an ADXL345 as the kernel's driver exposes them.
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("name"), "adxl345\n").unwrap();
        std::fs::write(d.join("in_accel_scale"), "0.038300\n").unwrap();
        std::fs::write(d.join("in_accel_x_raw"), "-3\n").unwrap();
        std::fs::write(d.join("in_accel_y_raw"), "10\n").unwrap();
        std::fs::write(d.join("in_accel_z_raw"), "256\n").unwrap();
        std::fs::write(d.join("in_accel_z_offset"), "0\n").unwrap();
        let dev = IioAccel::open(d).unwrap();
        let a = dev.read().unwrap();
        assert!((a[2] - 9.8048).abs() < 1e-3, "{a:?}");
        assert!((a[0] + 0.1149).abs() < 1e-3);
        // Per-axis scale wins over the shared one.
        std::fs::write(d.join("in_accel_x_scale"), "0.0766\n").unwrap();
        assert!((IioAccel::open(d).unwrap().read().unwrap()[0] + 0.2298).abs() < 1e-3);
        // Not an accelerometer / a broken attribute: named.
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("name"), "bmp280\n").unwrap();
        let e = IioAccel::open(other.path()).unwrap_err().to_string();
        assert!(e.contains("bmp280") && e.contains("in_accel_x_raw"), "{e}");
        std::fs::write(d.join("in_accel_y_raw"), "busy\n").unwrap();
        let e = IioAccel::open(d).unwrap().read().unwrap_err().to_string();
        assert!(e.contains("in_accel_y_raw") && e.contains("busy"), "{e}");
    }

    #[test]
    fn a_followed_feed_file_and_a_fifo_reach_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imu.csv");
        let line = |t: f64, x: f32| format!("{t:.3},{x},0,{G}\n");
        std::fs::write(&path, "t,ax,ay,az\nnot a line\n").unwrap();
        let log = MotionLog::new(MotionParams::default(), "lines:test");
        spawn(MotionSource::Lines(path.clone()), log.clone(), 100.0);
        // Written after the reader opened it: followed like `tail -f`.
        std::thread::sleep(Duration::from_millis(200));
        let mut body = String::new();
        for i in 0..400 {
            let t = 2_000.0 + f64::from(i) / 100.0;
            let x = if (2_002.5..2_002.6).contains(&t) {
                -12.0 * G
            } else {
                0.0
            };
            body.push_str(&line(t, x));
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(body.as_bytes())
            .unwrap();
        wait_for_samples(&log, 400);
        let st = log.status();
        assert_eq!((st.samples, st.dropped), (400, 1), "{st:?}");
        let s = log.seconds(2_000, 3);
        assert_eq!(
            s[2].unwrap().cause,
            Some(dashledger_detect::motion::MotionCause::Impact)
        );
        assert!(s[0].unwrap().score < 0.1);

        // A FIFO: the writer goes away, the reader reopens and goes on.
        let fifo = dir.path().join("imu.fifo");
        assert!(
            Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let log = MotionLog::new(MotionParams::default(), "lines:fifo");
        spawn(MotionSource::Lines(fifo.clone()), log.clone(), 100.0);
        let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        for i in 0..150 {
            w.write_all(line(3_000.0 + f64::from(i) / 100.0, 0.0).as_bytes())
                .unwrap();
        }
        drop(w);
        wait_for_samples(&log, 150);
        assert_eq!(log.status().samples, 150);
        assert!(log.seconds(3_000, 1)[0].is_some());
    }

    #[test]
    fn log_keeps_scored_seconds_for_a_segment() {
        let log = MotionLog::new(MotionParams::default(), "test");
        for i in 0..500 {
            let t = 1_000.0 + f64::from(i) / 100.0;
            let x = if (1_003.2..1_003.28).contains(&t) {
                -10.0 * G
            } else {
                0.0
            };
            log.push_accel(AccelSample { t, a: [x, 0.0, G] });
        }
        let s = log.seconds(1_001, 5);
        assert_eq!(s.len(), 5);
        assert!(s[..3].iter().all(|m| m.is_some()));
        assert!(s[3].is_none(), "second 1004 is still in progress");
        assert!(s[4].is_none(), "no sample of second 1005 yet");
        assert!(s[2].unwrap().score >= 0.5, "{:?}", s[2]);
        let st = log.status();
        assert_eq!(
            (st.samples, st.seconds_kept, st.seconds_flagged),
            (500, 4, 1)
        );
    }
}
