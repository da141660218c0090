//! The CSV files opened in a real spreadsheet: LibreOffice Calc (Debian's
//! `libreoffice-calc-nogui`, headless) converts `runs.csv`, `epochs.csv`,
//! `summary.csv` and `compare.csv` of a real sweep to flat ODS, and every
//! cell must have the type it should: numbers numeric and equal to the CSV's value, timestamps
//! dates, and text — run ids above all — text, unchanged. The import is made
//! with "detect special numbers" on, the setting under which LibreOffice
//! (like Excel, always) reads `530659712204` as a number and `9390e0004803`
//! as 1.8E+308. Ignored unless asked for (`cargo test -- --ignored`, as
//! `.ci/run` does after installing LibreOffice); without it, it fails.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sweep::config::{RunParams, legacy_run_id, run_id};
use tempfile::TempDir;

use crate::util::{Sandbox, Table, sweep, text};

/// `soffice`, if installed.
fn libreoffice() -> Option<PathBuf> {
    let found = ["/usr/bin/soffice", "/usr/bin/libreoffice"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    crate::util::require(
        found.is_some(),
        "LibreOffice: apt-get install libreoffice-calc-nogui",
    );
    found
}

/// Converts every CSV in `files` to `<out>/<stem>.fods` in one LibreOffice
/// run: comma-separated, `"`-quoted, UTF-8, en-US, detect special numbers.
fn to_fods(soffice: &Path, files: &[PathBuf], out: &Path) {
    let profile = TempDir::new().unwrap();
    let output = Command::new(soffice)
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.path().display()
        ))
        .args(["--headless", "--norestore", "--convert-to", "fods"])
        .arg("--infilter=CSV:44,34,76,1,,1033,false,true")
        .arg("--outdir")
        .arg(out)
        .args(files)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "soffice failed: {}",
        text(&output.stderr)
    );
}

/// What LibreOffice made of one cell.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Empty,
    Float(f64),
    Date(String),
    Text(String),
    Other(String),
}

/// The text of a `text:p` element, spaces (`text:s`) included.
fn paragraph_text(node: roxmltree::Node) -> String {
    let mut out = String::new();
    for d in node.descendants() {
        if d.is_text() {
            out.push_str(d.text().unwrap_or(""));
        } else if d.tag_name().name() == "s" {
            let n: usize = d
                .attributes()
                .find(|a| a.name() == "c")
                .map_or(1, |a| a.value().parse().unwrap());
            out.push_str(&" ".repeat(n));
        }
    }
    out
}

/// The cells of the first sheet of a flat ODS file, row by row (repeated
/// rows and cells expanded, up to `width` columns).
fn sheet(path: &Path, width: usize) -> Vec<Vec<Cell>> {
    let xml = fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let attr = |n: roxmltree::Node, name: &str| {
        n.attributes()
            .find(|a| a.name() == name)
            .map(|a| a.value().to_string())
    };
    let table = doc
        .descendants()
        .find(|n| n.tag_name().name() == "table")
        .unwrap();
    let mut rows = Vec::new();
    for row in table
        .children()
        .filter(|n| n.tag_name().name() == "table-row")
    {
        let mut cells = Vec::new();
        for cell in row
            .children()
            .filter(|n| n.tag_name().name() == "table-cell")
        {
            let repeat: usize =
                attr(cell, "number-columns-repeated").map_or(1, |r| r.parse().unwrap());
            let value = match attr(cell, "value-type").as_deref() {
                None => Cell::Empty,
                Some("float") => Cell::Float(attr(cell, "value").unwrap().parse().unwrap()),
                Some("date") => Cell::Date(attr(cell, "date-value").unwrap()),
                Some("string") => Cell::Text(
                    cell.children()
                        .filter(|n| n.tag_name().name() == "p")
                        .map(paragraph_text)
                        .collect::<Vec<_>>()
                        .join("\n"),
                ),
                Some(other) => Cell::Other(other.to_string()),
            };
            for _ in 0..repeat.min(width.saturating_sub(cells.len())) {
                cells.push(value.clone());
            }
        }
        if cells.iter().all(|c| *c == Cell::Empty) {
            continue; // Trailing empty rows.
        }
        let repeat: usize = attr(row, "number-rows-repeated").map_or(1, |r| r.parse().unwrap());
        for _ in 0..repeat {
            rows.push(cells.clone());
        }
    }
    rows
}

