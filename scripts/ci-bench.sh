#!/usr/bin/env bash
# scripts/ci-bench.sh — conpat's benchmark job for any CI (and for a shell).
#
# Installs what is missing (make deps), builds, then either
#   - runs the suite (scripts/bench.py) and compares the new run with a stored
#     baseline run (scripts/compare.py: unpaired), or
#   - with --abtest-base REV, measures REV and HEAD interleaved and paired
#     (scripts/abtest.py; for pull requests: REV = the merge base),
# applies the regression gate and regenerates the report. Everything it makes
# goes under --out-dir:
#   results/<machine>/<stamp>-<sha>.json.gz   the new run(s), compressed (the artifact)
#   history-line.jsonl                        the new run's summary line (scripts/history.py)
#   history/<machine>.jsonl                   --history's lines plus the new one (the report's history view)
#   compare.json, compare.md                  the comparison: JSON and the full markdown table
#   gate.txt                                  the gate's verdict, one line
#   summary.md                                for a job summary: regressions first, worst first, then
#                                             improvements, then the counts; "no baseline" said so
#   run.env                                   MACHINE, PROFILE, RUN_FILE, EXIT_CODE (for the storing step)
#   report/                                   index.html, REPORT.md, plots
#
# Usage: scripts/ci-bench.sh [options]
#   --machine LABEL       machine label (letters, digits, '.', '_', '-'). Default: $CONPAT_MACHINE;
#                         else on a GitHub-hosted runner "github-hosted-<image>" ($ImageOS), else the
#                         runner's name ($RUNNER_NAME), else the hostname; those defaults are made
#                         valid (other characters become '-', lower case)
#   --print-machine       print the label the options and environment give, and exit
#   --profile P           quick | default | full (default: default)
#   --repetitions N       interleaved repetitions (default: the profile's)
#   --filter REGEX        only the benchmarks matching REGEX (Google Benchmark's filter; Go rows too)
#   --baseline PATH       stored run to compare with: a results file (.json or .json.gz), or a directory
#                         (its newest file for this label: DIR/<machine>/, else under DIR). None: nothing
#                         is compared, the gate is skipped, and the summary says "no baseline"
#   --abtest-base REV     paired A/B instead: REV against HEAD (the checkout), both built and measured
#                         interleaved; --baseline is then not used
#   --history PATH        run summaries (history/<machine>.jsonl, or a directory of them) to draw the
#                         history view from, with the new run appended
#   --fail-on-regression PCT
#                         the gate: exit 1 when a slowdown's whole interval lies above PCT % (default 10;
#                         --gate PCT is the older name); the quick profile is compared, not gated
#                         (unless --repetitions is given)
#   --gate-metric M       gate this metric too (repeatable; compare.py's --gate-metric)
#   --fdr Q               false discovery rate across rows (default 0.05; --alpha is the same)
#   --min-effect PCT      smallest change that counts (compare.py's and abtest.py's defaults otherwise)
#   --pin                 pin the benchmarks' threads to distinct CPUs (bench.py/abtest.py --pin)
#   --no-go               leave out the Go workloads
#   --out-dir DIR         where everything goes (default: ci-bench-out; --work-dir is the older name)
#   --no-deps             do not run make deps (the packages are known to be there)
#   -h, --help            this text
#
# Relative paths are taken from the directory ci-bench.sh was started in.
# Test double: CONPAT_CI_BENCH_CMD (or CONPAT_CI_ABTEST_CMD with --abtest-base)
# replaces `python3 scripts/bench.py` (abtest.py): it gets the same arguments
# and must print bench.py's "bench: results: FILE" line (abtest.py's JSON via
# --out); deps and the build are skipped then.
#
# Exit codes: 0 done and the gate passed (or was skipped, said so); 1 the gate
# found a regression, or the benchmark run failed; 2 bad usage, or the gate
# could not test (too few repetitions: use the default or full profile).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
py=/usr/bin/python3
start_dir="$(pwd)"
profile=default repetitions="" filter="" baseline="" history="" gate=10 work="ci-bench-out" deps=1
abtest_base="" machine="" print_machine=0 fdr="" min_effect="" pin=0 no_go=0
gate_metrics=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "ci-bench: $*" >&2; exit 2; }
need() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"; }
abs() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s' "$start_dir/$1" ;; esac; }
sanitize() { printf '%s' "$1" | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9_.-' '-' | tr -s '-' | sed 's/^-//; s/-$//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --machine) need "$@"; machine="$2"; shift 2 ;;
    --print-machine) print_machine=1; shift ;;
    --profile) need "$@"; profile="$2"; shift 2 ;;
    --repetitions) need "$@"; repetitions="$2"; shift 2 ;;
    --filter) need "$@"; filter="$2"; shift 2 ;;
    --baseline) need "$@"; baseline="$(abs "$2")"; shift 2 ;;
    --abtest-base) need "$@"; abtest_base="$2"; shift 2 ;;
    --history) need "$@"; history="$(abs "$2")"; shift 2 ;;
    --fail-on-regression|--gate) need "$@"; gate="$2"; shift 2 ;;
    --gate-metric) need "$@"; gate_metrics+=(--gate-metric "$2"); shift 2 ;;
    --fdr|--alpha) need "$@"; fdr="$2"; shift 2 ;;
    --min-effect) need "$@"; min_effect="$2"; shift 2 ;;
    --pin) pin=1; shift ;;
    --no-go) no_go=1; shift ;;
    --out-dir|--work-dir) need "$@"; work="$2"; shift 2 ;;
    --no-deps) deps=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
