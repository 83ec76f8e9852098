#!/usr/bin/env python3
"""Per-step kernel times of a fit, from ncu's CSV.

Run the benchmark's fit detail under ncu on the GPU machine, e.g.
  ncu --clock-control none --metrics gpu__time_duration.sum --csv --print-units base \
      FlashKMeans.GpuBench --iters 3 --fit-detail 0.6 --only "B=1 N=1048576 K=1024 d=128 Float16" > fit.csv
then, anywhere: bench/gpu/ncu_fit_steps.py fit.csv [more.csv ...]

A step is the run of kernels from one pack_centroid_tiles or warp-specialised assignment to the next (a batch's steps
have no pack: the finalize writes the packed tiles, docs/gpu-kernels.md); steps that sum rows (segment sums) are the fit's. The last 20 of them are printed:
the assignment, then every other kernel ("other").
"""
import csv
import sys


def kernels(path):
    header = None
    for row in csv.reader(open(path)):
        if row and row[0] == "ID":
            header = row
        elif header and row and row[0].isdigit():
            name = row[header.index("Kernel Name")].split("(")[0]
            yield name, float(row[header.index("Metric Value")].replace(",", "")) / 1000.0


def steps(path):
    current = None
    for name, us in kernels(path):
        starts = name == "pack_centroid_tiles" or (name.startswith("flash_assign_ws") and
                                                   (current is None or any(k.startswith("flash_assign") for k, _ in current)))
        if starts:
            if current is not None:
                yield current
            current = []
        if current is not None:
            current.append((name, us))
    if current:
        yield current


def main(paths):
    for path in paths:
        fit = [s for s in steps(path) if any("segment_sum" in k for k, _ in s)][-20:]
        print(f"{path}: last {len(fit)} steps of a fit (us)")
        others = []
        for i, s in enumerate(fit, 1):
            assign = sum(us for k, us in s if k.startswith("flash_assign"))
            rest = [(k, us) for k, us in s if not k.startswith("flash_assign")]
            others.append(sum(us for _, us in rest))
            detail = " ".join(f"{k.replace('segment_sum_', 'ss_')[:18]}={us:.1f}" for k, us in rest)
            print(f" step {i:2d} assign {assign:7.1f} other {others[-1]:6.1f} | {detail}")
        if others:
            print(f" mean other {sum(others) / len(others):.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
