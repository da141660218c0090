//! N runs at once, two ways: as threads of one process, the way `sweep run
//! --jobs N` trains them, and as N separate processes of one run each. The
//! processes share nothing but the machine, so their throughput is the
//! machine's own limit (memory bandwidth, clock under all-core load); what
//! the threads fall short of it is what sweep itself loses.
//!
//! Each process is this binary as `sweep bench … --as-worker`: it loads the
//! data, says `ready`, waits for a line on its stdin, trains one run and
//! prints its seconds. The clock starts when every process is ready, so
//! start-up and loading are not counted, as they are not for the threads.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;

use crate::config::RunParams;
use crate::data::Dataset;
use crate::nn::Kernel;
use crate::train;

/// What the worker prints once its data are loaded.
const READY: &str = "ready";

/// How long some runs at once took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Wall-clock seconds until the last run ended.
    pub wall: f64,
    /// Mean seconds a run spent training (its epochs, without evaluating).
    pub training: f64,
    /// Mean seconds a run spent evaluating.
    pub evaluating: f64,
}

/// `runs` runs of `params` with seeds `params.seed + first`, … at once on
/// a pool of `runs` threads, as a sweep's workers train them (a run's
/// evaluation spreads over the pool once some thread has no run left).
pub fn as_threads(
    params: &RunParams,
    data: &Dataset,
    kernel: Kernel,
    runs: usize,
    first: usize,
) -> Timing {
    let training = AtomicUsize::new(runs);
    let idle_threads = || training.load(Ordering::Relaxed) < runs;
    let train_one = |i: usize| {
        let params = RunParams {
            seed: params.seed + (first + i) as u64,
            ..params.clone()
        };
        let options = train::TrainOptions {
            idle_threads: Some(&idle_threads),
            ..train::TrainOptions::new(kernel)
        };
        let outcome = train::train_until(&params, data, &options, &mut |_| {}, &|| false)
            .unwrap_or_else(|_| unreachable!("nothing asks this run to stop"))
            .outcome;
        training.fetch_sub(1, Ordering::Relaxed);
        (outcome.train_seconds, outcome.eval_seconds)
    };
    let started = Instant::now();
    let each: Vec<(f64, f64)> = match rayon::ThreadPoolBuilder::new().num_threads(runs).build() {
        Ok(pool) => pool.install(|| (0..runs).into_par_iter().map(train_one).collect()),
        Err(_) => (0..runs).map(train_one).collect(),
    };
    let wall = started.elapsed().as_secs_f64();
    let n = each.len().max(1) as f64;
    Timing {
        wall,
        training: each.iter().map(|t| t.0).sum::<f64>() / n,
        evaluating: each.iter().map(|t| t.1).sum::<f64>() / n,
    }
}

/// `runs` processes, started as `worker` (a command line of this binary
/// ending in `--as-worker`) followed by their index, each training one run,
/// timed from the moment all of them have loaded their data.
pub fn as_processes(worker: &[String], runs: usize) -> Result<Timing> {
    let exe = std::env::current_exe().context("cannot find this program to start workers")?;
    let mut children: Vec<(Child, BufReader<ChildStdout>)> = Vec::new();
    for i in 0..runs {
        let mut child = Command::new(&exe)
            .args(worker)
            .arg(i.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        let out = child.stdout.take().context("worker without stdout")?;
        children.push((child, BufReader::new(out)));
    }
    let result = time_workers(&mut children);
    for (child, _) in &mut children {
        // Ends any worker left waiting after an error.
        let _ = child.kill();
        let _ = child.wait();
    }
    result
}

/// Waits until every worker is ready, starts them together and waits for
/// their answers.
fn time_workers(children: &mut [(Child, BufReader<ChildStdout>)]) -> Result<Timing> {
    let mut line = String::new();
    for (_, out) in children.iter_mut() {
        line.clear();
        out.read_line(&mut line)?;
        if line.trim() != READY {
            bail!("a worker process did not start (it said {:?})", line.trim());
        }
    }
    let started = Instant::now();
    for (child, _) in children.iter_mut() {
        let stdin = child.stdin.as_mut().context("worker without stdin")?;
        stdin.write_all(b"go\n")?;
        stdin.flush()?;
    }
    let (mut training, mut evaluating) = (0.0, 0.0);
    for (_, out) in children.iter_mut() {
        line.clear();
        out.read_line(&mut line)?;
        let answer: Vec<f64> = line
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()
            .filter(|v: &Vec<f64>| v.len() == 3)
            .with_context(|| format!("a worker process answered {:?}", line.trim()))?;
        training += answer[1];
        evaluating += answer[2];
    }
    let n = children.len().max(1) as f64;
    Ok(Timing {
        wall: started.elapsed().as_secs_f64(),
        training: training / n,
        evaluating: evaluating / n,
    })
}

/// The worker's side: says it is ready, waits for a line on stdin, trains
/// run `index` of the measurement (seed `params.seed + index`) alone and
/// prints its wall-clock, training and evaluation seconds.
pub fn serve_as_worker(
    params: &RunParams,
    data: &Dataset,
    kernel: Kernel,
    index: usize,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{READY}")?;
    out.flush()?;
    let mut go = String::new();
    std::io::stdin().lock().read_line(&mut go)?;
    let t = as_threads(params, data, kernel, 1, index);
    writeln!(out, "{} {} {}", t.wall, t.training, t.evaluating)?;
    Ok(())
}

/// N runs at once against one alone, as threads and as processes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Parallel {
    /// Runs at once.
    pub runs: usize,
    /// One run alone.
    pub alone: Timing,
    /// `runs` runs as threads of one process.
    pub threads: Timing,
    /// `runs` runs as separate processes, if they could be started.
    pub processes: Option<Timing>,
}

impl Parallel {
    /// Throughput of the threads over one run's: the speed-up.
    pub fn thread_speedup(&self) -> f64 {
        self.runs as f64 * self.alone.wall / self.threads.wall
    }

    /// Throughput of the processes over one run's.
    pub fn process_speedup(&self) -> Option<f64> {
        self.processes
            .map(|p| self.runs as f64 * self.alone.wall / p.wall)
    }

    /// Throughput of the threads over the processes': what sweep keeps of
    /// what the machine allows.
    pub fn threads_of_processes(&self) -> Option<f64> {
        self.processes.map(|p| p.wall / self.threads.wall)
    }
}
