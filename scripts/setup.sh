#!/usr/bin/env bash
# Installs every Debian package golgi, its tests and benchmarks need, in one place.
# Idempotent and non-interactive: packages already present are skipped by apt, and the
# apt index is refreshed only when a package is actually missing.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
else
  SUDO=""
fi

PACKAGES=(
  # toolchain
  build-essential cmake ccache ninja-build pkg-config git
  # tensors and a fast BLAS (without libopenblas0-pthread Debian's libtorch uses the
  # reference BLAS and matrix products run ~8x slower)
  libtorch-dev libopenblas0-pthread
  # libraries
  nlohmann-json3-dev libcli11-dev libfmt-dev libsqlite3-dev sqlite3 libcpp-httplib-dev
  zlib1g-dev libpng-dev
  # tests, fuzzing, benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev clang libfuzzer-14-dev libclang-rt-14-dev
  # data
  dataset-fashion-mnist
  espeak-ng sox  # speech synthesis and resampling for `golgi data build espeak-digits`
  tzdata iso-codes locales fortunes fortunes-min fortunes-de fortunes-es fortunes-it fortunes-pl fortunes-ru fortunes-cs fortunes-br fortunes-eo fortunes-ga fortunes-bg  # text corpora (multilingual-fortunes, facts-kb)
  nodejs  # tokenizer xcheck (npm gpt-3-encoder); npm itself: see below
  chromium  # the atlas viewer's browser end-to-end test (tests/e2e, driven by npm playwright-core)
  wrk       # HTTP load benchmark of golgi serve (bench/load)
  # independent references for tests (tests/xcheck) and peers for benchmarks (bench/peers)
  python3 python3-torch python3-numpy python3-scipy python3-sklearn python3-brian python3-skimage
  # solvers: GLPK, the MILP solver behind `golgi nap verify` (nap-spec)
  libglpk-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Debian's npm package conflicts with nodejs builds that bundle npm (e.g. NodeSource's), so npm is
# installed only when no npm command exists.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup.sh: all ${#PACKAGES[@]} packages present"
else
  echo "setup.sh: installing ${#missing[@]} packages: ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The browser test's one npm dependency (playwright-core, pinned in tests/e2e/package.json and its
# lock file; it drives Debian's chromium and downloads no browser).
e2e_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e"
if [ -f "$e2e_dir/package.json" ] && [ ! -d "$e2e_dir/node_modules/playwright-core" ]; then
  echo "setup.sh: npm install in tests/e2e"
  (cd "$e2e_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error)
fi
echo "setup.sh: done"
