#!/usr/bin/env bash
# Builds and tests the ML.NET plugin alone (tests/FlashKMeans.MLNet.Tests); scripts/test.sh runs everything.
#
#   scripts/test-mlnet.sh                                  against Microsoft.ML's floor (5.0.1)
#   scripts/test-mlnet.sh -p:MLNetTestVersion=6.0.0        against another supported release
#   scripts/test-mlnet.sh --filter Name~Zip                extra arguments go to dotnet test
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet test tests/FlashKMeans.MLNet.Tests/FlashKMeans.MLNet.Tests.csproj "$@"
