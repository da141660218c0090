//! The live report: while the runs of `sweep run` train, a thread rebuilds
//! `summary.csv`, the plots and `report.html` from the records on disk
//! whenever runs have ended since its last refresh, at most every
//! `--report-every` seconds (30 by default). The page says that the sweep
//! is running and reloads itself; the report written when the sweep ends
//! replaces it.
//!
//! Every file is replaced by a rename (`write_atomic`), so a kill at any
//! moment leaves the previous complete report. A refresh reads only what
//! the workers have already saved and takes no lock they wait on, and the
//! next refresh waits at least 19 times as long as the last one took, so
//! refreshing costs at most about 5 % of the sweep's time.

use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::progress::Progress;
use crate::report::{self, Live};
use crate::results::ResultsDir;

/// The wait after a refresh, as a multiple of the time it took.
const WAIT_PER_REFRESH_SECOND: u32 = 19;

/// The refresher's clock and the signal that training has ended.
struct Refresher<'a> {
    results: &'a ResultsDir,
    every: Duration,
    started_at: &'a str,
    progress: &'a Progress,
    done: Mutex<bool>,
    wake: Condvar,
}

/// Runs `train` while a thread refreshes the report every `every` (never
/// with `None`), and returns what `train` returned once the thread ends.
pub(super) fn while_training<T>(
    results: &ResultsDir,
    every: Option<Duration>,
    started_at: &str,
    progress: &Progress,
    train: impl FnOnce() -> T,
) -> T {
    let Some(every) = every else {
        return train();
    };
    let refresher = Refresher {
        results,
        every,
        started_at,
        progress,
        done: Mutex::new(false),
        wake: Condvar::new(),
    };
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("sweep-live-report".into())
            .spawn_scoped(scope, || refresher.refresh_until_done());
        let out = train();
        *refresher.done.lock().unwrap_or_else(|e| e.into_inner()) = true;
        refresher.wake.notify_all();
        if let Ok(Ok((refreshes, spent))) = thread.map(|t| t.join())
            && refreshes > 0
        {
            progress.note(&format!(
                "live report: refreshed {refreshes} time(s) while runs trained, {:.1} s in all",
                spent.as_secs_f64()
            ));
        }
        out
    })
}

impl Refresher<'_> {
    /// Refreshes the report whenever runs have ended since the last
    /// refresh, waiting between refreshes, until training has ended; how
    /// many times it refreshed, and the time that took.
    fn refresh_until_done(&self) -> (usize, Duration) {
        let (mut refreshes, mut spent) = (0, Duration::ZERO);
        let mut wait = self.every;
        let mut seen = ended_runs_mark(self.results.root());
        while !self.wait(wait) {
            let now = ended_runs_mark(self.results.root());
            if now == seen {
                wait = self.every;
                continue;
            }
            let began = Instant::now();
            let live = Live {
                started_at: self.started_at.to_string(),
                refreshed_at: super::now(),
                reload_seconds: self.every.as_secs().max(1),
            };
            if let Err(e) = report::write_live(self.results.root(), &live) {
                self.progress.note(&format!(
                    "the live report could not be refreshed ({e:#}); the final report is \
                     written when the sweep ends"
                ));
                break;
            }
            seen = now;
            refreshes += 1;
            spent += began.elapsed();
            wait = self.every.max(began.elapsed() * WAIT_PER_REFRESH_SECOND);
        }
        (refreshes, spent)
    }

    /// Waits `wait`; whether training has ended.
    fn wait(&self, wait: Duration) -> bool {
        let done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        let (done, _) = self
            .wake
            .wait_timeout_while(done, wait, |done| !*done)
            .unwrap_or_else(|e| e.into_inner());
        *done
    }
}

/// What changes when a run ends: the length and time of `runs.csv`, to
/// which every ended run's row is appended.
fn ended_runs_mark(root: &Path) -> Option<(u64, std::time::SystemTime)> {
    let meta = std::fs::metadata(root.join("runs.csv")).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}