if [ -z "$machine" ]; then
  if [ -n "${CONPAT_MACHINE:-}" ]; then machine="$CONPAT_MACHINE"
  elif [ "${RUNNER_ENVIRONMENT:-}" = github-hosted ]; then machine="$(sanitize "github-hosted-${ImageOS:-linux}")"
  elif [ -n "${RUNNER_NAME:-}" ]; then machine="$(sanitize "$RUNNER_NAME")"
  else machine="$(sanitize "$(hostname -s 2>/dev/null || hostname)")"
  fi
  [ -n "$machine" ] || machine=unnamed
fi
case "$profile" in quick|default|full) ;; *) die "--profile must be quick, default or full, not '$profile'" ;; esac
[[ "$machine" =~ ^[A-Za-z0-9_.-]+$ ]] || die "machine label '$machine' may only hold letters, digits, '.', '_' and '-'"
if [ $print_machine -eq 1 ]; then echo "$machine"; exit 0; fi
num='^[0-9]+([.][0-9]+)?$'
[[ "$gate" =~ $num ]] || die "--fail-on-regression takes a percentage, not '$gate'"
[ -z "$min_effect" ] || [[ "$min_effect" =~ $num ]] || die "--min-effect takes a percentage, not '$min_effect'"
[ -z "$fdr" ] || [[ "$fdr" =~ ^0?[.][0-9]*[1-9][0-9]*$ ]] || die "--fdr takes a rate in (0, 1), not '$fdr'"
[ -z "$repetitions" ] || [[ "$repetitions" =~ ^[1-9][0-9]*$ ]] || die "--repetitions takes a whole number >= 1"
[ -z "$baseline" ] || [ -e "$baseline" ] || die "baseline '$baseline' does not exist"
[ -z "$history" ] || [ -e "$history" ] || die "history '$history' does not exist"
[ -z "$abtest_base" ] || [ -z "$baseline" ] || die "give --baseline or --abtest-base, not both"

mkdir -p "$work"
work="$(cd "$work" && pwd)"
results="$work/results"
summary="$work/summary.md"
rm -rf "$results" "$work/report" "$work/history" "$work"/{compare.json,compare.md,gate.txt,summary.md,run.env,history-line.jsonl}
cd "$root"

# The comparison's options, shared by compare.py and abtest.py.
cmp_opts=()
[ -z "$fdr" ] || cmp_opts+=(--fdr "$fdr")
[ -z "$min_effect" ] || cmp_opts+=(--min-effect "$min_effect")
cmp_opts+=("${gate_metrics[@]}")
run_opts=(--profile "$profile" --machine "$machine" --quiet)
[ -z "$repetitions" ] || run_opts+=(--repetitions "$repetitions")
[ $pin -eq 0 ] || run_opts+=(--pin)
[ $no_go -eq 0 ] || run_opts+=(--no-go)
pass=()
[ -z "$filter" ] || pass+=("--benchmark_filter=$filter")

injected="${CONPAT_CI_BENCH_CMD:-}"
[ -z "$abtest_base" ] || injected="${CONPAT_CI_ABTEST_CMD:-}"
if [ -z "$injected" ]; then
  [ $deps -eq 0 ] || make --no-print-directory deps
  if [ -z "$abtest_base" ]; then  # abtest.py builds its two revisions itself
    { [ -f build/release/CMakeCache.txt ] || cmake --preset release; } >"$work/build.log" 2>&1 &&
      cmake --build --preset release -j "${JOBS:-$(nproc)}" --target conpat_bench >>"$work/build.log" 2>&1 || {
      tail -20 "$work/build.log" >&2; echo "ci-bench: build failed (log: $work/build.log)" >&2; exit 1; }
  fi
