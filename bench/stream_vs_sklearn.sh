#!/usr/bin/env bash
# Mini-batch learning against scikit-learn's MiniBatchKMeans.partial_fit: one pass over the CPU benchmark's data
# (200,000 x 128 blobs) from the same starting centroids, batches of 1,024 and 65,536 rows, K = 256 and 1024, and the
# inertia of full Lloyd (10 iterations from the same start) beside it.
#   bench/stream_vs_sklearn.sh [WORKDIR]      (REPEATS=3 by default; every run in its own process)
# Needs what bench/cpu_vs_sklearn.sh needs. OpenBLAS's kernel is printed (OPENBLAS_VERBOSE=2) so that a run on Debian's
# SSE3 fallback, which would flatter the engine about 2x, shows; set OPENBLAS_CORETYPE for the baseline when it is wrong.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-${TMPDIR:-/tmp}/flashkmeans-cpubench}"
repeats="${REPEATS:-3}"
mkdir -p "$work"
/usr/bin/python3 -c "import sklearn" 2>/dev/null || { echo "scikit-learn missing: apt-get install -y python3-sklearn libopenblas0-pthread" >&2; exit 1; }
[ -f "$work/X.f32" ] && [ -f "$work/C.f32" ] || /usr/bin/python3 "$here/make_cpu_data.py" "$work"
dotnet build -c Release "$here/FlashKMeans.CpuBench" -v quiet -nologo >/dev/null
engine="$here/FlashKMeans.CpuBench/bin/Release/net8.0/flashkmeans-cpubench"
echo "Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $(uname -r); .NET $(dotnet --version)"
echo "scikit-learn $(/usr/bin/python3 -c 'import sklearn; print(sklearn.__version__)'), numpy $(/usr/bin/python3 -c 'import numpy; print(numpy.__version__)')"
echo "OpenBLAS: $(OPENBLAS_VERBOSE=2 /usr/bin/python3 -c 'import numpy as np; a = np.ones((64, 64), np.float32); a @ a' 2>&1 | head -1)"
echo "Date: $(date -u +%Y-%m-%dT%H:%MZ)"
for k in 256 1024; do
  for batch in 1024 65536; do
    for r in $(seq "$repeats"); do
      /usr/bin/python3 "$here/sklearn_partial_fit.py" "$work/X.f32" "$work/C.f32" 128 "$k" "$batch"
      "$engine" stream --data "$work/X.f32" --init "$work/C.f32" --dimension 128 --k "$k" --batch "$batch"
    done
  done
done
echo "Full Lloyd from the same starts (10 iterations):"
for k in 256 1024; do
  "$engine" fit --data "$work/X.f32" --init "$work/C.f32" --dimension 128 --iterations 10 --k "$k" | grep RESULT
done
