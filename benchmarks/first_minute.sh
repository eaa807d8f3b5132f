#!/usr/bin/env bash
# Issue 19's first-minute figures: cold and warm `rnnlab forecast`, cold `lesson` and `sample --length 200`,
# in a fresh virtual environment with the package installed as the README's quick start does.
#
#   bash benchmarks/first_minute.sh [VENV]      (default VENV: a new one under $TMPDIR)
#
# "Cold" empties numba's cache of the fused engine's kernels and the ready stamp first (what a fresh install
# has), and waits for the background build a cold run starts before the next one. Wall and CPU of every
# command come from /usr/bin/time; the warm forecast is run 7 times and its median printed. Run it on a quiet
# machine: the figures are wall clock.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${1:-$(mktemp -d)/venv}
WORK=$(mktemp -d)
TIME=(/usr/bin/time -f '%e s wall, %U user %S sys')
if [ ! -x "$VENV/bin/rnnlab" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q torch==2.13.0
    "$VENV/bin/pip" install -q -e "$ROOT"
fi
FUSED=$("$VENV/bin/python" -c "import pathlib, rnnlab.engines.fused as f; print(pathlib.Path(f.__file__).parent / '__pycache__')")
empty_cache() {
    for _ in $(seq 600); do [ -e "$FUSED/rnnlab-fused-build.lock" ] || break; sleep 1; done
    rm -f "$FUSED"/*.nbi "$FUSED"/*.nbc "$FUSED"/rnnlab-fused-ready-* "$FUSED"/rnnlab-fused-build.lock
}
cd "$WORK"
echo "== $(date -u) · $(uptime)"
echo "== $(git -C "$ROOT" log --oneline -1) · $VENV"
for i in 1 2 3; do
    empty_cache; rm -rf cold
    echo "cold rnnlab forecast:            $( { "${TIME[@]}" "$VENV/bin/rnnlab" forecast --quiet --out cold > /dev/null; } 2>&1 | tail -1)"
done
empty_cache
echo "cold rnnlab lesson:              $( { "${TIME[@]}" "$VENV/bin/rnnlab" lesson > /dev/null; } 2>&1 | tail -1)"
"$VENV/bin/python" -c "print('the quick brown fox jumps over the lazy dog. ' * 2000)" > text.txt
"$VENV/bin/rnnlab" text --data text.txt --steps 30 --quiet --out text > /dev/null 2>&1
for i in 1 2 3; do
    empty_cache
    echo "cold rnnlab sample --length 200: $( { "${TIME[@]}" "$VENV/bin/rnnlab" sample --model text --length 200 > /dev/null; } 2>&1 | tail -1)"
done
"$VENV/bin/python" -m rnnlab.engines.fused > /dev/null 2>&1  # the kernels, for the warm runs
for i in 0 1 2 3 4 5 6 7; do
    rm -rf warm
    { /usr/bin/time -f '%e' "$VENV/bin/rnnlab" forecast --quiet --out warm > /dev/null; } 2>> warm.txt
done
"$VENV/bin/python" - warm.txt <<'EOF'
import statistics, sys
walls = [float(line) for line in open(sys.argv[1]) if line.strip()][1:]  # the first run warms the disk cache
print(f"warm rnnlab forecast:            median {statistics.median(walls):.2f} s wall of {len(walls)} "
      f"(min {min(walls):.2f}, max {max(walls):.2f})")
EOF
rm -rf "$WORK"
