//! What the location and motion readers share: a thread that runs its source again with
//! backoff whenever it fails, and a line reader that follows a growing file.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::Duration;

use crate::error::AgentError;

/// Starts thread `name` running `attempt` forever: after each return it waits (1 s, doubling up
/// to 30 s) and runs it again; a failure goes to `failed` with the delay before the next try.
pub fn spawn_retrying(
    name: &str,
    mut attempt: impl FnMut() -> Result<(), AgentError> + Send + 'static,
    mut failed: impl FnMut(&AgentError, Duration) + Send + 'static,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut delay = Duration::from_secs(1);
            loop {
                if let Err(e) = attempt() {
                    failed(&e, delay);
                }
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        })
        .map(drop)
}

/// Calls `on_line` with every line of `path` (errors named with `open_what` / `read_what`). At
/// the end of the file it waits `tail` and reads on (a file that grows), or returns `Ok(())`
/// without `tail` (a serial port or FIFO whose writer went away).
pub fn follow_lines(
    path: &Path,
    open_what: &'static str,
    read_what: &'static str,
    tail: Option<Duration>,
    mut on_line: impl FnMut(&str),
) -> Result<(), AgentError> {
    let f = std::fs::File::open(path).map_err(|e| AgentError::io(open_what, path, e))?;
    let mut r = BufReader::new(f);
    let mut line = String::new();
    loop {
        line.clear();
        let n = r
            .read_line(&mut line)
            .map_err(|e| AgentError::io(read_what, path, e))?;
        if n == 0 {
            match tail {
                Some(wait) => {
                    std::thread::sleep(wait);
                    continue;
                }
                None => return Ok(()),
            }
        }
        on_line(&line);
    }
}
