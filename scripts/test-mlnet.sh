#!/usr/bin/env bash
# Builds and tests the ML.NET plugin (tests/FlashKMeans.MLNet.Tests).
#
# It compiles against the real Microsoft.ML 5.0.0 when the configured NuGet source serves it, and against
# the offline contract (src/FlashKMeans.MLNet.Contract) otherwise; the first line of output says which.
# Tests that need the real package are in TestCategory "RealMLNet" and report Inconclusive offline.
#
#   scripts/test-mlnet.sh                  probe, then build and test
#   MLNET_SOURCE=Contract scripts/test-mlnet.sh   skip the probe (Package or Contract)
#   scripts/test-mlnet.sh --filter TestCategory!=RealMLNet   extra arguments go to dotnet test
set -euo pipefail
cd "$(dirname "$0")/.."

source="${MLNET_SOURCE:-}"
reason="set by MLNET_SOURCE"
if [ -z "$source" ]; then
  probe="$(mktemp -d)"
  trap 'rm -rf "$probe"' EXIT
  cat > "$probe/probe.csproj" <<'XML'
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net8.0</TargetFramework>
    <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Microsoft.ML" Version="5.0.0" />
  </ItemGroup>
</Project>
XML
  if timeout 300 dotnet restore "$probe/probe.csproj" > "$probe/restore.log" 2>&1; then
    source=Package
    reason="Microsoft.ML 5.0.0 restored from NuGet"
  else
    source=Contract
    reason="Microsoft.ML 5.0.0 did not restore: $(grep -o 'error NU[0-9]*[^[]*' "$probe/restore.log" | head -1 | sed 's/ *$//')"
  fi
fi
case "$source" in
  Package|Contract) ;;
  *) echo "MLNET_SOURCE must be Package or Contract, not '$source'" >&2; exit 2 ;;
esac

echo "ML.NET source: $source ($reason)"
dotnet test tests/FlashKMeans.MLNet.Tests/FlashKMeans.MLNet.Tests.csproj -p:MLNetSource="$source" "$@"
