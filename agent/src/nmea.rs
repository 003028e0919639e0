//! NMEA 0183 parsing: `GGA` and `RMC` sentences from any talker (`GP`, `GN`, `GL`, ...), with
//! the checksum required and verified. Anything else is an error naming what is wrong; the
//! parser never panics on any input (property-tested).

use crate::error::AgentError;

/// Longest sentence accepted (the standard says 82 characters; some receivers go beyond).
pub const MAX_SENTENCE_LEN: usize = 128;

/// A position fix from one sentence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    /// Latitude in degrees, north positive.
    pub lat: f64,
    /// Longitude in degrees, east positive.
    pub lon: f64,
    /// Altitude above mean sea level in metres (GGA only).
    pub alt_m: Option<f64>,
    /// UTC time of day of the fix, seconds since midnight.
    pub utc_secs: f64,
    /// UTC date (year, month, day) (RMC only).
    pub date: Option<(u16, u8, u8)>,
    /// Satellites used (GGA only).
    pub satellites: Option<u8>,
    /// Speed over ground in m/s (RMC only; empty field: `None`).
    pub speed_ms: Option<f64>,
}

/// A parsed sentence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sentence {
    /// A GGA or RMC sentence with a valid fix.
    Fix(Fix),
    /// A GGA or RMC sentence saying there is no fix (quality 0 / status V, or empty fields).
    NoFix,
}

fn err(msg: impl Into<String>) -> AgentError {
    AgentError::Nmea(msg.into())
}

/// XOR checksum of the bytes between `$` and `*`.
pub fn checksum(body: &str) -> u8 {
    body.bytes().fold(0, |acc, b| acc ^ b)
}

/// Parses one sentence (with or without the trailing CR LF).
pub fn parse(line: &str) -> Result<Sentence, AgentError> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.len() > MAX_SENTENCE_LEN {
        return Err(err(format!(
            "sentence is {} characters long, limit {MAX_SENTENCE_LEN}",
            line.len()
        )));
    }
    if !line.is_ascii() {
        return Err(err("sentence contains non-ASCII bytes"));
    }
    let rest = line
        .strip_prefix('$')
        .ok_or_else(|| err("sentence does not start with `$`"))?;
    let (body, sum) = rest
        .rsplit_once('*')
        .ok_or_else(|| err("sentence has no `*` checksum"))?;
    if sum.len() != 2 {
        return Err(err(format!("checksum `{sum}` is not two hex digits")));
    }
    let want =
        u8::from_str_radix(sum, 16).map_err(|_| err(format!("checksum `{sum}` is not hex")))?;
    let got = checksum(body);
    if want != got {
        return Err(err(format!(
            "checksum mismatch: sentence says {want:02X}, content gives {got:02X}"
        )));
    }
    let fields: Vec<&str> = body.split(',').collect();
    let address = fields[0];
    if address.len() != 5
        || !address
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Err(err(format!("`{address}` is not a talker + sentence type")));
    }
    match &address[2..] {
        "GGA" => parse_gga(&fields),
        "RMC" => parse_rmc(&fields),
        other => Err(err(format!(
            "unsupported sentence type {other} (only GGA and RMC)"
        ))),
    }
}

fn field<'a>(fields: &[&'a str], i: usize, what: &str) -> Result<&'a str, AgentError> {
    fields
        .get(i)
        .copied()
        .ok_or_else(|| err(format!("missing field {i} ({what})")))
}

fn parse_time(s: &str) -> Result<f64, AgentError> {
    let bad = || err(format!("time `{s}` is not hhmmss[.ss]"));
    if s.len() < 6 || !s[..6].bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let h: u32 = s[0..2].parse().map_err(|_| bad())?;
    let m: u32 = s[2..4].parse().map_err(|_| bad())?;
    let sec: f64 = if s.len() > 6 {
        if !s[6..].starts_with('.') || !s[7..].bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s[4..].parse().map_err(|_| bad())?
    } else {
        s[4..6].parse::<u32>().map_err(|_| bad())?.into()
    };
    if h > 23 || m > 59 || sec >= 61.0 {
        return Err(bad());
    }
    Ok(f64::from(h * 3600 + m * 60) + sec)
}