/// A plain decimal number as sweep writes them (no exponent, no sign but `-`).
fn is_decimal(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let frac = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks every cell of the CSV `csv_path` against the spreadsheet's
/// reading of it; returns the problems found.
fn check(csv_path: &Path, fods: &Path) -> Vec<String> {
    let Table { header, rows } = Table::read(csv_path);
    let sheet = sheet(fods, header.len());
    let name = csv_path.file_name().unwrap().to_string_lossy();
    let mut problems = Vec::new();
    if sheet.len() != rows.len() + 1 {
        problems.push(format!(
            "{name}: {} rows in the spreadsheet, {} in the CSV",
            sheet.len(),
            rows.len() + 1
        ));
        return problems;
    }
    for (col, h) in header.iter().enumerate() {
        if sheet[0][col] != Cell::Text(h.clone()) {
            problems.push(format!("{name}: header {h:?} read as {:?}", sheet[0][col]));
        }
    }
    for (r, row) in rows.iter().enumerate() {
        for (col, cell) in row.iter().enumerate() {
            let got = &sheet[r + 1][col];
            let column = &header[col];
            let ok = match got {
                _ if cell.is_empty() => *got == Cell::Empty,
                Cell::Date(d) if column.ends_with("_utc") => *d == cell.replacen(' ', "T", 1),
                Cell::Float(x) if is_decimal(cell) && column != "run_id" => {
                    let want: f64 = cell.parse().unwrap();
                    // Spreadsheets keep 15 significant digits; sweep writes no more.
                    format!("{x:.14e}") == format!("{want:.14e}")
                }
                Cell::Text(t) if !is_decimal(cell) && !column.ends_with("_utc") => t == cell,
                _ => false,
            };
            if !ok {
                problems.push(format!(
                    "{name} row {} column {column}: {cell:?} read as {got:?}",
                    r + 2
                ));
            }
        }
    }
    problems
}

#[test]
#[ignore = "needs LibreOffice (apt-get install libreoffice-calc-nogui); cargo test -- --ignored runs it"]
fn the_result_tables_open_in_libreoffice_with_every_cell_of_the_right_type() {
    let Some(soffice) = libreoffice() else {
        return;
    };
    // A real sweep with every kind of cell: finished, diverged (empty
    // cells) and failed runs (an error text), seeds as a list and a range.
    let sb = Sandbox::new();
    let experiment = "name = \"sheet\"\n[data]\ntrain_subset = 300\n[model]\nhidden_size = 16\n\
         [train]\nepochs = 2\nbatch_size = 50\n[grid]\nlearning_rate = [0.1, 5000, 0.05]\n\
         seed = { count = 4 }\n[compare]\nbaseline = { learning_rate = 0.1 }\n";
    let file = sb.write("sheet.toml", experiment);
    let exp = sweep::config::Experiment::load(&file).unwrap();
    let failing = exp.runs[1].id.clone();
    let out = sweep()
        .env("SWEEP_TEST_FAIL", &failing)
        .args(["run", "--quiet", "--out"])
        .arg(sb.out())
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let results = sb.out().join("sheet");
    let runs = fs::read_to_string(results.join("runs.csv")).unwrap();
    assert!(
        runs.contains(",diverged,") && runs.contains(",failed,"),
        "{runs}"
    );
    // lr 5000 and 0.05 against the baseline lr 0.1, in gap and test
    // accuracy; the failed run leaves the baseline 3 seeds, so the tests
    // are Welch's.
    let compared = fs::read_to_string(results.join("compare.csv")).unwrap();
    assert_eq!(compared.lines().count(), 5, "{compared}");
    assert!(compared.contains(",welch,"), "{compared}");

    // Ids over many settings: the current ones, and sweep 0.1's, some of
    // which a spreadsheet takes for numbers (so the check can see it).
    let mut ids = String::from("current,old\n");
    for seed in 0..20_000 {
        let params = RunParams {
            seed,
            ..RunParams::default()
        };
        ids += &format!(
            "{},{}\n",
            run_id("mnist", &params),
            legacy_run_id("mnist", &params).expect("a setting sweep 0.1 had")
        );
    }
    let ids_path = sb.path().join("ids.csv");
    fs::write(&ids_path, ids).unwrap();

    let files: Vec<PathBuf> = ["runs.csv", "epochs.csv", "summary.csv", "compare.csv"]
        .iter()
        .map(|f| results.join(f))
        .chain([ids_path.clone()])
        .collect();
    let converted = TempDir::new().unwrap();
    to_fods(&soffice, &files, converted.path());
    let fods = |csv: &Path| {
        converted
            .path()
            .join(csv.file_stem().unwrap())
            .with_extension("fods")
    };
    let mut problems = Vec::new();
    for csv in &files[..4] {
        problems.extend(check(csv, &fods(csv)));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Every current id is text, unchanged; of the old ones, some were not.
    let sheet = sheet(&fods(&ids_path), 2);
    let mut old_kinds: HashMap<&str, usize> = HashMap::new();
    for row in &sheet[1..] {
        assert!(
            matches!(&row[0], Cell::Text(t) if t.starts_with('r') && t.len() == 13),
            "{row:?}"
        );
        *old_kinds
            .entry(match row[1] {
                Cell::Text(_) => "text",
                Cell::Float(_) => "number",
                _ => "other",
            })
            .or_default() += 1;
    }
    assert_eq!(sheet.len(), 20_001);
    assert!(
        old_kinds.get("number").copied().unwrap_or(0) > 10,
        "sweep 0.1's ids include numbers to LibreOffice: {old_kinds:?}"
    );
}
