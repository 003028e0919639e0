//! Location source: NMEA 0183 from a file (followed like `tail -f`), a serial device (read as a
//! file; set the baud rate with `stty` or the unit file) or a gpsd TCP socket (`?WATCH` with
//! `nmea:true`). A background thread keeps the last fix with the time it arrived. Location is
//! only ever put into evidence contracts, never into the per-minute records.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashledger_detect::motion::SpeedSample;

use crate::error::AgentError;
use crate::motion::MotionLog;
use crate::nmea::{self, Fix, Sentence};

/// Where NMEA sentences come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocationSource {
    /// No receiver: ECs carry no location.
    None,
    /// A file of NMEA lines, followed as it grows.
    File(PathBuf),
    /// A serial device read as a file.
    Serial(PathBuf),
    /// A gpsd daemon, `host:port`.
    Gpsd(String),
}

impl LocationSource {
    /// Parses `none`, `file:PATH`, `serial:PATH` or `gpsd:HOST:PORT`.
    pub fn parse(s: &str) -> Result<Self, AgentError> {
        let bad = || {
            AgentError::Config(format!(
                "location.source `{s}` must be `none`, `file:PATH`, `serial:PATH` or `gpsd:HOST:PORT`"
            ))
        };
        if s == "none" || s.is_empty() {
            return Ok(Self::None);
        }
        let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
        if rest.is_empty() {
            return Err(bad());
        }
        match kind {
            "file" => Ok(Self::File(rest.into())),
            "serial" => Ok(Self::Serial(rest.into())),
            "gpsd"
                if rest
                    .rsplit_once(':')
                    .is_some_and(|(_, p)| p.parse::<u16>().is_ok()) =>
            {
                Ok(Self::Gpsd(rest.into()))
            }
            _ => Err(bad()),
        }
    }
}

/// The last fix and when it arrived.
#[derive(Debug, Clone, Copy)]
pub struct TimedFix {
    /// The fix.
    pub fix: Fix,
    /// Arrival (monotonic).
    pub at: Instant,
}

/// Shared handle on the last fix; RMC speeds also go to the motion channel when one is attached.
#[derive(Debug, Clone, Default)]
pub struct LastFix(Arc<Mutex<Option<TimedFix>>>, Option<MotionLog>);

impl LastFix {
    /// A handle that also feeds each RMC speed (at its arrival time) to `motion`.
    pub fn with_speed_to(motion: MotionLog) -> Self {
        Self(Arc::default(), Some(motion))
    }

    /// The last fix if it is at most `max_age` old.
    pub fn get(&self, max_age: Duration) -> Option<Fix> {
        let g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        g.filter(|t| t.at.elapsed() <= max_age).map(|t| t.fix)
    }

    /// Feeds one line; returns whether it carried a fix. Bad lines are logged at debug level.
    pub fn feed(&self, line: &str) -> bool {
        let line = line.trim();
        if !line.starts_with('$') {
            return false;
        }
        match nmea::parse(line) {
            Ok(Sentence::Fix(fix)) => {
                let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
                let speed = fix
                    .speed_ms
                    .or_else(|| g.and_then(|prev| speed_between(&prev.fix, &fix)));
                if let (Some(motion), Some(speed)) = (&self.1, speed) {
                    motion.push_speed(SpeedSample {
                        t: crate::motion::unix_now(),
                        speed: speed as f32,
                    });
                }
                // Keep GGA's altitude if an RMC follows for the same second.
                let fix = match *g {
                    Some(prev) if fix.alt_m.is_none() && prev.fix.utc_secs == fix.utc_secs => Fix {
                        alt_m: prev.fix.alt_m,
                        satellites: prev.fix.satellites,
                        ..fix
                    },
                    _ => fix,
                };
                *g = Some(TimedFix {
                    fix,
                    at: Instant::now(),
                });
                true
            }
            Ok(Sentence::NoFix) => false,
            Err(e) => {
                tracing::debug!(error = %e, "ignoring NMEA line");
                false
            }
        }
    }
}

/// Speed from two fixes' positions when the receiver gives none (RMC's speed field empty, or
/// GGA only): great-circle distance over the time between them, for fixes 0.5-5 s apart.
pub fn speed_between(a: &Fix, b: &Fix) -> Option<f64> {
    let mut dt = b.utc_secs - a.utc_secs;
    if dt < -43_200.0 {
        dt += 86_400.0; // past midnight
    }
    if !(0.5..=5.0).contains(&dt) {
        return None;
    }
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dla = la2 - la1;
    let dlo = (b.lon - a.lon).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    let d = 2.0 * 6_371_008.8 * h.sqrt().min(1.0).asin();
    Some(d / dt)
}

/// Starts the reader thread for `source` (nothing for `None`). It reconnects / reopens with
/// backoff forever; errors are logged, never fatal.
pub fn spawn(source: LocationSource, last: LastFix) {
    if source == LocationSource::None {
        return;
    }
    let described = format!("{source:?}");
    let spawned = crate::feed::spawn_retrying(
        "location",
        move || match &source {
            LocationSource::None => Ok(()), // not started for `None`
            LocationSource::File(p) => follow_file(p, &last, true),
            LocationSource::Serial(p) => follow_file(p, &last, false),
            LocationSource::Gpsd(addr) => follow_gpsd(addr, &last),
        },
        move |e, delay| {
            tracing::warn!(source = %described, error = %e, retry_in = ?delay, "location source failed");
        },
    );
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the location thread; ECs will carry no location");
    }
}

