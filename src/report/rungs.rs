//! The decisions of a successive-halving search, read back from its
//! `rungs.csv` for the report: per rung, the configurations ranked, the
//! ones promoted, and the best mean.

use std::path::Path;

use crate::files::{limits, read_bounded};
use crate::results::RUNGS_FILE;

/// One rung as the report shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rung {
    /// Hyperband's bracket s, or `None` for a search of one bracket (and in
    /// a `rungs.csv` written before brackets existed).
    pub bracket: Option<usize>,
    /// 1, 2, … within its bracket.
    pub rung: usize,
    /// Epochs its runs were trained to.
    pub epochs: usize,
    /// The metric ranked on (`val_acc`, `val_loss`).
    pub metric: String,
    /// Configurations ranked, best first: settings and mean.
    pub ranked: Vec<(String, Option<f64>)>,
    /// How many went on to the next rung.
    pub promoted: usize,
}

/// The rungs of the search whose results folder is `root`, or `None` when
/// it is not a halving search (or the file cannot be read).
pub fn read(root: &Path) -> Option<Vec<Rung>> {
    let bytes = read_bounded(&root.join(RUNGS_FILE), limits::GRID).ok()?;
    let mut reader = csv::Reader::from_reader(&bytes[..]);
    let header = reader.headers().ok()?.clone();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (rung, epochs, settings, metric, mean, promoted) = (
        col("rung")?,
        col("epochs")?,
        col("settings")?,
        col("metric")?,
        col("mean")?,
        col("promoted")?,
    );
    let bracket = col("bracket");
    let mut rungs: Vec<Rung> = Vec::new();
    for record in reader.records() {
        let r = record.ok()?;
        let number: usize = r[rung].parse().ok()?;
        let in_bracket = bracket.and_then(|b| r.get(b)?.parse().ok());
        if rungs
            .last()
            .is_none_or(|last| (last.bracket, last.rung) != (in_bracket, number))
        {
            rungs.push(Rung {
                bracket: in_bracket,
                rung: number,
                epochs: r[epochs].parse().ok()?,
                metric: r[metric].to_string(),
                ranked: Vec::new(),
                promoted: 0,
            });
        }
        let current = rungs.last_mut()?;
        let label = r[settings].strip_prefix('\'').unwrap_or(&r[settings]);
        current
            .ranked
            .push((label.to_string(), r[mean].parse().ok()));
        current.promoted += usize::from(&r[promoted] == "yes");
    }
    (!rungs.is_empty()).then_some(rungs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_are_grouped_with_their_promotions() {
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::write(
            dir.path().join(RUNGS_FILE),
            "rung,epochs,configuration,settings,seeds,metric,mean,ci95_low,ci95_high,rank,promoted\n\
             1,2,2,lambda=0.1,2,val_acc,0.9,,,1,yes\n\
             1,2,1,lambda=0,2,val_acc,0.8,,,2,no\n\
             2,6,2,lambda=0.1,2,val_acc,0.95,,,1,no\n",
        )
        .unwrap();
        let rungs = read(dir.path()).unwrap();
        assert_eq!(rungs.len(), 2);
        assert_eq!(rungs[0].promoted, 1);
        assert_eq!(rungs[0].ranked[1], ("lambda=0".to_string(), Some(0.8)));
        assert_eq!((rungs[1].epochs, rungs[1].promoted), (6, 0));
        assert!(read(&dir.path().join("nothing")).is_none());
    }

    #[test]
    fn hyperband_rungs_are_grouped_by_bracket() {
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::write(
            dir.path().join(RUNGS_FILE),
            "rung,epochs,configuration,settings,seeds,metric,mean,ci95_low,ci95_high,rank,promoted,bracket\n\
             1,2,1,lambda=0.1,2,val_acc,0.9,,,1,yes,1\n\
             1,2,2,lambda=0,2,val_acc,0.8,,,2,no,1\n\
             2,6,1,lambda=0.1,2,val_acc,0.95,,,1,no,1\n\
             1,6,3,lambda=0.2,2,val_acc,0.93,,,1,no,0\n",
        )
        .unwrap();
        let rungs = read(dir.path()).unwrap();
        let shape: Vec<(Option<usize>, usize, usize)> = rungs
            .iter()
            .map(|r| (r.bracket, r.rung, r.ranked.len()))
            .collect();
        assert_eq!(shape, [(Some(1), 1, 2), (Some(1), 2, 1), (Some(0), 1, 1)]);
    }
}
