//! A bounds-checked, safe front to `matrixmultiply::sgemm` for row-major
//! buffers, where a transpose is expressed by strides instead of a copy.

/// How a row-major operand is read by [`gemm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Read the stored matrix as it is.
    Plain,
    /// Read the stored matrix transposed (strides swapped, nothing copied).
    Transposed,
}

/// `C = alpha · op(A) · op(B) + beta · C` with `op(A)` of shape `m × k`,
/// `op(B)` of shape `k × n` and `C` of shape `m × n`, all row-major and
/// contiguous. With `beta == 0` the old contents of `C` are ignored (NaN
/// included), as BLAS promises.
///
/// # Panics
/// When a slice is shorter than its shape requires: a caller bug, never
/// reachable from user input because every buffer is sized from the model.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    op_a: Op,
    b: &[f32],
    op_b: Op,
    beta: f32,
    c: &mut [f32],
) {
    assert!(
        a.len() >= m * k,
        "gemm: A has {} elements, needs {}",
        a.len(),
        m * k
    );
    assert!(
        b.len() >= k * n,
        "gemm: B has {} elements, needs {}",
        b.len(),
        k * n
    );
    assert!(
        c.len() >= m * n,
        "gemm: C has {} elements, needs {}",
        c.len(),
        m * n
    );
    if m == 0 || n == 0 {
        return;
    }
    // Row-major `rows × cols` has strides (cols, 1); its transpose is read
    // with the strides swapped.
    let (rsa, csa) = match op_a {
        Op::Plain => (k, 1),
        Op::Transposed => (1, m),
    };
    let (rsb, csb) = match op_b {
        Op::Plain => (n, 1),
        Op::Transposed => (1, k),
    };
    // SAFETY: the asserts above guarantee that every index sgemm forms —
    // i·rsa + p·csa < m·k for A, p·rsb + j·csb < k·n for B, i·n + j < m·n for
    // C — lies inside the slices; `c` is a unique borrow, so it does not alias
    // `a` or `b`.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, k: usize, n: usize, a: &[f32], ta: Op, b: &[f32], tb: Op) -> Vec<f32> {
        let at = |i: usize, p: usize| match ta {
            Op::Plain => a[i * k + p],
            Op::Transposed => a[p * m + i],
        };
        let bt = |p: usize, j: usize| match tb {
            Op::Plain => b[p * n + j],
            Op::Transposed => b[j * k + p],
        };
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| at(i, p) * bt(p, j)).sum();
            }
        }
        c
    }

    #[test]
    fn every_transpose_combination_matches_a_naive_product() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        for ta in [Op::Plain, Op::Transposed] {
            for tb in [Op::Plain, Op::Transposed] {
                let mut c = vec![f32::NAN; m * n];
                gemm(m, k, n, 1.0, &a, ta, &b, tb, 0.0, &mut c);
                let want = naive(m, k, n, &a, ta, &b, tb);
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - y).abs() < 1e-5, "{ta:?} {tb:?}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn beta_accumulates_into_c() {
        let a = [1.0, 2.0];
        let b = [3.0, 4.0];
        let mut c = [10.0];
        gemm(1, 2, 1, 2.0, &a, Op::Plain, &b, Op::Plain, 0.5, &mut c);
        assert_eq!(c[0], 2.0 * 11.0 + 5.0);
    }
}
