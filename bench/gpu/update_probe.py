"""Measurements behind the centroid-update design: how fast can rows be summed
per cluster, and by which route?

1. The sort-inverse gather (the committed segment_sum kernel) over different orders of the same rows:
   the scatter's order, rows ascending within each cluster, and the identity (a pure stream with
   contiguous "clusters"), against a plain copy of the rows.
2. Rows streamed in their own order, each value added to its cluster's sums with a global reduction
   (red), as an assignment epilogue would issue them: fp32 pairs, fp32 quads, fp64 singles; for random
   labels at K = 1024 and K = 16 and for runs of equal labels (the worst contention).

Usage (GPU machine): python3 update_probe.py <ptx-folder> [--variants | --ab NAME=PTX:seg|g:SMEM:WARPS ... |
--scatter-once]; docs/gpu-kernels.md, "Reproduce", says what each mode is for.
"""
import sys, json, os
import numpy as np
import cupy as cp

# The PTX loader, the launch-shape helpers and the event timer are kernels_check.py's (same folder, same
# <ptx-folder> argument), so that both harnesses launch the kernels as CudaSession does.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kernels_check import fn, seg_run, scatter_smem, timeit as _timeit, I32, I64, NULL  # noqa: E402

PTX = sys.argv[1]


def timeit(f, reps=10, warm=2):
    return _timeit(f, reps=reps, warm=warm)


def scatter_order(labels, n, k):
    counts = cp.zeros(k, dtype=cp.int32)
    offsets = cp.empty(k + 1, dtype=cp.int32)
    cursor = cp.empty(k, dtype=cp.int32)
    out = cp.empty(n, dtype=cp.int32)
    fh = fn("label_sort", "label_histogram"); fh.max_dynamic_shared_size_bytes = 227 * 1024
    fs = fn("label_sort", "scatter_indices"); fs.max_dynamic_shared_size_bytes = 227 * 1024
    fh((528,), (256,), (labels, counts, I32(n), I32(k), NULL, NULL), shared_mem=4 * k)
    fn("label_sort", "exclusive_scan")((1,), (1024,), (counts, offsets, cursor, I32(k)))
    fs((528,), (256,), (labels, cursor, out, I32(n), I32(k)), shared_mem=scatter_smem(k))
    return out, offsets


