#!/usr/bin/env bash
# The CPU benchmark protocol (200,000 x 128 blobs, K = 1024, 10 iterations), ours against Debian's scikit-learn (and faiss when installed), in one run.
#   bench/cpu_vs_sklearn.sh [WORKDIR]        (REPEATS=3 and THREADS=nproc by default)
# Needs: /usr/bin/python3 with python3-sklearn and libopenblas0-pthread (apt-get install -y python3-sklearn
# libopenblas0-pthread; python3-faiss optional), the .NET SDK, and about 250 MB in WORKDIR.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-${TMPDIR:-/tmp}/flashkmeans-cpubench}"
mkdir -p "$work"

if ! /usr/bin/python3 -c "import sklearn" 2>/dev/null; then
    echo "scikit-learn missing: apt-get install -y python3-sklearn libopenblas0-pthread" >&2
    exit 1
fi
[ -f "$work/X.f32" ] && [ -f "$work/C.f32" ] || /usr/bin/python3 "$here/make_cpu_data.py" "$work"
dotnet build -c Release "$here/FlashKMeans.CpuBench" -v quiet -nologo >/dev/null
engine="$here/FlashKMeans.CpuBench/bin/Release/net8.0/flashkmeans-cpubench"

echo "Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $(uname -r); .NET $(dotnet --version)"
echo "scikit-learn $(/usr/bin/python3 -c 'import sklearn; print(sklearn.__version__)'), numpy $(/usr/bin/python3 -c 'import numpy; print(numpy.__version__)')"
echo "Date: $(date -u +%Y-%m-%dT%H:%MZ)"
/usr/bin/python3 "$here/cpu_vs_sklearn.py" "$work" "$engine"
