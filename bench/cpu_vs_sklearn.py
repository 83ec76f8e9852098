"""Runs the CPU benchmark protocol for scikit-learn and FlashKMeans in one go and prints a table.

Called by bench/cpu_vs_sklearn.sh, which builds the engine's bench app first. Every method fits the same
bytes (X.f32, C.f32) from the same 1024 initial centroids for 10 fixed iterations. Each method runs in
its own process under /usr/bin/time -v (for its peak RSS), REPEATS times, interleaved so that load from
other work on the machine spreads over all methods. Other work only ever slows a run down, so the
table leads with each method's best run (and its ratios), then the median and the same-round ratios.
"""
import os
import re
import shlex
import statistics
import subprocess
import sys

bench_dir = os.path.dirname(os.path.abspath(__file__))
work, engine = sys.argv[1], sys.argv[2]
repeats = int(os.environ.get("REPEATS", "3"))
threads = int(os.environ.get("THREADS", str(os.cpu_count())))
d, iterations = 128, 10
x_path, c_path = os.path.join(work, "X.f32"), os.path.join(work, "C.f32")
data_mb = os.path.getsize(x_path) / 1e6
python = "/usr/bin/python3"
thread_env = {k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}

methods = {
    "sklearn-lloyd": [python, os.path.join(bench_dir, "sklearn_fit.py"), x_path, c_path, str(d), str(iterations), "lloyd"],
    "sklearn-elkan": [python, os.path.join(bench_dir, "sklearn_fit.py"), x_path, c_path, str(d), str(iterations), "elkan"],
    "flashkmeans-lloyd": [engine, "fit", "--data", x_path, "--init", c_path, "--dimension", str(d),
                          "--iterations", str(iterations), "--threads", str(threads)],
    "flashkmeans-pruned": [engine, "fit", "--data", x_path, "--init", c_path, "--dimension", str(d),
                           "--iterations", str(iterations), "--threads", str(threads), "--pruning"],
}
if subprocess.run([python, "-c", "import faiss"], capture_output=True).returncode == 0:
    methods["faiss"] = [python, os.path.join(bench_dir, "faiss_fit.py"), x_path, c_path, str(d), str(iterations)]


def run(command):
    result = subprocess.run(["/usr/bin/time", "-v"] + command, capture_output=True, text=True,
                            env={**os.environ, **thread_env})
    if result.returncode != 0:
        sys.exit(f"failed: {shlex.join(command)}\n{result.stdout}\n{result.stderr}")
    line = next(l for l in result.stdout.splitlines() if l.startswith("RESULT "))
    fields = dict(item.split("=", 1) for item in line.split()[1:])
    fields["rss_mb"] = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1)) * 1024 / 1e6
    return fields


# The best of a few probes: other work on the machine can only lower a measured peak.
peak_single = max(float(run([engine, "peak", "--threads", "1"])["gflops"]) for _ in range(3))
peak_all = max(float(run([engine, "peak", "--threads", str(threads)])["gflops"]) for _ in range(3))
samples = {name: [] for name in methods}
for round_ in range(repeats):
    for name, command in methods.items():
        samples[name].append(run(command))
        print(f"  round {round_ + 1}: {name:20s} {samples[name][-1]['ms_per_iter']:>8} ms/iter", flush=True)

median = {name: statistics.median(float(s["ms_per_iter"]) for s in runs) for name, runs in samples.items()}


def ratio(baseline, name):
    """Median over rounds of baseline/name measured in the same round: load shared by both cancels."""
    return statistics.median(float(b["ms_per_iter"]) / float(o["ms_per_iter"])
                             for b, o in zip(samples[baseline], samples[name]))


flops_per_iter = 2.0 * 200_000 * 1024 * d
print()
print(f"FMA peak (measured, best of 3): {peak_single:.1f} GFLOP/s on 1 thread, {peak_all:.1f} GFLOP/s on {threads} threads "
      f"(= {peak_single / 64:.2f} GHz x 2 FMA pipes x 16 float32 lanes x 2 flops per core per cycle)")
print(f"Data: {data_mb:.1f} MB; budget data + 64 MB = {data_mb + 64:.1f} MB")
print()
best = {name: min(float(s["ms_per_iter"]) for s in runs) for name, runs in samples.items()}
print(f"| Method | ms/iter, best of {repeats} | median | runs | sklearn lloyd / this (best) | sklearn elkan / this (best) | "
      "same-round ratios, median (lloyd, elkan) | GFLOP/s (2NKd per step, best) | of FMA peak | max RSS MB | RSS - data MB |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for name, runs in samples.items():
    # Our step time excludes validation and the final labelling pass; scikit-learn reports only the total.
    step = min(float(s.get("step_ms", s["ms_per_iter"])) for s in runs)
    gflops = flops_per_iter / (step * 1e6)
    rss = max(s["rss_mb"] for s in runs)
    note = " (equivalent)" if name == "flashkmeans-pruned" else ""
    print(f"| {name} | {best[name]:.1f} | {median[name]:.1f} | {', '.join(s['ms_per_iter'] for s in runs)} | "
          f"{best['sklearn-lloyd'] / best[name]:.2f}x | {best['sklearn-elkan'] / best[name]:.2f}x | "
          f"{ratio('sklearn-lloyd', name):.2f}x, {ratio('sklearn-elkan', name):.2f}x | {gflops:.0f}{note} | "
          f"{gflops / peak_all:.0%} | {rss:.1f} | {rss - data_mb:.1f} |")
print()
inertias = {name: runs[0]["inertia"] for name, runs in samples.items()}
print("Final inertia: " + ", ".join(f"{name} {value}" for name, value in inertias.items()))
if inertias["flashkmeans-lloyd"] != inertias["flashkmeans-pruned"]:
    sys.exit("pruning changed the result")
print("Pruning on and off: identical final inertia.")