def gather_probe(n, k, d):
    """The committed segment_sum over the same rows in two cluster-grouped orders (the scatter's, and rows
    ascending within each cluster), over a pure stream (contiguous equal clusters, identity order), and a
    plain copy of X for the bandwidth ceiling. (An earlier run of this probe also timed a
    region-major order, slower: 1.57 TB/s at 1M rows against 2.41 for the scatter's order.)"""
    x = cp.random.standard_normal((n, d), dtype=cp.float32).astype(cp.float16)
    labels = cp.random.randint(0, k, n, dtype=cp.int32)
    idx = cp.arange(n, dtype=cp.int32)
    order, offsets = scatter_order(labels, n, k)
    orders = {"scatter": (order, offsets),
              "ascending": (cp.lexsort(cp.stack([idx, labels])).astype(cp.int32), offsets),
              "identity": (idx, (cp.arange(k + 1, dtype=cp.int64) * n // k).astype(cp.int32))}
    f = fn("centroid_update", "segment_sum_f16"); f.max_dynamic_shared_size_bytes = 98304
    run = seg_run(n)
    grid = (n + run * 8 - 1) // (run * 8)
    sums = cp.zeros((k, d), dtype=cp.float64)
    res = {}
    for name, (o, offs) in orders.items():
        t = timeit(lambda: f((grid,), (256,), (x, NULL, offs, o, I64(n), I32(k), I32(d), I32(d), I32(run), sums), shared_mem=98304))
        res[name] = (round(t * 1e3, 1), round(n * d * 2 / (t * 1e-3) / 1e12, 2))
    y = cp.empty_like(x)
    t = timeit(lambda: cp.copyto(y, x))
    res["copy_read_write"] = (round(t * 1e3, 1), round(2 * n * d * 2 / (t * 1e-3) / 1e12, 2))
    return res


RED_SRC = r"""
#include <cuda_fp16.h>
// Each warp walks groups of ROWS rows; lane -> row (lane / (32 / ROWS)) of its group, and add(dst, row, c)
// is called for columns c = PAIR * (lane % (32 / ROWS)) + 32 / ROWS * PAIR * j. ROWS = 8, PAIR = 2 is the
// register-A fragment layout (rows lane >> 2, columns 2(lane & 3) + 8j).
template <int ROWS, int PAIR, typename S, typename Add>
__device__ __forceinline__ void for_row_groups(const __half* __restrict__ x, const int* __restrict__ labels, S* __restrict__ sums, int n, int d, Add add)
{
    constexpr int LPR = 32 / ROWS;  // lanes per row
    const long long warp = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const long long nw = ((long long)gridDim.x * blockDim.x) >> 5;
    const int lane = threadIdx.x & 31;
    for (long long r0 = warp * ROWS; r0 < n; r0 += nw * ROWS) {
        const long long r = r0 + lane / LPR;
        if (r >= n) continue;
        const __half2* row = reinterpret_cast<const __half2*>(x + r * d);
        S* dst = sums + (size_t)labels[r] * d;
        for (int j = 0; j < d / (LPR * PAIR); ++j) {
            const int c = PAIR * (lane % LPR) + LPR * PAIR * j;
            add(dst, row, c);
        }
    }
}
extern "C" __global__ void red_f32x2(const __half* __restrict__ x, const int* __restrict__ labels, float* __restrict__ sums, int n, int d)
{
    for_row_groups<8, 2>(x, labels, sums, n, d, [](float* dst, const __half2* row, int c) {
        atomicAdd(reinterpret_cast<float2*>(dst + c), __half22float2(row[c / 2]));
    });
}
extern "C" __global__ void red_f32x4(const __half* __restrict__ x, const int* __restrict__ labels, float* __restrict__ sums, int n, int d)
{
    for_row_groups<4, 4>(x, labels, sums, n, d, [](float* dst, const __half2* row, int c) {
        const float2 a = __half22float2(row[c / 2]), b = __half22float2(row[c / 2 + 1]);
        atomicAdd(reinterpret_cast<float4*>(dst + c), make_float4(a.x, a.y, b.x, b.y));
    });
}
extern "C" __global__ void red_f64(const __half* __restrict__ x, const int* __restrict__ labels, double* __restrict__ sums, int n, int d)
{
    for_row_groups<8, 2>(x, labels, sums, n, d, [](double* dst, const __half2* row, int c) {
        const float2 v = __half22float2(row[c / 2]);
        atomicAdd(dst + c, (double)v.x);
        atomicAdd(dst + c + 1, (double)v.y);
    });
}
// Stream only (no reductions): the read cost of the loops above.
extern "C" __global__ void read_only(const __half* __restrict__ x, const int* __restrict__ labels, float* __restrict__ sums, int n, int d)
{
    float acc = 0.f;
    for_row_groups<8, 2>(x, labels, sums, n, d, [&](float* dst, const __half2* row, int c) {
        const float2 v = __half22float2(row[c / 2]);
        acc += v.x + v.y + (dst == sums ? 1.f : 0.f);  // keeps the label load
    });
    if (acc == 12345.f) sums[0] = acc;
}
"""


def red_probe(n, d):
    mod = cp.RawModule(code=RED_SRC, options=("-arch=sm_90", "-std=c++17"))  # float2/float4 atomics: sm_90, CUDA 12+
    x = cp.random.standard_normal((n, d), dtype=cp.float32).astype(cp.float16)
    res = {}
    cases = {
        "K1024": cp.random.randint(0, 1024, n, dtype=cp.int32),
        "K16": cp.random.randint(0, 16, n, dtype=cp.int32),
        "runs_K1024": (cp.arange(n, dtype=cp.int64) * 1024 // n).astype(cp.int32),  # int64: n * 1024 overflows int32 at 8M
        "one_cluster_90pct": cp.where(cp.random.random(n) < 0.9, 0, cp.random.randint(0, 1024, n)).astype(cp.int32),
    }
    grid = 132 * 8
    for cname, lab in cases.items():
        k = int(lab.max()) + 1
        s32 = cp.zeros((max(k, 1024), d), dtype=cp.float32)
        s64 = cp.zeros((max(k, 1024), d), dtype=cp.float64)
        row = {}
        for kname, arr in (("red_f32x2", s32), ("red_f32x4", s32), ("red_f64", s64), ("read_only", s32)):
            f = mod.get_function(kname)
            t = timeit(lambda: f((grid,), (256,), (x, lab, arr, I32(n), I32(d))))
            row[kname] = round(t * 1e3, 1)
        res[cname] = row
        print("red", n, d, cname, json.dumps(row), flush=True)
    return res

GATHER_SRC = r"""
#include <cuda_fp16.h>
__device__ __forceinline__ void cp_async_16(unsigned dst, const void* src)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }

// Segment sums as centroid_update.cu's segment_reduce (fp16 rows, fp32 partials, fp64 atomics), with the
// ring depth, rows per stage and index prefetch as parameters. PF: the sorted indices of a stage are
// loaded one stage before its copies are issued, so no copy waits on an index load.
template <int THREADS, int BATCH, int RING, bool PF>
__device__ __forceinline__ void gather_sum(const __half* __restrict__ x, const int* __restrict__ labels,
    const int* __restrict__ sorted, long long total, int d, int ldx, int run, double* __restrict__ sums)
{
    extern __shared__ __align__(16) unsigned char smem[];
    constexpr int SMEM_PER_WARP = RING * BATCH * 32 * 16;
    const int lane = threadIdx.x & 31;
    const long long warp = ((long long)blockIdx.x * THREADS + threadIdx.x) >> 5;
    const long long first = warp * run;
    if (first >= total) return;
    const long long last = min(total, first + run);
    const int vecs = ldx / 8;
    const int slots = vecs >= 32 ? 1 : 32 / vecs;
    const char* xb = reinterpret_cast<const char*>(x);
    const unsigned ring = (unsigned)__cvta_generic_to_shared(smem) + (threadIdx.x >> 5) * SMEM_PER_WARP;
    const long long step = (long long)slots * BATCH;
    for (int vbase = 0; vbase < vecs; vbase += 32) {
        const int v = vecs >= 32 ? vbase + lane : lane % vecs;
        const int slot = vecs >= 32 ? 0 : lane / vecs;
        const bool valid = vecs >= 32 ? v < vecs : slot < slots;
        if (!valid) continue;
        const int e0 = v * 8;
        float acc[8];
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[i] = 0.f;
        int cur = -1;
        int cl[RING][BATCH];
        int nidx[BATCH];
        auto load_idx = [&](long long p0, int (&dst)[BATCH]) {
#pragma unroll
            for (int u = 0; u < BATCH; ++u) {
                const long long p = p0 + (long long)u * slots;
                dst[u] = p < last ? __ldg(sorted + p) : -1;
            }
        };
        auto issue = [&](const int (&ix)[BATCH], int (&c)[BATCH], int buf) {
#pragma unroll
            for (int u = 0; u < BATCH; ++u) {
                const int idx = ix[u];
                c[u] = idx >= 0 ? __ldg(labels + idx) : -1;
                if (idx >= 0) cp_async_16(ring + ((buf * BATCH + u) * 32 + lane) * 16, xb + ((size_t)idx * ldx + e0) * 2);
            }
            cp_async_commit();
        };
        long long p = first + slot;
#pragma unroll
        for (int s = 0; s < RING - 1; ++s) { int t[BATCH]; load_idx(p + s * step, t); issue(t, cl[s], s); }
        if (PF) load_idx(p + (RING - 1) * step, nidx);
        for (; p < last; p += RING * step) {
#pragma unroll
            for (int s = 0; s < RING; ++s) {
                const long long pc = p + s * step;
                if (pc >= last) break;
                constexpr int dummy = 0; (void)dummy;
                const int nb = (s + RING - 1) % RING;
                if (PF) { issue(nidx, cl[nb], nb); load_idx(pc + RING * step, nidx); }
                else { int t[BATCH]; load_idx(pc + (RING - 1) * step, t); issue(t, cl[nb], nb); }
                cp_async_wait<RING - 1>();
#pragma unroll
                for (int u = 0; u < BATCH; ++u) {
                    const int c = cl[s][u];
                    if (c < 0) continue;
                    const uint4 q = *reinterpret_cast<const uint4*>(smem + (threadIdx.x >> 5) * SMEM_PER_WARP + ((s * BATCH + u) * 32 + lane) * 16);
                    const __half2* h = reinterpret_cast<const __half2*>(&q);
                    if (c != cur) {
                        if (cur >= 0)
#pragma unroll
                            for (int i = 0; i < 8; ++i) { if (e0 + i < d) atomicAdd(sums + (size_t)cur * d + e0 + i, (double)acc[i]); acc[i] = 0.f; }
                        cur = c;
                    }
#pragma unroll
                    for (int i = 0; i < 4; ++i) { const float2 f = __half22float2(h[i]); acc[2 * i] += f.x; acc[2 * i + 1] += f.y; }
                }
            }
        }
        if (cur >= 0)
#pragma unroll
            for (int i = 0; i < 8; ++i) if (e0 + i < d) atomicAdd(sums + (size_t)cur * d + e0 + i, (double)acc[i]);
        cp_async_wait<0>();
    }
}
#define G(NAME, T, B, R, PF, MINB) extern "C" __global__ void __launch_bounds__(T, MINB) NAME(const __half* x, const int* labels, \
    const int* sorted, long long total, int d, int ldx, int run, double* sums) { gather_sum<T, B, R, PF>(x, labels, sorted, total, d, ldx, run, sums); }
G(g_256_8_2_0, 256, 8, 2, false, 3)
G(g_256_8_2_1, 256, 8, 2, true, 3)
G(g_256_4_4_1, 256, 4, 4, true, 3)
G(g_256_8_3_1, 256, 8, 3, true, 2)
G(g_128_8_4_1, 128, 8, 4, true, 3)
G(g_256_4_6_1, 256, 4, 6, true, 2)
G(g_128_4_4_1, 128, 4, 4, true, 6)
"""
GATHER_VARIANTS = {  # name: (threads, smem bytes per block, blocks per SM)
    "g_256_8_2_0": (256, 65536, 3), "g_256_8_2_1": (256, 65536, 3), "g_256_4_4_1": (256, 65536, 3),
    "g_256_8_3_1": (256, 98304, 2), "g_128_8_4_1": (128, 65536, 3), "g_256_4_6_1": (256, 98304, 2),
    "g_128_4_4_1": (128, 32768, 6),
}


def gather_variants(n, k, d):
    mod = cp.RawModule(code=GATHER_SRC, options=("-arch=sm_90", "-std=c++17"))
    x = cp.random.standard_normal((n, d), dtype=cp.float32).astype(cp.float16)
    labels = cp.random.randint(0, k, n, dtype=cp.int32)
    order = scatter_order(labels, n, k)[0]
    idx = cp.arange(n, dtype=cp.int32)
    lab2 = ((idx // 64) % k).astype(cp.int32)
    # Reference sums for a correctness check of every variant.
    ref = cp.zeros((k, d), dtype=cp.float64)
    cp.add.at(ref, labels, x.astype(cp.float64))
    res = {}
    for name, (T, sm, bps) in GATHER_VARIANTS.items():
        f = mod.get_function(name); f.max_dynamic_shared_size_bytes = sm
        warps = 132 * bps * T // 32
        run = int(min(max((n + warps - 1) // warps, 16), 4096))
        grid = (n + run * (T // 32) - 1) // (run * (T // 32))
        sums = cp.zeros((k, d), dtype=cp.float64)
        f((grid,), (T,), (x, labels, order, I64(n), I32(d), I32(d), I32(run), sums), shared_mem=sm)
        err = float(cp.abs(sums - ref).max())
        t = timeit(lambda: f((grid,), (T,), (x, labels, order, I64(n), I32(d), I32(d), I32(run), sums), shared_mem=sm))
        t2 = timeit(lambda: f((grid,), (T,), (x, lab2, idx, I64(n), I32(d), I32(d), I32(run), sums), shared_mem=sm))
        res[name] = dict(us=round(t * 1e3, 1), tbs=round(n * d * 2 / (t * 1e-3) / 1e12, 2), identity_us=round(t2 * 1e3, 1), maxerr=err)
        print("gvar", n, k, d, name, json.dumps(res[name]), flush=True)
    return res


def sort_chunks_probe(n, k):
    labels = cp.random.randint(0, k, n, dtype=cp.int32)
    fh = fn("label_sort", "label_histogram"); fh.max_dynamic_shared_size_bytes = 227 * 1024
    fs = fn("label_sort", "scatter_indices"); fs.max_dynamic_shared_size_bytes = 227 * 1024
    counts = cp.zeros(k, dtype=cp.int32); offsets = cp.empty(k + 1, dtype=cp.int32); cursor = cp.empty(k, dtype=cp.int32)
    out = cp.empty(n, dtype=cp.int32)
    res = {}
    for chunks in (66, 132, 264, 528, 1056):
        th = timeit(lambda: fh((chunks,), (256,), (labels, counts, I32(n), I32(k), NULL, NULL), shared_mem=4 * k))
        fn("label_sort", "exclusive_scan")((1,), (1024,), (counts, offsets, cursor, I32(k)))
        def sc():
            cursor[...] = offsets[:-1]
            fs((chunks,), (256,), (labels, cursor, out, I32(n), I32(k)), shared_mem=scatter_smem(k))
        tcopy = timeit(lambda: cursor.__setitem__(Ellipsis, offsets[:-1]))
        ts = timeit(sc) - tcopy
        res[chunks] = (round(th * 1e3, 1), round(ts * 1e3, 1))
    print("sortchunks", n, k, "(hist us, scatter us):", json.dumps(res), flush=True)
    return res


def ab_probe(specs):
    """Builds of the gather side by side, in one process. specs: NAME=PTX_PATH:KIND:SMEM:WARPS_PER_SM, KIND seg
    (centroid_update.cu's segment_sum_f16) or g (this file's g_256_8_3_1); plus the NVRTC build of g_256_8_3_1."""
    kernels = {}
    for spec in specs:
        name, rest = spec.split("=", 1)
        path, kind, sm, wps = rest.split(":")
        f = cp.RawModule(path=path).get_function("segment_sum_f16" if kind == "seg" else "g_256_8_3_1")
        f.max_dynamic_shared_size_bytes = int(sm)
        kernels[name] = (f, kind, int(sm), int(wps))
    f = cp.RawModule(code=GATHER_SRC, options=("-arch=sm_90", "-std=c++17")).get_function("g_256_8_3_1")
    f.max_dynamic_shared_size_bytes = 98304
    kernels["nvrtc_g"] = (f, "g", 98304, 16)
    res = {}
    for n, k, d in ((1 << 20, 1024, 128), (1 << 23, 1024, 128), (1 << 20, 1024, 512)):
        x = cp.random.standard_normal((n, d), dtype=cp.float32).astype(cp.float16)
        labels = cp.random.randint(0, k, n, dtype=cp.int32)
        order, offsets = scatter_order(labels, n, k)
        ref = cp.zeros((k, d), dtype=cp.float64)
        cp.add.at(ref, labels, x.astype(cp.float64))
        row = {}
        for name, (f, kind, sm, wps) in kernels.items():
            warps = 132 * wps
            run = int(min(max((n + warps - 1) // warps, 16), 4096))
            grid = (n + run * 8 - 1) // (run * 8)
            sums = cp.zeros((k, d), dtype=cp.float64)
            if kind == "seg":
                launch = lambda: f((grid,), (256,), (x, NULL, offsets if "old" not in name else labels, order, I64(n), *((I32(k),) if "old" not in name else (I32(n), I32(k))), I32(d), I32(d), I32(run), sums), shared_mem=sm)
            else:
                launch = lambda: f((grid,), (256,), (x, labels, order, I64(n), I32(d), I32(d), I32(run), sums), shared_mem=sm)
            launch()
            err = float(cp.abs(sums - ref).max())
            row[name] = (round(timeit(launch) * 1e3, 1), err < 1e-3)
        res[f"{n}_{d}"] = row
        print("ab", n, k, d, "(us, correct)", json.dumps(row), flush=True)
    return res


if __name__ == "__main__":
    print(cp.cuda.runtime.getDeviceProperties(0)["name"].decode(), flush=True)
    out = {}
    if "--scatter-once" in sys.argv:  # one histogram, scan and scatter at N = 8M, K = 1024, for ncu
        n, k = 1 << 23, 1024
        scatter_order(cp.random.randint(0, k, n, dtype=cp.int32), n, k)
        cp.cuda.runtime.deviceSynchronize()
        sys.exit(0)
    if "--ab" in sys.argv:
        out["ab"] = ab_probe(sys.argv[sys.argv.index("--ab") + 1:])
        sys.exit(0)
    if "--variants" in sys.argv:
        for n, k, d in ((1 << 20, 1024, 128), (1 << 23, 1024, 128), (1 << 20, 1024, 512)):
            out[f"gvar_{n}_{d}"] = gather_variants(n, k, d)
        for n, k in ((1 << 20, 1024), (1 << 23, 1024), (1 << 20, 8192)):
            out[f"sort_{n}_{k}"] = sort_chunks_probe(n, k)
        if os.environ.get("OUT"):
            json.dump(out, open(os.environ["OUT"] + "/update_variants.json", "w"), indent=1)
        sys.exit(0)
    for n, k, d in ((1 << 20, 1024, 128), (1 << 23, 1024, 128), (1 << 20, 1024, 512)):
        r = gather_probe(n, k, d)
        print("gather", n, k, d, "(us, TB/s of rows):", json.dumps(r), flush=True)
        out[f"gather_{n}_{k}_{d}"] = r
    try:
        for n in (1 << 20, 1 << 23):
            out[f"red_{n}"] = red_probe(n, 128)
    except Exception as e:  # NVRTC may be missing
        print("red probe failed:", repr(e), flush=True)
    if os.environ.get("OUT"):
        json.dump(out, open(os.environ["OUT"] + "/update_probe.json", "w"), indent=1)
