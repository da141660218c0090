//! The one error type that tells `main` a problem lies in the user's input
//! (exit code 2) rather than in the tool or the machine (exit code 1).

use std::fmt;

/// An error caused by what the user gave us: a bad experiment file, a bad
/// flag, missing or malformed data. `main` maps it to exit code 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Shorthand for returning a [`BadInput`] error with a formatted message.
#[macro_export]
macro_rules! bad_input {
    ($($arg:tt)*) => {
        ::anyhow::Error::new($crate::error::BadInput(format!($($arg)*)))
    };
}

/// True when `err` (or anything in its cause chain) is a [`BadInput`].
pub fn is_bad_input(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.is::<BadInput>())
}

/// A path as messages show it: as it is, but with control characters (a
/// newline, a NUL, an escape sequence) escaped, so a message cannot be
/// garbled or forged by a file name.
pub fn shown(path: &std::path::Path) -> String {
    let text = path.to_string_lossy();
    if text.chars().any(char::is_control) {
        text.escape_debug().to_string()
    } else {
        text.into_owned()
    }
}
