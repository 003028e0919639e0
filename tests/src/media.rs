//! 1-minute dashcam segments built from the shared sample videos by `scripts/make-segments`,
//! cached under the cargo target directory so repeated runs don't re-encode them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

/// Start of the first generated segment (UTC 2026-11-18 11:07:00, minute-aligned).
pub const DEFAULT_START: u64 = 1_795_000_020;

/// A minute-aligned start `minute` minutes into yesterday (UTC): recent enough for the
/// contracts (`recordedAt` must not be in the future) and the cloud's search, and stable for a
/// day so the cached segments are reused.
pub fn yesterday_at(minute: u64) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    (now / 86_400 - 1) * 86_400 + minute * 60
}

/// Builds (or reuses) `normal` normal segments followed by one crash segment, starting at
/// `start` (unix seconds), and returns their paths in recording order.
pub fn segments(start: u64, normal: u32) -> anyhow::Result<Vec<PathBuf>> {
    // `--cache`: the script reuses the directory when it holds this same recipe (its own
    // version, start, count, data directory) and only prints the paths.
    let cache = crate::bin_dir()?
        .join("e2e-media")
        .join(format!("{start}-{normal}"));
    let out = Command::new(crate::repo_root().join("scripts/make-segments"))
        .arg(&cache)
        .args([
            "--start",
            &start.to_string(),
            "--normal",
            &normal.to_string(),
            "--cache",
        ])
        .arg("--datasets")
        .arg(crate::datasets_dir())
        .output()
        .context("cannot run scripts/make-segments")?;
    anyhow::ensure!(
        out.status.success(),
        "scripts/make-segments failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .collect())
}

/// Copies a segment into `dir` the way a camera would: written under a temporary name, then
/// renamed, keeping its modification time. Returns the new path.
pub fn deliver(segment: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let name = segment.file_name().context("segment has no file name")?;
    let tmp = dir.join(format!(".{}.part", name.to_string_lossy()));
    std::fs::copy(segment, &tmp)?;
    let mtime = std::fs::metadata(segment)?.modified()?;
    std::fs::File::options()
        .write(true)
        .open(&tmp)?
        .set_modified(mtime)?;
    let dest = dir.join(name);
    std::fs::rename(&tmp, &dest)?;
    Ok(dest)
}

/// Writes a motion feed (`t,ax,ay,az` lines, 100 Hz, m/s² with gravity on z) covering
/// `seconds` from unix time `start`: a car at speed with 0.03 g of road vibration, a 0.6 g
/// braking for 3 s at `start + 20`, and, at unix time `impact` when given, a 100-ms half-sine
/// deceleration of 15 g (a frontal crash at ~30 km/h, Δv ≈ 9 m/s).
pub fn write_motion_feed(
    path: &Path,
    start: u64,
    seconds: u64,
    impact: Option<f64>,
) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    const G: f64 = 9.806_65;
    let mut out = String::from("t,ax,ay,az\n");
    for i in 0..seconds * 100 {
        let t = start as f64 + i as f64 / 100.0;
        let vib = 0.03 * G * (t * 53.0).sin();
        let mut x = vib;
        let rel = t - start as f64;
        if (20.0..23.0).contains(&rel) {
            x -= 0.6 * G;
        }
        if let Some(at) = impact
            && (at..at + 0.1).contains(&t)
        {
            x -= 15.0 * G * ((t - at) / 0.1 * std::f64::consts::PI).sin();
        }
        writeln!(out, "{t:.2},{x:.4},{:.4},{:.4}", -vib, G + vib)?;
    }
    std::fs::write(path, out)?;
    Ok(())
}
