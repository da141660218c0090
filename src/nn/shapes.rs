//! The matrix products of one training step of an MLP, as shapes that can
//! be set up and multiplied alone: what `sweep bench` times and what the
//! `auto` kernel choice ([`super::calibrate`]) is measured on.

use ndarray::Array2;

use super::gemm::Kernel;

/// One matrix product of a training step: `C (m × n) = op(A) · op(B)`,
/// where `op` reads a stored matrix as it is or through a `.t()` view.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// What it computes, e.g. `forward 1: X·W`.
    pub name: String,
    /// Rows of the result.
    pub m: usize,
    /// Inner dimension.
    pub k: usize,
    /// Columns of the result.
    pub n: usize,
    /// Whether A is stored `k × m` and read transposed.
    pub transpose_a: bool,
    /// Whether B is stored `n × k` and read transposed.
    pub transpose_b: bool,
}

impl Shape {
    /// Floating-point operations of one product.
    pub fn flops(&self) -> u64 {
        2 * (self.m * self.k * self.n) as u64
    }

    /// Arrays for A and B as stored (filled with 0.5 and 0.25) and for C.
    pub fn operands(&self) -> (Array2<f32>, Array2<f32>, Array2<f32>) {
        let stored = |rows, cols, transposed| {
            if transposed {
                (cols, rows)
            } else {
                (rows, cols)
            }
        };
        (
            Array2::from_elem(stored(self.m, self.k, self.transpose_a), 0.5),
            Array2::from_elem(stored(self.k, self.n, self.transpose_b), 0.25),
            Array2::zeros((self.m, self.n)),
        )
    }

    /// Computes `c = op(a) · op(b)` in this shape with `kernel`, on arrays
    /// as [`Shape::operands`] makes them.
    pub fn run(&self, kernel: Kernel, a: &Array2<f32>, b: &Array2<f32>, c: &mut Array2<f32>) {
        let a = if self.transpose_a { a.t() } else { a.view() };
        let b = if self.transpose_b { b.t() } else { b.view() };
        kernel.gemm(1.0, a, b, 0.0, c.view_mut());
    }
}

/// The GEMM shapes of one training step of a network with layer `sizes` on
/// minibatches of `batch`, as `Mlp::forward` and `Mlp::backward` call them.
pub fn step_shapes(sizes: &[usize], batch: usize) -> Vec<Shape> {
    let mut shapes = Vec::new();
    for (l, w) in sizes.windows(2).enumerate() {
        let (inputs, outputs) = (w[0], w[1]);
        shapes.push(Shape {
            name: format!("forward {}: H·W", l + 1),
            m: batch,
            k: inputs,
            n: outputs,
            transpose_a: false,
            transpose_b: false,
        });
    }
    for (l, w) in sizes.windows(2).enumerate().rev() {
        let (inputs, outputs) = (w[0], w[1]);
        shapes.push(Shape {
            name: format!("backward {}: Hᵀ·δ", l + 1),
            m: inputs,
            k: batch,
            n: outputs,
            transpose_a: true,
            transpose_b: false,
        });
        if l > 0 {
            shapes.push(Shape {
                name: format!("backward {}: δ·Wᵀ", l + 1),
                m: batch,
                k: outputs,
                n: inputs,
                transpose_a: false,
                transpose_b: true,
            });
        }
    }
    shapes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::mlp::train_flops_per_sample;

    #[test]
    fn the_step_of_the_notebook_network_has_eight_products() {
        let shapes = step_shapes(&[784, 200, 200, 10], 100);
        assert_eq!(shapes.len(), 8);
        let flops: u64 = shapes.iter().map(Shape::flops).sum();
        // The model's own count, per sample, times the batch.
        assert_eq!(flops, 100 * train_flops_per_sample(&[784, 200, 200, 10]));
        assert_eq!(shapes[3].name, "backward 3: Hᵀ·δ");
        assert_eq!((shapes[3].m, shapes[3].k, shapes[3].n), (200, 100, 10));
    }

    #[test]
    fn every_shape_of_a_step_multiplies_its_own_operands() {
        for kernel in Kernel::ALL.into_iter().filter(|k| k.available()) {
            for shape in step_shapes(&[7, 5, 3], 4) {
                let (a, b, mut c) = shape.operands();
                shape.run(kernel, &a, &b, &mut c);
                // 0.5 · 0.25 summed over the inner dimension.
                let want = 0.125 * shape.k as f32;
                assert!(c.iter().all(|&x| x == want), "{kernel}: {}", shape.name);
            }
        }
    }
}
