//! The network's one matrix product and the kernels behind it: a
//! shape-checked, safe front over ndarray views that hands the product to
//! matrixmultiply (the reference kernel, whose bits are the same on every
//! x86-64 with AVX2 and FMA) or to the `gemm` crate (AVX-512 where the CPU
//! has it). A transpose is a `.t()` view (its strides swapped) and a
//! partial batch a `.slice(s![..rows, ..])` view, so no operand is ever
//! copied. Which kernel a run uses is chosen once per results folder and
//! recorded; nothing else in the network knows there is a choice.

use std::fmt;

use ndarray::{ArrayView2, ArrayViewMut2};

/// A GEMM kernel. Both compute the same products; they differ in speed and
/// in the order of their additions, so in the last bits of a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Kernel {
    /// matrixmultiply's sgemm (built without its AVX-512 kernel): the
    /// design card's kernel, the one every pinned number was made with, and
    /// the one results folders of sweep 0.3 and earlier were trained with.
    #[default]
    MatrixMultiply,
    /// The `gemm` crate, single-threaded: AVX-512 where the CPU has it,
    /// else AVX2 and FMA, else scalar code.
    Gemm,
}

impl Kernel {
    /// Every kernel, the reference first.
    pub const ALL: [Kernel; 2] = [Kernel::MatrixMultiply, Kernel::Gemm];

    /// The name used on the command line and in manifest.json.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::MatrixMultiply => "matrixmultiply",
            Kernel::Gemm => "gemm",
        }
    }

    /// The kernel called `name` (as [`Kernel::name`] writes it).
    pub fn from_name(name: &str) -> Option<Kernel> {
        Kernel::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The instruction set this kernel's code dispatches to on this CPU,
    /// by the kernel's own rule: `avx512`, `fma` (AVX2 and FMA), `avx`, or
    /// `generic`. `None` when the kernel cannot run here (the `gemm` crate
    /// on a CPU with AVX-512F or FMA but not the rest of that level, where
    /// its dispatch would stop the process).
    pub fn isa(self) -> Option<&'static str> {
        match self {
            Kernel::MatrixMultiply => Some(cpu::matrixmultiply_isa()),
            Kernel::Gemm => cpu::gemm_isa(),
        }
    }

    /// Whether this kernel can run on this CPU.
    pub fn available(self) -> bool {
        self.isa().is_some()
    }

    /// The kernel and the instruction set it runs here, e.g. `gemm/avx512`
    /// or `matrixmultiply/fma`: what manifest.json and runs.csv record.
    pub fn label(self) -> String {
        format!("{}/{}", self.name(), self.isa().unwrap_or("unavailable"))
    }

    /// `C = alpha · A · B + beta · C` with `A` of shape `m × k`, `B` of
    /// shape `k × n` and `C` of shape `m × n`, read through the views' own
    /// strides (any layout, transposed views included). With `beta == 0`
    /// the old contents of `C` are ignored (NaN included), as BLAS
    /// promises. The same kernel on the same operands gives the same bits
    /// on every call, whatever thread makes it.
    ///
    /// # Panics
    /// When the shapes do not fit together: a caller bug, never reachable
    /// from user input because every array is sized from the model.
    pub fn gemm(
        self,
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
        match self {
            // SAFETY: an ndarray view promises that every element it
            // indexes, `ptr + i·stride₀ + j·stride₁` for `i < rows` and
            // `j < cols`, lies in the memory it borrows (negative strides
            // included, since `as_ptr` is the first logical element). sgemm
            // forms exactly those offsets for A (m × k), B (k × n) and
            // C (m × n), whose shapes were checked above to be the views'
            // own. `c` is a unique (mutable) borrow, so it does not alias
            // `a` or `b`, its elements do not overlap one another (ndarray
            // refuses such mutable views), and it is alive for the whole
            // call.
            Kernel::MatrixMultiply => unsafe {
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
                )
            },
            Kernel::Gemm => {
                assert!(
                    self.available(),
                    "gemm: the gemm kernel cannot run on this CPU (checked before any run starts)"
                );
                // SAFETY: the same promises as above: `gemm::gemm` reads
                // A at `lhs + i·lhs_rs + p·lhs_cs` (i < m, p < k), B at
                // `rhs + p·rhs_rs + j·rhs_cs` (p < k, j < n) and writes C
                // at `dst + i·dst_rs + j·dst_cs` (i < m, j < n), offsets
                // inside the views checked above; it flips negative
                // strides itself. `Parallelism::None` keeps the product on
                // this thread. Its dispatch only reaches instructions this
                // CPU has: `available` checked every feature of the level
                // it picks. Its scaling is `dst = alpha·dst + beta·A·B`
                // (the names swapped from BLAS), and with `read_dst` false
                // it never reads C.
                unsafe {
                    gemm::gemm(
                        m,
                        n,
                        k,
                        c.as_mut_ptr(),
                        csc,
                        rsc,
                        beta != 0.0,
                        a.as_ptr(),
                        csa,
                        rsa,
                        b.as_ptr(),
                        csb,
                        rsb,
                        beta,
                        alpha,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    )
                }
            }
        }
    }
}