/// `ddmm.mmmm` (lat, `deg_digits` = 2) or `dddmm.mmmm` (lon, 3) plus hemisphere.
fn parse_coord(value: &str, hemi: &str, deg_digits: usize, what: &str) -> Result<f64, AgentError> {
    let bad = |why: &str| err(format!("{what} `{value}{hemi}`: {why}"));
    if value.len() < deg_digits + 2 || !value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(bad("not d..mm.mmmm"));
    }
    if value.bytes().filter(|&b| b == b'.').count() > 1
        || !value[..deg_digits + 2].bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad("not d..mm.mmmm"));
    }
    let deg: f64 = value[..deg_digits]
        .parse()
        .map_err(|_| bad("bad degrees"))?;
    let min: f64 = value[deg_digits..]
        .parse()
        .map_err(|_| bad("bad minutes"))?;
    if min >= 60.0 {
        return Err(bad("minutes >= 60"));
    }
    let v = deg + min / 60.0;
    let limit = if deg_digits == 2 { 90.0 } else { 180.0 };
    if v > limit {
        return Err(bad("out of range"));
    }
    match (deg_digits, hemi) {
        (2, "N") | (3, "E") => Ok(v),
        (2, "S") | (3, "W") => Ok(-v),
        _ => Err(bad("bad hemisphere")),
    }
}

fn parse_gga(f: &[&str]) -> Result<Sentence, AgentError> {
    if f.len() < 10 {
        return Err(err(format!(
            "GGA has {} fields, needs at least 10",
            f.len()
        )));
    }
    let quality = field(f, 6, "fix quality")?;
    if quality.is_empty() || quality == "0" || f[2].is_empty() || f[4].is_empty() {
        return Ok(Sentence::NoFix);
    }
    if !quality.bytes().all(|b| b.is_ascii_digit()) || quality.len() > 1 {
        return Err(err(format!("GGA fix quality `{quality}` is not a digit")));
    }
    let utc_secs = parse_time(field(f, 1, "time")?)?;
    let lat = parse_coord(f[2], f[3], 2, "latitude")?;
    let lon = parse_coord(f[4], f[5], 3, "longitude")?;
    let satellites = match f[7] {
        "" => None,
        s => Some(
            s.parse::<u8>()
                .map_err(|_| err(format!("GGA satellites `{s}` is not a number")))?,
        ),
    };
    let alt_m = match f[9] {
        "" => None,
        s => {
            let a: f64 = s
                .parse()
                .map_err(|_| err(format!("GGA altitude `{s}` is not a number")))?;
            if !a.is_finite() || a.abs() > 100_000.0 {
                return Err(err(format!("GGA altitude `{s}` is out of range")));
            }
            Some(a)
        }
    };
    Ok(Sentence::Fix(Fix {
        lat,
        lon,
        alt_m,
        utc_secs,
        date: None,
        satellites,
        speed_ms: None,
    }))
}

fn parse_rmc(f: &[&str]) -> Result<Sentence, AgentError> {
    if f.len() < 10 {
        return Err(err(format!(
            "RMC has {} fields, needs at least 10",
            f.len()
        )));
    }
    match f[2] {
        "A" => {}
        "V" | "" => return Ok(Sentence::NoFix),
        s => return Err(err(format!("RMC status `{s}` is neither A nor V"))),
    }
    let utc_secs = parse_time(f[1])?;
    let lat = parse_coord(f[3], f[4], 2, "latitude")?;
    let lon = parse_coord(f[5], f[6], 3, "longitude")?;
    let d = f[9];
    let bad = || err(format!("RMC date `{d}` is not ddmmyy"));
    if d.len() != 6 || !d.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let day: u8 = d[0..2].parse().map_err(|_| bad())?;
    let month: u8 = d[2..4].parse().map_err(|_| bad())?;
    let yy: u16 = d[4..6].parse().map_err(|_| bad())?;
    if !(1..=31).contains(&day) || !(1..=12).contains(&month) {
        return Err(bad());
    }
    // Two-digit years: 80-99 are 1980-1999 (GPS started in 1980), 00-79 are 2000-2079.
    let year = if yy >= 80 { 1900 + yy } else { 2000 + yy };
    let speed_ms = match f[7] {
        "" => None,
        k => {
            let knots: f64 = k
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && (0.0..2000.0).contains(v))
                .ok_or_else(|| err(format!("RMC speed `{k}` is not a number of knots")))?;
            Some(knots * 1852.0 / 3600.0)
        }
    };
    Ok(Sentence::Fix(Fix {
        lat,
        lon,
        alt_m: None,
        utc_secs,
        date: Some((year, month, day)),
        satellites: None,
        speed_ms,
    }))
}

