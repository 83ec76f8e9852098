"""faiss' side of bench/cpu_vs_sklearn.sh (optional): Kmeans from the given centroids, no subsampling.

Usage: faiss_fit.py X.f32 C.f32 DIM ITERATIONS. Prints one "RESULT key=value ..." line.
"""
import sys
import time

import faiss
import numpy as np

x_path, c_path, d, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
x = np.fromfile(x_path, dtype=np.float32).reshape(-1, d)
c = np.fromfile(c_path, dtype=np.float32).reshape(-1, d)
k = c.shape[0]

def fit(rows, iters):
    km = faiss.Kmeans(d, k, niter=iters, max_points_per_centroid=rows.shape[0], verbose=False)
    km.train(rows, init_centroids=c)
    return km

fit(x[: 20 * k], 2)
start = time.perf_counter()
km = fit(x, iterations)
ms = 1000 * (time.perf_counter() - start) / iterations
print(f"RESULT method=faiss version={faiss.__version__} iterations={iterations} ms_per_iter={ms:.1f} "
      f"inertia={float(km.obj[-1])!r}")
