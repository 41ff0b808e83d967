#!/usr/bin/env bash
# scripts/ci-bench.sh — conpat's benchmark job for any CI (and for a shell).
#
# Installs what is missing (make deps), builds, runs `make bench`, compares
# the new results file with a baseline, applies the regression gate and
# regenerates the report. Everything it makes goes under --work-dir:
#   results/<machine>/<stamp>-<sha>.json   the new run (keep it as an artifact)
#   compare.md                             the comparison, as markdown
#   gate.txt                               the gate's verdict, one line
#   report/                                index.html, REPORT.md, plots
#   summary.md                             all of the above in short (for a job summary)
#
# Usage: scripts/ci-bench.sh [options]
#   --machine LABEL     machine label (default: $CONPAT_MACHINE, else the hostname)
#   --profile P         quick | default | full (default: default)
#   --repetitions N     interleaved repetitions (default: the profile's)
#   --filter REGEX      only the benchmarks matching REGEX (Google Benchmark's filter)
#   --baseline PATH     results file, or a directory: its newest file for this
#                       machine label (DIR/<machine>/) or under it. No baseline:
#                       the comparison and the gate are skipped, and said so.
#   --history DIR       earlier results of this machine (DIR/<machine>/*.json) to
#                       draw the history view from; the new run is copied beside them
#   --gate PCT          fail (exit 1) when a slowdown's whole interval lies above PCT % (default 10)
#   --work-dir DIR      where everything goes (default: ci-bench-out)
#   --no-deps           do not run make deps (the packages are known to be there)
#   -h, --help          this text
#
# Exit codes: 0 done and the gate passed (or had no baseline); 1 the gate
# found a regression, or the benchmark run failed; 2 bad usage, or the gate
# could not test (too few repetitions: use the default or full profile).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
py=/usr/bin/python3
machine="${CONPAT_MACHINE:-$(hostname -s 2>/dev/null || hostname)}"
profile=default repetitions="" filter="" baseline="" history="" gate=10 work="ci-bench-out" deps=1

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "ci-bench: $*" >&2; exit 2; }
need() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --machine) need "$@"; machine="$2"; shift 2 ;;
    --profile) need "$@"; profile="$2"; shift 2 ;;
    --repetitions) need "$@"; repetitions="$2"; shift 2 ;;
    --filter) need "$@"; filter="$2"; shift 2 ;;
    --baseline) need "$@"; baseline="$2"; shift 2 ;;
    --history) need "$@"; history="$2"; shift 2 ;;
    --gate) need "$@"; gate="$2"; shift 2 ;;
    --work-dir) need "$@"; work="$2"; shift 2 ;;
    --no-deps) deps=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
