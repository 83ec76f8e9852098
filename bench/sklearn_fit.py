"""scikit-learn's side of bench/cpu_vs_sklearn.sh: KMeans from the given initial centroids, fixed iterations.

Usage: sklearn_fit.py X.f32 C.f32 DIM ITERATIONS {lloyd,elkan}
Prints one "RESULT key=value ..." line. ms_per_iter is fit wall time / iterations run, which includes the
final labelling pass scikit-learn makes after the last update (our engine makes one too).
"""
import sys
import time

import numpy as np
from sklearn.cluster import KMeans
import sklearn

x_path, c_path, d, iterations, algorithm = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
x = np.fromfile(x_path, dtype=np.float32).reshape(-1, d)
c = np.fromfile(c_path, dtype=np.float32).reshape(-1, d)
float(x.ravel()[::1024].sum())  # one read per page before any timing, as the engine's harness does: data in memory

def fit(rows, iters):
    model = KMeans(n_clusters=c.shape[0], init=c, n_init=1, max_iter=iters, tol=0.0, algorithm=algorithm)
    return model.fit(rows)

fit(x[: 20 * c.shape[0]], 2)  # warm-up: imports, BLAS threads
start = time.perf_counter()
model = fit(x, iterations)
seconds = time.perf_counter() - start
ms = 1000 * seconds / model.n_iter_
gflops = 2.0 * x.shape[0] * c.shape[0] * d / (ms * 1e6)
print(f"RESULT method=sklearn-{algorithm} version={sklearn.__version__} iterations={model.n_iter_} "
      f"ms_per_iter={ms:.1f} inertia={model.inertia_!r} equivalent_gflops={gflops:.1f}")
