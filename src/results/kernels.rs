//! Which GEMM kernels and instruction sets a folder's runs trained with,
//! and the note `sweep status` and the report give when they are not all
//! the same: a kernel gives other last bits on another instruction set (a
//! heterogeneous Slurm cluster, a folder resumed on another machine), and
//! a folder switched with `--switch-kernel` holds runs of both kernels.

use super::record::RunDone;

/// How many runs trained with each kernel label, the most used first (ties
/// by label), so that the same runs give the same list in any order.
pub fn kernel_counts<'a>(runs: impl IntoIterator<Item = &'a RunDone>) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for done in runs {
        let label = done.kernel_label();
        match counts.iter_mut().find(|(l, _)| l == label) {
            Some((_, n)) => *n += 1,
            None => counts.push((label.to_string(), 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

/// A sentence saying that the runs did not all train with one kernel on one
/// instruction set, or `None` when they did. A label without an
/// instruction set (records of sweep 0.3 and earlier say only
/// `matrixmultiply`) matches any of its kernel's.
pub fn kernel_note(counts: &[(String, usize)]) -> Option<String> {
    let mut families: Vec<&str> = counts
        .iter()
        .map(|(l, _)| l.split(['/', '+']).next().unwrap_or(l))
        .collect();
    families.sort_unstable();
    families.dedup();
    // The labels are distinct: more than one that names its instruction
    // set means more than one instruction set (or kernel).
    let with_isa = counts.iter().filter(|(l, _)| l.contains('/')).count();
    let mixed_kernels = families.len() > 1;
    if !mixed_kernels && with_isa <= 1 {
        return None;
    }
    let list: Vec<String> = counts
        .iter()
        .map(|(label, n)| format!("{n} with {label}"))
        .collect();
    let what = if mixed_kernels {
        "different GEMM kernels"
    } else {
        "different instruction sets"
    };
    Some(format!(
        "the runs of this folder trained with {what} ({}): their last bits differ from what one \
         kernel on one machine gives, their accuracy only within seed noise (runs.csv, column \
         kernel, says which is which)",
        list.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(labels: &[(&str, usize)]) -> Vec<(String, usize)> {
        labels.iter().map(|(l, n)| (l.to_string(), *n)).collect()
    }

    #[test]
    fn one_kernel_on_one_instruction_set_needs_no_note() {
        assert_eq!(kernel_note(&counts(&[("gemm/avx512", 8)])), None);
        // An old record's bare name matches its kernel's labels.
        assert_eq!(
            kernel_note(&counts(&[("matrixmultiply", 4), ("matrixmultiply/fma", 2)])),
            None
        );
        assert_eq!(kernel_note(&[]), None);
    }

    #[test]
    fn other_instruction_sets_or_kernels_are_named_with_their_counts() {
        let note = kernel_note(&counts(&[("gemm/avx512", 12), ("gemm/fma", 4)])).unwrap();
        assert!(note.contains("different instruction sets"), "{note}");
        assert!(
            note.contains("12 with gemm/avx512, 4 with gemm/fma"),
            "{note}"
        );
        let note = kernel_note(&counts(&[("matrixmultiply", 3), ("gemm/avx512", 1)])).unwrap();
        assert!(note.contains("different GEMM kernels"), "{note}");
    }
}
