"""Same-run baselines for the GPU benchmark, on the GPU machine (PyTorch is there, .NET is not).

The benchmark protocol asks for the baseline to run in the same call as our code. flash-kmeans itself is not on
that machine, so this measures, on the same GPU in the same call:
  - the ceilings: cuBLAS fp16 and tf32 GEMM at 8192^3 (TFLOP/s), as the reference numbers do;
  - a plain PyTorch Lloyd iteration on the reference shapes: one batched GEMM for the dot products,
    norms added, argmin, then the centroid sums with scatter_add (what a user writes without a fused
    kernel). ms/iter is the wall time of one full iteration with the device synchronised at both ends
    (median of 10 after 2 warm-ups), data standard normal and already on the GPU.
Usage: python3 torch_baseline.py [--out FILE.json]
"""
import json
import sys
import time

import torch

SHAPES = [(1, 1 << 20, 1024, 128, "fp16"), (1, 1 << 23, 1024, 128, "fp16"), (1, 1 << 20, 8192, 128, "fp16"),
          (1, 1 << 20, 256, 128, "fp16"), (1, 1 << 20, 1024, 512, "fp16"), (1, 1 << 20, 1024, 128, "fp32"),
          (1, 1 << 20, 8192, 128, "fp32"), (32, 131072, 1000, 128, "fp16"), (8, 16384, 100, 128, "fp16")]


def gemm_tflops(dtype, n=8192, reps=20):
    a = torch.randn(n, n, device="cuda", dtype=dtype)
    b = torch.randn(n, n, device="cuda", dtype=dtype)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        a @ b
    end.record()
    end.synchronize()
    return 2 * n ** 3 * reps / (start.elapsed_time(end) * 1e-3) / 1e12


def lloyd_ms(b, n, k, d, kind, reps=10):
    dtype = torch.float16 if kind == "fp16" else torch.float32
    g = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(b, n, d, device="cuda", dtype=dtype, generator=g)
    c = x[:, torch.randperm(n, device="cuda", generator=g)[:k]].clone()

    def step(c):
        cn = (c.float() ** 2).sum(-1)                                   # (b, k)
        scores = torch.baddbmm(cn[:, None, :].to(dtype), x, c.transpose(1, 2), alpha=-2)  # ||c||^2 - 2 x.c
        labels = scores.argmin(-1)                                      # (b, n)
        sums = torch.zeros(b, k, d, device="cuda", dtype=torch.float32)
        sums.scatter_add_(1, labels[..., None].expand(b, n, d), x.float())
        counts = torch.zeros(b, k, device="cuda", dtype=torch.float32)
        counts.scatter_add_(1, labels, torch.ones(b, n, device="cuda"))
        fresh = sums / counts.clamp_min(1)[..., None]
        return torch.where(counts[..., None] > 0, fresh, c.float()).to(dtype)

    for _ in range(2):
        c = step(c)
    times = []
    for _ in range(reps):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        c = step(c)
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    del x
    torch.cuda.empty_cache()
    return sorted(times)[len(times) // 2]


def main():
    torch.backends.cuda.matmul.allow_tf32 = True  # "fp32" rows compute the dot products in tf32, as the reference numbers do
    out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
           "gemm_fp16_tflops": round(gemm_tflops(torch.float16), 1),
           "gemm_tf32_tflops": round(gemm_tflops(torch.float32), 1), "lloyd": []}
    print(f"# {out['device']}, torch {out['torch']}: cuBLAS GEMM 8192^3 fp16 {out['gemm_fp16_tflops']} TFLOP/s, "
          f"tf32 {out['gemm_tf32_tflops']} TFLOP/s", flush=True)
    print("| B | N | K | d | dtype | PyTorch ms/iter |\n| --- | --- | --- | --- | --- | --- |", flush=True)
    for b, n, k, d, kind in SHAPES:
        ms = lloyd_ms(b, n, k, d, kind)
        out["lloyd"].append(dict(B=b, N=n, K=k, d=d, dtype=kind, ms_per_iter=round(ms, 3)))
        print(f"| {b} | {n:,} | {k} | {d} | {kind} | {ms:.3f} |", flush=True)
    if "--out" in sys.argv:
        with open(sys.argv[sys.argv.index("--out") + 1], "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
