//! The neural network: dense layers with ReLU, softmax cross-entropy, weight
//! decay and plain SGD, on ndarray arrays and views. This is the only code
//! that multiplies matrices, and every product goes through [`gemm::gemm`]
//! (matrixmultiply's sgemm).

pub mod dropout;
pub mod gemm;
pub mod init;
pub mod loss;
pub mod mlp;
pub mod optim;
pub mod schedule;

pub use init::Init;
pub use mlp::{Activations, Gradients, Mlp, parameter_count};
