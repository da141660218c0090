//! Commands as a user types them: the text sweep prints or writes into
//! batch scripts for a command to run again, with every path quoted as one
//! shell word the same way everywhere.

use std::path::Path;

/// `sweep SUBCOMMAND FILE`, with `--out OUT` unless `out` is the default:
/// the start of a command to tell a user to type.
pub fn command_line(subcommand: &str, file: &Path, out: &Path) -> String {
    let mut cmd = format!("sweep {subcommand} {}", shell_word(&file.to_string_lossy()));
    if out != Path::new(crate::results::DEFAULT_OUT) {
        cmd += &format!(" --out {}", shell_word(&out.to_string_lossy()));
    }
    cmd
}

/// `text` as one shell word, for commands printed or written into scripts:
/// as it is when it holds only safe characters, else in single quotes.
pub fn shell_word(text: &str) -> String {
    let safe = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:,=@".contains(c));
    if safe {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
