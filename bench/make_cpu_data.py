"""Writes the CPU benchmark protocol's data set as raw little-endian float32 files.

X: 200,000 x 128 Gaussian blobs (256 centres drawn from N(0, 16), unit noise).
C: 1024 initial centroids, distinct rows of X.
Both sides of bench/cpu_vs_sklearn.sh read these same bytes.
"""
import sys

import numpy as np

out_dir = sys.argv[1]
n, d, centres, k, seed = 200_000, 128, 256, 1024, 2026
rng = np.random.default_rng(seed)
means = rng.normal(0.0, 4.0, size=(centres, d))  # variance 16
members = rng.integers(0, centres, size=n)
x = (means[members] + rng.normal(0.0, 1.0, size=(n, d))).astype(np.float32)
c = x[rng.choice(n, size=k, replace=False)].copy()
x.tofile(f"{out_dir}/X.f32")
c.tofile(f"{out_dir}/C.f32")
print(f"wrote {n} x {d} rows and {k} initial centroids (seed {seed}) to {out_dir}")
