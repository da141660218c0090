//! Ctrl-C and SIGTERM: the first asks the sweep to stop (no new runs, runs
//! in flight stop at their next step, everything finished is kept and the
//! aggregates and report are rewritten); the second exits at once, which is
//! still safe because every file is written atomically.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);
static SIGNALS: AtomicUsize = AtomicUsize::new(0);

/// Exit code of a sweep stopped by a signal (128 + SIGINT, as shells use).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Installs the SIGINT/SIGTERM handler. Call once, from the binary.
pub fn install() {
    // An error means a handler is already installed (a second call).
    let _ = ctrlc::set_handler(|| {
        if SIGNALS.fetch_add(1, Ordering::SeqCst) == 0 {
            STOP.store(true, Ordering::SeqCst);
            eprintln!(
                "\nstopping: no new runs start and runs in progress stop at their next step; \
                 finished runs are kept (press Ctrl-C again to quit at once)"
            );
        } else {
            eprintln!("\nquitting at once; finished runs are kept");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    });
}

/// True once a stop was asked for (by a signal or [`request_stop`]).
pub fn stop_requested() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// Asks the sweep to stop as a first Ctrl-C would (used by `--fail-fast`).
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// True when the stop came from a signal rather than from the sweep itself.
pub fn interrupted_by_signal() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}
