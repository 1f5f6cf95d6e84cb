"""What the peers share: a heavyball config read into a sweep (data shape, iterations, the
grid), the synthetic data, the initialisation, and the useful flop count. Only synthetic data
is supported: the peers measure speed, so they need the shape of the problem, not its bytes.

The data and initial points follow heavyball's recipe (X ~ N(0, 1), y = argmax(X·A + noise·E),
A ~ N(0, 1/p); W ~ N(0, 1/p), V ~ N(0, 1/M), b = c = 0) but not its random streams, so the
numbers differ from heavyball's while the work is the same.
"""
import math
import tomllib
from dataclasses import dataclass

import numpy as np


@dataclass
class Sweep:
    n: int
    p: int
    k: int
    iterations: int
    hidden: list
    gammas: list
    alphas: list
    seeds: list
    data_seed: int = 0
    noise: float = 0.5
    objective: str = "sum"

    def points(self):
        """The grid in heavyball's order: M slowest, then γ, α, and the seed fastest."""
        return [(m, g, a, s) for m in self.hidden for g in self.gammas for a in self.alphas for s in self.seeds]

    def flops(self) -> float:
        """Useful flops of the whole sweep: 4NpM + 6NMK per run and iteration."""
        per_m = len(self.gammas) * len(self.alphas) * len(self.seeds)
        return sum(per_m * self.iterations * (4 * self.n * self.p * m + 6 * self.n * m * self.k) for m in self.hidden)


def values(entry) -> list:
    """A grid list, or a log range {from, to, per_decade} expanded as heavyball does: from·r^i
    up to `to` with r = 10^(1/per_decade), each rounded to three significant digits."""
    if isinstance(entry, list):
        return [float(v) for v in entry]
    start, stop, per_decade = entry["from"], entry["to"], entry["per_decade"]
    steps = math.floor(math.log10(stop / start) * per_decade + 1e-9)
    out = []
    for i in range(steps + 1):
        value = float(f"{start * 10 ** (i / per_decade):.2e}")
        if not out or out[-1] != value:
            out.append(value)
    return out


def from_config(path: str) -> Sweep:
    with open(path, "rb") as f:
        config = tomllib.load(f)
    synthetic = config.get("data", {}).get("synthetic")
    if synthetic is None:
        raise SystemExit(f"{path}: the peers need [data.synthetic] data")
    grid, train = config["grid"], config["train"]
    return Sweep(
        n=synthetic["samples"],
        p=synthetic["features"],
        k=synthetic["classes"],
        iterations=train["iterations"],
        hidden=[int(m) for m in grid["hidden"]],
        gammas=values(grid["gamma"]),
        alphas=values(grid["alpha"]),
        seeds=[int(s) for s in grid.get("seed", [0])],
        data_seed=synthetic.get("seed", 0),
        noise=synthetic.get("noise", 0.5),
        objective=train.get("objective", "sum"),
    )


def add_arguments(parser) -> None:
    """--config FILE, or the sweep's shape given one by one."""
    parser.add_argument("--config", help="a heavyball config with [data.synthetic] data")
    for name, kind in [("n", int), ("p", int), ("k", int), ("iters", int)]:
        parser.add_argument(f"--{name}", type=kind)
    parser.add_argument("--hidden", type=int, nargs="+")
    parser.add_argument("--gammas", type=float, nargs="+")
    parser.add_argument("--alphas", type=float, nargs="+")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])


def from_arguments(args) -> Sweep:
    if args.config:
        return from_config(args.config)
    missing = [k for k in ("n", "p", "k", "iters", "hidden", "gammas", "alphas") if getattr(args, k) is None]
    if missing:
        raise SystemExit("give --config FILE or all of --" + ", --".join(missing))
    return Sweep(args.n, args.p, args.k, args.iters, args.hidden, args.gammas, args.alphas, args.seeds)


def data(sweep: Sweep, dtype):
    """The teacher problem: X ~ N(0, 1) (n×p), y = argmax(X·A + noise·E) with A ~ N(0, 1/p)."""
    rng = np.random.default_rng(sweep.data_seed)
    x = rng.standard_normal((sweep.n, sweep.p))
    teacher = rng.standard_normal((sweep.p, sweep.k)) / math.sqrt(sweep.p)
    y = np.argmax(x @ teacher + sweep.noise * rng.standard_normal((sweep.n, sweep.k)), axis=1)
    return x.astype(dtype), y.astype(np.int32)


def init(p: int, m: int, k: int, seed: int, dtype):
    """θ⁰ = (W, b, V, c): W ~ N(0, 1/p), V ~ N(0, 1/M), b = c = 0, seeded by (M, seed)."""
    rng = np.random.default_rng([m, seed])
    w = rng.standard_normal((m, p)) / math.sqrt(p)
    v = rng.standard_normal((k, m)) / math.sqrt(m)
    return tuple(a.astype(dtype) for a in (w, np.zeros(m), v, np.zeros(k)))
