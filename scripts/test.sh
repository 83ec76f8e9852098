#!/usr/bin/env bash
# Runs every test project of the solution and ends with one line "N passed, N failed, N skipped".
# Needs only the .NET SDK (8.0 or later) and access to NuGet. GPU tests report Inconclusive (counted as
# skipped) where no CUDA device is present. The ML.NET plugin builds against the real Microsoft.ML 5.0.0 when
# NuGet serves it and against the offline contract otherwise (first line of output says which); its tests
# that need the real package report Inconclusive under the contract.
set -uo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
configuration="${CONFIGURATION:-Release}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

source scripts/mlnet-source.sh
echo "ML.NET source: $MLNET_SOURCE ($MLNET_SOURCE_REASON)"

dotnet test FlashKMeans.MLNet.sln -c "$configuration" --nologo -p:MLNetSource="$MLNET_SOURCE" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# vstest prints one summary per test assembly: "Passed!  - Failed: 0, Passed: 48, Skipped: 0, Total: 48, ..."
read -r passed failed skipped < <(grep -E '^(Passed|Failed)!  - Failed:' "$log" | sed -E 's/.*Failed: *([0-9]+), Passed: *([0-9]+), Skipped: *([0-9]+).*/\2 \1 \3/' |
  awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The build or the test host failed before any test could fail: count that as a failure.
  failed=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
