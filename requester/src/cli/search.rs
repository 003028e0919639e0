//! `search`: verified clips by time and place, from the cloud or (`--chain`) from the chain's listings.

use std::time::UNIX_EPOCH;

use dashledger_requester::chain::fmt_time;
use dashledger_requester::cloud::{Area, Cloud};
use dashledger_requester::{Error, Result};
use serde_json::json;

use super::{CmdResult, Ctx};
use crate::SearchArgs;

pub(crate) fn parse_time(s: &str, what: &str) -> Result<u64> {
    if let Ok(n) = s.trim().parse::<u64>() {
        return Ok(n);
    }
    let t = humantime::parse_rfc3339_weak(s.trim()).map_err(|e| {
        Error::Config(format!(
            "--{what} {s:?} is neither unix seconds nor RFC 3339 time: {e}"
        ))
    })?;
    Ok(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

pub(crate) fn parse_box(s: &str) -> Result<Area> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| {
            Error::Config(format!(
                "--box {s:?}: {e}; expected MIN_LAT,MAX_LAT,MIN_LON,MAX_LON"
            ))
        })?;
    let [min_lat, max_lat, min_lon, max_lon] = v[..] else {
        return Err(Error::Config(format!(
            "--box {s:?} needs 4 numbers: MIN_LAT,MAX_LAT,MIN_LON,MAX_LON"
        )));
    };
    if min_lat > max_lat || min_lon > max_lon {
        return Err(Error::Config(
            "--box: MIN_LAT must be <= MAX_LAT and MIN_LON <= MAX_LON".into(),
        ));
    }
    Ok(Area::Box {
        min_lat,
        max_lat,
        min_lon,
        max_lon,
    })
}

impl Ctx {
    pub(crate) async fn search(&self, a: SearchArgs) -> CmdResult {
        let from = parse_time(&a.from, "from")?;
        let to = parse_time(&a.to, "to")?;
        if from > to {
            return Err(Error::Config("--from must not be after --to".into()).into());
        }
        let area = match (a.lat, a.lon, a.radius_m, &a.bbox) {
            (Some(lat), Some(lon), Some(radius_m), None) => {
                if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                    return Err(
                        Error::Config(format!("--lat {lat} / --lon {lon} out of range")).into(),
                    );
                }
                if !(radius_m > 0.0 && radius_m.is_finite()) {
                    return Err(Error::Config(format!(
                        "--radius-m must be a positive number of metres, got {radius_m}"
                    ))
                    .into());
                }
                Area::Circle { lat, lon, radius_m }
            }
            (None, None, None, Some(b)) => parse_box(b)?,
            _ => {
                return Err(Error::Config(
                    "give a place: --lat, --lon and --radius-m, or --box".into(),
                )
                .into());
            }
        };
        let hits: Vec<serde_json::Value> = if a.chain {
            let chain = self.chain(None).await?;
            let mut v: Vec<_> = chain
                .listings()
                .await?
                .into_iter()
                .filter(|l| (from..=to).contains(&l.recorded_at) && area.contains(l.lat, l.lon))
                .collect();
            v.sort_by_key(|l| l.recorded_at);
            v.truncate(a.max);
            v.into_iter()
                .map(|l| json!({"ec": l.ec.to_string(), "recorded_at": fmt_time(l.recorded_at), "lat": l.lat, "lon": l.lon, "status": "Verified"}))
                .collect()
        } else {
            let cloud = Cloud::new(&self.g.cloud_url)?;
            cloud
                .search(from, to, area, a.max)
                .await?
                .into_iter()
                .map(|h| {
                    json!({"ec": h.ec_address, "recorded_at": fmt_time(u64::try_from(h.recorded_at).unwrap_or(0)),
                           "lat": h.lat, "lon": h.lon, "status": h.status, "thumbnail": h.thumbnails.first})
                })
                .collect()
        };
        eprintln!("{} clip(s) found", hits.len());
        if self.g.json {
            println!("{}", serde_json::Value::Array(hits));
        } else {
            for h in hits {
                println!(
                    "{} {} {},{} {}",
                    h["ec"].as_str().unwrap_or_default(),
                    h["recorded_at"].as_str().unwrap_or_default(),
                    h["lat"],
                    h["lon"],
                    h["status"].as_str().unwrap_or_default()
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_boxes() {
        assert_eq!(parse_time("1700000000", "from").unwrap(), 1_700_000_000);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", "from").unwrap(),
            1_700_000_000
        );
        assert!(
            parse_time("yesterday", "from")
                .unwrap_err()
                .to_string()
                .contains("--from")
        );
        assert!(matches!(parse_box("48,49,2,3").unwrap(), Area::Box { .. }));
        assert!(
            parse_box("48,49,2")
                .unwrap_err()
                .to_string()
                .contains("4 numbers")
        );
        assert!(
            parse_box("49,48,2,3")
                .unwrap_err()
                .to_string()
                .contains("MIN_LAT")
        );
    }
}
