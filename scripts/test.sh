#!/usr/bin/env bash
# Runs every test project of the solution, then the ML.NET plugin's tests once more against the newest
# supported Microsoft.ML, then the package checks (scripts/package-check.sh: the packages installed from a local
# feed, as a new user installs them), and ends with one line "N passed, N failed, N skipped".
# Needs only the .NET SDK (8.0 or later) and access to NuGet. GPU tests report Inconclusive (counted as
# skipped) where no CUDA device is present.
#
# The plugin compiles against Microsoft.ML's floor (MLNetVersion in Directory.Packages.props); the first
# run tests it against that release, the second against each release in MLNET_EXTRA_VERSIONS (default
# 6.0.0), the plugin's build unchanged, as an application that uses a newer ML.NET would load it.
set -uo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
configuration="${CONFIGURATION:-Release}"
extra_versions="${MLNET_EXTRA_VERSIONS-6.0.0}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

status=0
echo "== every test project (Microsoft.ML $(sed -n 's:.*<MLNetVersion>\(.*\)</MLNetVersion>.*:\1:p' Directory.Packages.props))"
dotnet test FlashKMeans.MLNet.sln -c "$configuration" --nologo "$@" 2>&1 | tee "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
for version in $extra_versions; do
  echo "== the ML.NET plugin's tests against Microsoft.ML $version"
  dotnet test tests/FlashKMeans.MLNet.Tests/FlashKMeans.MLNet.Tests.csproj -c "$configuration" --nologo \
    -p:MLNetTestVersion="$version" "$@" 2>&1 | tee -a "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done

# The packages, as a new user installs them (scripts/package-check.sh): each check counts as a test.
echo "== the packages from a local feed: the tool installed, the samples built against them"
./scripts/package-check.sh 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# vstest prints one summary per test assembly: "Passed!  - Failed: 0, Passed: 48, Skipped: 0, Total: 48, ..."
read -r passed failed skipped < <(grep -E '^(Passed|Failed)!  - Failed:' "$log" | sed -E 's/.*Failed: *([0-9]+), Passed: *([0-9]+), Skipped: *([0-9]+).*/\2 \1 \3/' |
  awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}')
read -r package_passed package_failed < <(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1 | sed -E 's/([0-9]+) passed, ([0-9]+) failed/\1 \2/')
passed=$((passed + ${package_passed:-0})); failed=$((failed + ${package_failed:-0}))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The build or the test host failed before any test could fail: count that as a failure.
  failed=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
