#!/usr/bin/env python3
"""Train the same MLP as a sweep run with PyTorch, to compare accuracy.

Reads the same IDX files as sweep (data/mnist by default), builds the same
network (hidden_layers × hidden_size, or the widths of --hidden, ReLU,
softmax cross-entropy or --loss mse), the same initialisation scheme, the
same input scaling and label noise, the same optimizer on the mean loss
(plain SGD by default), weight decay ½λΣ‖W‖² on weight matrices only (not
biases), the same learning-rate schedule, the same sampling schemes, and
prints one CSV row per epoch with the columns of sweep's epochs.csv.
Random streams differ from sweep's, so compare distributions over seeds,
not single runs.

Training settings (named after sweep's experiment-file settings) and what
they are in PyTorch:

    --optimizer sgd          torch.optim.SGD(lr)                 (default)
    --optimizer momentum     SGD(lr, momentum=μ, dampening=0)    μ: --momentum (0.9)
    --optimizer nesterov     SGD(lr, momentum=μ, nesterov=True)
    --optimizer adam         Adam(lr, betas=(β1, β2), eps)       --beta1 0.9 --beta2 0.999 --eps 1e-8
    --optimizer adamw        AdamW(lr, betas=(β1, β2), eps, weight_decay=λ)
    --weight-decay λ         on the weight matrices' param group only (biases: 0)
    --decay l2               weight_decay=λ of SGD/Adam: λW joins the gradient (default)
    --decay decoupled        w ← w·(1 − lr·λ) before each optimizer.step(), as AdamW does
                             internally; adamw always decays decoupled (its own
                             weight_decay=λ), so --optimizer adamw --decay l2 is refused
    --lr-schedule constant   no scheduler (ConstantLR(factor=1) after a warm-up)
    --lr-schedule step       StepLR(step_size=--lr-step-epochs, gamma=--lr-step-factor)
    --lr-schedule cosine     CosineAnnealingLR(T_max=E − W, eta_min=0)
    --warmup-epochs W        SequentialLR([LinearLR(start_factor=1/W, end_factor=1,
                             total_iters=W − 1), decay], milestones=[W])
    --hidden 500,300         hidden widths, input side first (overrides
                             --hidden-layers/--hidden-size)
    --validation N           hold out N training images (seeded, disjoint from the
                             training images) and print val_loss, val_acc
    --early-stopping-metric val_loss|val_acc, --patience P, --min-delta d
                             stop after P evaluations in a row without val_loss <
                             best − d (or val_acc > best + d); needs --validation
    --loss cross_entropy     F.cross_entropy(z, y) on the logits z             (default)
    --loss mse               F.mse_loss(z, onehot(y), reduction="sum") / batch, i.e.
                             10 × MSELoss()(z, onehot): squared error of the linear
                             outputs (no softmax), summed over the 10 outputs, mean
                             over examples; train_loss/test_loss/val_loss hold it
    --inputs raw             byte/255                                          (default)
    --inputs centered        Normalize(mean, 1) per pixel: minus the per-pixel mean
                             (float64) of the run's training images (after
                             --train-subset/--validation), also on validation and test
    --inputs standardized    Normalize(mean, sd) per pixel, sd the population (ddof=0)
                             standard deviation of the training images; sd < 1e-6 → 1
    --label-noise p          exactly round(p·n) (half up) of the n training images
                             (never validation or test) get another label; training
                             and train_loss/train_acc use these labels; adds the
                             columns train_acc_clean (training images against their
                             true labels) and noisy_fit (fraction of corrupted images
                             predicted as their corrupted label), empty when p = 0
    --label-noise-mode wrong_class   the new label is one of the 9 other classes (default)
    --label-noise-mode uniform       one of all 10 classes (may be the true one)
    --corruption-seed S      seeds its own torch.Generator, which picks the corrupted
                             images (randperm) and their labels (randint); default
                             --seed, the seed that picks --train-subset here (sweep's
                             default is its data_seed). Every stream is unchanged by it.
    --dropout p              torch.nn.Dropout(p) after every hidden layer's ReLU (never
                             on the logits); inverted scaling, kept units × 1/(1 − p)
    --input-dropout p        torch.nn.Dropout(p) on the input pixels, before the first
                             layer. With either rate > 0 the model is in model.train()
                             while training and model.eval() (nothing dropped) for every
                             evaluation: train/val/test metrics never drop; masks come
                             from torch's global stream (torch.manual_seed(--seed)).
                             Both 0 (the default): no Dropout modules at all
    --max-norm c             after every optimizer.step(), each unit's incoming weight
                             vector (a row of every Linear's (out, in) weight, the
                             output layer's too; not biases) longer than c is scaled
                             to length c: w.copy_(torch.renorm(w, p=2, dim=0,
                             maxnorm=c)) (renorm divides by norm + 1e-7); prints each
                             layer's largest row norm to stderr after training.
                             Default: no constraint

Schedulers step once per epoch, so the rate is constant within an epoch: epoch
e (1-based) trains at lr·e/W while e ≤ W, then with t = e − W − 1 at lr
(constant), lr·factor^⌊t/step_epochs⌋ (step) or lr·½(1 + cos(π·t/(E − W)))
(cosine), E the epochs. The script checks every epoch that the optimizer's
rate equals this formula (and stops if not) and prints it in the `lr` column.

    --runs N                 train N runs one after another in this process, seeds
                             --seed … --seed+N−1, loading the data once: how one worker
                             of a sweep loops over its runs (bench/speed.sh runs N such
                             processes side by side with `sweep run --jobs N`); with
                             N > 1 every row ends with a `seed` column

    pip install torch numpy
    python3 bench/pytorch_reference.py --init normal:0.01 --lr 0.1 \
        --weight-decay 0.001 --sampling replacement --epochs 20 --seed 0
    python3 bench/pytorch_reference.py --optimizer adamw --lr 0.001 \
        --weight-decay 0.01 --lr-schedule cosine --warmup-epochs 2 --epochs 20
"""

