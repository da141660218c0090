//! Ctrl-C and SIGTERM: the first asks the sweep to stop (no new runs, runs
//! in flight stop at their next step, everything finished is kept and the
//! aggregates and report are rewritten); the second exits at once, which is
//! still safe because every file is written atomically.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static SIGNALS: AtomicUsize = AtomicUsize::new(0);

/// Asks a sweep to stop: no new runs start, and runs in flight stop at
/// their next step. Clones share one flag; the sweep reads the token its
/// options carry, set by Ctrl-C ([`install`]), by `--fail-fast` or by a
/// caller embedding the sweep.
#[derive(Debug, Clone, Default)]
pub struct StopToken(Arc<AtomicBool>);

impl StopToken {
    /// A token no one has set.
    pub fn new() -> StopToken {
        StopToken::default()
    }

    /// Asks the sweep to stop.
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once a stop was asked for.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Exit code of a sweep stopped by a signal (128 + SIGINT, as shells use).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Installs the SIGINT/SIGTERM handler: the first signal sets `stop`, the
/// second exits at once. Call once, from the binary.
pub fn install(stop: StopToken) {
    // An error means a handler is already installed (a second call).
    let _ = ctrlc::set_handler(move || {
        if SIGNALS.fetch_add(1, Ordering::SeqCst) == 0 {
            stop.request();
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

/// True when the stop came from a signal rather than from the sweep itself.
pub fn interrupted_by_signal() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}