fi

finish_env() {  # run.env: what the storing step needs; written again at the end with the exit code
  { echo "MACHINE=$machine"; echo "PROFILE=$profile"; echo "RUN_FILE=${1:-}"; echo "EXIT_CODE=${2:-}"; } >"$work/run.env"
}
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
# The quick profile's 3 repetitions cannot pass the test: compared, not gated (unless --repetitions says more).
gated=1
if [ "$profile" = quick ] && [ -z "$repetitions" ]; then gated=0; fi
gate_rc=0 bench_rc=0 new="" stored=""
set +e
if [ -n "$abtest_base" ]; then
  # ---- pull request: paired A/B of the merge base and HEAD -------------------------------
  cmd=($py scripts/abtest.py)
  [ -z "$injected" ] || read -r -a cmd <<<"$injected"
  "${cmd[@]}" --base "$abtest_base" --head HEAD "${run_opts[@]}" "${cmp_opts[@]}" \
    $([ $gated -eq 0 ] || echo --fail-on-regression "$gate") --format json --out "$work/compare.json" \
    --out-dir "$results" -- "${pass[@]}" 2>&1 | tee "$work/bench.log"
  bench_rc=${PIPESTATUS[0]}
  set -e
  if [ ! -s "$work/compare.json" ]; then
    echo "ci-bench: the A/B test wrote no comparison (exit $bench_rc; log: $work/bench.log)" >&2
    { echo "# conpat benchmarks on $machine"; echo; echo "- **the A/B test failed** (exit $bench_rc; see bench.log)"; } >"$summary"
    echo "A/B test failed (exit $bench_rc)" >"$work/gate.txt"; finish_env "" 1; exit 1
  fi
  $py -c 'import json, sys; sys.path.insert(0, "scripts"); import abtest
print(abtest.render(json.load(open(sys.argv[1]))[0], "markdown"))' "$work/compare.json" >"$work/compare.md"
  new="$(ls "$results/$machine"/*-head.json 2>/dev/null | tail -1)"
  gate_msg="$($py -c 'import json, sys; g = json.load(open(sys.argv[1]))[0].get("gate") or {}; print(g.get("message", ""))' "$work/compare.json")"
  case $bench_rc in
    0) verdict="gate passed: no slowdown of HEAD over $gate % against $abtest_base (paired A/B)"
       [ $gated -eq 1 ] || verdict="gate skipped: the quick profile has too few pairs to gate; compared only" ;;
    1) verdict="gate FAILED: ${gate_msg#abtest: }"; [ -n "$gate_msg" ] || verdict="some families failed (abtest exit 1)" ;;
    *) verdict="gate could not test: ${gate_msg#abtest: }"; gate_rc=2 ;;
  esac
  [ $bench_rc -ne 1 ] || gate_rc=1
  baseline_text="paired A/B against \`$abtest_base\` (both built here, measured interleaved); no baseline from stored runs is used"
else
  # ---- push / manual run: the suite, compared with the stored baseline -------------------
  cmd=($py scripts/bench.py)
  [ -z "$injected" ] || read -r -a cmd <<<"$injected"
  "${cmd[@]}" "${run_opts[@]}" --out-dir "$results" -- "${pass[@]}" 2>&1 | tee "$work/bench.log"
  bench_rc=${PIPESTATUS[0]}
  set -e
  new="$(sed -n 's/^bench: results: //p' "$work/bench.log" | tail -1)"
  if [ -z "$new" ] || [ ! -f "$new" ]; then
    echo "ci-bench: the benchmark run wrote no results file (exit $bench_rc; log: $work/bench.log)" >&2
    { echo "# conpat benchmarks on $machine"; echo; echo "- **the benchmark run wrote no results** (exit $bench_rc; see bench.log)"; } >"$summary"
    echo "benchmark run failed (exit $bench_rc)" >"$work/gate.txt"; finish_env "" 1; exit 1
  fi
  if [ -n "$baseline" ]; then
    base="$baseline"
    if [ -d "$baseline" ] && [ -d "$baseline/$machine" ]; then base="${baseline%/}/$machine"; fi
    gate_args=(--fail-on-regression "$gate")
    [ $gated -eq 1 ] || gate_args=()
    set +e
    $py scripts/compare.py "$base" "$new" "${cmp_opts[@]}" --format json "${gate_args[@]}" \
      >"$work/compare.json" 2>"$work/gate.err"
    gate_rc=$?
    set -e
    : >"$work/compare.err"
    if [ -s "$work/compare.json" ]; then  # the full table, from the same comparison
      $py -c 'import json, sys; sys.path.insert(0, "scripts"); import compare