import argparse
import copy
import gzip
import math
import os
import sys
import time

import numpy as np
import torch


def read_idx(path):
    """An IDX file (gzip or raw) as a numpy array of uint8."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndims = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndims).reshape(dims)


def load(data_dir):
    def find(stem, nd):
        for name in (f"{stem}-idx{nd}-ubyte.gz", f"{stem}-idx{nd}-ubyte"):
            path = os.path.join(data_dir, name)
            if os.path.exists(path):
                return path
        sys.exit(f"no {stem} file in {data_dir}")

    x_train = read_idx(find("train-images", 3)).reshape(-1, 784)
    y_train = read_idx(find("train-labels", 1))
    x_test = read_idx(find("t10k-images", 3)).reshape(-1, 784)
    y_test = read_idx(find("t10k-labels", 1))
    to_x = lambda a: torch.from_numpy(a.astype(np.float32) / 255.0)
    to_y = lambda a: torch.from_numpy(a.astype(np.int64))
    return to_x(x_train), to_y(y_train), to_x(x_test), to_y(y_test)


def hidden_widths(args):
    """The hidden-layer widths: --hidden if given, else hidden_layers × hidden_size."""
    if args.hidden is None:
        return [args.hidden_size] * args.hidden_layers
    return [int(s) for s in args.hidden.split(",") if s.strip()]


def build(args):
    sizes = [784] + hidden_widths(args) + [10]
    layers = [torch.nn.Dropout(args.input_dropout)] if args.input_dropout > 0 else []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        linear = torch.nn.Linear(fan_in, fan_out)
        if args.init == "he":
            torch.nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        elif args.init == "xavier":
            torch.nn.init.xavier_normal_(linear.weight)
        else:
            sigma = float(args.init.split(":", 1)[1])
            torch.nn.init.normal_(linear.weight, 0.0, sigma)
        torch.nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
            if args.dropout > 0:
                layers.append(torch.nn.Dropout(args.dropout))
    return torch.nn.Sequential(*layers)


def make_optimizer(args, weights, biases):
    """The torch optimizer of --optimizer, with weight decay on the weights' group only."""
    # SGD's and Adam's weight_decay adds λW to the gradient: the gradient of
    # ½λΣ‖W‖². AdamW's shrinks the weights by lr·λ·W outside the update. With
    # --decay decoupled for the others, the training loop shrinks them itself.
    decay = args.weight_decay if args.decay == "l2" or args.optimizer == "adamw" else 0.0
    groups = [{"params": weights, "weight_decay": decay}, {"params": biases, "weight_decay": 0.0}]
    if args.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=args.lr)
    if args.optimizer == "momentum":
        return torch.optim.SGD(groups, lr=args.lr, momentum=args.momentum, dampening=0.0)
    if args.optimizer == "nesterov":
        return torch.optim.SGD(groups, lr=args.lr, momentum=args.momentum, nesterov=True)
    betas = (args.beta1, args.beta2)
    if args.optimizer == "adam":
        return torch.optim.Adam(groups, lr=args.lr, betas=betas, eps=args.eps)
    return torch.optim.AdamW(groups, lr=args.lr, betas=betas, eps=args.eps)