/// The kernel a user asks for (`kernel = "…"` in an experiment file,
/// `--kernel` on the command line): one by name, or `auto`, the faster on
/// this CPU (see [`super::calibrate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KernelRequest {
    /// Measure both on the network's training step and take the faster
    /// (for a results folder that already has a kernel: that one).
    #[default]
    Auto,
    /// This kernel.
    Use(Kernel),
}

/// The environment variable that names the kernel of new results folders
/// when neither `--kernel` nor the experiment file does (e.g. a lab that
/// wants the same bits on every machine sets `SWEEP_KERNEL=matrixmultiply`).
pub const KERNEL_ENV: &str = "SWEEP_KERNEL";

impl KernelRequest {
    /// The words a request may be written as.
    pub const WORDS: [&'static str; 3] = ["auto", "gemm", "matrixmultiply"];

    /// Reads `auto`, `gemm` or `matrixmultiply`; the error says what is
    /// allowed.
    pub fn parse(text: &str) -> Result<KernelRequest, String> {
        match (text, Kernel::from_name(text)) {
            ("auto", _) => Ok(KernelRequest::Auto),
            (_, Some(kernel)) => Ok(KernelRequest::Use(kernel)),
            _ => Err(format!(
                "unknown kernel {text:?}; the kernels are \"auto\" (the faster on this CPU), \
                 \"gemm\" and \"matrixmultiply\""
            )),
        }
    }
}

impl KernelRequest {
    /// The request in [`KERNEL_ENV`], if it is set; the error names the
    /// variable and what it may be.
    pub fn from_env() -> Result<Option<KernelRequest>, String> {
        match std::env::var(KERNEL_ENV) {
            Ok(text) => KernelRequest::parse(&text)
                .map(Some)
                .map_err(|why| format!("{KERNEL_ENV}={text:?}: {why}")),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!(
                "{KERNEL_ENV} is not UTF-8 text; set it to auto, gemm or matrixmultiply"
            )),
        }
    }
}

impl fmt::Display for KernelRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelRequest::Auto => f.write_str("auto"),
            KernelRequest::Use(kernel) => kernel.fmt(f),
        }
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `C = alpha · A · B + beta · C` with the reference kernel
/// ([`Kernel::MatrixMultiply`]); see [`Kernel::gemm`].
pub fn gemm(alpha: f32, a: ArrayView2<f32>, b: ArrayView2<f32>, beta: f32, c: ArrayViewMut2<f32>) {
    Kernel::MatrixMultiply.gemm(alpha, a, b, beta, c);
}

/// What each kernel's own dispatch picks on this CPU, by the same feature
/// tests the kernels make.
mod cpu {
    use std::sync::OnceLock;

