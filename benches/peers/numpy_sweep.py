#!/usr/bin/env python3
"""heavyball's sweep as a numpy loop: every grid point trained one after the other (or over
--procs processes) with the matrix-form gradient of reference.py. Prints one JSON line:

    {"peer": "numpy", "runs": ..., "procs": ..., "sweep_s": ...}

    python3 numpy_sweep.py --config experiments/bench-a.toml --procs 2
"""
import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import sweep as peers
from reference import train


def one_run(job):
    sweep, dtype, (m, gamma, alpha, seed) = job
    x, y = peers.data(sweep, dtype)
    theta = peers.init(sweep.p, m, sweep.k, seed, dtype)
    losses, _ = train(theta, x, y, gamma, alpha, sweep.iterations, sweep.objective)
    return float(losses[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    peers.add_arguments(parser)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--procs", type=int, default=1, help="worker processes (default 1)")
    args = parser.parse_args()
    sweep = peers.from_arguments(args)
    jobs = [(sweep, args.dtype, point) for point in sweep.points()]
    started = time.perf_counter()
    if args.procs > 1:
        with ProcessPoolExecutor(args.procs) as pool:
            finals = list(pool.map(one_run, jobs))
    else:
        finals = [one_run(job) for job in jobs]
    sweep_s = time.perf_counter() - started
    print(
        json.dumps(
            {
                "peer": "numpy",
                "numpy": np.__version__,
                "dtype": args.dtype,
                "runs": len(jobs),
                "procs": args.procs,
                "sweep_s": round(sweep_s, 3),
                "gflops": round(sweep.flops() / sweep_s / 1e9, 2),
                "diverged": sum(not np.isfinite(f) for f in finals),
            }
        )
    )


if __name__ == "__main__":
    main()
