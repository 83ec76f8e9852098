"""scikit-learn's side of bench/stream_vs_sklearn.sh: MiniBatchKMeans.partial_fit over one pass of the data.

Usage: sklearn_partial_fit.py X.f32 C.f32 DIM K BATCH
Starts from the first K rows of C (init=C[:K], n_init=1) and feeds the rows in order, BATCH at a time, with reassignment
off (reassignment_ratio=0), as the engine's side does. Prints one "RESULT key=value ..." line; the final inertia is
over all rows under the final centroids.
"""
import sys
import time

import numpy as np
import sklearn
from sklearn.cluster import MiniBatchKMeans

x_path, c_path, d, k, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
x = np.fromfile(x_path, dtype=np.float32).reshape(-1, d)
c = np.fromfile(c_path, dtype=np.float32).reshape(-1, d)[:k].copy()


def learner():
    return MiniBatchKMeans(n_clusters=k, init=c, n_init=1, batch_size=batch, reassignment_ratio=0.0, compute_labels=False)


def one_pass(model, rows):
    for at in range(0, rows.shape[0] - batch + 1, batch):
        model.partial_fit(rows[at:at + batch])


one_pass(learner(), x[: 8 * batch])  # warm-up: imports, BLAS threads
model = learner()
start = time.perf_counter()
one_pass(model, x)
seconds = time.perf_counter() - start
fed = x.shape[0] // batch * batch
inertia = -model.score(x)
print(f"RESULT method=sklearn-partial_fit version={sklearn.__version__} k={k} batch={batch} rows={fed} seconds={seconds:.3f} "
      f"rows_per_s={fed / seconds:.0f} inertia={inertia!r}")