def make_scheduler(args, opt):
    """Torch's schedulers for --lr-schedule and --warmup-epochs, stepped once per epoch (None = constant rate)."""
    lrs = torch.optim.lr_scheduler
    w = args.warmup_epochs
    # W = 1 is LinearLR(start_factor=1, total_iters=0): one epoch at the full
    # rate, then the decay from its start.
    warmup = lrs.LinearLR(opt, start_factor=1.0 / w, end_factor=1.0, total_iters=w - 1) if w else None
    if args.lr_schedule == "step":
        decay = lrs.StepLR(opt, step_size=args.lr_step_epochs, gamma=args.lr_step_factor)
    elif args.lr_schedule == "cosine":
        # max(…, 1): with E ≤ W every epoch is warm-up and the decay never starts.
        decay = lrs.CosineAnnealingLR(opt, T_max=max(args.epochs - w, 1), eta_min=0.0)
    else:
        decay = lrs.ConstantLR(opt, factor=1.0) if w else None
    if warmup is None:
        return decay
    return lrs.SequentialLR(opt, [warmup, decay], milestones=[w])


def scheduled_lr(args, epoch):
    """The learning rate of epoch `epoch` (1-based), from the formula sweep uses."""
    w = args.warmup_epochs
    if epoch <= w:
        return args.lr * epoch / w
    t = epoch - w - 1
    if args.lr_schedule == "step":
        return args.lr * args.lr_step_factor ** (t // args.lr_step_epochs)
    if args.lr_schedule == "cosine":
        return args.lr * 0.5 * (1.0 + math.cos(math.pi * t / max(args.epochs - w, 1)))
    return args.lr


def summed_loss(kind, z, y):
    """The loss of --loss summed over the examples of z (mean = this / len(z))."""
    if kind == "mse":
        onehot = torch.nn.functional.one_hot(y, z.shape[1]).to(z.dtype)
        return torch.nn.functional.mse_loss(z, onehot, reduction="sum")
    return torch.nn.functional.cross_entropy(z, y, reduction="sum")


def input_statistics(kind, x):
    """Per-pixel (mean, sd) of --inputs over the training images x (float64), or None for raw."""
    if kind == "raw":
        return None
    x64 = x.double()
    mean = x64.mean(0)
    if kind == "centered":
        return mean.float(), None
    sd = x64.var(0, correction=0).sqrt()
    sd = torch.where(sd < 1e-6, torch.ones_like(sd), sd)
    return mean.float(), sd.float()


def normalize(x, stats):
    """x with the statistics of input_statistics applied, as transforms.Normalize does."""
    if stats is None or x is None:
        return x
    mean, sd = stats
    return x - mean if sd is None else (x - mean) / sd


def corrupt_labels(args, y):
    """(labels to train on, positions of the corrupted images) for --label-noise."""
    count = math.floor(args.label_noise * len(y) + 0.5)
    if count == 0:
        return y, None
    seed = args.seed if args.corruption_seed is None else args.corruption_seed
    cgen = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(len(y), generator=cgen)[:count].sort().values
    noisy = y.clone()
    if args.label_noise_mode == "uniform":
        noisy[chosen] = torch.randint(0, 10, (count,), generator=cgen)
    else:
        other = torch.randint(0, 9, (count,), generator=cgen)
        noisy[chosen] = other + (other >= y[chosen]).long()
    changed = (noisy != y).sum().item()
    assert len(chosen) == count and (args.label_noise_mode == "uniform" or changed == count)
    print(f"label noise: {count} of {len(y)} training labels corrupted ({args.label_noise_mode}, "
          f"corruption seed {seed}), {changed} differ from the true label", file=sys.stderr)
    return noisy, chosen


@torch.no_grad()
def evaluate(model, x, y, chunk=1000, loss_kind="cross_entropy", y_true=None):
    """Mean loss and accuracy against y (and, with y_true, the accuracy against it too).

    Runs in model.eval() (dropout off) and restores the model's mode after.
    """
    loss, correct, correct_true = 0.0, 0, 0
    was_training = model.training
    model.eval()
    try:
        for i in range(0, len(x), chunk):
            logits = model(x[i: i + chunk])
            loss += summed_loss(loss_kind, logits, y[i: i + chunk]).item()
            predicted = logits.argmax(1)
            correct += (predicted == y[i: i + chunk]).sum().item()
            if y_true is not None:
                correct_true += (predicted == y_true[i: i + chunk]).sum().item()
    finally:
        model.train(was_training)
    if y_true is not None:
        return loss / len(x), correct / len(x), correct_true / len(x)
    return loss / len(x), correct / len(x)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.path.join(os.path.dirname(__file__), "..", "data", "mnist"))
    p.add_argument("--train-subset", type=int, default=0, help="0 = all")
    p.add_argument("--hidden-layers", type=int, default=2)
    p.add_argument("--hidden-size", type=int, default=200)
    p.add_argument("--hidden", help="hidden widths, e.g. 500,300 (overrides --hidden-layers/--hidden-size)")
    p.add_argument("--init", default="he")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--optimizer", choices=["sgd", "momentum", "nesterov", "adam", "adamw"], default="sgd")
    p.add_argument("--momentum", type=float, default=0.9, help="μ of momentum and nesterov")
    p.add_argument("--beta1", type=float, default=0.9, help="Adam's β1")
    p.add_argument("--beta2", type=float, default=0.999, help="Adam's β2")
    p.add_argument("--eps", type=float, default=1e-8, help="Adam's ε")
    p.add_argument("--weight-decay", type=float, default=0.0, help="λ of ½λΣ‖W‖², weights only")
    p.add_argument("--decay", choices=["l2", "decoupled"], default=None,
                   help="how λ acts: l2 (λW joins the gradient; default) or decoupled "
                        "(w ← w·(1 − lr·λ) outside the update; always for adamw)")
    p.add_argument("--lr-schedule", choices=["constant", "step", "cosine"], default="constant")
    p.add_argument("--lr-step-epochs", type=int, default=10, help="epochs between steps of --lr-schedule step")
    p.add_argument("--lr-step-factor", type=float, default=0.1, help="factor of each step of --lr-schedule step")
    p.add_argument("--warmup-epochs", type=int, default=0, help="epochs of linear warm-up, e/W · lr")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--sampling", choices=["shuffle", "replacement"], default="shuffle")
    p.add_argument("--validation", type=int, default=0, help="training images held out for validation, 0 = none")
    p.add_argument("--early-stopping-metric", choices=["val_loss", "val_acc"], default=None,
                   help="stop early on this validation metric (default: never stop early)")
    p.add_argument("--patience", type=int, default=5, help="evaluations without improvement before stopping")
    p.add_argument("--min-delta", type=float, default=0.0, help="smallest change that counts as an improvement")
    p.add_argument("--loss", choices=["cross_entropy", "mse"], default="cross_entropy",
                   help="cross_entropy (softmax) or mse (squared error of the linear outputs against "
                        "one-hot targets, summed over outputs, mean over examples)")
    p.add_argument("--inputs", choices=["raw", "centered", "standardized"], default="raw",
                   help="byte/255 (raw), minus the training images' per-pixel mean (centered), "
                        "also divided by their per-pixel sd (standardized)")
    p.add_argument("--label-noise", type=float, default=0.0,
                   help="fraction of training images given another label (round(p·n) of them)")
    p.add_argument("--label-noise-mode", choices=["wrong_class", "uniform"], default="wrong_class",
                   help="new label: one of the 9 other classes (wrong_class) or of all 10 (uniform)")
    p.add_argument("--corruption-seed", type=int, default=None,
                   help="seed of the label corruption (default: --seed, which picks --train-subset)")
    p.add_argument("--dropout", type=float, default=0.0,
                   help="probability of dropping each hidden unit while training, in [0, 1)")
    p.add_argument("--input-dropout", type=float, default=0.0,
                   help="probability of dropping each input pixel while training, in [0, 1)")
    p.add_argument("--max-norm", type=float, default=None,
                   help="largest L2 norm of a unit's incoming weight vector (default: no constraint)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=1,
                   help="train this many runs one after another in this process, seeds --seed, "
                        "--seed+1, …, loading the data once (how one worker of a sweep loops over "
                        "its runs); with more than one, each row ends with its run's seed")
    args = p.parse_args()
    if args.optimizer == "adamw" and args.decay == "l2":
        p.error("--optimizer adamw always decays decoupled; drop --decay l2 (or use --optimizer adam)")
    if args.decay is None:
        args.decay = "decoupled" if args.optimizer == "adamw" else "l2"
    if args.hidden is not None:
        try:
            widths = hidden_widths(args)
        except ValueError:
            p.error(f"--hidden wants whole numbers separated by commas, got {args.hidden!r}")
        if any(n < 1 for n in widths):
            p.error(f"--hidden widths must be at least 1, got {args.hidden!r}")
    if args.lr_step_epochs < 1:
        p.error("--lr-step-epochs must be at least 1")
    if args.warmup_epochs < 0 or args.validation < 0:
        p.error("--warmup-epochs and --validation must not be negative")
    if args.early_stopping_metric is not None:
        if args.validation == 0:
            p.error("--early-stopping-metric watches a validation metric; give --validation N")
        if args.patience < 1 or args.min_delta < 0:
            p.error("--patience must be at least 1 and --min-delta not negative")
    if not 0.0 <= args.label_noise <= 1.0:
        p.error(f"--label-noise must be in [0, 1], got {args.label_noise}")
    for name in ("dropout", "input_dropout"):
        if not 0.0 <= getattr(args, name) < 1.0:
            p.error(f"--{name.replace('_', '-')} must be in [0, 1), got {getattr(args, name)}")
    if args.max_norm is not None and not args.max_norm > 0:
        p.error(f"--max-norm must be positive, got {args.max_norm}")
    if args.runs < 1:
        p.error(f"--runs must be at least 1, got {args.runs}")

    torch.set_num_threads(args.threads)
    data = load(args.data_dir)
    print("epoch,train_loss,train_acc,test_loss,test_acc,gap_acc,gap_loss,penalty,train_seconds,eval_seconds,"
          "lr,val_loss,val_acc,train_acc_clean,noisy_fit" + (",seed" if args.runs > 1 else ""))
    for seed in range(args.seed, args.seed + args.runs):
        one_run = copy.copy(args)
        one_run.seed = seed
        train_one(one_run, data, p, seed_column=args.runs > 1)


