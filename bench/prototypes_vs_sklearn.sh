#!/usr/bin/env bash
# The prototype models against scikit-learn's k-NN, NearestCentroid and LogisticRegression on the data sets Debian's
# python3-sklearn ships (digits, wine, breast cancer; diabetes for regression), a stratified 75/25 split with seed 0,
# the same standardised rows for both sides. Our models keep at most 5 % of the training rows as prototypes; on the two
# suite-like sets (cover_like, housing_like) they run again with the FastKMeans Suite's own prototype counts (485, 372).
# With SUITE=<folder holding the suite's fast_kmeans package> and Debian's python3-torch, the suite's own models run on
# those two sets as well (bench/gpu/suite_prototypes.py), on the CPU.
#   [SUITE=DIR] bench/prototypes_vs_sklearn.sh [WORKDIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-${TMPDIR:-/tmp}/flashkmeans-protobench}"
mkdir -p "$work"
/usr/bin/python3 -c "import sklearn" 2>/dev/null || { echo "scikit-learn missing: apt-get install -y python3-sklearn libopenblas0-pthread" >&2; exit 1; }
dotnet build -c Release "$here/FlashKMeans.CpuBench" -v quiet -nologo >/dev/null
echo "Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; .NET $(dotnet --version); scikit-learn $(/usr/bin/python3 -c 'import sklearn; print(sklearn.__version__)')"
echo "Date: $(date -u +%Y-%m-%dT%H:%MZ)"
/usr/bin/python3 "$here/prototypes_vs_sklearn.py" "$work"
bench="$here/FlashKMeans.CpuBench/bin/Release/net8.0/flashkmeans-cpubench"
"$bench" prototypes --data "$work"
"$bench" prototypes --data "$work" --sets cover_like,housing_like --budgets cover_like=485,housing_like=372
if [ -n "${SUITE:-}" ]; then
  PYTHONPATH="$SUITE" /usr/bin/python3 -W ignore "$here/gpu/suite_prototypes.py" "$work" cover_like housing_like
fi
