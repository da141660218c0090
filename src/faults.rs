//! Fault injection for the reliability tests: make a run fail, or make the
//! process die abruptly (as `kill -9` would) at a named point of a sweep.
//! Driven by environment variables that only the test suite sets:
//!
//! - `SWEEP_TEST_FAIL=<run-id>[,<run-id>…]` — those runs panic when they start.
//! - `SWEEP_TEST_CRASH=<point>:<n>` — abort the process the n-th time the
//!   sweep reaches `<point>` (`run-saved`: a run's `done.json` is written,
//!   aggregates not yet; `aggregate`: `runs.csv`'s new text is in its
//!   temporary file, not yet renamed; `checkpoint-saved`: a run paused by
//!   successive halving has just been saved; `live-report`: a refresh of
//!   the live report has replaced the plots and tables, not yet the page).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Panics if the tests asked run `id` to fail.
pub fn maybe_fail(id: &str) {
    static FAIL: OnceLock<Vec<String>> = OnceLock::new();
    let ids = FAIL.get_or_init(|| {
        std::env::var("SWEEP_TEST_FAIL")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default()
    });
    if ids.iter().any(|f| f == id) {
        panic!("failure injected by SWEEP_TEST_FAIL for run {id}");
    }
}

/// Aborts the process if the tests asked for a crash at this `point` now.
pub fn crash_point(point: &str) {
    static CRASH: OnceLock<Option<(String, usize)>> = OnceLock::new();
    static HITS: AtomicUsize = AtomicUsize::new(0);
    let target = CRASH.get_or_init(|| {
        let v = std::env::var("SWEEP_TEST_CRASH").ok()?;
        let (name, n) = v.rsplit_once(':')?;
        Some((name.to_string(), n.parse().ok()?))
    });
    if let Some((name, n)) = target
        && name == point
        && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n
    {
        // No destructors, no buffered output, no cleanup: like SIGKILL.
        std::process::abort();
    }
}
