"""Checks and times the committed PTX kernels directly through CuPy, without .NET.

Used for fast kernel iteration on the GPU machine: correctness against a float64 reference on
fresh random data (outputs poisoned first), then the reference shapes timed with CUDA events.
Usage: python3 kernels_check.py <ptx-folder> [--check] [--bench] [--quick]
"""
import sys, time, math, json
import numpy as np
import cupy as cp


def scatter_smem(k):
    """CudaSession.ScatterSharedBytes for 227 KiB of shared memory per block."""
    b = 4 * (4 * k + 2 * 8192 + 8)
    return b if b <= 227 * 1024 else (8 * k if 8 * k <= 227 * 1024 else 0)
import cupyx

PTX = sys.argv[1]
ARGS = set(sys.argv[2:])
SMEM = 98304
import os
# ASSIGN=mma: the mma.sync kernels; ASSIGN=wgmma: flash_assign_wgmma_* (sm_90a PTX, shared-memory A);
# ASSIGN=wgmma_rs: what CudaSession picks on Hopper (register-A for rows up to 256 bytes, else wgmma).
NULL = np.uint64(0)  # a null pointer argument
VARIANT = os.environ.get("ASSIGN", "mma")
PROFILE = "--profile" in sys.argv
def seg_run(total):
    # CudaSession.SegmentRun
    warps = 132 * 16
    return int(min(max((total + warps - 1) // warps, 16), 4096))
WG_SMEM = 99328

def assign_fn(dt, d=None):
    """The assignment kernel CudaSession would pick for this variant, and its dynamic shared memory."""
    t = 'tf32' if dt in ('tf32', 'f32') else dt
    if VARIANT == "wgmma_rs" and d is not None:
        row_bytes = -(-d * (4 if t == 'tf32' else 2) // 16) * 16
        if row_bytes <= 256:
            kch = 1 if row_bytes <= 128 else 2
            f = fn("flash_assign_wgmma", f"flash_assign_wgmma_rs{kch}_{t}", arch="sm90a")
            sm = (kch + 3) * 16384 + 1024
            f.max_dynamic_shared_size_bytes = sm
            return f, sm, 128, 256
    if VARIANT in ("wgmma", "wgmma_rs"):
        f = fn("flash_assign_wgmma", f"flash_assign_wgmma_{t}", arch="sm90a")
        f.max_dynamic_shared_size_bytes = WG_SMEM
        return f, WG_SMEM, 128, 256
    f = fn("flash_assign_mma", f"flash_assign_{t}")
    f.max_dynamic_shared_size_bytes = SMEM
    return f, SMEM, 128, 256

WS_FILE = os.environ.get("WS_FILE", "flash_assign_ws")  # measurement builds: another PTX file name
_ws_tiles = {}

def ws_shape(kch):
    """(consumer warpgroups, stages) of flash_assign_ws{kch}_*; CudaSession.WarpSpecialisedShape."""
    return (2, 2) if kch == 4 else (3, 4)

def ws_kernel(dt, d):
    """ASSIGN=ws: the warp-specialised kernel (flash_assign_ws.cu) for rows up to 512 bytes, else None."""
    t = 'tf32' if dt in ('tf32', 'f32') else dt
    row_bytes = -(-d * (4 if t == 'tf32' else 2) // 16) * 16  # the data, not the pitch
    if VARIANT != "ws" or row_bytes > 512:
        return None
    kch = 1 if row_bytes <= 128 else 2 if row_bytes <= 256 else 4
    nwg, stages = ws_shape(kch)
    f = fn(WS_FILE, f"flash_assign_ws{kch}_{t}", arch="sm90a")
    sm = 1024 + stages * (kch * 16384 + 1024) + 64 * nwg * kch * 128 + 128 + 80  # without the storer slots
    f.max_dynamic_shared_size_bytes = sm + ws_slot_bytes(nwg)
    return f, sm, kch

def ws_slot_bytes(nwg):
    """Shared bytes of the storer slots and their mbarriers (CudaSession.WarpSpecialisedSharedBytes)."""
    return 32 + 2 * 64 * nwg * 8

def ws_assign(f, sm, kch, xp, cq, cn, xn, labels, mind, B, n, k, ldx_el, ldc_el, el, update=0, pack=True):
    """Packs the centroid tiles (when asked) and launches the persistent warp-specialised kernel."""
    ntiles = -(-k // 128)
    tb = kch * 16384 + 512
    key = (B, ntiles, tb)
    if key not in _ws_tiles:
        _ws_tiles.clear()
        _ws_tiles[key] = cp.empty(B * ntiles * tb, dtype=cp.uint8)
    tiles = _ws_tiles[key]
    if pack:
        fn(WS_FILE, "pack_centroid_tiles", arch="sm90a")((264, B), (256,), (cq, cn, tiles, I32(k), I32(ldc_el * el), I32(kch)))
    nwg = ws_shape(kch)[0]
    total = B * -(-n // (64 * nwg))
    # plain entries: a storer warp per consumer warpgroup, and their slots (CudaSession.WarpSpecialisedThreads)
    f((min(total, 132),), (160 * nwg + 32,), (xp, tiles, xn, labels, mind, I32(n), I32(k), I32(ldx_el), I32(B), I32(update),
       NULL, NULL, NULL, NULL),  # no count of labels (MovedCount)
      shared_mem=sm + ws_slot_bytes(nwg))

def fn(file, name, arch="sm80"):
    key = (file, arch)
    if key not in mods:
        mods[key] = cp.RawModule(path=f"{PTX}/{file}.{arch}.ptx")
    f = mods[key].get_function(name)
    return f

I32, I64, F32 = np.int32, np.int64, np.float32
# centroid_update.cu's FinalizeTarget, the finalize kernels' last argument, passed by value as a NumPy structured scalar
# (CuPy lays it out as the CUDA compiler does with align=True): the fields in the struct's order.
FINALIZE_TARGET = np.dtype([(f, np.uint64) for f in ("centroids", "shift", "weight_out", "packed", "norms", "partials",
                                                      "inertia", "tiles", "before")]
                           + [(f, np.int32) for f in ("clusters", "d", "normalize", "ldp", "pack", "chunks", "problems",
                                                      "tile_k", "tile_chunks")], align=True)
assert FINALIZE_TARGET.itemsize == 112

def finalize_target(centroids, shift, weight_out, clusters, d):
    """The FinalizeTarget of a plain update: new centroids, shifts and weights; no packed rows, inertia, tiles or copy of
    the centroids as they were."""
    t = np.zeros((), dtype=FINALIZE_TARGET)
    t["centroids"], t["shift"], t["weight_out"] = centroids.data.ptr, shift.data.ptr, weight_out.data.ptr
    t["clusters"], t["d"] = clusters, d
    return t[()]
SUFFIX = {"f16": "f16", "bf16": "bf16", "tf32": "f32", "f32": "f32"}

def to_dtype(a32, dt):
    if dt == "f16": return a32.astype(cp.float16)
    if dt == "bf16":
        # round to nearest even into bf16 bits, stored as uint16
        u = a32.view(cp.uint32)
        r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(cp.uint16)
        return r
    return a32.copy()

def to_f64(a, dt):
    if dt == "bf16":
        return (a.astype(cp.uint32) << 16).view(cp.float32).astype(cp.float64)
    return a.astype(cp.float64)

def ld_for(d, dt):
    el = 2 if dt in ("f16", "bf16") else 4
    q = 16 // el
    return (d + q - 1) // q * q

def pack(x32, dt, ld):
    """(rows, d) fp32 -> (rows, ld) in dt with zero padding, plus norms of rounded values, via kernel."""
    rows, d = x32.shape
    out = cp.empty((rows, ld), dtype=cp.uint16 if dt == "bf16" else (cp.float16 if dt == "f16" else cp.float32))
    norms = cp.empty(rows, dtype=cp.float32)
    f = fn("row_pack", "pack_rows_tf32" if dt == "tf32" else f"pack_rows_{SUFFIX[dt]}")
    f(((rows + 7) // 8,), (256,), (x32, out, norms, I64(rows), I32(d), I32(d), I32(ld)))
    return out, norms

def assign(xp, cp_, cn, xn, labels, mind, B, n, k, d, ldx, ldc, dt, exact=False, update=0):
    if exact:
        small = d <= 8
        name = f"flash_assign_exact{'_small' if small else ''}_{SUFFIX[dt]}"
        f = fn("flash_assign_exact", name)
        f(((n + 63) // 64, B), (256,), (xp, cp_, labels, mind, I32(n), I32(k), I32(d), I32(ldx), I32(ldc), I32(update)))
    elif ws_kernel(dt, d) is not None:
        f, sm, kch = ws_kernel(dt, d)
        ws_assign(f, sm, kch, xp, cp_, cn, xn, labels, mind, B, n, k, ldx, ldc, 2 if dt in ("f16", "bf16") else 4, update)
    else:
        f, sm, rpb, thr = assign_fn(dt, d)
        f(((n + rpb - 1) // rpb, B), (thr,), (xp, cp_, cn, xn, labels, mind, I32(n), I32(k), I32(d), I32(ldx), I32(ldc), I32(update)), shared_mem=sm)

def check_assign(B, n, k, d, dt, exact=False):
    x32 = cp.random.standard_normal((B * n, d), dtype=cp.float32)
    c32 = cp.random.standard_normal((B * k, d), dtype=cp.float32) * 0.9
    ld = ld_for(d, dt)
    xp, xn = pack(x32, dt, ld)
    cq, cn = pack(c32, dt, ld)
    labels = cp.full(B * n, -7, dtype=cp.int32)
    mind = cp.full(B * n, cp.nan, dtype=cp.float32)
    assign(xp, cq, cn, xn, labels, mind, B, n, k, d, ld, ld, dt, exact)
    cp.cuda.runtime.deviceSynchronize()
    # reference on the packed (rounded) values, which are exactly what the kernels multiply
    X = to_f64(xp, dt)[:, :d].reshape(B, n, d)
    C = to_f64(cq, dt)[:, :d].reshape(B, k, d)
    D = (X * X).sum(-1)[:, :, None] - 2 * X @ C.transpose(0, 2, 1) + (C * C).sum(-1)[:, None, :]
    L = labels.reshape(B, n)
    ok_written = bool((L >= 0).all() and (L < k).all() and (~cp.isnan(mind)).all())
    Lc = cp.clip(L, 0, k - 1)
    chosen = cp.take_along_axis(D, Lc[:, :, None].astype(cp.int64), 2)[:, :, 0]
    dmin = D.min(-1)
    scale = (X * X).sum(-1) + (C * C).sum(-1).max(-1, keepdims=True)
    rel = {"f16": 2e-6, "bf16": 2e-6, "tf32": 2e-6, "f32": 2e-6}[dt] if not exact else 1e-6
    tol = rel * scale + 1e-6
    gap = chosen - dmin
    bad = int((gap > tol).sum())
    exact_match = float((Lc == D.argmin(-1)).mean())
    derr = float(cp.abs(mind.reshape(B, n) - dmin).max() / scale.max())
    ok = ok_written and bad == 0 and derr < (rel * 4 + 1e-6)
    return ok, dict(B=B, n=n, k=k, d=d, dt=dt, exact=exact, written=ok_written, bad=bad, match=round(exact_match, 5), derr=derr)

def update(xp, labels, B, n, k, d, ld, dt, fixed, centroids, scale=None):
    total = B * n
    counts = cp.zeros(B * k, dtype=cp.int32)
    offsets = cp.empty(B * k + 1, dtype=cp.int32)
    cursor = cp.empty(B * k, dtype=cp.int32)
    sorted_ = cp.empty(total, dtype=cp.int32)
    chunks = max(1, 4 * 132 // B)
    fh = fn("label_sort", "label_histogram"); fh.max_dynamic_shared_size_bytes = 227 * 1024
    fs = fn("label_sort", "scatter_indices"); fs.max_dynamic_shared_size_bytes = 227 * 1024
    fh((chunks, B), (256,), (labels, counts, I32(n), I32(k), NULL, NULL), shared_mem=4 * k)
    fn("label_sort", "exclusive_scan")((1,), (1024,), (counts, offsets, cursor, I32(B * k)))
    fs((chunks, B), (256,), (labels, cursor, sorted_, I32(n), I32(k)), shared_mem=scatter_smem(k))
    width = min(256, (d + 31) // 32 * 32)
    lanes = 256 // width
    RUN = seg_run(total)
    sgrid = (total + RUN * 8 - 1) // (RUN * 8)
    shift = cp.empty(B * k, dtype=cp.float32)
    suf = SUFFIX[dt]
    wout = cp.empty(B * k, dtype=cp.float64)
    if fixed:
        sums = cp.zeros((B * k, d), dtype=cp.int64)
        fseg = fn("centroid_update", f"segment_sum_fixed_{suf}"); fseg.max_dynamic_shared_size_bytes = 98304
        fseg((sgrid,), (256,), (xp, NULL, offsets, sorted_, I64(total), I32(B * k), I32(d), I32(ld), I32(RUN), sums, F32(scale)), shared_mem=98304)
        fn("centroid_update", "finalize_centroids_fixed")(((B * k + 7) // 8,), (256,), (sums, counts, NULL, np.float64(1.0 / scale), np.float64(1.0), finalize_target(centroids, shift, wout, B * k, d)))
    else:
        sums = cp.zeros((B * k, d), dtype=cp.float64)
        fseg = fn("centroid_update", f"segment_sum_{suf}"); fseg.max_dynamic_shared_size_bytes = 98304
        fseg((sgrid,), (256,), (xp, NULL, offsets, sorted_, I64(total), I32(B * k), I32(d), I32(ld), I32(RUN), sums), shared_mem=98304)
        fn("centroid_update", "finalize_centroids")(((B * k + 7) // 8,), (256,), (sums, counts, NULL, finalize_target(centroids, shift, wout, B * k, d)))
    return counts, shift, sorted_

def fixed_scale(maxabs, n):
    return 2.0 ** math.floor(math.log2(2.0 ** 62 / (max(maxabs, 1e-30) * n)))

def check_update(B, n, k, d, dt, fixed):
    x32 = cp.random.standard_normal((B * n, d), dtype=cp.float32)
    ld = ld_for(d, dt)
    xp, _ = pack(x32, dt, ld)
    X = to_f64(xp, dt)[:, :d]
    # skewed labels: half the points in cluster 0, to exercise long segments
    labels = cp.random.randint(0, k, B * n).astype(cp.int32)
    labels[cp.random.random(B * n) < 0.5] = 0
    old = cp.random.standard_normal((B * k, d), dtype=cp.float32)
    cen = old.copy()
    mx = cp.zeros(1, dtype=cp.uint32)
    fn("row_pack", f"max_abs_{SUFFIX[dt]}")((264,), (256,), (xp, mx, I64(B * n), I32(d), I32(ld)))
    maxabs = float(mx.view(cp.float32)[0])
    scale = fixed_scale(maxabs, n)
    counts, shift, _ = update(xp, labels, B, n, k, d, ld, dt, fixed, cen, scale)
    cl = (cp.arange(B * n) // n) * k + labels
    ref_sum = cp.zeros((B * k, d), dtype=cp.float64)
    cupyx.scatter_add(ref_sum, cl, X)
    ref_cnt = cp.bincount(cl, minlength=B * k)
    ref = cp.where(ref_cnt[:, None] > 0, ref_sum / cp.maximum(ref_cnt, 1)[:, None], old.astype(cp.float64))
    err = float(cp.abs(cen - ref).max())
    cnt_ok = bool((counts == ref_cnt).all())
    ref_shift = ((ref - old) ** 2).sum(-1)
    serr = float((cp.abs(shift - ref_shift) / (ref_shift + 1)).max())
    ident = None
    if fixed:
        cen2 = old.copy()
        update(xp, labels, B, n, k, d, ld, dt, fixed, cen2, scale)
        ident = bool((cen2.view(cp.uint32) == cen.view(cp.uint32)).all())
    ok = cnt_ok and err < 1e-4 and serr < 1e-3 and ident is not False
    return ok, dict(B=B, n=n, k=k, d=d, dt=dt, fixed=fixed, counts=cnt_ok, err=err, serr=serr, identical=ident)

def check_alldist(n, k, d, dt):
    x32 = cp.random.standard_normal((n, d), dtype=cp.float32)
    c32 = cp.random.standard_normal((k, d), dtype=cp.float32)
    xq = to_dtype(x32, dt); cq = to_dtype(c32, dt)
    out = cp.full((n, k), cp.nan, dtype=cp.float32)
    fn("all_distances", f"all_distances_{SUFFIX[dt]}")(((n + 63) // 64, (k + 63) // 64, 1), (256,), (xq, cq, out, I32(n), I32(k), I32(d), I32(d), I32(d)))
    X = to_f64(xq, dt); C = to_f64(cq, dt)
    D = ((X[:, None, :] - C[None, :, :]) ** 2).sum(-1)
    err = float((cp.abs(out - D) / (D + 1)).max())
    return err < 1e-5, dict(n=n, k=k, d=d, dt=dt, alldist_err=err)

def run_checks(quick):
    results = []
    ds = [1, 3, 17, 64, 96, 128, 200, 512, 1536]
    ks = [1, 5, 100, 1000, 8192]
    fails = 0
    for dt in ["f16", "bf16", "tf32"]:
        for d in ds:
            for k in ks:
                for B in [1, 7]:
                    if quick and (k == 8192 and d > 200): continue
                    n = 1000 if k == 8192 or d >= 512 else 3001
                    if B == 7 and (k >= 1000 or d >= 512): n = 600
                    ok, r = check_assign(B, n, k, d, dt)
                    fails += not ok
                    if not ok: print("FAIL", r, flush=True)
                    results.append(r)
    if "--assign-only" in ARGS:
        print(f"checks: {len(results)} run, {fails} failed", flush=True)
        return results, fails
    for dt in ["f32", "f16", "bf16"]:
        for d in [1, 3, 17, 128, 513]:
            for k in [1, 5, 100, 1000]:
                for B in [1, 7]:
                    ok, r = check_assign(B, 1000, k, d, dt, exact=True)
                    fails += not ok
                    if not ok: print("FAIL", r, flush=True)
                    results.append(r)
    for dt in ["f32", "f16", "bf16"]:
        for d in [1, 3, 64, 200, 1536]:
            for k in [1, 5, 100, 1000]:
                for B in [1, 7]:
                    for fixed in [False, True]:
                        ok, r = check_update(B, 2000, k, d, dt, fixed)
                        fails += not ok
                        if not ok: print("FAIL", r, flush=True)
                        results.append(r)
    for dt in ["f32", "f16", "bf16"]:
        for (n, k, d) in [(100, 7, 3), (1000, 130, 200), (257, 1000, 64)]:
            ok, r = check_alldist(n, k, d, dt)
            fails += not ok
            if not ok: print("FAIL", r, flush=True)
            results.append(r)
    print(f"checks: {len(results)} run, {fails} failed", flush=True)
    return results, fails

def timeit(fn_, reps=20, warm=3):
    for _ in range(warm): fn_()
    cp.cuda.runtime.deviceSynchronize()
    ts = []
    for _ in range(reps):
        a = cp.cuda.Event(); b = cp.cuda.Event()
        a.record(); fn_(); b.record(); b.synchronize()
        ts.append(cp.cuda.get_elapsed_time(a, b))
    return float(np.median(ts))

def bench_shape(B, n, k, d, dt, fixed=False):
    ld = ld_for(d, dt)
    total = B * n
    x32 = cp.random.standard_normal((total, d), dtype=cp.float32)
    xp, xn = pack(x32, dt, ld)
    del x32
    cen = cp.random.standard_normal((B * k, d), dtype=cp.float32)
    cq, cn = pack(cen, dt, ld)
    labels = cp.empty(total, dtype=cp.int32)
    mind = cp.empty(total, dtype=cp.float32)
    counts = cp.zeros(B * k, dtype=cp.int32)
    offsets = cp.empty(B * k + 1, dtype=cp.int32)
    cursor = cp.empty(B * k, dtype=cp.int32)
    sorted_ = cp.empty(total, dtype=cp.int32)
    sums = cp.zeros((B * k, d), dtype=cp.float64)
    shift = cp.empty(B * k, dtype=cp.float32)
    wout = cp.empty(B * k, dtype=cp.float64)
    partials = cp.empty((B, 64), dtype=cp.float64)
    obj = cp.empty(B, dtype=cp.float64)
    suf = SUFFIX[dt]
    f_assign, ASM, RPB, THR = assign_fn(dt, d)
    f_hist = fn("label_sort", "label_histogram"); f_scan = fn("label_sort", "exclusive_scan"); f_scat = fn("label_sort", "scatter_indices")
    f_seg = fn("centroid_update", f"segment_sum_{suf}"); f_seg.max_dynamic_shared_size_bytes = 98304; f_fin = fn("centroid_update", "finalize_centroids")
    f_pack = fn("row_pack", "pack_rows_tf32" if dt == "tf32" else f"pack_rows_{suf}"); f_sp = fn("segmented_sum", "segmented_sum_partial"); f_sf = fn("segmented_sum", "segmented_sum_final")
    chunks = max(1, 4 * 132 // B)
    f_hist.max_dynamic_shared_size_bytes = 227 * 1024
    f_scat.max_dynamic_shared_size_bytes = 227 * 1024
    width = min(256, (d + 31) // 32 * 32); lanes = 256 // width
    RUN = seg_run(total)
    sgrid = (total + RUN * 8 - 1) // (RUN * 8)
    ws = ws_kernel(dt, d)
    def do_assign():
        if ws is not None:
            return ws_assign(ws[0], ws[1], ws[2], xp, cq, cn, xn, labels, mind, B, n, k, ld, ld, 2 if dt in ("f16", "bf16") else 4)
        f_assign(((n + RPB - 1) // RPB, B), (THR,), (xp, cq, cn, xn, labels, mind, I32(n), I32(k), I32(d), I32(ld), I32(ld), I32(0)), shared_mem=ASM)
    def do_iter():
        do_assign()
        counts.fill(0); sums.fill(0)
        f_hist((chunks, B), (256,), (labels, counts, I32(n), I32(k), NULL, NULL), shared_mem=4 * k)
        f_scan((1,), (1024,), (counts, offsets, cursor, I32(B * k)))
        f_scat((chunks, B), (256,), (labels, cursor, sorted_, I32(n), I32(k)), shared_mem=scatter_smem(k))
        f_seg((sgrid,), (256,), (xp, NULL, offsets, sorted_, I64(total), I32(B * k), I32(d), I32(ld), I32(RUN), sums), shared_mem=98304)
        f_fin(((B * k + 7) // 8,), (256,), (sums, counts, NULL, finalize_target(cen, shift, wout, B * k, d)))
        f_pack(((B * k + 7) // 8,), (256,), (cen, cq, cn, I64(B * k), I32(d), I32(d), I32(ld)))
        f_sp((64, B), (256,), (mind, NULL, partials, I64(n)))
        f_sf((B,), (256,), (partials, obj, I32(64)))
    if PROFILE:
        # Each launch of one iteration timed on its own (events, median of 10).
        parts = {
            "assign": do_assign,
            "memset": lambda: (counts.fill(0), sums.fill(0)),
            # counts zeroed each time: the scan and scatter below need the counts of one histogram
            "histogram": lambda: (counts.fill(0), f_hist((chunks, B), (256,), (labels, counts, I32(n), I32(k), NULL, NULL), shared_mem=4 * k)),
            "scan": lambda: f_scan((1,), (1024,), (counts, offsets, cursor, I32(B * k))),
            "scatter": lambda: (cursor.__setitem__(slice(None), offsets[:-1]), f_scat((chunks, B), (256,), (labels, cursor, sorted_, I32(n), I32(k)), shared_mem=scatter_smem(k))),
            "segment_sum": lambda: f_seg((sgrid,), (256,), (xp, NULL, offsets, sorted_, I64(total), I32(B * k), I32(d), I32(ld), I32(RUN), sums), shared_mem=98304),
            "finalize": lambda: f_fin(((B * k + 7) // 8,), (256,), (sums, counts, NULL, finalize_target(cen, shift, wout, B * k, d))),
            "pack": lambda: f_pack(((B * k + 7) // 8,), (256,), (cen, cq, cn, I64(B * k), I32(d), I32(d), I32(ld))),
            "inertia": lambda: (f_sp((64, B), (256,), (mind, NULL, partials, I64(n))), f_sf((B,), (256,), (partials, obj, I32(64)))),
        }
        do_iter()
        prof = {name: round(timeit(f, reps=10), 4) for name, f in parts.items()}
        print("profile", B, n, k, d, dt, json.dumps(prof), flush=True)
    t_assign = timeit(do_assign)
    t_iter = timeit(do_iter, reps=10)
    # graph replay of one iteration, to see the launch overhead share
    s = cp.cuda.Stream(non_blocking=True)
    with s:
        do_iter(); s.synchronize()
        s.begin_capture(); do_iter(); g = s.end_capture()
        g.launch(s); s.synchronize()
        def rep(): g.launch(s)
        ts = []
        for _ in range(10):
            a = cp.cuda.Event(); b = cp.cuda.Event()
            a.record(s); g.launch(s); b.record(s); b.synchronize(); ts.append(cp.cuda.get_elapsed_time(a, b))
        t_graph = float(np.median(ts))
    tflops = 2.0 * total * k * d / (t_assign * 1e-3) / 1e12
    return dict(B=B, N=n, K=k, d=d, dtype=dt, assign_ms=round(t_assign, 4), iter_ms=round(t_iter, 4), iter_graph_ms=round(t_graph, 4), assign_tflops=round(tflops, 1))

REFERENCE_SHAPES = [(1, 1 << 20, 1024, 128, "f16"), (1, 1 << 23, 1024, 128, "f16"), (1, 1 << 20, 8192, 128, "f16"),
           (1, 1 << 20, 256, 128, "f16"), (1, 1 << 20, 1024, 512, "f16"), (1, 1 << 20, 1024, 128, "tf32"),
           (1, 1 << 20, 8192, 128, "tf32"), (32, 131072, 1000, 128, "f16"), (8, 16384, 100, 128, "f16")]

if __name__ == "__main__":
    print(cp.cuda.runtime.getDeviceProperties(0)["name"].decode(), flush=True)
    out = {}
    if "--check" in ARGS:
        res, fails = run_checks("--quick" in ARGS)
        out["checks"] = res; out["fails"] = fails
    if "--bench" in ARGS:
        rows = []
        only = os.environ.get("SHAPES")  # e.g. "0,1,4": indices into REFERENCE_SHAPES
        for a in ([REFERENCE_SHAPES[int(i)] for i in only.split(",")] if only else REFERENCE_SHAPES):
            r = bench_shape(*a); rows.append(r); print(json.dumps(r), flush=True)
        out["bench"] = rows
        print("| B | N | K | d | dtype | ms/iter | ms/iter (graph) | assign ms | TFLOP/s |")
        for r in rows:
            print(f"| {r['B']} | {r['N']} | {r['K']} | {r['d']} | {r['dtype']} | {r['iter_ms']} | {r['iter_graph_ms']} | {r['assign_ms']} | {r['assign_tflops']} |")
    import os
    if os.environ.get("OUT"):
        json.dump(out, open(os.environ["OUT"] + "/kernels_check.json", "w"), indent=1)
