#!/usr/bin/env bash
# Installs what conpat needs on Debian/Ubuntu, idempotently: each package is
# checked with dpkg first, and apt-get runs only for the missing ones.
#   scripts/install-deps.sh            build, test and benchmark dependencies
#   scripts/install-deps.sh --check    list what is missing, install nothing (exit 1 if any)
set -euo pipefail

required=(
  build-essential cmake make git pkg-config
  libbenchmark-dev googletest libgtest-dev libgmock-dev
  libboost-fiber-dev libboost-context-dev libtbb-dev nlohmann-json3-dev
  python3 python3-matplotlib python3-numpy python3-scipy python3-jsonschema python3-pytest
)
# Optional: the peers, benchmarked beside conpat when present; Chromium,
# with which a test opens the HTML report (skipped without it).
optional=(golang-go libatomic-queue-dev libconcurrentqueue-dev libreaderwriterqueue-dev chromium)

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo)
else
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: not root and no password-less sudo; run this, then retry:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "deps: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
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
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${to_install[@]}"
echo "deps: done"
