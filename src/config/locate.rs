//! Pointing at the place in an experiment file a message is about (line and
//! column of a key), and suggesting the nearest valid name for a typo.

use toml::de::{DeTable, DeValue};

/// Which part of a `key = value` pair a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The key (e.g. an unknown name).
    Key,
    /// The value (e.g. out of range).
    Value,
}

/// 1-based line and column of the key at `path` (e.g. `["grid", "lambda"]`)
/// or of its value; a table is always pointed at by its key.
pub fn position(text: &str, path: &[&str], part: Part) -> Option<(usize, usize)> {
    let root = DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut span = None;
    for (i, name) in path.iter().enumerate() {
        let (key, value) = table.iter().find(|(k, _)| k.get_ref() == name)?;
        let last = i + 1 == path.len();
        let on_value = last && part == Part::Value && !value.get_ref().is_table();
        span = Some(if on_value { value.span() } else { key.span() });
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ if i + 1 == path.len() => {}
            _ => return None,
        }
    }
    span.map(|s| line_col(text, s.start))
}

/// 1-based line and column of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The key of the `key = value` pair whose value covers byte `offset`: the
/// nearest `name =` before it on the same line (`seed = { count = 1 }`
/// gives `count` for the 1), if any.
pub fn key_before(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..offset];
    let eq = before.rfind('=')?;
    let name = before[..eq].trim_end();
    let start = name
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .map_or(0, |i| i + 1);
    let key = &name[start..];
    (!key.is_empty()).then(|| key.to_string())
}

/// `" (did you mean `x`?)"` when a candidate is close to `typo`, else `""`.
/// Close means similar by Jaro–Winkler, or a few edits away for short names.
pub fn suggest<'a>(typo: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    candidates
        .into_iter()
        .map(|c| {
            let edits = strsim::damerau_levenshtein(typo, c);
            let close = edits <= (c.len() / 3).max(1);
            (
                strsim::jaro_winkler(typo, c) + if close { 1.0 } else { 0.0 },
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(String::new(), |(_, c)| format!(" (did you mean `{c}`?)"))
}

/// [`suggest`] for setting names: a short name sweep prints in progress
/// lines and plots (`lr`, `width`, `batch`) points to its setting when that
/// is one of `candidates`.
pub fn suggest_setting<'a>(typo: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    let short = super::Key::ALL.iter().find(|k| {
        let spec = k.spec();
        (spec.tag == typo || spec.short == typo) && candidates.contains(&k.name())
    });
    match short {
        Some(key) if key.name() != typo => format!(
            " (did you mean `{}`? `{typo}` is its short name in sweep's output)",
            key.name()
        ),
        _ => suggest(typo, candidates),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_of_a_value_is_found_on_its_line() {
        let text = "a = 1\nepochs = 99\n[grid]\nseed = { count = 7 }\n";
        assert_eq!(
            key_before(text, text.find("99").unwrap()).as_deref(),
            Some("epochs")
        );
        assert_eq!(
            key_before(text, text.find('7').unwrap()).as_deref(),
            Some("count")
        );
        assert_eq!(key_before(text, 0), None);
    }

    #[test]
    fn finds_nested_keys() {
        let text = "name = \"x\"\n\n[grid]\nlambda = [1, 2]\n";
        assert_eq!(
            position(text, &["grid", "lambda"], Part::Value),
            Some((4, 10))
        );
        assert_eq!(position(text, &["grid", "lambda"], Part::Key), Some((4, 1)));
        assert_eq!(position(text, &["grid"], Part::Value).map(|p| p.0), Some(3));
        assert_eq!(position(text, &["nope"], Part::Key), None);
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            suggest("lamda", ["lambda", "seed"]),
            " (did you mean `lambda`?)"
        );
        assert_eq!(suggest("nm", ["num", "log"]), " (did you mean `num`?)");
        assert_eq!(suggest("zzz", ["lambda", "seed"]), "");
    }

    #[test]
    fn short_names_from_the_output_point_to_their_setting() {
        let all = || super::super::Key::ALL.iter().map(|k| k.name());
        assert_eq!(
            suggest_setting("lr", all()),
            " (did you mean `learning_rate`? `lr` is its short name in sweep's output)"
        );
        assert!(suggest_setting("width", all()).contains("`hidden_size`"));
        assert_eq!(suggest_setting("lamda", all()), " (did you mean `lambda`?)");
        // Not offered where the setting is not allowed.
        assert_eq!(suggest_setting("lr", ["lambda", "seed"]), "");
    }
}
