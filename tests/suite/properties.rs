//! Properties checked on random inputs (proptest): reading an experiment file
//! or an IDX file never panics whatever the bytes, and every refusal is a
//! bad-input error naming the file; a grid of distinct values expands to
//! exactly the product of its axes' lengths, each combination once, with
//! distinct run ids that do not depend on the order of the axes.
//!
//! Case counts are chosen so the whole file runs in a few seconds in the
//! (optimised) test profile; each property states its own. Failing inputs
//! are shrunk and printed, not saved to a regressions file.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};
use proptest::test_runner::Config;
use sweep::config::{Experiment, Key, MAX_RUNS};
use sweep::data::{IdxKind, parse_idx, read_idx};
use sweep::error::is_bad_input;
use tempfile::TempDir;

use crate::util::{gzip, idx, repo};

/// The name experiment texts are parsed under; every message must name it.
const FILE: &str = "exp/x.toml";

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Parses `text` and checks what must hold of any outcome: a refusal is bad
/// input naming the file; an accepted experiment has between 1 and
/// `MAX_RUNS` runs with distinct ids.
fn check_parse(text: &str) -> Result<(), TestCaseError> {
    match Experiment::parse(text, Path::new(FILE)) {
        Ok(exp) => {
            prop_assert!(!exp.runs.is_empty() && exp.runs.len() <= MAX_RUNS);
            let ids: HashSet<&str> = exp.runs.iter().map(|r| r.id.as_str()).collect();
            prop_assert_eq!(ids.len(), exp.runs.len(), "run ids repeat");
        }
        Err(err) => {
            let msg = format!("{err:#}");
            prop_assert!(is_bad_input(&err), "not bad input: {}", msg);
            prop_assert!(msg.contains(FILE), "does not name the file: {}", msg);
        }
    }
    Ok(())
}

// ------------------------------------------------------------ config text

/// The experiment files shipped in `experiments/`.
fn shipped_experiments() -> Vec<Vec<u8>> {
    let dir = repo().join("experiments");
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files.iter().map(|p| fs::read(p).unwrap()).collect()
}

/// Pieces of text likely to matter to the parser. No long digit strings:
/// a `count` or `num` of millions makes the parser allocate them all before
/// the run limit is checked (a known bug, kept out of these properties).
const TOKENS: &[&str] = &[
    "nan",
    "inf",
    "-inf",
    "-0.0",
    "1e308",
    "-",
    "0",
    "1",
    "7",
    ".",
    "=",
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\n",
    "#",
    " ",
    "[grid]",
    "[data]",
    "[model]",
    "[train]",
    "seed = 1\n",
    "lambda = [0, 0.1]\n",
    "zero = true",
    "log",
    "linear",
    "count",
    "start",
    "values",
    "dataset",
    "data_dir",
    "\u{e9}",
    "\u{feff}",
];

/// One edit of a file's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    Truncate(Index),
    Delete(Index, usize),
    Insert(Index, Vec<u8>),
    InsertToken(Index, &'static str),
    DuplicateLine(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1usize..24).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), prop::collection::vec(any::<u8>(), 1..6))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<Index>(), select(TOKENS)).prop_map(|(i, t)| Mutation::InsertToken(i, t)),
        any::<Index>().prop_map(Mutation::DuplicateLine),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len + 1) };
    match mutation {
        Mutation::FlipBit(i, bit) if !bytes.is_empty() => {
            let pos = i.index(bytes.len());
            bytes[pos] ^= 1 << bit;
        }
        Mutation::FlipBit(..) => {}
        Mutation::Truncate(i) => bytes.truncate(at(i, bytes.len())),
        Mutation::Delete(i, n) => {
            let start = at(i, bytes.len());
            let end = (start + n).min(bytes.len());
            bytes.drain(start..end);
        }
        Mutation::Insert(i, new) => {
            let pos = at(i, bytes.len());
            bytes.splice(pos..pos, new.iter().copied());
        }
        Mutation::InsertToken(i, token) => {
            let pos = at(i, bytes.len());
            bytes.splice(pos..pos, token.bytes());
        }
        Mutation::DuplicateLine(i) => {
            let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
            if !lines.is_empty() {
                let k = i.index(lines.len());
                let mut out = Vec::with_capacity(bytes.len() + lines[k].len());
                for (j, line) in lines.iter().enumerate() {
                    out.extend_from_slice(line);
                    if j == k {
                        out.extend_from_slice(line);
                    }
                }
                *bytes = out;
            }
        }
    }
}

