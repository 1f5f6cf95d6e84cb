#!/usr/bin/env python3
"""heavyball's sweep as a JAX user would write it: for each width M, one jitted function that
vmaps a whole training run over every (γ, α, seed) of the grid, the T heavy-ball steps inside
`lax.scan`, the backward pass written in matrix form. Full batch, float32 by default, on the
CPU unless told otherwise. Prints one JSON line:

    {"peer": "jax", "runs": ..., "sweep_s": all of it, "compile_s": ..., "run_s": the rest, ...}

    python3 jax_sweep.py --config experiments/bench-t.toml
    python3 jax_sweep.py --n 1500 --p 16 --k 4 --iters 1000 --hidden 4 8 16 --gammas 0.1 --alphas 1 0.5
"""
import argparse
import json
import os
import time

import sweep as peers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    peers.add_arguments(parser)
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = parser.parse_args()
    if args.device == "cpu":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    import jax.numpy as jnp
    import numpy as np

    if args.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    # True single precision on every device: no TF32 products on a GPU.
    jax.config.update("jax_default_matmul_precision", "highest")
    device = jax.devices(args.device)[0]
    sweep = peers.from_arguments(args)
    scale = 1.0 / sweep.n if sweep.objective == "mean" else 1.0

    def train(theta, gamma, alpha, x, onehot):
        """One run: T steps of φ ← (1−α)φ + α∇R, θ ← θ − γφ; the mean loss at every θ^r."""

        def loss_and_gradient(theta):
            w, b, v, c = theta
            h = jnp.tanh(x @ w.T + b)
            f = h @ v.T + c
            lse = jax.nn.logsumexp(f, axis=1, keepdims=True)
            loss = jnp.mean(lse[:, 0] - jnp.sum(f * onehot, axis=1))
            g = (jnp.exp(f - lse) - onehot) * scale
            d = (g @ v) * (1 - h * h)
            return loss, (d.T @ x, d.sum(0), g.T @ h, g.sum(0))

        def step(carry, _):
            theta, phi = carry
            loss, grad = loss_and_gradient(theta)
            phi = tuple((1 - alpha) * q + alpha * d for q, d in zip(phi, grad))
            theta = tuple(t - gamma * q for t, q in zip(theta, phi))
            return (theta, phi), loss

        phi = tuple(jnp.zeros_like(t) for t in theta)
        (theta, _), losses = jax.lax.scan(step, (theta, phi), None, length=sweep.iterations)
        return jnp.append(losses, loss_and_gradient(theta)[0])

    batched = jax.jit(jax.vmap(train, in_axes=(0, 0, 0, None, None)))
    started = time.perf_counter()
    x, y = peers.data(sweep, args.dtype)
    x = jax.device_put(x, device)
    onehot = jax.device_put(np.eye(sweep.k, dtype=args.dtype)[y], device)
    compile_s = run_s = 0.0
    finals = []
    for m in sweep.hidden:
        points = [q for q in sweep.points() if q[0] == m]
        inits = [peers.init(sweep.p, m, sweep.k, seed, args.dtype) for (_, _, _, seed) in points]
        theta = tuple(jax.device_put(np.stack([i[j] for i in inits]), device) for j in range(4))
        gamma = jax.device_put(np.array([q[1] for q in points], dtype=args.dtype), device)
        alpha = jax.device_put(np.array([q[2] for q in points], dtype=args.dtype), device)
        t = time.perf_counter()
        compiled = batched.lower(theta, gamma, alpha, x, onehot).compile()
        compile_s += time.perf_counter() - t
        t = time.perf_counter()
        losses = np.asarray(jax.block_until_ready(compiled(theta, gamma, alpha, x, onehot)))
        run_s += time.perf_counter() - t
        finals.extend(losses[:, -1].tolist())
    sweep_s = time.perf_counter() - started
    print(
        json.dumps(
            {
                "peer": "jax",
                "device": device.device_kind,
                "jax": jax.__version__,
                "dtype": args.dtype,
                "runs": len(sweep.points()),
                "sweep_s": round(sweep_s, 3),
                "compile_s": round(compile_s, 3),
                "run_s": round(run_s, 3),
                "gflops": round(sweep.flops() / sweep_s / 1e9, 2),
                "diverged": int(sum(not np.isfinite(f) for f in finals)),
            }
        )
    )


if __name__ == "__main__":
    main()
