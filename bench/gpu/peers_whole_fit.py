"""Whole fits of the GPU peers on the GPU machine, in the same call as FlashKMeans.GpuBench --whole-fit.

Each fit runs from fp16 standard-normal rows already on the device to final centroids on the host: the peer's own
norms, random-row initialisation and a fixed number of Lloyd steps (tolerance below zero, so none stops early), as
its own API runs them. One untimed 2-step fit of the same shape compiles the Triton kernels and warms them first (a
warm-up on other shapes leaves flash-kmeans recompiling inside the timed fit).

  flash-kmeans: batch_kmeans_Euclid(x[None], K, max_iters=steps, tol=-1) (its Triton path).
  fastkmeans:   its double-chunked loop with the Triton kernel, max_points_per_centroid=None (no subsampling), fp16,
                with the data already on the device.

The peers' sources are not part of this repository: put them on PYTHONPATH (flash_kmeans and fastkmeans packages).
Usage: python3 peers_whole_fit.py anchors|large|fp32 [--steps N] [--peers flash,fast] [--max-k K]
fp32: float32 rows (flash-kmeans' Triton dot then runs in tf32, Triton's default on this GPU).
"""
import argparse
import sys
import time
import types

import torch

if "tqdm" not in sys.modules:
    try:
        import tqdm  # noqa: F401  (flash-kmeans imports it)
    except ImportError:
        stub = types.ModuleType("tqdm")
        stub.trange = range
        stub.tqdm = lambda x, *a, **k: x
        sys.modules["tqdm"] = stub

ANCHORS = [(1 << 20, 1024, 128), (1 << 23, 1024, 128), (1 << 20, 8192, 128), (1 << 20, 256, 128), (1 << 20, 1024, 512)]
LARGE = [(65536 * 100, 65536, 128), (131072 * 100, 131072, 128), (262144 * 100, 262144, 128)]
FLOAT32 = [(1 << 20, 1024, 128)]  # the ILGPU backend's shape (bench/gpu/FlashKMeans.GpuBench --ilgpu), rows in float32


def flash(x, k, steps):
    from flash_kmeans import batch_kmeans_Euclid
    _, centroids, iters = batch_kmeans_Euclid(x[None], k, max_iters=steps, tol=-1.0)
    out = centroids.float().cpu()
    assert iters == steps, iters
    return out


def fast(x, k, steps):
    from fastkmeans.kmeans import _kmeans_torch_double_chunked
    norms = (x.float() ** 2).sum(dim=1).to(x.dtype)
    centroids, _ = _kmeans_torch_double_chunked(x, norms, k, x.device, dtype=torch.float16, max_iters=steps, tol=-1.0,
                                                max_points_per_centroid=None, use_triton=True)
    return centroids


def timed(fn, x, k, steps):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn(x, k, steps)
    torch.cuda.synchronize()
    assert torch.isfinite(out).all()
    return (time.perf_counter() - t0) * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("set", choices=["anchors", "large", "fp32"])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--peers", default="flash,fast")
    ap.add_argument("--max-k", type=int, default=1 << 30, help="skip shapes with a larger K")
    a = ap.parse_args()
    peers = {"flash": ("flash-kmeans (Triton)", flash), "fast": ("fastkmeans (Triton)", fast)}
    print(f"# peers' whole fits on {torch.cuda.get_device_name()}, torch {torch.__version__}; {a.steps} Lloyd steps from random rows")
    print("| N | K | d | peer | whole fit ms | ms/step |")
    print("| --- | --- | --- | --- | --- | --- |")
    shapes = {"anchors": ANCHORS, "large": LARGE, "fp32": FLOAT32}[a.set]
    dtype = torch.float32 if a.set == "fp32" else torch.float16
    for n, k, d in shapes:
        if k > a.max_k:
            continue
        g = torch.Generator(device="cuda").manual_seed(42)
        x = torch.randn(n, d, device="cuda", dtype=dtype, generator=g)
        for key in a.peers.split(","):
            name, fn = peers[key]
            try:
                fn(x, k, 2)  # compile and warm up on the timed shape
                ms = timed(fn, x, k, a.steps)
                print(f"| {n:,} | {k:,} | {d} | {name} | {ms:.1f} | {ms / a.steps:.2f} |", flush=True)
            except Exception as e:  # a peer that cannot run a shape is reported, not fatal
                print(f"| {n:,} | {k:,} | {d} | {name} | failed: {type(e).__name__}: {str(e)[:120]} | |", flush=True)
            torch.cuda.empty_cache()
        del x
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
