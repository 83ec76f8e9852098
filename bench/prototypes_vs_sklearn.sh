#!/usr/bin/env bash
# The prototype models against scikit-learn's k-NN, NearestCentroid and LogisticRegression on the data sets Debian's
# python3-sklearn ships (digits, wine, breast cancer; diabetes for regression), a stratified 75/25 split with seed 0,
# the same standardised rows for both sides. Our models keep at most 5 % of the training rows as prototypes.
#   bench/prototypes_vs_sklearn.sh [WORKDIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-${TMPDIR:-/tmp}/flashkmeans-protobench}"
mkdir -p "$work"
/usr/bin/python3 -c "import sklearn" 2>/dev/null || { echo "scikit-learn missing: apt-get install -y python3-sklearn libopenblas0-pthread" >&2; exit 1; }
dotnet build -c Release "$here/FlashKMeans.CpuBench" -v quiet -nologo >/dev/null
echo "Machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; .NET $(dotnet --version); scikit-learn $(/usr/bin/python3 -c 'import sklearn; print(sklearn.__version__)')"
echo "Date: $(date -u +%Y-%m-%dT%H:%MZ)"
/usr/bin/python3 "$here/prototypes_vs_sklearn.py" "$work"
"$here/FlashKMeans.CpuBench/bin/Release/net8.0/flashkmeans-cpubench" prototypes --data "$work"
