#!/usr/bin/env bash
# Packs the libraries and the tool into a local folder feed, then uses them as a new user would, with no project
# reference to this repository:
#   1. every package carries its license, readme, symbols (.snupkg) and the commit it was built from;
#   2. `dotnet tool install` installs the flashkmeans tool from the feed, and it fits, writes a JSON summary and
#      reports its device;
#   3. samples/MLNetQuickStart and samples/PrototypeModels, copied out of the repository with project files that
#      reference the packages, build and run.
# Prints "package check N: passed|failed <what>" per check and ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
work="$(mktemp -d)"
feed="$work/feed"
# Packages built from uncommitted changes carry the last commit's version: drop ours from the global package cache,
# before and after, so that nothing restores a stale copy.
cache="$(dotnet nuget locals global-packages --list | sed 's/^global-packages: *//')"
forget() { rm -rf "$cache"/flashkmeans "$cache"/flashkmeans.ilgpu "$cache"/flashkmeans.mlnet "$cache"/flashkmeans.mlnet.onnx "$cache"/flashkmeans.tool; }
forget
trap 'rm -rf "$work"; forget' EXIT
passed=0 failed=0
report() {  # report <status> <what>
  if [ "$1" -eq 0 ]; then passed=$((passed + 1)); echo "package check: passed $2"; else failed=$((failed + 1)); echo "package check: FAILED $2"; fi
}

for project in src/FlashKMeans src/FlashKMeans.ILGPU src/FlashKMeans.MLNet src/FlashKMeans.MLNet.Onnx src/FlashKMeans.Tool; do
  dotnet pack "$project" -c Release -o "$feed" --nologo -v quiet || { report 1 "dotnet pack $project"; echo "$passed passed, $failed failed"; exit 1; }
done
version="$(ls "$feed"/FlashKMeans.*.nupkg | sed -nE "s:.*/FlashKMeans\.([0-9][^/]*)\.nupkg:\1:p")"
echo "packed version $version"

# 1. Metadata.
ok=0
for id in FlashKMeans FlashKMeans.ILGPU FlashKMeans.MLNet FlashKMeans.MLNet.Onnx FlashKMeans.Tool; do
  package="$feed/$id.$version.nupkg"
  [ -f "$package" ] && [ -f "$feed/$id.$version.snupkg" ] || { echo "  $id: package or symbols missing"; ok=1; continue; }
  files="$(unzip -Z1 "$package")"
  for needed in LICENSE README.md; do
    grep -qx "$needed" <<<"$files" || { echo "  $id: $needed missing"; ok=1; }
  done
  nuspec="$(unzip -p "$package" "$id.nuspec")"
  for needed in '<license type="expression">MIT</license>' '<readme>README.md</readme>' '<repository type="git"' 'commit="'; do
    grep -qF "$needed" <<<"$nuspec" || { echo "  $id: nuspec lacks $needed"; ok=1; }
  done
done
report $ok "license, readme, symbols and source commit in every package"

# 2. The tool, installed from the feed.
ok=0
dotnet tool install --tool-path "$work/tools" --add-source "$feed" FlashKMeans.Tool --version "$version" >/dev/null || ok=1
if [ $ok -eq 0 ]; then
  "$work/tools/flashkmeans" info || ok=1
  "$work/tools/flashkmeans" fit --rows 20000 --dimension 8 --clusters 4 --device Cpu --summary "$work/summary.json" >/dev/null || ok=1
  grep -q '"numberOfClusters": 4' "$work/summary.json" 2>/dev/null || { echo "  the tool's summary is missing or wrong"; ok=1; }
fi
report $ok "dotnet tool install FlashKMeans.Tool from the feed; flashkmeans info and fit"

# 3. The samples, against the packages.
cat > "$work/nuget.config" <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="local" value="$feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
</configuration>
CONFIG
mlnet="$(sed -n 's:.*<MLNetVersion>\(.*\)</MLNetVersion>.*:\1:p' Directory.Packages.props)"
onnx="$(sed -n 's:.*"Microsoft.ML.OnnxRuntime" Version="\[\(.*\)\]".*:\1:p' Directory.Packages.props)"
for sample in MLNetQuickStart PrototypeModels; do
  dir="$work/$sample"
  mkdir -p "$dir"
  cp samples/$sample/*.cs "$dir/"
  package=FlashKMeans.MLNet; extra=""
  if [ "$sample" = PrototypeModels ]; then
    package=FlashKMeans.MLNet.Onnx; extra="<PackageReference Include=\"Microsoft.ML.OnnxRuntime\" Version=\"$onnx\" />"
  fi
  cat > "$dir/$sample.csproj" <<PROJECT
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net8.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
    <RollForward>Major</RollForward>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="$package" Version="$version" />
    <PackageReference Include="Microsoft.ML" Version="$mlnet" />
    $extra
  </ItemGroup>
</Project>
PROJECT
  cp "$work/nuget.config" "$dir/"
  (cd "$dir" && dotnet run -c Release --nologo -v quiet > "$work/$sample.log" 2>&1)
  status=$?
  [ $status -eq 0 ] || tail -20 "$work/$sample.log"
  report $status "samples/$sample built and run against the packages"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