fn follow_file(path: &Path, last: &LastFix, tail: bool) -> Result<(), AgentError> {
    let tail = tail.then_some(Duration::from_millis(250));
    crate::feed::follow_lines(
        path,
        "cannot open NMEA source",
        "cannot read NMEA source",
        tail,
        |line| {
            last.feed(line);
        },
    )?;
    Err(AgentError::Location(format!(
        "{} reached end of file",
        path.display()
    )))
}

const fn gpsd(what: String, source: std::io::Error) -> AgentError {
    AgentError::Gpsd { what, source }
}

fn follow_gpsd(addr: &str, last: &LastFix) -> Result<(), AgentError> {
    let stream = std::net::TcpStream::connect(addr)
        .map_err(|e| gpsd(format!("cannot connect to gpsd at {addr}"), e))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| gpsd("gpsd socket".into(), e))?;
    (&stream)
        .write_all(b"?WATCH={\"enable\":true,\"nmea\":true};\n")
        .map_err(|e| gpsd(format!("cannot send ?WATCH to gpsd at {addr}"), e))?;
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        let n = r
            .read_line(&mut line)
            .map_err(|e| gpsd(format!("gpsd at {addr}"), e))?;
        if n == 0 {
            return Err(AgentError::Location(format!(
                "gpsd at {addr} closed the connection"
            )));
        }
        last.feed(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nmea::frame;

    #[test]
    fn speed_from_position_deltas() {
        let fix = |utc_secs: f64, lat: f64| Fix {
            lat,
            lon: 11.5,
            alt_m: None,
            utc_secs,
            date: None,
            satellites: None,
            speed_ms: None,
        };
        // 0.0001° of latitude is 11.12 m: in 1 s, 11.12 m/s.
        let v = speed_between(&fix(100.0, 48.0), &fix(101.0, 48.0001)).unwrap();
        assert!((v - 11.12).abs() < 0.01, "{v}");
        // Across midnight.
        let v = speed_between(&fix(86_399.5, 48.0), &fix(0.5, 48.0001)).unwrap();
        assert!((v - 11.12).abs() < 0.01, "{v}");
        // Too close or too far apart in time: no speed.
        assert!(speed_between(&fix(100.0, 48.0), &fix(100.2, 48.0)).is_none());
        assert!(speed_between(&fix(100.0, 48.0), &fix(110.0, 48.0)).is_none());
        // Fed through `LastFix` (GGA has no speed field) the speed reaches the motion log.
        let motion = MotionLog::new(dashledger_detect::MotionParams::default(), "t");
        let last = LastFix::with_speed_to(motion.clone());
        assert!(last.feed(&frame(
            "GPGGA,101500.00,4800.0000,N,01130.0000,E,1,08,0.9,545.4,M,46.9,M,,"
        )));
        assert!(last.feed(&frame(
            "GPGGA,101501.00,4800.0060,N,01130.0000,E,1,08,0.9,545.4,M,46.9,M,,"
        )));
        assert_eq!(motion.status().speeds, 1);
    }

    #[test]
    fn source_strings() {
        assert_eq!(LocationSource::parse("none").unwrap(), LocationSource::None);
        assert_eq!(
            LocationSource::parse("file:/tmp/x.nmea").unwrap(),
            LocationSource::File("/tmp/x.nmea".into())
        );
        assert_eq!(
            LocationSource::parse("serial:/dev/ttyAMA0").unwrap(),
            LocationSource::Serial("/dev/ttyAMA0".into())
        );
        assert_eq!(
            LocationSource::parse("gpsd:127.0.0.1:2947").unwrap(),
            LocationSource::Gpsd("127.0.0.1:2947".into())
        );
        for bad in ["gps", "file:", "gpsd:localhost", "tcp:1.2.3.4:5"] {
            let e = LocationSource::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn follows_a_growing_file_and_a_gpsd_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gps.nmea");
        std::fs::write(&path, "garbage\n").unwrap();
        let last = LastFix::default();
        spawn(LocationSource::File(path.clone()), last.clone());
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(frame("GPGGA,101010,5230.000,N,01324.000,E,1,07,1.0,34.0,M,0,M,,").as_bytes())
            .unwrap();
        let got = wait_for(&last);
        assert!((got.lat - 52.5).abs() < 1e-9 && (got.lon - 13.4).abs() < 1e-9);

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut watch = String::new();
            BufReader::new(s.try_clone().unwrap())
                .read_line(&mut watch)
                .unwrap();
            assert!(watch.starts_with("?WATCH="), "{watch}");
            s.write_all(b"{\"class\":\"VERSION\"}\n").unwrap();
            s.write_all(frame("GNRMC,101011,A,4000.000,S,07000.000,W,0.0,0.0,231126,,").as_bytes())
                .unwrap();
            std::thread::sleep(Duration::from_secs(2));
        });
        let last2 = LastFix::default();
        spawn(LocationSource::Gpsd(addr), last2.clone());
        let got = wait_for(&last2);
        assert_eq!(
            (got.lat, got.lon, got.date),
            (-40.0, -70.0, Some((2026, 11, 23)))
        );
        server.join().unwrap();
    }

    fn wait_for(last: &LastFix) -> Fix {
        for _ in 0..100 {
            if let Some(f) = last.get(Duration::from_secs(60)) {
                return f;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no fix arrived");
    }
}
