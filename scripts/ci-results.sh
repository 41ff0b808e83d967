#!/usr/bin/env bash
# scripts/ci-results.sh — the stored benchmark results on the results branch
# (default bench-results) of a git remote, read and written without a worktree
# (nothing is left registered or checked out, so a re-run or a cleaned
# checkout finds nothing stale).
#
# The branch's tree:
#   history/<machine>.jsonl             one summary line per stored run (scripts/history.py)
#   runs/<machine>/<profile>.json.gz    the newest stored run of that machine and profile, every sample;
#                                       runs/<machine>/default.json.gz is the baseline of the next run
# --keep latest (the default): the branch is one commit, replaced on every store (pushed with a lease
# on the commit it was built on, so a concurrent store is retried, never lost): the newest run per
# machine and profile keeps its samples, the summaries keep every run; the repository grows by a
# summary line a run (a default run: about 55 KB, 9 KB compressed), older samples live as the jobs'
# artifacts. --keep all: every stored run is one more commit, so the branch's log holds every run's
# samples (a default run: about 250 KB gzipped, and as much growth a run):
#   git log --format='%h %s' origin/bench-results -- runs/<machine>/default.json.gz
#   git show <commit>:runs/<machine>/default.json.gz > run.json.gz
#
# Usage:
#   scripts/ci-results.sh fetch --machine LABEL [--profile P] [--into DIR]
#       DIR/baseline.json.gz   runs/<machine>/<profile>.json.gz (default profile: default), if stored
#       DIR/history/<machine>.jsonl, if stored
#       Exit 0 also when there is no branch or nothing for this label yet (it says so).
#   scripts/ci-results.sh store --out-dir DIR [--keep latest|all] [--message TEXT]
#       stores the run ci-bench.sh left in DIR (DIR/run.env, DIR/history-line.jsonl, the .json.gz);
#       exit 0 also when DIR holds no run (it says so). Retries when the branch moved meanwhile.
# Common options:
#   --remote R        git remote (default: origin)
#   --branch B        results branch (default: bench-results)
#   -h, --help        this text
# Authentication: when GH_TOKEN is set, git talks to https://github.com/ with it (as an HTTP header
# for this command only: nothing is written to .git/config).
#
# Exit codes: 0 done; 1 a git operation failed; 2 bad usage.
set -euo pipefail

py=/usr/bin/python3
root="$(cd "$(dirname "$0")/.." && pwd)"
start_dir="$(pwd)"
remote=origin branch=bench-results machine="" profile=default into=ci-previous work="" keep=latest message=""
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "ci-results: $*" >&2; exit 2; }
need() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"; }
abs() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s' "$start_dir/$1" ;; esac; }

[ $# -ge 1 ] || die "give a command: fetch or store (see --help)"
cmd="$1"; shift
case "$cmd" in fetch|store) ;; -h|--help) usage; exit 0 ;; *) die "unknown command '$cmd' (fetch or store; see --help)" ;; esac
while [ $# -gt 0 ]; do
  case "$1" in
    --machine) need "$@"; machine="$2"; shift 2 ;;
    --profile) need "$@"; profile="$2"; shift 2 ;;
    --into) need "$@"; into="$(abs "$2")"; shift 2 ;;
    --out-dir|--work-dir) need "$@"; work="$(abs "$2")"; shift 2 ;;
    --keep) need "$@"; keep="$2"; shift 2 ;;
    --message) need "$@"; message="$2"; shift 2 ;;
    --remote) need "$@"; remote="$2"; shift 2 ;;
    --branch) need "$@"; branch="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
