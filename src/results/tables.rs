//! The rows of the aggregate tables `runs.csv` and `epochs.csv`, and how a
//! cell is written so that spreadsheets (LibreOffice, Excel, Google Sheets)
//! read it as what it is: numbers as numbers, timestamps as dates, and text
//! — run ids included — as text, never as a number, a date or a formula.

use anyhow::Result;

use super::columns::{RUN_COLUMNS, RunView};
use super::record::FinishedRun;
use crate::config::Key;
use crate::train::EPOCH_COLUMNS;

/// Longest text a cell gets: Excel holds at most 32 767 characters in a
/// cell and splits longer ones over the next rows.
const MAX_CELL_CHARS: usize = 30_000;

/// A text cell as spreadsheets must read it: one that they would run as a
/// formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return)
/// gets a leading `'`, which they show as text; text longer than a cell
/// holds is cut with a note. Numbers never pass through here.
pub fn csv_text(text: &str) -> String {
    let text = match text.char_indices().nth(MAX_CELL_CHARS) {
        Some((cut, _)) => format!(
            "{} ... (cut; the whole text is in the run's folder)",
            &text[..cut]
        ),
        None => text.to_string(),
    };
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    }
}

/// Significant digits a number keeps in the aggregate tables: what
/// spreadsheets hold (Excel keeps 15 and LibreOffice writes 15), so a value
/// reads back from a spreadsheet exactly as the CSV says. The run's own
/// `runs/<id>/epochs.csv` keeps every bit.
pub const SIGNIFICANT_DIGITS: usize = 15;

/// A number as the shortest text with at most 15 significant digits that
/// names it (so identical runs give identical files); −0 is written as 0.
pub fn num(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    if !x.is_finite() {
        return x.to_string();
    }
    let rounded: f64 = format!("{x:.*e}", SIGNIFICANT_DIGITS - 1)
        .parse()
        .unwrap_or(x);
    rounded.to_string()
}

/// An RFC 3339 timestamp (`2026-11-28T20:25:28Z`, as `done.json` keeps it)
/// in the form every spreadsheet reads as a date and time,
/// `2026-11-28 20:25:28`, in UTC (the column's name says so). Text that is
/// not such a timestamp is kept as text.
pub fn spreadsheet_time(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => csv_text(rfc3339),
    }
}

/// The columns every row of both tables starts with: the run, its status,
/// the dataset and every setting.
fn param_header() -> Vec<&'static str> {
    let mut header = vec!["run_id", "status", "dataset"];
    header.extend(Key::ALL.iter().map(|k| k.name()));
    header
}

fn param_cells(dataset: &str, run: &FinishedRun) -> Vec<String> {
    let mut cells = vec![
        run.spec.id.clone(),
        run.done.status.as_str().to_string(),
        csv_text(dataset),
    ];
    cells.extend(Key::ALL.iter().map(|&k| csv_text(&run.spec.params.text(k))));
    cells
}

/// The header line of `runs.csv`.
pub fn runs_header() -> Vec<&'static str> {
    let mut header = param_header();
    header.extend(RUN_COLUMNS.iter().map(|(name, _)| *name));
    header
}

/// The header line of `epochs.csv`.
pub fn epochs_header() -> Vec<&'static str> {
    let mut header = param_header();
    header.push("train_samples");
    header.extend(EPOCH_COLUMNS.iter().map(|(name, _)| *name));
    header
}

/// A header as the CSV text of its line.
pub fn header_line(header: &[&str]) -> Result<Vec<u8>> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(header)?;
    Ok(csv.into_inner()?)
}

/// The `runs.csv` row of `run`: its parameters, then a cell per
/// [`RUN_COLUMNS`] entry.
pub fn write_run_row<W: std::io::Write>(
    csv: &mut csv::Writer<W>,
    dataset: &str,
    run: &FinishedRun,
) -> Result<()> {
    let mut row = param_cells(dataset, run);
    let view = RunView::of(run);
    row.extend(RUN_COLUMNS.iter().map(|(_, cell)| cell(&view)));
    csv.write_record(&row)?;
    Ok(())
}

/// The `epochs.csv` rows of `run`: one per evaluated epoch, parameters
/// repeated on every row (tidy data, ready for a pivot table).
pub fn write_epoch_rows<W: std::io::Write>(
    csv: &mut csv::Writer<W>,
    dataset: &str,
    run: &FinishedRun,
) -> Result<()> {
    let params = param_cells(dataset, run);
    for e in &run.epochs {
        let mut row = params.clone();
        row.push(run.done.train_samples.to_string());
        row.extend(
            EPOCH_COLUMNS
                .iter()
                .map(|(_, value)| value(e).map_or(String::new(), num)),
        );
        csv.write_record(&row)?;
    }
    Ok(())
}

/// `runs.csv` of `runs` (in the order given), header included.
pub fn runs_csv<'a>(
    dataset: &str,
    runs: impl IntoIterator<Item = &'a FinishedRun>,
) -> Result<Vec<u8>> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(runs_header())?;
    for run in runs {
        write_run_row(&mut csv, dataset, run)?;
    }
    Ok(csv.into_inner()?)
}

/// `epochs.csv` of `runs` (in the order given), header included.
pub fn epochs_csv<'a>(
    dataset: &str,
    runs: impl IntoIterator<Item = &'a FinishedRun>,
) -> Result<Vec<u8>> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(epochs_header())?;
    for run in runs {
        write_epoch_rows(&mut csv, dataset, run)?;
    }
    Ok(csv.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_overlong_text_is_cut() {
        assert_eq!(csv_text("=1+1"), "'=1+1");
        assert_eq!(csv_text("-x"), "'-x");
        assert_eq!(csv_text("he"), "he");
        let long = "é".repeat(40_000);
        let cut = csv_text(&long);
        assert!(cut.chars().count() < 31_000, "{}", cut.len());
        assert!(cut.ends_with("(cut; the whole text is in the run's folder)"));
    }

    #[test]
    fn timestamps_become_what_spreadsheets_read_as_dates_in_utc() {
        assert_eq!(
            spreadsheet_time("2026-11-28T20:25:28Z"),
            "2026-11-28 20:25:28"
        );
        assert_eq!(
            spreadsheet_time("2026-11-28T21:25:28+01:00"),
            "2026-11-28 20:25:28"
        );
        assert_eq!(spreadsheet_time("=not a time"), "'=not a time");
    }

    #[test]
    fn numbers_keep_what_a_spreadsheet_holds_and_minus_zero_is_zero() {
        assert_eq!(num(-0.0), "0");
        assert_eq!(num(0.1 + 0.2), "0.3");
        assert_eq!(num(0.10299999999999998), "0.103");
        assert_eq!(num(0.005825735051957146), "0.00582573505195715");
        assert_eq!(num(1e-7), "0.0000001");
        assert_eq!(num(0.897), "0.897");
        assert_eq!(
            num(1.6689850616866793e36),
            "1668985061686680000000000000000000000"
        );
        // Every written number reads back as the same 15-digit value.
        for x in [
            std::f64::consts::PI,
            1.0 / 3.0,
            123_456.789_012_345_68,
            9.999999999999999e-5,
        ] {
            let back: f64 = num(x).parse().unwrap();
            assert_eq!(format!("{back:.14e}"), format!("{x:.14e}"));
        }
    }
}
