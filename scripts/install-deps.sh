#!/usr/bin/env bash
# Installs what conpat needs on Debian/Ubuntu, idempotently: each package is
# checked with dpkg first, and apt-get runs only for the missing ones (the
# package lists are refreshed only when a missing package is unknown to them).
# Root, or sudo without a password, is needed only to install; without either,
# missing optional packages are reported and skipped (exit 0), missing
# required ones are listed with the command to run (exit 1).
# Usage:
#   scripts/install-deps.sh            build, test and benchmark dependencies
#   scripts/install-deps.sh --check    list what is missing, install nothing (exit 1 if any)
#   GO_BACKPORTS=1 scripts/install-deps.sh   also a current Go beside the distribution's (Debian 12:
#                                      adds the bookworm-backports suite, then installs golang-1.23-go)
set -euo pipefail

required=(
  build-essential cmake make git pkg-config
  libbenchmark-dev googletest libgtest-dev libgmock-dev
  libboost-fiber-dev libboost-context-dev libtbb-dev nlohmann-json3-dev
  python3 python3-matplotlib python3-numpy python3-scipy python3-jsonschema python3-pytest
)
# Optional: the peers, benchmarked beside conpat when present (Go; Rust's
# crossbeam-channel and flume, built offline from Debian's crate packages);
# Chromium, with which a test opens the HTML report (skipped without it).
optional=(golang-go libatomic-queue-dev libconcurrentqueue-dev libreaderwriterqueue-dev
          rustc cargo librust-crossbeam-channel-dev librust-flume-dev chromium)

# A current Go for the seed's Go rows beside Debian 12's Go 1.19 (bench.py
# runs the Go workloads under each). Its suite is added only when asked:
# GO_BACKPORTS=1 (make deps GO_BACKPORTS=1) writes
# /etc/apt/sources.list.d/conpat-backports.sources (bookworm-backports, main).
current_go=golang-1.23-go
backports_file=/etc/apt/sources.list.d/conpat-backports.sources

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "install-deps.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-deps.sh: this is not a Debian/Ubuntu system (no dpkg-query)." >&2
  echo "Install by hand: ${required[*]}" >&2
  exit 1
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
available() { apt-cache show "$1" >/dev/null 2>&1; }

if [ "${GO_BACKPORTS:-0}" = 1 ]; then
  optional+=("$current_go")
  codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
  if [ "$codename" != bookworm ] && ! installed "$current_go"; then
    echo "deps: GO_BACKPORTS=1: the backports step knows Debian 12 (bookworm) only, not '${codename:-unknown}';" \
         "install a Go >= 1.22 by hand (bench.py finds /usr/lib/go-1.*/bin/go and go on PATH)" >&2
  fi
fi

missing=()
for p in "${required[@]}" "${optional[@]}"; do installed "$p" || missing+=("$p"); done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#required[@]} required and ${#optional[@]} optional packages are installed"
  exit 0
fi
if [ $check_only -eq 1 ]; then
  echo "deps: missing: ${missing[*]}"
  exit 1
fi

missing_required=()
for p in "${missing[@]}"; do printf '%s\n' "${optional[@]}" | grep -qx "$p" || missing_required+=("$p"); done

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo)
elif [ ${#missing_required[@]} -eq 0 ]; then
  # only optional packages are missing: what needs them is skipped (and says so); not a failure
  echo "deps: all ${#required[@]} required packages are installed; optional ones missing: ${missing[*]}"
  echo "deps: (not root and no password-less sudo: install them with 'sudo apt-get install ${missing[*]}' if wanted)"
  exit 0
else
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: not root and no password-less sudo; run this, then retry:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "deps: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if [ "${GO_BACKPORTS:-0}" = 1 ] && [ "${codename:-}" = bookworm ] && ! installed "$current_go" \
    && ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deps: GO_BACKPORTS=1: adding the bookworm-backports suite ($backports_file)"
  printf '%s\n' "Types: deb" "URIs: http://deb.debian.org/debian" "Suites: bookworm-backports" "Components: main" \
    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" | "${SUDO[@]}" tee "$backports_file" >/dev/null
fi
# The package lists are refreshed only when a missing package is unknown to them (or its install fails below).
updated=0
for p in "${missing[@]}"; do
  if ! available "$p"; then "${SUDO[@]}" apt-get update -qq; updated=1; break; fi
done
to_install=()
for p in "${missing[@]}"; do
  if available "$p"; then
    to_install+=("$p")
  elif printf '%s\n' "${optional[@]}" | grep -qx "$p"; then
    echo "deps: optional package $p is not available here; skipping it"
  else
    echo "deps: required package $p is not available from apt" >&2
    exit 1
  fi
done
[ ${#to_install[@]} -gt 0 ] || { echo "deps: nothing installable is missing"; exit 0; }
if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${to_install[@]}"; then
  [ $updated -eq 0 ] || exit 1
  echo "deps: install failed with the current package lists; refreshing them and trying again"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${to_install[@]}"
fi
echo "deps: done"
