//! Helpers shared by the integration tests that compare whole sweeps.

use std::path::Path;

/// A CSV file without the wall-clock columns, rows sorted by run id: what
/// must be identical between any two sweeps of the same grid.
pub fn metrics(path: &Path) -> String {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().clone();
    let clock = ["seconds", "train_seconds", "eval_seconds", "finished_at"];
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !clock.contains(&&header[i]))
        .collect();
    let mut rows: Vec<String> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            keep.iter().map(|&i| &r[i]).collect::<Vec<_>>().join(",")
        })
        .collect();
    rows.sort();
    let head: Vec<&str> = keep.iter().map(|&i| &header[i]).collect();
    format!("{}\n{}", head.join(","), rows.join("\n"))
}