/// A TOML value as text: numbers at the edges of their types, non-finite
/// floats, strings the settings accept and reject, booleans, dates.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (-3i64..300).prop_map(|n| n.to_string()),
        any::<f64>().prop_map(toml_float),
        (-1.0f64..2.0).prop_map(toml_float),
        select(
            &[
                "nan",
                "-nan",
                "inf",
                "-inf",
                "-0.0",
                "0.0",
                "1e300",
                "1.0",
                "100.0",
                "true",
                "false",
                "1979-05-27",
                "\"\"",
                "\"he\"",
                "\"xavier\"",
                "\"normal:0.01\"",
                "\"normal:-1\"",
                "\"normal:nan\"",
                "\"normal:\"",
                "\"shuffle\"",
                "\"replacement\"",
                "\"mnist\"",
                "\"fashion-mnist\"",
                "\"no/such/dir\"",
                "\"..\"",
                "\"a b\"",
            ][..]
        )
        .prop_map(str::to_string),
        "[a-z:./0-9 -]{0,10}".prop_map(|s| format!("{s:?}")),
    ]
}

/// TOML text of a float (Rust's `{:?}` is valid TOML for finite values).
fn toml_float(x: f64) -> String {
    match x {
        x if x.is_nan() => "nan".into(),
        x if x.is_infinite() => if x > 0.0 { "inf" } else { "-inf" }.into(),
        x => format!("{x:?}"),
    }
}

/// A small number, for `count`, `num` and `start` (see [`TOKENS`] on why
/// these stay small).
fn small() -> impl Strategy<Value = String> {
    prop_oneof![
        (-2i64..40).prop_map(|n| n.to_string()),
        (-2.0f64..40.0).prop_map(toml_float),
        select(
            &[
                "nan",
                "inf",
                "true",
                "\"3\"",
                "[1, 10]",
                "[0.001, 0.1]",
                "[]"
            ][..]
        )
        .prop_map(str::to_string),
    ]
}

/// A grid range table such as `{ log = [1e-3, 1e-1], num = 3 }`, valid or not.
fn range_table() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        select(&["values", "log", "linear", "num", "zero", "count", "start"][..])
            .prop_map(str::to_string),
        "[a-z]{1,5}",
    ];
    prop::collection::btree_map(key, small(), 0..4).prop_map(|entries| {
        let inner: Vec<String> = entries.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        format!("{{ {} }}", inner.join(", "))
    })
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => scalar(),
        2 => prop::collection::vec(scalar(), 0..5).prop_map(|v| format!("[{}]", v.join(", "))),
        2 => range_table(),
    ]
}

fn key_name() -> impl Strategy<Value = String> {
    let known: Vec<&'static str> = Key::ALL
        .iter()
        .map(|k| k.name())
        .chain(["name", "description", "dataset", "data_dir", "data", "grid"])
        .collect();
    prop_oneof![
        6 => select(known).prop_map(str::to_string),
        1 => "[a-z_]{1,12}",
    ]
}

/// A TOML document of known (and some unknown) keys with random values,
/// at the top level and in random tables.
fn document() -> impl Strategy<Value = String> {
    let line = || (key_name(), value()).prop_map(|(k, v)| format!("{k} = {v}\n"));
    let table = prop_oneof![
        select(&["data", "model", "train", "grid", "grid.lambda", "optimizer"][..])
            .prop_map(str::to_string),
        key_name(),
    ];
    let section = (table, prop::collection::vec(line(), 0..5))
        .prop_map(|(name, lines)| format!("[{name}]\n{}", lines.concat()));
    (
        prop::collection::vec(line(), 0..4),
        prop::collection::vec(section, 0..4),
    )
        .prop_map(|(top, sections)| format!("{}{}", top.concat(), sections.concat()))
}

