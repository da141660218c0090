//! The neural network: dense layers with ReLU, its losses, dropout,
//! initialisation, the optimizers and learning-rate schedules, on ndarray
//! arrays and views. This is the only code that multiplies matrices, and
//! every product goes through [`gemm::Kernel::gemm`] (matrixmultiply or the
//! `gemm` crate, chosen per results folder).

pub mod calibrate;
pub mod dropout;
pub mod gemm;
pub mod init;
pub mod loss;
pub mod measures;
pub mod mlp;
pub mod optim;
pub mod schedule;
pub mod shapes;

pub use gemm::{Kernel, KernelRequest};
pub use init::Init;
pub use mlp::{Activations, Gradients, Mlp, parameter_count};
