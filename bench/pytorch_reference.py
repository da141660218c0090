#!/usr/bin/env python3
"""Train the same MLP as a sweep run with PyTorch, to compare accuracy.

Reads the same IDX files as sweep (data/mnist by default), builds the same
network (hidden_layers × hidden_size, ReLU, softmax cross-entropy), the same
initialisation scheme, plain SGD on the mean loss, weight decay ½λΣ‖W‖² on
weight matrices only (not biases), the same sampling schemes, and prints one
CSV row per epoch with the columns of sweep's epochs.csv. Random streams
differ from sweep's, so compare distributions over seeds, not single runs.

    pip install torch numpy
    python3 bench/pytorch_reference.py --init normal:0.01 --lr 0.1 \
        --weight-decay 0.001 --sampling replacement --epochs 20 --seed 0
"""

import argparse
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


def build(args):
    sizes = [784] + [args.hidden_size] * args.hidden_layers + [10]
    layers = []
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
    return torch.nn.Sequential(*layers)


@torch.no_grad()
def evaluate(model, x, y, chunk=1000):
    loss, correct = 0.0, 0
    for i in range(0, len(x), chunk):
        logits = model(x[i: i + chunk])
        loss += torch.nn.functional.cross_entropy(logits, y[i: i + chunk], reduction="sum").item()
        correct += (logits.argmax(1) == y[i: i + chunk]).sum().item()
    return loss / len(x), correct / len(x)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.path.join(os.path.dirname(__file__), "..", "data", "mnist"))
    p.add_argument("--train-subset", type=int, default=0, help="0 = all")
    p.add_argument("--hidden-layers", type=int, default=2)
    p.add_argument("--hidden-size", type=int, default=200)
    p.add_argument("--init", default="he")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.0, help="λ of ½λΣ‖W‖², weights only")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--sampling", choices=["shuffle", "replacement"], default="shuffle")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    x_train, y_train, x_test, y_test = load(args.data_dir)
    if args.train_subset:
        keep = torch.randperm(len(x_train), generator=gen)[: args.train_subset].sort().values
        x_train, y_train = x_train[keep], y_train[keep]
    model = build(args)
    weights = [m.weight for m in model if isinstance(m, torch.nn.Linear)]
    biases = [m.bias for m in model if isinstance(m, torch.nn.Linear)]
    # SGD's weight_decay adds λW to the gradient: the gradient of ½λΣ‖W‖².
    opt = torch.optim.SGD(
        [{"params": weights, "weight_decay": args.weight_decay}, {"params": biases, "weight_decay": 0.0}],
        lr=args.lr,
    )
    n, b = len(x_train), args.batch_size
    steps = max(n // b, 1)
    print("epoch,train_loss,train_acc,test_loss,test_acc,gap_acc,gap_loss,penalty,train_seconds,eval_seconds")
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(n, generator=gen) if args.sampling == "shuffle" else None
        for step in range(steps):
            if order is not None:
                idx = order[step * b: (step + 1) * b]
            else:
                idx = torch.randint(0, n, (b,), generator=gen)
            loss = torch.nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        train_seconds = time.perf_counter() - start
        start = time.perf_counter()
        train_loss, train_acc = evaluate(model, x_train, y_train)
        test_loss, test_acc = evaluate(model, x_test, y_test)
        eval_seconds = time.perf_counter() - start
        penalty = 0.5 * args.weight_decay * sum((w.detach() ** 2).sum().item() for w in weights)
        if not math.isfinite(train_loss):
            print(f"diverged in epoch {epoch}", file=sys.stderr)
            break
        print(
            f"{epoch},{train_loss},{train_acc},{test_loss},{test_acc},{train_acc - test_acc},"
            f"{test_loss - train_loss},{penalty},{train_seconds:.3f},{eval_seconds:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