/// Formats a sentence body with `$`, checksum and CR LF (used by tests and tools).
pub fn frame(body: &str) -> String {
    format!("${body}*{:02X}\r\n", checksum(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_real_sentences() {
        let s =
            parse("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n").unwrap();
        let Sentence::Fix(f) = s else { panic!("{s:?}") };
        assert!((f.lat - 48.1173).abs() < 1e-9);
        assert!((f.lon - 11.516_666_666).abs() < 1e-6);
        assert_eq!(f.alt_m, Some(545.4));
        assert_eq!(f.satellites, Some(8));
        assert_eq!(f.utc_secs, 12.0 * 3600.0 + 35.0 * 60.0 + 19.0);

        let s =
            parse("$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A").unwrap();
        let Sentence::Fix(f) = s else { panic!("{s:?}") };
        assert_eq!(f.date, Some((1994, 3, 23)));
        assert!((f.lat - 48.1173).abs() < 1e-9);
        // 22.4 knots.
        assert!(
            (f.speed_ms.unwrap() - 11.5236).abs() < 1e-3,
            "{:?}",
            f.speed_ms
        );
        let s = parse(&frame(
            "GPRMC,123519,A,4807.038,N,01131.000,E,,084.4,230394,003.1,W",
        ))
        .unwrap();
        let Sentence::Fix(f) = s else { panic!("{s:?}") };
        assert_eq!(f.speed_ms, None);
        let e = parse(&frame(
            "GPRMC,123519,A,4807.038,N,01131.000,E,fast,084.4,230394,003.1,W",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("RMC speed `fast`"), "{e}");

        let s = parse(&frame("GNRMC,000000.00,V,,,,,,,010126,,,N")).unwrap();
        assert_eq!(s, Sentence::NoFix);
        let s = parse(&frame(
            "GPGGA,235959.50,3351.0000,S,15112.0000,W,0,00,,,M,,M,,",
        ))
        .unwrap();
        assert_eq!(s, Sentence::NoFix);
    }

    #[test]
    fn names_what_is_wrong() {
        let cases = [
            (
                "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48",
                "checksum mismatch",
            ),
            ("GPGGA,123519*47", "`$`"),
            (
                "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
                "no `*`",
            ),
            ("$GPGGA,1", "no `*`"),
            ("$GPGGA,123519*4", "two hex"),
        ];
        for (line, want) in cases {
            let e = parse(line).unwrap_err().to_string();
            assert!(e.contains(want), "{line}: {e}");
        }
        let e = parse(&frame("GPGSV,1,1,00")).unwrap_err().to_string();
        assert!(e.contains("GSV"), "{e}");
        let e = parse(&frame(
            "GPGGA,123519,4867.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("minutes"), "{e}");
        let e = parse(&frame(
            "GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,320394,003.1,W",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("date"), "{e}");
        let e = parse(&frame(
            "GPGGA,253519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("time"), "{e}");
    }

    fn coord_str(v: f64, deg_digits: usize) -> String {
        let a = v.abs();
        let deg = a.trunc();
        let min = (a - deg) * 60.0;
        let min = (min * 10_000.0).round() / 10_000.0;
        let (deg, min) = if min >= 60.0 {
            (deg + 1.0, 0.0)
        } else {
            (deg, min)
        };
        format!("{:0w$}{:07.4}", deg as u32, min, w = deg_digits)
    }

    proptest! {
        #[test]
        fn never_panics_on_garbage(s in ".{0,200}") {
            let _ = parse(&s);
        }

        #[test]
        fn never_panics_on_checksummed_garbage(body in "[A-Z]{2}(GGA|RMC)(,[0-9A-Z.\\-]{0,12}){0,16}") {
            let _ = parse(&frame(&body));
        }

        #[test]
        fn gga_round_trips(lat in -89.999f64..89.999, lon in -179.999f64..179.999,
                           h in 0u32..24, m in 0u32..60, s in 0u32..60, sats in 0u8..40,
                           alt in -400.0f64..9000.0) {
            let body = format!(
                "GNGGA,{h:02}{m:02}{s:02}.00,{},{},{},{},1,{sats:02},0.9,{alt:.1},M,46.9,M,,",
                coord_str(lat, 2), if lat < 0.0 { "S" } else { "N" },
                coord_str(lon, 3), if lon < 0.0 { "W" } else { "E" });
            let Sentence::Fix(f) = parse(&frame(&body)).unwrap() else { panic!("no fix") };
            prop_assert!((f.lat - lat).abs() < 1e-5, "{} vs {}", f.lat, lat);
            prop_assert!((f.lon - lon).abs() < 1e-5, "{} vs {}", f.lon, lon);
            prop_assert_eq!(f.utc_secs, f64::from(h * 3600 + m * 60 + s));
            prop_assert_eq!(f.satellites, Some(sats));
            prop_assert!((f.alt_m.unwrap() - alt).abs() < 0.051);
        }

        #[test]
        fn any_corruption_is_rejected(idx in 1usize..60, byte in 32u8..127) {
            let line = frame("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W");
            let body_end = line.find('*').unwrap();
            let idx = 1 + idx % (body_end - 1);
            let mut bytes = line.into_bytes();
            prop_assume!(bytes[idx] != byte && byte != b'*');
            bytes[idx] = byte;
            // One changed byte changes the XOR, so the checksum must catch it.
            prop_assert!(parse(std::str::from_utf8(&bytes).unwrap()).is_err());
        }
    }
}
