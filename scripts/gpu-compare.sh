#!/usr/bin/env bash
# Before and after a change, the GPU benchmark's table in one call on one GPU: what "no shape slower than before" is
# measured by (timings compare only within one call on one machine).
#
#   scripts/gpu-compare.sh publish REV [DEST]  (here, with the .NET SDK) publishes bench/gpu/FlashKMeans.GpuBench as of the
#                                              commit REV into DEST/before and as the working tree is into DEST/after
#                                              (default DEST: .device/compare), self-contained and trimmed, with this script.
#   DEST/gpu-compare.sh run [ROUNDS] [ARGS]    (there) runs the two alternately, before first in odd rounds and after first
#                                              in even ones (default 2 rounds), each with ARGS (--iters 50, --only 'K=8192'),
#                                              and prints, per shape, the median of each side's ms/iter and whole-fit ms/iter
#                                              over the rounds and after / before. Raw tables go to $OUT when it is set.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cmd="${1:-}"
shift || true
case "$cmd" in
  publish)
    rev="${1:?usage: $0 publish REV [DEST]}"
    root="$(cd "$here/.." && pwd)"
    dest="${2:-$root/.device/compare}"
    export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
    common=(-c Release -r linux-x64 --self-contained -p:PublishTrimmed=true -p:DebugType=none)
    worktree="$(mktemp -d)"
    trap 'git -C "$root" worktree remove --force "$worktree" >/dev/null 2>&1 || true' EXIT
    git -C "$root" worktree add --detach "$worktree" "$rev" >/dev/null
    rm -rf "$dest"
    mkdir -p "$dest"
    dotnet publish "$worktree/bench/gpu/FlashKMeans.GpuBench" "${common[@]}" -o "$dest/before"
    dotnet publish "$root/bench/gpu/FlashKMeans.GpuBench" "${common[@]}" -o "$dest/after"
    git -C "$root" rev-parse "$rev" > "$dest/before/REVISION"
    git -C "$root" describe --always --dirty > "$dest/after/REVISION"
    cp "$0" "$dest/gpu-compare.sh"
    du -sh "$dest"
    ;;
  run)
    rounds=2
    if [[ "${1:-}" =~ ^[0-9]+$ ]]; then rounds="$1"; shift; fi
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader || true
    logs="${OUT:-$(mktemp -d)}"
    for ((round = 1; round <= rounds; round++)); do
      if ((round % 2)); then order=(before after); else order=(after before); fi
      for side in "${order[@]}"; do
        echo "== round $round: $side ($(cat "$here/$side/REVISION"))"
        "$here/$side/FlashKMeans.GpuBench" "$@" | tee "$logs/$side.$round.txt"
      done
    done
    python3 - "$logs" "$rounds" <<'PY'
import re, statistics, sys
logs, rounds = sys.argv[1], int(sys.argv[2])
def rows(path):
    """The benchmark table's rows: (B, N, K, d, precision) -> (ms/iter, whole-fit ms/iter)."""
    out = {}
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 12 or not cells[0].isdigit():
            continue
        key = (cells[0], cells[1], cells[2], cells[3], re.sub(r"\s*\(.*\)", "", cells[4]), cells[5])
        out[key] = (float(cells[6]), float(cells[11]))
    return out
sides = {side: [rows(f"{logs}/{side}.{r}.txt") for r in range(1, rounds + 1)] for side in ("before", "after")}
print("| B | N | K | d | precision | update | before ms/iter | after ms/iter | after / before | before fit | after fit | after / before |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
worst = 0.0
for key in sides["before"][0]:
    if not all(key in t for s in sides.values() for t in s):
        print(f"| {' | '.join(key)} | missing on one side |")
        continue
    med = {s: [statistics.median(t[key][i] for t in sides[s]) for i in (0, 1)] for s in sides}
    ratio = [med["after"][i] / med["before"][i] for i in (0, 1)]
    worst = max(worst, *ratio)
    print(f"| {' | '.join(key)} | {med['before'][0]:.3f} | {med['after'][0]:.3f} | {ratio[0]:.3f} | "
          f"{med['before'][1]:.3f} | {med['after'][1]:.3f} | {ratio[1]:.3f} |")
print(f"worst after / before: {worst:.3f} (a ratio above 1.03 is more than 3% slower)")
PY
    ;;
  *)
    echo "usage: $0 publish REV [DEST] | run [ROUNDS] [ARGS]" >&2
    exit 2
    ;;
esac
