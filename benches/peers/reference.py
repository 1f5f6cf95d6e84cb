#!/usr/bin/env python3
"""heavyball's model and method in plain numpy, written from the formulas and nothing else: the
independent values the binary-level tests compare heavyball's curves with
(tests/cli/reference.rs). Reads a CSV (feature columns and an integer label column) and a run's
init.npz, trains full batch, and prints `iteration,loss` (the mean loss at θ^0 … θ^T):

    python3 reference.py iris.csv runs/<run>/init.npz --gamma 0.001 --alpha 0.3 --iterations 60

    f(x) = c + V·tanh(b + W·x)          L(y, f) = −f_y + log Σ_k exp(f_k)
    R(θ) = Σ_i L(y_i, f(x_i))           (or R/N with --objective mean)
    φ⁰ = 0;  φ^{r+1} = (1−α)φ^r + α∇R(θ^r);  θ^{r+1} = θ^r − γφ^{r+1}
"""
import argparse
import csv

import numpy as np


def loss_and_gradient(theta, x, y):
    """The mean loss over the samples and ∇ Σ_i L at θ = (W, b, V, c), by the chain rule."""
    w, b, v, c = theta
    h = np.tanh(x @ w.T + b)
    f = h @ v.T + c
    top = f.max(axis=1, keepdims=True)
    log_sum = top[:, 0] + np.log(np.exp(f - top).sum(axis=1))
    loss = np.mean(log_sum - f[np.arange(len(y)), y])
    g = np.exp(f - log_sum[:, None])
    g[np.arange(len(y)), y] -= 1
    d = (g @ v) * (1 - h * h)
    return loss, (d.T @ x, d.sum(axis=0), g.T @ h, g.sum(axis=0))


def train(theta, x, y, gamma, alpha, iterations, objective="sum"):
    """The mean loss at θ^0 … θ^T and θ^T."""
    scale = x.dtype.type(1.0 / len(y) if objective == "mean" else 1.0)
    gamma, alpha = x.dtype.type(gamma), x.dtype.type(alpha)
    phi = tuple(np.zeros_like(t) for t in theta)
    losses = []
    for _ in range(iterations):
        loss, grad = loss_and_gradient(theta, x, y)
        losses.append(loss)
        phi = tuple((1 - alpha) * q + alpha * (d * scale) for q, d in zip(phi, grad))
        theta = tuple(t - gamma * q for t, q in zip(theta, phi))
    losses.append(loss_and_gradient(theta, x, y)[0])
    return losses, theta


def load_csv(path, label="label"):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    j = header.index(label)
    x = np.array([[float(v) for i, v in enumerate(r) if i != j] for r in body])
    y = np.array([int(r[j]) for r in body])
    return x, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv")
    parser.add_argument("init", help="a run's init.npz (W, b, V, c in the run's precision)")
    parser.add_argument("--label", default="label")
    parser.add_argument("--gamma", type=float, required=True)
    parser.add_argument("--alpha", type=float, required=True)
    parser.add_argument("--iterations", type=int, required=True)
    parser.add_argument("--objective", choices=["sum", "mean"], default="sum")
    args = parser.parse_args()
    x, y = load_csv(args.csv, args.label)
    init = np.load(args.init)
    theta = tuple(init[k] for k in ("W", "b", "V", "c"))
    losses, _ = train(theta, x.astype(theta[0].dtype), y, args.gamma, args.alpha, args.iterations, args.objective)
    print("iteration,loss")
    for i, loss in enumerate(losses):
        print(f"{i},{float(loss)!r}")


if __name__ == "__main__":
    main()