proptest! {
    // 2 000 cases.
    #![proptest_config(config(2_000))]
    #[test]
    fn parsing_any_text_never_panics(text in any::<String>()) {
        check_parse(&text)?;
    }
}

proptest! {
    // 2 000 cases.
    #![proptest_config(config(2_000))]
    #[test]
    fn parsing_toml_like_text_never_panics(text in "[a-z_=\\[\\]{}., 0-9\"#\n+-]{0,80}") {
        check_parse(&text)?;
    }
}

proptest! {
    // 2 000 cases.
    #![proptest_config(config(2_000))]
    #[test]
    fn parsing_a_shipped_experiment_with_random_edits_never_panics(
        file in any::<Index>(),
        edits in prop::collection::vec(mutation(), 1..8),
    ) {
        let shipped = shipped_experiments();
        let mut bytes = shipped[file.index(shipped.len())].clone();
        for edit in &edits {
            apply(&mut bytes, edit);
        }
        // Invalid UTF-8 is refused when the file is read; parse what a
        // lenient reader would see.
        check_parse(&String::from_utf8_lossy(&bytes))?;
    }
}

proptest! {
    // 3 000 cases.
    #![proptest_config(config(3_000))]
    #[test]
    fn parsing_documents_of_known_keys_and_random_values_never_panics(text in document()) {
        check_parse(&text)?;
    }
}

// ------------------------------------------------------------ grid expansion

/// The values of one swept setting, as TOML text, and how many there are.
#[derive(Debug, Clone)]
struct AxisText {
    key: Key,
    toml: String,
    len: usize,
}

fn list(values: &[String]) -> String {
    format!("[{}]", values.join(", "))
}

/// Distinct floats in `lo..hi`, as TOML text.
fn distinct_floats(lo: f64, hi: f64) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(lo..hi, 1..7).prop_map(|mut xs| {
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        xs.into_iter().map(toml_float).collect()
    })
}

/// Distinct whole numbers in `range`, as TOML text.
fn distinct_ints(range: std::ops::RangeInclusive<u64>) -> impl Strategy<Value = Vec<String>> {
    prop::collection::btree_set(range, 1..7)
        .prop_map(|set| set.into_iter().map(|n| n.to_string()).collect())
}

/// Random distinct values for `key`, written as a list, a `values` table or
/// (for whole numbers) a `count` range.
fn axis(key: Key) -> BoxedStrategy<AxisText> {
    let as_list = move |values: Vec<String>, table: bool| AxisText {
        key,
        len: values.len(),
        toml: if table {
            format!("{{ values = {} }}", list(&values))
        } else {
            list(&values)
        },
    };
    let min = match key {
        Key::TrainSubset | Key::HiddenSize | Key::Epochs | Key::BatchSize => 1,
        _ => 0,
    };
    let values: BoxedStrategy<Vec<String>> = match key {
        Key::LearningRate => distinct_floats(1e-9, 10.0).boxed(),
        Key::Lambda => prop_oneof![
            distinct_floats(0.0, 1.0),
            distinct_floats(0.0, 1.0).prop_map(|mut v| {
                v.retain(|x| x != "0.0");
                v.insert(0, "0".into());
                v
            }),
        ]
        .boxed(),
        Key::Init => (
            subsequence(vec!["\"he\"", "\"xavier\""], 0..=2),
            prop::collection::btree_set(1u32..5000, 0..4),
        )
            .prop_filter("no init at all", |(named, sigmas)| {
                !named.is_empty() || !sigmas.is_empty()
            })
            .prop_map(|(named, sigmas)| {
                named
                    .into_iter()
                    .map(str::to_string)
                    .chain(
                        sigmas
                            .into_iter()
                            .map(|s| format!("\"normal:{}\"", toml_float(f64::from(s) / 1000.0))),
                    )
                    .collect()
            })
            .boxed(),
        Key::Sampling => subsequence(vec!["\"shuffle\"", "\"replacement\""], 1..=2)
            .prop_map(|v| v.into_iter().map(str::to_string).collect())
            .boxed(),
        // Whole numbers are bounded so every value is exact as a float.
        Key::DataSeed | Key::Seed => distinct_ints(0..=1u64 << 53).boxed(),
        Key::HiddenLayers => distinct_ints(min..=64).boxed(),
        _ => distinct_ints(min..=100_000).boxed(),
    };
    let listed = (values, any::<bool>()).prop_map(move |(v, table)| as_list(v, table));
    if matches!(
        key,
        Key::Init | Key::Sampling | Key::LearningRate | Key::Lambda
    ) {
        listed.boxed()
    } else {
        let counted = (1usize..7, min..50u64).prop_map(move |(count, start)| AxisText {
            key,
            len: count,
            toml: format!("{{ count = {count}, start = {start} }}"),
        });
        prop_oneof![3 => listed, 1 => counted].boxed()
    }
}