case "$profile" in quick|default|full) ;; *) die "--profile must be quick, default or full, not '$profile'" ;; esac
[[ "$machine" =~ ^[A-Za-z0-9_.-]+$ ]] || die "machine label '$machine' may only hold letters, digits, '.', '_' and '-'"
[[ "$gate" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--gate takes a percentage, not '$gate'"
[ -z "$repetitions" ] || [[ "$repetitions" =~ ^[1-9][0-9]*$ ]] || die "--repetitions takes a whole number >= 1"
[ -z "$baseline" ] || [ -e "$baseline" ] || die "baseline '$baseline' does not exist"
[ -z "$history" ] || [ -d "$history" ] || die "history '$history' is not a directory"

mkdir -p "$work"
work="$(cd "$work" && pwd)"
results="$work/results"
summary="$work/summary.md"
cd "$root"

[ $deps -eq 0 ] || make --no-print-directory deps
{ [ -f build/release/CMakeCache.txt ] || cmake --preset release; } >"$work/build.log" 2>&1 &&
  cmake --build --preset release -j "${JOBS:-$(nproc)}" --target conpat_bench >>"$work/build.log" 2>&1 || {
  tail -20 "$work/build.log" >&2; echo "ci-bench: build failed (log: $work/build.log)" >&2; exit 1; }

# History: the earlier runs of this machine, then the new one beside them.
if [ -n "$history" ] && [ -d "$history/$machine" ]; then
  mkdir -p "$results/$machine"
  cp "$history/$machine"/*.json "$results/$machine/" 2>/dev/null || true
  rm -f "$results/$machine"/*.invalid.json
fi

bench_args=(--profile "$profile" --machine "$machine" --out-dir "$results" --quiet)
[ -z "$repetitions" ] || bench_args+=(--repetitions "$repetitions")
pass=()
[ -z "$filter" ] || pass+=("--benchmark_filter=$filter")
set +e
$py scripts/bench.py "${bench_args[@]}" -- "${pass[@]}" 2>&1 | tee "$work/bench.log"
bench_rc=${PIPESTATUS[0]}
set -e
new="$(sed -n 's/^bench: results: //p' "$work/bench.log" | tail -1)"
if [ -z "$new" ] || [ ! -f "$new" ]; then
  echo "ci-bench: the benchmark run wrote no results file (exit $bench_rc; log: $work/bench.log)" >&2
  exit 1
fi

{
  echo "# conpat benchmarks on $machine"
  echo
  echo "- results: \`${new#"$work"/}\` (profile $profile, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
  [ "$bench_rc" -eq 0 ] || echo "- **some families failed** (bench exit $bench_rc; see bench.log)"
} >"$summary"

gate_rc=0
if [ -n "$baseline" ]; then
  base="$baseline"
  if [ -d "$baseline" ] && [ -d "$baseline/$machine" ]; then base="${baseline%/}/$machine"; fi
  set +e
  $py scripts/compare.py "$base" "$new" --format markdown >"$work/compare.md" 2>"$work/compare.err"
  cmp_rc=$?
  $py scripts/compare.py "$base" "$new" --fail-on-regression "$gate" >/dev/null 2>"$work/gate.err"
  gate_rc=$?
  set -e
  if [ $cmp_rc -ne 0 ]; then
    cat "$work/compare.err" >&2
    echo "ci-bench: could not compare with baseline '$base'" >&2
    gate_rc=2
  fi
  case $gate_rc in
    0) verdict="gate passed: no significant slowdown over $gate % against $base" ;;
    1) verdict="gate FAILED: $(tail -1 "$work/gate.err" | sed 's/^compare: //')" ;;
    *) verdict="gate could not test: $(tail -1 "$work/gate.err" "$work/compare.err" 2>/dev/null | grep -v '^==>' | grep . | tail -1 | sed 's/^compare: //')" ;;
  esac
else
  verdict="gate skipped: no baseline given"
  echo "no baseline given; nothing compared" >"$work/compare.md"
fi
echo "$verdict" >"$work/gate.txt"
echo "ci-bench: $verdict"
{ echo "- $verdict"; echo; echo "## Comparison"; echo; cat "$work/compare.md"; } >>"$summary"

# The report: the new run, the baseline beside it when it is another file
# (and its biggest changes against it on the first screen), and the history
# view from the runs in the new run's directory.
report_inputs=("$new")
report_args=()
if [ -n "$baseline" ] && [ $gate_rc -ne 2 ]; then
  base_file="$($py -c 'import sys; sys.path.insert(0, "scripts"); import conpat_results as cr; print(cr.resolve_inputs([sys.argv[1]])[0])' "$base" 2>/dev/null || true)"
  if [ -n "$base_file" ] && [ "$(realpath "$base_file")" != "$(realpath "$new")" ]; then
    report_inputs=("$base_file" "$new")
    report_args=(--baseline "$base_file")
  fi
fi
rm -rf "$work/report"
$py scripts/report.py "${report_inputs[@]}" "${report_args[@]}" --out "$work/report" | tee -a "$work/bench.log"
echo "- report: \`report/index.html\`, \`report/REPORT.md\`" >>"$summary"

if [ "$bench_rc" -ne 0 ] && [ $gate_rc -eq 0 ]; then exit 1; fi
exit $gate_rc