case "$keep" in all|latest) ;; *) die "--keep must be all or latest, not '$keep'" ;; esac
case "$profile" in quick|default|full) ;; *) die "--profile must be quick, default or full, not '$profile'" ;; esac
git check-ref-format "refs/heads/$branch" || die "'$branch' is not a valid branch name"
[[ "$into" = /* ]] || into="$(abs "$into")"

g() {  # git, with the token as a one-off header when there is one
  if [ -n "${GH_TOKEN:-}" ]; then
    git -c "http.https://github.com/.extraheader=AUTHORIZATION: basic $(printf 'x-access-token:%s' "$GH_TOKEN" | base64 -w0)" "$@"
  else
    git "$@"
  fi
}
# The branch's tip into a private ref (FETCH_HEAD is shared with every other fetch); empty if there is none.
fetch_tip() {
  local ref="refs/conpat-ci/$branch"
  if g fetch --quiet --no-tags --depth=1 "$remote" "+refs/heads/$branch:$ref" 2>"${TMPDIR:-/tmp}/ci-results.$$.err"; then
    git rev-parse --verify --quiet "$ref^{commit}"
  else
    if grep -qi "couldn't find remote ref\|not our ref\|no such ref" "${TMPDIR:-/tmp}/ci-results.$$.err"; then
      rm -f "${TMPDIR:-/tmp}/ci-results.$$.err"; return 0
    fi
    cat "${TMPDIR:-/tmp}/ci-results.$$.err" >&2; rm -f "${TMPDIR:-/tmp}/ci-results.$$.err"
    echo "ci-results: cannot fetch $branch from $remote" >&2; exit 1
  fi
  rm -f "${TMPDIR:-/tmp}/ci-results.$$.err"
}

if [ "$cmd" = fetch ]; then
  [[ "$machine" =~ ^[A-Za-z0-9_.-]+$ ]] || die "--machine takes a label of letters, digits, '.', '_' and '-'"
  rm -rf "$into"; mkdir -p "$into/history"
  tip="$(fetch_tip)"
  if [ -z "$tip" ]; then
    echo "ci-results: no $branch branch on $remote yet: this run has no baseline"; exit 0
  fi
  if git cat-file -e "$tip:history/$machine.jsonl" 2>/dev/null; then
    git cat-file blob "$tip:history/$machine.jsonl" >"$into/history/$machine.jsonl"
    echo "ci-results: history of $machine: $(wc -l <"$into/history/$machine.jsonl") run(s)"
  fi
  if git cat-file -e "$tip:runs/$machine/$profile.json.gz" 2>/dev/null; then
    git cat-file blob "$tip:runs/$machine/$profile.json.gz" >"$into/baseline.json.gz"
    echo "ci-results: baseline: runs/$machine/$profile.json.gz at $branch ${tip:0:12}"
  else
    echo "ci-results: no stored $profile-profile run for machine label '$machine' on $branch: this run has no baseline"
  fi
  exit 0
fi

# ---- store -----------------------------------------------------------------------------
[ -n "$work" ] || die "store needs --out-dir (ci-bench.sh's output directory)"
if [ ! -f "$work/run.env" ] || [ ! -s "$work/history-line.jsonl" ]; then
  echo "ci-results: $work holds no finished run (no run.env or history-line.jsonl): nothing to store"; exit 0
fi
MACHINE="" PROFILE="" RUN_FILE=""
while IFS='=' read -r k v; do
  case "$k" in MACHINE) MACHINE="$v" ;; PROFILE) PROFILE="$v" ;; RUN_FILE) RUN_FILE="$v" ;; esac
done <"$work/run.env"
[[ "$MACHINE" =~ ^[A-Za-z0-9_.-]+$ ]] || die "$work/run.env: bad MACHINE '$MACHINE'"
case "$PROFILE" in quick|default|full) ;; *) die "$work/run.env: bad PROFILE '$PROFILE'" ;; esac
[ -n "$RUN_FILE" ] && [ -f "$work/$RUN_FILE" ] || { echo "ci-results: $work: no run file to store"; exit 0; }
case "$RUN_FILE" in *.json.gz) ;; *) die "$work/run.env: RUN_FILE '$RUN_FILE' is not a .json.gz" ;; esac

index="$(mktemp)"; hist="$(mktemp)"
trap 'rm -f "$index" "$hist"' EXIT
name="$(basename "$RUN_FILE")"
msg="${message:-conpat-bench: $MACHINE $PROFILE ${name}}"
for attempt in 1 2 3 4 5; do
  tip="$(fetch_tip)"
  rm -f "$index"
  if [ -n "$tip" ]; then GIT_INDEX_FILE="$index" git read-tree "$tip"; else GIT_INDEX_FILE="$index" git read-tree --empty; fi
  : >"$hist"
  if [ -n "$tip" ] && git cat-file -e "$tip:history/$MACHINE.jsonl" 2>/dev/null; then
    git cat-file blob "$tip:history/$MACHINE.jsonl" >"$hist"
  fi
  if grep -qF "\"file\":\"$name\"" "$hist"; then
    echo "ci-results: $name is stored already (a re-run of a stored job): nothing to do"; exit 0
  fi
  cat "$work/history-line.jsonl" >>"$hist"
  hblob="$(git hash-object -w "$hist")"
  rblob="$(git hash-object -w "$work/$RUN_FILE")"
  GIT_INDEX_FILE="$index" git update-index --add --cacheinfo "100644,$hblob,history/$MACHINE.jsonl" \
    --cacheinfo "100644,$rblob,runs/$MACHINE/$PROFILE.json.gz"
  tree="$(GIT_INDEX_FILE="$index" git write-tree)"
  parent=()
  [ -z "$tip" ] || [ "$keep" = latest ] || parent=(-p "$tip")
  commit="$(git -c user.name=conpat-bench -c user.email=conpat-bench@users.noreply.github.com \
    commit-tree "$tree" "${parent[@]}" -m "$msg")"
  push=(push --quiet "$remote" "$commit:refs/heads/$branch")
  # --keep latest replaces the branch: only if it is still where we read it (no lost run)
  [ "$keep" = all ] || [ -z "$tip" ] || push=(push --quiet "--force-with-lease=refs/heads/$branch:$tip" "$remote" "$commit:refs/heads/$branch")
  [ "$keep" = all ] || [ -n "$tip" ] || push=(push --quiet "--force-with-lease=refs/heads/$branch:" "$remote" "$commit:refs/heads/$branch")
  if g "${push[@]}" 2>"$hist.err"; then
    rm -f "$hist.err"
    echo "ci-results: stored $name as runs/$MACHINE/$PROFILE.json.gz and one line of history/$MACHINE.jsonl on $branch (${commit:0:12})"
    exit 0
  fi
  echo "ci-results: push attempt $attempt failed: $(tail -1 "$hist.err")" >&2
  rm -f "$hist.err"
  sleep $((attempt * 2))
done
echo "ci-results: could not push to $branch after 5 attempts" >&2
exit 1
