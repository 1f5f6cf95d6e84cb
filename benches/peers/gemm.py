#!/usr/bin/env python3
"""The machine's practical ceiling for dense arithmetic: the rate of numpy's BLAS on a square
matrix product C = A·B (n = 4096 by default), measured the way the benchmark scripts pair it
with heavyball. Prints one JSON line per element type:

    {"dtype": "float32", "n": 4096, "reps": 3, "gflops_median": ..., "gflops_best": ...}
"""
import argparse
import json
import statistics
import time

import numpy as np


def rate(n: int, dtype: str, reps: int) -> dict:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    c = np.empty((n, n), dtype=dtype)
    np.matmul(a, b, out=c)  # the first call pays for threads and page faults
    seconds = []
    for _ in range(reps):
        start = time.perf_counter()
        np.matmul(a, b, out=c)
        seconds.append(time.perf_counter() - start)
    flops = 2.0 * n**3
    return {
        "dtype": dtype,
        "n": n,
        "reps": reps,
        "gflops_median": round(flops / statistics.median(seconds) / 1e9, 2),
        "gflops_best": round(flops / min(seconds) / 1e9, 2),
        "numpy": np.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096, help="matrix size (default 4096)")
    parser.add_argument("--reps", type=int, default=3, help="timed products (default 3)")
    parser.add_argument("--dtypes", nargs="+", default=["float32"], choices=["float32", "float64"])
    args = parser.parse_args()
    for dtype in args.dtypes:
        print(json.dumps(rate(args.n, dtype, args.reps)), flush=True)


if __name__ == "__main__":
    main()