/// 1 to 4 distinct sweepable settings, each with random distinct values.
fn grid() -> impl Strategy<Value = Vec<AxisText>> {
    // The numeric and word settings this generator writes values for;
    // settings that apply only beside others (momentum) and structured ones
    // (`hidden`) have their own tests.
    let sweepable: Vec<Key> = [
        Key::TrainSubset,
        Key::Validation,
        Key::DataSeed,
        Key::HiddenLayers,
        Key::HiddenSize,
        Key::Init,
        Key::Epochs,
        Key::BatchSize,
        Key::LearningRate,
        Key::WarmupEpochs,
        Key::Lambda,
        Key::Sampling,
        Key::Seed,
    ]
    .to_vec();
    subsequence(sweepable, 1..=4)
        .prop_flat_map(|keys| keys.into_iter().map(axis).collect::<Vec<_>>())
        .prop_shuffle()
}

fn grid_text(axes: &[AxisText]) -> String {
    let lines: Vec<String> = axes
        .iter()
        .map(|a| format!("{} = {}\n", a.key.name(), a.toml))
        .collect();
    format!("[grid]\n{}", lines.concat())
}

proptest! {
    // 300 cases (grids of up to 6⁴ = 1 296 runs).
    #![proptest_config(config(300))]
    #[test]
    fn a_grid_expands_to_the_product_of_its_axes_with_distinct_run_ids(axes in grid()) {
        let text = grid_text(&axes);
        let exp = Experiment::parse(&text, Path::new(FILE))
            .map_err(|e| TestCaseError::fail(format!("{e:#}\n{text}")))?;
        let expected: usize = axes.iter().map(|a| a.len).product();
        prop_assert_eq!(exp.runs.len(), expected, "{}", text);

        let ids: HashSet<&str> = exp.runs.iter().map(|r| r.id.as_str()).collect();
        prop_assert_eq!(ids.len(), expected, "run ids repeat\n{}", text);
        let combinations: HashSet<Vec<String>> = exp
            .runs
            .iter()
            .map(|r| exp.swept.iter().map(|&k| r.params.text(k)).collect())
            .collect();
        prop_assert_eq!(combinations.len(), expected, "a combination repeats\n{}", text);

        // Shown in the order the file lists them.
        let keys: Vec<Key> = axes.iter().map(|a| a.key).collect();
        prop_assert_eq!(&exp.swept, &keys);

        // The same grid written in the opposite order gives the same runs.
        let reversed: Vec<AxisText> = axes.iter().rev().cloned().collect();
        let again = Experiment::parse(&grid_text(&reversed), Path::new(FILE)).unwrap();
        let order = |e: &Experiment| e.runs.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        prop_assert_eq!(order(&exp), order(&again));
    }
}