def train_one(args, data, p, seed_column):
    """Trains one run of `args` on `data` (load()'s four tensors) and prints a row per epoch."""
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    x_train, y_train, x_test, y_test = data
    x_val = y_val = None
    if args.train_subset or args.validation:
        # One seeded permutation: the training subset is its head (the same
        # images with or without --validation), the validation images the next
        # N; without --train-subset they are its head and the rest trains.
        if args.train_subset + args.validation > len(x_train):
            p.error(f"--train-subset + --validation exceed the {len(x_train)} training images")
        perm = torch.randperm(len(x_train), generator=gen)
        if args.train_subset:
            keep = perm[: args.train_subset].sort().values
            held = perm[args.train_subset: args.train_subset + args.validation].sort().values
        else:
            keep = perm[args.validation:].sort().values
            held = perm[: args.validation].sort().values
        if args.validation:
            x_val, y_val = x_train[held], y_train[held]
        x_train, y_train = x_train[keep], y_train[keep]
    # Statistics of the run's own training images, applied to every split.
    stats = input_statistics(args.inputs, x_train)
    x_train, x_val, x_test = (normalize(x, stats) for x in (x_train, x_val, x_test))
    # Its own generator: the corruption leaves every other random stream alone.
    y_true = y_train
    y_train, corrupted = corrupt_labels(args, y_true)
    model = build(args)
    weights = [m.weight for m in model if isinstance(m, torch.nn.Linear)]
    biases = [m.bias for m in model if isinstance(m, torch.nn.Linear)]
    opt = make_optimizer(args, weights, biases)
    scheduler = make_scheduler(args, opt)
    # Decoupled decay done by hand (AdamW does it itself).
    shrink = args.decay == "decoupled" and args.optimizer != "adamw" and args.weight_decay > 0
    best, waited = None, 0
    n, b = len(x_train), args.batch_size
    steps = max(n // b, 1)
    for epoch in range(1, args.epochs + 1):
        lr_now = opt.param_groups[0]["lr"]
        want = scheduled_lr(args, epoch)
        if not math.isclose(lr_now, want, rel_tol=1e-12, abs_tol=0.0):
            sys.exit(f"epoch {epoch}: the scheduler's learning rate {lr_now!r} is not the formula's {want!r}")
        start = time.perf_counter()
        order = torch.randperm(n, generator=gen) if args.sampling == "shuffle" else None
        model.train()
        for step in range(steps):
            if order is not None:
                idx = order[step * b: (step + 1) * b]
            else:
                idx = torch.randint(0, n, (b,), generator=gen)
            logits = model(x_train[idx])
            if args.loss == "mse":
                loss = summed_loss("mse", logits, y_train[idx]) / len(idx)
            else:
                loss = torch.nn.functional.cross_entropy(logits, y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if shrink:
                with torch.no_grad():
                    for w in weights:
                        w.mul_(1.0 - lr_now * args.weight_decay)
            opt.step()
            if args.max_norm is not None:
                with torch.no_grad():
                    for w in weights:
                        w.copy_(torch.renorm(w, p=2, dim=0, maxnorm=args.max_norm))
        if scheduler is not None:
            scheduler.step()
        train_seconds = time.perf_counter() - start
        start = time.perf_counter()
        if corrupted is None:
            train_loss, train_acc = evaluate(model, x_train, y_train, loss_kind=args.loss)
            train_acc_clean = noisy_fit = ""
        else:
            train_loss, train_acc, train_acc_clean = evaluate(
                model, x_train, y_train, loss_kind=args.loss, y_true=y_true)
            _, noisy_fit = evaluate(model, x_train[corrupted], y_train[corrupted], loss_kind=args.loss)
        test_loss, test_acc = evaluate(model, x_test, y_test, loss_kind=args.loss)
        val_loss, val_acc = (evaluate(model, x_val, y_val, loss_kind=args.loss)
                             if x_val is not None else ("", ""))
        eval_seconds = time.perf_counter() - start
        penalty = 0.5 * args.weight_decay * sum((w.detach() ** 2).sum().item() for w in weights)
        if not math.isfinite(train_loss):
            print(f"diverged in epoch {epoch}", file=sys.stderr)
            break
        print(
            f"{epoch},{train_loss},{train_acc},{test_loss},{test_acc},{train_acc - test_acc},"
            f"{test_loss - train_loss},{penalty},{train_seconds:.3f},{eval_seconds:.3f},"
            f"{lr_now},{val_loss},{val_acc},{train_acc_clean},{noisy_fit}"
            + (f",{args.seed}" if seed_column else ""),
            flush=True,
        )
        if args.early_stopping_metric is not None:
            if args.early_stopping_metric == "val_loss":
                improved = best is None or val_loss < best - args.min_delta
                value = val_loss
            else:
                improved = best is None or val_acc > best + args.min_delta
                value = val_acc
            best, waited = (value, 0) if improved else (best, waited + 1)
            if waited >= args.patience:
                print(f"early stop after epoch {epoch}: no {args.early_stopping_metric} improvement "
                      f"in {waited} evaluations", file=sys.stderr)
                break
    if args.max_norm is not None:
        norms = ", ".join(f"{w.detach().norm(dim=1).max().item():.7g}" for w in weights)
        print(f"max-norm {args.max_norm}: largest incoming-weight norm per layer (input side first): {norms}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
