//! Criterion benchmarks of sweep's workload on real MNIST, with each GEMM
//! kernel this CPU can run: each GEMM shape of a training step of the
//! notebook's 784-200-200-10 network, one whole training step, one epoch
//! over a fixed stream of 50 batches, and the evaluation of 10 000 test
//! images.
//!
//!     cargo bench                         # full measurement
//!     cargo bench -- --test               # each benchmark once (CI smoke test)

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sweep::bench::step_shapes;
use sweep::config::RunParams;
use sweep::data::Dataset;
use sweep::nn::optim::{Optimizer, OptimizerSettings};
use sweep::nn::{Activations, Gradients, Init, Kernel, Mlp};
use sweep::train::{self, InputMap, evaluate};

const SIZES: [usize; 4] = [784, 200, 200, 10];
const BATCH: usize = 100;

fn mnist() -> Dataset {
    Dataset::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist"))
        .expect("the repository's data/mnist")
}

/// A batch of the first `BATCH` training images, scaled to [0, 1].
fn batch(data: &Dataset, acts: &mut Activations) -> Vec<u8> {
    let pixels = data.pixels();
    for (x, &b) in acts
        .input_mut()
        .iter_mut()
        .zip(&data.train.images[..BATCH * pixels])
    {
        *x = f32::from(b) / 255.0;
    }
    data.train.labels[..BATCH].to_vec()
}

/// The kernels this CPU can run.
fn kernels() -> impl Iterator<Item = Kernel> {
    Kernel::ALL.into_iter().filter(|k| k.available())
}

fn gemm_shapes(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm");
    for kernel in kernels() {
        for shape in step_shapes(&SIZES, BATCH) {
            let (a, b, mut out) = shape.operands();
            group.throughput(Throughput::Elements(shape.flops()));
            let id = format!(
                "{} {} {}x{}x{}",
                kernel.label(),
                shape.name,
                shape.m,
                shape.k,
                shape.n
            );
            group.bench_function(id, |bench| {
                bench.iter(|| shape.run(kernel, black_box(&a), black_box(&b), &mut out))
            });
        }
    }
    group.finish();
}

fn training_step(c: &mut Criterion) {
    let data = mnist();
    let mut group = c.benchmark_group("step");
    group.throughput(Throughput::Elements(
        BATCH as u64 * sweep::nn::mlp::train_flops_per_sample(&SIZES),
    ));
    for kernel in kernels() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut model = Mlp::new(&SIZES, Init::He, &mut rng).with_kernel(kernel);
        let mut acts = Activations::new(&SIZES, BATCH);
        let mut grads = Gradients::new(&model, BATCH);
        let mut optimizer = Optimizer::for_model(OptimizerSettings::sgd(0.001), &model);
        let labels = batch(&data, &mut acts);
        let id = format!(
            "forward+backward+update 784-200-200-10 batch 100, {}",
            kernel.label()
        );
        group.bench_function(id, |bench| {
            bench.iter(|| {
                model.forward(&mut acts, BATCH);
                let score = model.backward(&mut acts, &labels, &mut grads);
                optimizer.step(&mut model, &grads, 0.01);
                black_box(score)
            })
        });
    }
    group.finish();
}

fn epoch_and_evaluation(c: &mut Criterion) {
    let data = mnist();
    let params = RunParams {
        train_subset: Some(5000),
        epochs: 1,
        ..RunParams::default()
    };
    let mut group = c.benchmark_group("run");
    group.sample_size(10);
    let test: Vec<u32> = (0..data.test.len() as u32).collect();
    let map = InputMap::raw();
    for kernel in kernels() {
        // 50 steps over a seeded subset and order (the same batches every
        // time), plus the evaluation of the 5 000 + 10 000 images after it.
        let id = format!("epoch of 5000 images + evaluation, {}", kernel.label());
        group.bench_function(id, |bench| {
            bench.iter(|| train::train(&params, &data, kernel, &mut |_| {}, &|| false).unwrap())
        });
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let model = Mlp::new(&SIZES, Init::He, &mut rng).with_kernel(kernel);
        group.throughput(Throughput::Elements(
            test.len() as u64 * sweep::nn::mlp::eval_flops_per_sample(&SIZES),
        ));
        let id = format!("evaluation of 10000 test images, {}", kernel.label());
        group.bench_function(id, |bench| {
            bench.iter(|| evaluate(&model, &data.test, data.pixels(), &test, &map))
        });
    }
    group.finish();
}

criterion_group!(benches, gemm_shapes, training_step, epoch_and_evaluation);
criterion_main!(benches);