// ------------------------------------------------------------------ IDX

fn kind() -> impl Strategy<Value = IdxKind> {
    prop_oneof![Just(IdxKind::Labels), Just(IdxKind::Images)]
}

fn magic(kind: IdxKind) -> u32 {
    match kind {
        IdxKind::Labels => 0x0801,
        IdxKind::Images => 0x0803,
    }
}

/// Random bytes, or random bytes after a valid magic number (so the header
/// and size checks are reached too).
fn idx_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let tail = prop::collection::vec(any::<u8>(), 0..64);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        (select(&[0x0801u32, 0x0803][..]), tail).prop_map(|(magic, tail)| [
            magic.to_be_bytes().to_vec(),
            tail
        ]
        .concat()),
    ]
}

/// An IDX file of `kind` with small random dimensions and a payload that is
/// `extra` bytes longer (or shorter, down to none) than the header announces.
fn idx_file() -> impl Strategy<Value = (IdxKind, Vec<u32>, i64, u8)> {
    kind().prop_flat_map(|kind| {
        let ndims = if kind == IdxKind::Labels { 1 } else { 3 };
        (
            Just(kind),
            prop::collection::vec(0u32..6, ndims),
            -3i64..4,
            any::<u8>(),
        )
    })
}

proptest! {
    // 5 000 cases.
    #![proptest_config(config(5_000))]
    #[test]
    fn parsing_any_idx_bytes_never_panics(kind in kind(), bytes in idx_like_bytes()) {
        if let Err(msg) = parse_idx(&bytes, kind) {
            prop_assert!(!msg.is_empty());
        }
    }
}

proptest! {
    // 2 000 cases.
    #![proptest_config(config(2_000))]
    #[test]
    fn an_idx_file_is_accepted_exactly_when_its_size_matches_its_header(
        (kind, dims, extra, fill) in idx_file(),
    ) {
        let announced: usize = dims.iter().map(|&d| d as usize).product();
        let len = (announced as i64 + extra).max(0) as usize;
        let payload = vec![fill; len];
        let result = parse_idx(&idx(magic(kind), &dims, &payload), kind);
        let empty_image = kind == IdxKind::Images && (dims[1] == 0 || dims[2] == 0);
        if len == announced && !empty_image {
            let parsed = result.map_err(TestCaseError::fail)?;
            prop_assert_eq!(parsed.dims, dims.iter().map(|&d| d as usize).collect::<Vec<_>>());
            prop_assert_eq!(parsed.data, payload);
        } else {
            prop_assert!(result.is_err(), "accepted {:?} with {} bytes of data", dims, len);
        }
    }
}

proptest! {
    // 500 cases (each writes a file).
    #![proptest_config(config(500))]
    #[test]
    fn reading_any_file_as_idx_never_panics_and_names_the_file(
        kind in kind(),
        bytes in idx_like_bytes(),
        form in 0u8..4,
        cut in any::<Index>(),
    ) {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("file-idx-ubyte.gz");
        let on_disk = match form {
            0 => bytes.clone(),
            1 => gzip(&bytes),
            // A gzip file cut short.
            2 => { let gz = gzip(&bytes); gz[..cut.index(gz.len())].to_vec() }
            // The gzip magic number followed by garbage.
            _ => [vec![0x1f, 0x8b], bytes.clone()].concat(),
        };
        fs::write(&path, &on_disk).unwrap();
        match read_idx(&path, kind) {
            Ok((idx, _)) => {
                prop_assert!(form <= 1, "accepted a damaged gzip file");
                prop_assert_eq!(Ok(idx), parse_idx(&bytes, kind));
            }
            Err(err) => {
                let msg = format!("{err:#}");
                prop_assert!(is_bad_input(&err), "not bad input: {}", msg);
                prop_assert!(msg.contains(&path.display().to_string()), "{}", msg);
            }
        }
    }
}
