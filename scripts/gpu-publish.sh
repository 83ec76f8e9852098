# Sourced by the publish step of gpu-tests.sh and stream-bench.sh (here, with the .NET SDK; never on the
# GPU machine, so it is not copied there): the part of both bundles that is the same.
#
#   publish_gpu_bundle ROOT DEST BENCH   publishes the GPU test runner into DEST/tests and the benchmark
#                                        project BENCH (a folder relative to ROOT) into DEST/bench, both
#                                        self-contained and trimmed for linux-x64.
publish_gpu_bundle() {
  local root="$1" dest="$2" bench="$3"
  mkdir -p "$dest"
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
  local common=(-c Release -r linux-x64 --self-contained -p:PublishTrimmed=true -p:DebugType=none)
  dotnet publish "$root/tests/FlashKMeans.GpuTestRunner" "${common[@]}" -o "$dest/tests"
  dotnet publish "$root/$bench" "${common[@]}" -o "$dest/bench"
}
