"""Ours against scikit-learn's Lloyd over a grid of K and d, in one run: the CPU bar of ≥ 2× scikit-learn at every K
from 16 to 4096 and d from 16 to 512.

Usage: [KS=16,256] /usr/bin/python3 bench/cpu_grid_vs_sklearn.py WORKDIR ENGINE [ROWS] [ITERATIONS] [REPEATS]
For each (K, d): ROWS x d float32 Gaussian blobs (K/4 + 1 centres from N(0, 16), unit noise) and K initial centroids
drawn from the rows, written once; then scikit-learn (lloyd), our fused kernel and our pruned Lloyd from those
centroids for ITERATIONS fixed iterations, rounds interleaved, each in its own process. Prints a Markdown table of
the best ms per iteration and the ratios. OPENBLAS_CORETYPE, if set, reaches scikit-learn's process only.
"""
import os
import re
import subprocess
import sys

import numpy as np

work, engine = sys.argv[1], sys.argv[2]
rows = int(sys.argv[3]) if len(sys.argv) > 3 else 50_000
iterations = int(sys.argv[4]) if len(sys.argv) > 4 else 10
repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 2
here = os.path.dirname(os.path.abspath(__file__))
threads = str(os.cpu_count())
ours_env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}


def data(k, d):
    x_path, c_path = f"{work}/X_{k}_{d}.f32", f"{work}/C_{k}_{d}.f32"
    if not (os.path.exists(x_path) and os.path.exists(c_path)):
        rng = np.random.default_rng(2026 + k + d)
        means = rng.normal(0.0, 4.0, size=(k // 4 + 1, d))
        x = (means[rng.integers(0, len(means), size=rows)] + rng.normal(0.0, 1.0, size=(rows, d))).astype(np.float32)
        x.tofile(x_path)
        x[rng.choice(rows, size=k, replace=False)].tofile(c_path)
    return x_path, c_path


def ms_per_iter(command, env=None):
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    return float(re.search(r"ms_per_iter=([0-9.]+)", out).group(1))


os.makedirs(work, exist_ok=True)
print("| K | d | scikit-learn lloyd (ms/iter) | ours, fused (ms/iter) | ours, pruned (ms/iter) | lloyd / fused | lloyd / pruned |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for k in tuple(int(v) for v in os.environ.get("KS", "16,256,4096").split(",")):  # KS=16,256 runs a subset
    for d in (16, 128, 512):
        x_path, c_path = data(k, d)
        sides = {
            "sklearn": lambda: ms_per_iter(["/usr/bin/python3", f"{here}/sklearn_fit.py", x_path, c_path, str(d), str(iterations), "lloyd"]),
            "fused": lambda: ms_per_iter([engine, "fit", "--data", x_path, "--init", c_path, "--dimension", str(d),
                                          "--iterations", str(iterations), "--threads", threads], ours_env),
            "pruned": lambda: ms_per_iter([engine, "fit", "--data", x_path, "--init", c_path, "--dimension", str(d),
                                           "--iterations", str(iterations), "--threads", threads, "--pruning"], ours_env),
        }
        best = {name: float("inf") for name in sides}
        for r in range(repeats):
            order = list(sides) if r % 2 == 0 else list(reversed(sides))
            for name in order:
                best[name] = min(best[name], sides[name]())
        print(f"| {k} | {d} | {best['sklearn']:.1f} | {best['fused']:.1f} | {best['pruned']:.1f} | "
              f"{best['sklearn'] / best['fused']:.2f}x | {best['sklearn'] / best['pruned']:.2f}x |", flush=True)
