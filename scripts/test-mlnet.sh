#!/usr/bin/env bash
# Builds and tests the ML.NET plugin alone (tests/FlashKMeans.MLNet.Tests); scripts/test.sh runs everything.
#
# It compiles against the real Microsoft.ML 5.0.0 when the configured NuGet source serves it, and against
# the offline contract (src/FlashKMeans.MLNet.Contract) otherwise; the first line of output says which.
# Tests that need the real package are in TestCategory "RealMLNet" and report Inconclusive offline.
#
#   scripts/test-mlnet.sh                                    probe, then build and test
#   MLNET_SOURCE=Contract scripts/test-mlnet.sh              skip the probe (Package or Contract)
#   scripts/test-mlnet.sh --filter TestCategory!=RealMLNet   extra arguments go to dotnet test
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mlnet-source.sh
echo "ML.NET source: $MLNET_SOURCE ($MLNET_SOURCE_REASON)"
dotnet test tests/FlashKMeans.MLNet.Tests/FlashKMeans.MLNet.Tests.csproj -p:MLNetSource="$MLNET_SOURCE" "$@"
