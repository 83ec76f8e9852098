"""The FastKMeans Suite's own PyTorch stream learning (FastKMeansClusterer.fit_batch) on the stream benchmark's shapes, as
the GPU harness's `--stream` baseline: batches of 65,536 x 128 from page-locked host memory, K = 1024, euclidean, fp16 and
fp32 (and fp16 in calls of 1,024 rows), random-row seeding; rows per second over 124 batches after 4 warm-up ones (a
sixteenth of that in small calls), median of 3 passes.

Usage: PYTHONPATH=<folder holding the suite's fast_kmeans package> python3 suite_fit_batch.py
"""
import time

import torch

from suite_import import fast_kmeans  # noqa: F401  (the suite, with tqdm stood in for where missing)
from fast_kmeans import FastKMeansClusterer

D, K, BATCH, BATCHES, WARM = 128, 1024, 65536, 128, 4
rows = torch.randn(BATCHES * BATCH, D, generator=torch.Generator().manual_seed(1))
print(f"# suite fit_batch: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
# (dtype, rows per fit_batch call, rows timed per pass): small calls over a sixteenth of the rows, which suffices.
for dtype, step, timed in (("float16", BATCH, (BATCHES - WARM) * BATCH), ("float32", BATCH, (BATCHES - WARM) * BATCH),
                           ("float16", 1024, (BATCHES - WARM) * BATCH // 16)):
    host = rows.to(getattr(torch, dtype)).pin_memory()
    model = FastKMeansClusterer(k_init=K, distance="euclidean", dtype=dtype, init_mode="random", batch_size=step,
                                device="cuda", random_state=1)
    for b in range(WARM):
        model.fit_batch(host[b * BATCH:(b + 1) * BATCH])
    torch.cuda.synchronize()
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        for at in range(WARM * BATCH, WARM * BATCH + timed, step):
            model.fit_batch(host[at:at + step])
        torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    seconds.sort()
    print(f"RESULT suite-fit-batch dtype={dtype} batch={step} d={D} k={K} rows={timed} seconds={seconds[1]:.4f} "
          f"rows_per_s={timed / seconds[1]:.0f} runs={'/'.join(f'{timed / s / 1e6:.1f}M' for s in seconds)}")
