//! The network's one matrix product: a shape-checked, safe front to
//! `matrixmultiply::sgemm` over ndarray views. A transpose is a `.t()` view
//! (its strides swapped) and a partial batch a `.slice(s![..rows, ..])`
//! view, so no operand is ever copied.

use ndarray::{ArrayView2, ArrayViewMut2};

/// `C = alpha · A · B + beta · C` with `A` of shape `m × k`, `B` of shape
/// `k × n` and `C` of shape `m × n`, read through the views' own strides
/// (any layout, transposed views included), as ndarray's own
/// `general_mat_mul` calls matrixmultiply. With `beta == 0` the old
/// contents of `C` are ignored (NaN included), as BLAS promises.
///
/// # Panics
/// When the shapes do not fit together: a caller bug, never reachable from
/// user input because every array is sized from the model.
pub fn gemm(
    alpha: f32,
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    beta: f32,
    mut c: ArrayViewMut2<f32>,
) {
    let (m, k) = a.dim();
    let (k_b, n) = b.dim();
    let (m_c, n_c) = c.dim();
    assert!(
        k == k_b && m == m_c && n == n_c,
        "gemm: cannot multiply A ({m} × {k}) by B ({k_b} × {n}) into C ({m_c} × {n_c})"
    );
    if m == 0 || n == 0 {
        return;
    }
    let (rsa, csa) = (a.strides()[0], a.strides()[1]);
    let (rsb, csb) = (b.strides()[0], b.strides()[1]);
    let (rsc, csc) = (c.strides()[0], c.strides()[1]);
    // SAFETY: an ndarray view promises that every element it indexes,
    // `ptr + i·stride₀ + j·stride₁` for `i < rows` and `j < cols`, lies in
    // the memory it borrows (negative strides included, since `as_ptr` is
    // the first logical element). sgemm forms exactly those offsets for
    // A (m × k), B (k × n) and C (m × n), whose shapes were checked above to
    // be the views' own. `c` is a unique (mutable) borrow, so it does not
    // alias `a` or `b`, its elements do not overlap one another (ndarray
    // refuses such mutable views), and it is alive for the whole call.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            rsc,
            csc,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, s};

    /// `A · B` by the textbook triple loop.
    fn naive(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
        Array2::from_shape_fn((a.nrows(), b.ncols()), |(i, j)| {
            (0..a.ncols()).map(|p| a[[i, p]] * b[[p, j]]).sum()
        })
    }

    fn filled(rows: usize, cols: usize, f: fn(f32) -> f32) -> Array2<f32> {
        Array2::from_shape_fn((rows, cols), |(i, j)| f((i * cols + j) as f32))
    }

    fn assert_close(got: &Array2<f32>, want: &Array2<f32>, what: &str) {
        assert_eq!(got.dim(), want.dim(), "{what}");
        for (x, y) in got.iter().zip(want) {
            assert!((x - y).abs() < 1e-5, "{what}: {x} vs {y}");
        }
    }

    #[test]
    fn every_transpose_combination_matches_a_naive_product() {
        let (m, k, n) = (5, 7, 3);
        // Each operand stored as it is read and stored transposed.
        let a = filled(m, k, |x| (x * 0.37).sin());
        let a_stored_t = a.t().as_standard_layout().into_owned();
        let b = filled(k, n, |x| (x * 0.11).cos());
        let b_stored_t = b.t().as_standard_layout().into_owned();
        let want = naive(a.view(), b.view());
        for a_view in [a.view(), a_stored_t.t()] {
            for b_view in [b.view(), b_stored_t.t()] {
                let what = format!(
                    "A strides {:?}, B strides {:?}",
                    a_view.strides(),
                    b_view.strides()
                );
                let mut c = Array2::from_elem((m, n), f32::NAN);
                gemm(1.0, a_view, b_view, 0.0, c.view_mut());
                assert_close(&c, &want, &what);
            }
        }
    }

    #[test]
    fn leading_rows_of_a_batch_multiply_alone() {
        let a = filled(6, 4, |x| (x * 0.3).sin());
        let b = filled(4, 5, |x| (x * 0.7).cos());
        let mut c = Array2::from_elem((6, 5), f32::NAN);
        for rows in [0, 1, 4] {
            c.fill(f32::NAN);
            gemm(
                1.0,
                a.slice(s![..rows, ..]),
                b.view(),
                0.0,
                c.slice_mut(s![..rows, ..]),
            );
            let want = naive(a.slice(s![..rows, ..]), b.view());
            assert_close(
                &c.slice(s![..rows, ..]).to_owned(),
                &want,
                &format!("{rows} rows"),
            );
            assert!(
                c.slice(s![rows.., ..]).iter().all(|x| x.is_nan()),
                "rows below {rows} touched"
            );
        }
    }

    #[test]
    fn beta_accumulates_into_c() {
        let a = Array2::from_shape_vec((1, 2), vec![1.0, 2.0]).unwrap();
        let b = Array2::from_shape_vec((2, 1), vec![3.0, 4.0]).unwrap();
        let mut c = Array2::from_elem((1, 1), 10.0);
        gemm(2.0, a.view(), b.view(), 0.5, c.view_mut());
        assert_eq!(c[[0, 0]], 2.0 * 11.0 + 5.0);
    }

    #[test]
    #[should_panic(expected = "gemm: cannot multiply A (2 × 3) by B (2 × 3)")]
    fn mismatched_shapes_are_a_caller_bug() {
        let a = Array2::<f32>::zeros((2, 3));
        let mut c = Array2::<f32>::zeros((2, 3));
        gemm(1.0, a.view(), a.view(), 0.0, c.view_mut());
    }
}
