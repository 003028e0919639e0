//! Helpers shared by the agent's integration tests: test media built from the shared data set
//! (cached under the target directory) and a way to run the real binary.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The shared videos.
pub fn dataset(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/datasets/videos")
        .join(name);
    assert!(p.is_file(), "test input {} is missing", p.display());
    p
}

fn cache_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashledger-agent-media");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ffmpeg(args: &[&str], out: &Path) {
    // Unique temporary name: tests run in parallel and may build the same file at once.
    let tmp = out.with_extension(
        format!(
            "{}-{:?}.partial.mp4",
            std::process::id(),
            std::thread::current().id()
        )
        .replace(['(', ')'], ""),
    );
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .arg(&tmp)
        .status()
        .expect("ffmpeg is needed to build test media (scripts/setup installs it)");
    assert!(status.success(), "ffmpeg {args:?} failed");
    std::fs::rename(&tmp, out).unwrap();
}

/// A 60-second segment made by looping a shared video (stream copy: H.264 + AAC as recorded).
pub fn minute_of(name: &str) -> PathBuf {
    let out = cache_dir().join(format!("minute-{name}"));
    if !out.is_file() {
        let src = dataset(name);
        ffmpeg(
            &[
                "-stream_loop",
                "-1",
                "-i",
                src.to_str().unwrap(),
                "-t",
                "60",
                "-c",
                "copy",
            ],
            &out,
        );
    }
    out
}

/// The segments `scripts/make-segments` builds (the demo's and the end-to-end tests'): one normal
/// minute of dashcam driving, then the crash minute (CCTV crash + real crash sounds). Cached by the
/// script itself (`--cache`: reused while its recipe is unchanged).
pub fn made_segments() -> (PathBuf, PathBuf) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(root.join("scripts/make-segments"))
        .arg(cache_dir().join("made"))
        .args([
            "--start",
            "1795000020",
            "--normal",
            "1",
            "--cache",
            "--datasets",
        ])
        .arg(root.join("../shared/datasets"))
        .output()
        .expect("cannot run scripts/make-segments");
    assert!(
        out.status.success(),
        "scripts/make-segments failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let paths: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(PathBuf::from)
        .collect();
    match paths.as_slice() {
        [normal, crash] => (normal.clone(), crash.clone()),
        other => panic!("make-segments wrote {other:?}, expected two segments"),
    }
}

/// The same minute without its audio track.
pub fn minute_without_audio(name: &str) -> PathBuf {
    let out = cache_dir().join(format!("noaudio-{name}"));
    if !out.is_file() {
        let src = minute_of(name);
        ffmpeg(&["-i", src.to_str().unwrap(), "-an", "-c", "copy"], &out);
    }
    out
}

/// The first `keep` bytes of a minute (a file cut short by a power loss).
pub fn truncated(name: &str, keep: usize) -> PathBuf {
    let out = cache_dir().join(format!("truncated-{keep}-{name}"));
    if !out.is_file() {
        let bytes = std::fs::read(minute_of(name)).unwrap();
        let tmp = out.with_extension(format!("{}.partial", std::process::id()));
        std::fs::write(&tmp, &bytes[..keep.min(bytes.len())]).unwrap();
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}

/// The agent binary with a clean environment for the test.
pub fn agent(config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dashledger-agent"));
    for (k, _) in std::env::vars() {
        if k.starts_with("DASHLEDGER_AGENT_") {
            c.env_remove(k);
        }
    }
    c.arg("--config")
        .arg(config)
        .env("DASHLEDGER_AGENT_KEYSTORE_PASSWORD", "test password")
        .env("DASHLEDGER_AGENT_LOG", "info");
    c
}

/// Writes a config for a test under `root` and creates the keystore; returns the config path.
pub fn setup(root: &Path, extra: &str) -> PathBuf {
    let watch = root.join("watch");
    std::fs::create_dir_all(&watch).unwrap();
    let config = root.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "watch_dir = {:?}\nstate_dir = {:?}\nkeystore = {:?}\nsettle_secs = 1\npoll_interval_ms = 50\n{extra}",
            watch,
            root.join("state"),
            root.join("keystore.json")
        ),
    )
    .unwrap();
    let out = agent(&config)
        .args(["init", "--insecure-fast-kdf"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(root.join("init.json"), &out.stdout).unwrap();
    config
}

/// Kills the daemon (SIGKILL) if a test fails before stopping it.
pub struct Daemon(pub Option<std::process::Child>);

impl Daemon {
    /// Starts `run` with stderr discarded.
    pub fn start(config: &Path) -> Self {
        Self(Some(
            agent(config)
                .arg("run")
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        ))
    }

    /// SIGTERM, then waits; returns whether it exited successfully.
    pub fn stop(mut self) -> bool {
        let mut child = self.0.take().unwrap();
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        child.wait().unwrap().success()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