res = json.load(open(sys.argv[1])); print(compare.render_text(res, True, False, res[0]["fdr"]))' \
        "$work/compare.json" >"$work/compare.md"
    else
      cp "$work/gate.err" "$work/compare.err"; rm -f "$work/compare.json"
      cat "$work/compare.err" >&2
      echo "ci-bench: could not compare with baseline '$base'" >&2
      echo "could not compare with the baseline: $(tail -1 "$work/compare.err")" >"$work/compare.md"
      gate_rc=2
    fi
    case $gate_rc in
      0) verdict="gate passed: no significant slowdown over $gate % against the stored baseline"
         [ $gated -eq 1 ] || verdict="gate skipped: the quick profile has too few repetitions to gate; compared only" ;;
      1) verdict="gate FAILED: $(grep -v '^compare: .*not tested' "$work/gate.err" | tail -1 | sed 's/^compare: //')" ;;
      *) verdict="gate could not test: $(cat "$work/gate.err" "$work/compare.err" 2>/dev/null | grep . | tail -1 | sed 's/^compare: //')" ;;
    esac
    baseline_text="stored baseline \`$(basename "$($py -c 'import sys; sys.path.insert(0, "scripts"); import conpat_results as cr; print(cr.resolve_inputs([sys.argv[1]])[0])' "$base" 2>/dev/null || echo "$base")")\` (unpaired: two runs at different times)"
  else
    verdict="gate skipped: no baseline for machine label '$machine' (a first run, a new label, or a run that cannot see the stored results, such as a pull request from a fork); nothing compared"
    echo "no baseline; nothing compared" >"$work/compare.md"
    baseline_text="no baseline for machine label \`$machine\`"
  fi
fi
echo "$verdict" >"$work/gate.txt"
echo "ci-bench: $verdict"

# The new run, compressed, and its summary line (appended to a copy of the history).
if [ -n "$new" ]; then
  for f in "$results/$machine"/*.json; do [ -f "$f" ] && gzip -9nf "$f"; done
  new="$new.gz"
  stored="${new#"$work"/}"
  if ! $py scripts/history.py append "$new" --history "$work/history-line.jsonl" >/dev/null 2>"$work/history.err"; then
    cat "$work/history.err" >&2
    echo "ci-bench: the new run has no summary line (it is not stored)" >&2
    rm -f "$work/history-line.jsonl"; [ "$bench_rc" -ne 0 ] || bench_rc=1
  fi
  mkdir -p "$work/history"
  if [ -n "$history" ]; then
    if [ -d "$history" ]; then src="$history/$machine.jsonl"; else src="$history"; fi
    [ ! -f "$src" ] || cp "$src" "$work/history/$machine.jsonl"
  fi
  [ ! -f "$work/history-line.jsonl" ] || cat "$work/history-line.jsonl" >>"$work/history/$machine.jsonl"
fi

{
  echo "# conpat benchmarks on $machine"
  echo
  echo "- run: \`$stored\` (profile $profile, commit $commit)"
  echo "- compared with: $baseline_text"
  [ "$bench_rc" -eq 0 ] || [ -n "$abtest_base" ] || echo "- **some families failed** (bench exit $bench_rc; see bench.log)"
  echo "- $verdict"
  echo
  if [ -s "$work/compare.json" ]; then
    $py scripts/ci_summary.py "$work/compare.json"
    echo
    echo "The full table: \`compare.md\` in the artifact."
  fi
} >"$summary"

# The report: the new run (and the A/B test's or the baseline's changes on
# its first screen), the history view from the summaries.
report_inputs=("$new")
report_args=(--history "$work/history")
if [ -n "$abtest_base" ]; then
  report_args+=(--abtest "$work/compare.json")
elif [ -n "$baseline" ] && [ $gate_rc -ne 2 ]; then
  report_args+=(--baseline "$base")
fi
if $py scripts/report.py "${report_inputs[@]}" "${report_args[@]}" --out-dir "$work/report" >>"$work/bench.log" 2>&1; then
  echo "- report: \`report/index.html\`, \`report/REPORT.md\`" >>"$summary"
else
  echo "- **the report could not be made** (see bench.log)" >>"$summary"
  tail -3 "$work/bench.log" >&2
fi

rc=$gate_rc
if [ "$bench_rc" -ne 0 ] && [ $rc -eq 0 ]; then rc=1; fi
finish_env "$stored" "$rc"
exit $rc