    /// matrixmultiply 0.3 without its `avx512` feature: FMA with AVX2,
    /// else AVX, else its generic code.
    pub fn matrixmultiply_isa() -> &'static str {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("fma") && is_x86_feature_detected!("avx2") {
                return "fma";
            }
            if is_x86_feature_detected!("avx") {
                return "avx";
            }
        }
        "generic"
    }

    /// gemm 0.19 with `x86-v4`: AVX-512 when AVX-512F is present, else
    /// AVX2+FMA when FMA is present, else scalar. It then assumes the
    /// whole x86-64 level (v4 or v3) and would stop on a CPU that has the
    /// one feature without the others; such a CPU gets `None`.
    pub fn gemm_isa() -> Option<&'static str> {
        static ISA: OnceLock<Option<&'static str>> = OnceLock::new();
        *ISA.get_or_init(detect_gemm_isa)
    }

    fn detect_gemm_isa() -> Option<&'static str> {
        #[cfg(target_arch = "x86_64")]
        {
            macro_rules! all {
                ($($f:tt),+) => { $(is_x86_feature_detected!($f))&&+ };
            }
            let v3 = all!(
                "sse", "sse2", "fxsr", "sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "avx",
                "avx2", "bmi1", "bmi2", "fma", "lzcnt"
            );
            if is_x86_feature_detected!("avx512f") {
                let v4 = all!("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl");
                return (v3 && v4).then_some("avx512");
            }
            if is_x86_feature_detected!("fma") {
                return v3.then_some("fma");
            }
        }
        Some("generic")
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

    /// The kernels this CPU can run.
    fn kernels() -> impl Iterator<Item = Kernel> {
        Kernel::ALL.into_iter().filter(|k| k.available())
    }

    #[test]
    fn every_transpose_combination_matches_a_naive_product() {
        // Sizes past the kernels' register blocks and small-matrix paths.
        for (m, k, n) in [(5, 7, 3), (37, 29, 41), (1, 9, 6), (6, 9, 1)] {
            // Each operand stored as it is read and stored transposed.
            let a = filled(m, k, |x| (x * 0.37).sin());
            let a_stored_t = a.t().as_standard_layout().into_owned();
            let b = filled(k, n, |x| (x * 0.11).cos());
            let b_stored_t = b.t().as_standard_layout().into_owned();
            let want = naive(a.view(), b.view());
            for kernel in kernels() {
                for a_view in [a.view(), a_stored_t.t()] {
                    for b_view in [b.view(), b_stored_t.t()] {
                        let what = format!(
                            "{kernel}, {m}×{k}×{n}, A strides {:?}, B strides {:?}",
                            a_view.strides(),
                            b_view.strides()
                        );
                        let mut c = Array2::from_elem((m, n), f32::NAN);
                        kernel.gemm(1.0, a_view, b_view, 0.0, c.view_mut());
                        assert_close(&c, &want, &what);
                        // And into a C stored transposed.
                        let mut c_t = Array2::from_elem((n, m), f32::NAN);
                        kernel.gemm(1.0, a_view, b_view, 0.0, c_t.view_mut().reversed_axes());
                        assert_close(&c_t.t().to_owned(), &want, &format!("{what}, C transposed"));
                    }
                }
            }
        }
    }

    #[test]
    fn leading_rows_of_a_batch_multiply_alone() {
        let a = filled(6, 4, |x| (x * 0.3).sin());
        let b = filled(4, 5, |x| (x * 0.7).cos());
        for kernel in kernels() {
            let mut c = Array2::from_elem((6, 5), f32::NAN);
            for rows in [0, 1, 4] {
                c.fill(f32::NAN);
                kernel.gemm(
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
                    &format!("{kernel}, {rows} rows"),
                );
                assert!(
                    c.slice(s![rows.., ..]).iter().all(|x| x.is_nan()),
                    "{kernel}: rows below {rows} touched"
                );
            }
        }
    }

    #[test]
    fn beta_accumulates_into_c() {
        let a = Array2::from_shape_vec((1, 2), vec![1.0, 2.0]).unwrap();
        let b = Array2::from_shape_vec((2, 1), vec![3.0, 4.0]).unwrap();
        for kernel in kernels() {
            let mut c = Array2::from_elem((1, 1), 10.0);
            kernel.gemm(2.0, a.view(), b.view(), 0.5, c.view_mut());
            assert_eq!(c[[0, 0]], 2.0 * 11.0 + 5.0, "{kernel}");
        }
    }

    #[test]
    fn a_kernel_gives_the_same_bits_wherever_its_operands_lie() {
        // The training step's shapes, with operands copied to other
        // addresses (other alignments): a run's bits must not depend on
        // where the allocator put its arrays.
        let shapes = [
            (100, 784, 200),
            (784, 100, 200),
            (100, 200, 10),
            (1000, 784, 200),
        ];
        for kernel in kernels() {
            for (m, k, n) in shapes {
                let a = filled(m, k, |x| (x * 0.013).sin());
                let b = filled(k, n, |x| (x * 0.007).cos());
                let product = |offset: usize| {
                    let mut a_store = vec![0.0f32; offset + m * k];
                    a_store[offset..].copy_from_slice(a.as_slice().unwrap());
                    let a_moved = ArrayView2::from_shape((m, k), &a_store[offset..]).unwrap();
                    let mut b_store = vec![0.0f32; offset + k * n];
                    b_store[offset..].copy_from_slice(b.as_slice().unwrap());
                    let b_moved = ArrayView2::from_shape((k, n), &b_store[offset..]).unwrap();
                    let mut c = vec![f32::NAN; offset + m * n];
                    let c_view = ArrayViewMut2::from_shape((m, n), &mut c[offset..]).unwrap();
                    kernel.gemm(1.0, a_moved, b_moved, 0.0, c_view);
                    c[offset..]
                        .iter()
                        .map(|x| x.to_bits())
                        .collect::<Vec<u32>>()
                };
                let first = product(0);
                for offset in [1, 3, 8, 16] {
                    assert!(
                        product(offset) == first,
                        "{kernel} {m}×{k}×{n}, offset {offset}"
                    );
                }
            }
        }
    }

    #[test]
    fn kernels_have_names_and_labels() {
        for kernel in Kernel::ALL {
            assert_eq!(Kernel::from_name(kernel.name()), Some(kernel));
            assert!(kernel.label().starts_with(&format!("{}/", kernel.name())));
        }
        assert_eq!(Kernel::from_name("blas"), None);
        // The reference runs everywhere.
        assert!(Kernel::MatrixMultiply.available());
    }

    #[test]
    fn requests_read_their_three_words_and_refuse_others() {
        assert_eq!(KernelRequest::parse("auto"), Ok(KernelRequest::Auto));
        assert_eq!(
            KernelRequest::parse("gemm"),
            Ok(KernelRequest::Use(Kernel::Gemm))
        );
        assert_eq!(
            KernelRequest::parse("matrixmultiply"),
            Ok(KernelRequest::Use(Kernel::MatrixMultiply))
        );
        let refusal = KernelRequest::parse("mkl").unwrap_err();
        assert!(
            refusal.contains("\"mkl\"") && refusal.contains("\"gemm\""),
            "{refusal}"
        );
        for word in KernelRequest::WORDS {
            assert_eq!(KernelRequest::parse(word).unwrap().to_string(), word);
        }
    }

    #[test]
    #[should_panic(expected = "gemm: cannot multiply A (2 × 3) by B (2 × 3)")]
    fn mismatched_shapes_are_a_caller_bug() {
        let a = Array2::<f32>::zeros((2, 3));
        let mut c = Array2::<f32>::zeros((2, 3));
        gemm(1.0, a.view(), a.view(), 0.0, c.view_mut());
    }
}
