#!/usr/bin/env bash
# Sourced by scripts/test.sh and scripts/test-mlnet.sh: decides which ML.NET the build compiles against and
# sets MLNET_SOURCE (Package or Contract) and MLNET_SOURCE_REASON.
#
#   Package  - the real Microsoft.ML 5.0.0 from NuGet, used whenever it restores;
#   Contract - the offline contract (src/FlashKMeans.MLNet.Contract), for machines whose NuGet source does not
#              serve Microsoft.ML. Tests in TestCategory "RealMLNet" then report Inconclusive.
#
# Set MLNET_SOURCE beforehand to skip the probe.
if [ -n "${MLNET_SOURCE:-}" ]; then
  MLNET_SOURCE_REASON="set by MLNET_SOURCE"
else
  _probe="$(mktemp -d)"
  cat > "$_probe/probe.csproj" <<'XML'
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
  if timeout 300 dotnet restore "$_probe/probe.csproj" > "$_probe/restore.log" 2>&1; then
    MLNET_SOURCE=Package
    MLNET_SOURCE_REASON="Microsoft.ML 5.0.0 restored from NuGet"
  else
    MLNET_SOURCE=Contract
    _why="$(grep -o 'error NU[0-9]*[^[]*' "$_probe/restore.log" 2>/dev/null | head -1 | sed 's/ *$//' || true)"
    MLNET_SOURCE_REASON="Microsoft.ML 5.0.0 did not restore: ${_why:-restore failed or timed out}"
    unset _why
  fi
  rm -rf "$_probe"
  unset _probe
fi
case "$MLNET_SOURCE" in
  Package|Contract) ;;
  *) echo "MLNET_SOURCE must be Package or Contract, not '$MLNET_SOURCE'" >&2; exit 2 ;;
esac
export MLNET_SOURCE MLNET_SOURCE_REASON
