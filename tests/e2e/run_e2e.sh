#!/usr/bin/env bash
# Browser end-to-end test of the atlas viewer against the real binary:
#   1. build a small atlas of the bundled model (golgi atlas build --limit 96),
#   2. serve it with the steering playground on (golgi serve --port 0 --web SOURCE/web),
#   3. drive Debian's chromium through it with playwright-core (viewer.test.mjs).
#
# usage: tests/e2e/run_e2e.sh GOLGI_BINARY SOURCE_DIR SCRATCH_DIR
# Screenshots, the test report and the server log stay in SCRATCH_DIR/artifacts.
# Exit status: 0 passed, 1 failed, 77 skipped (no chromium or node on this machine; ctest shows
# it as skipped through SKIP_RETURN_CODE 77).
# Environment: CHROMIUM (default /usr/bin/chromium), E2E_REUSE_ATLAS=1 keeps an atlas built by an
# earlier run (faster iterations on the viewer).
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 GOLGI_BINARY SOURCE_DIR SCRATCH_DIR" >&2
  exit 2
fi
GOLGI=$(realpath "$1")
SRC=$(realpath "$2")
mkdir -p "$3"
WORK=$(realpath "$3")
ART="$WORK/artifacts"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
MODEL="$SRC/assets/models/tiny-multilingual"
E2E="$SRC/tests/e2e"
started=$(date +%s)

if [ ! -x "$CHROMIUM" ]; then
  echo "viewer e2e SKIPPED: chromium is not installed at $CHROMIUM (scripts/setup.sh installs Debian's chromium; set CHROMIUM=PATH for another one)"
  exit 77
fi
if ! command -v node >/dev/null 2>&1; then
  echo "viewer e2e SKIPPED: node is not installed (scripts/setup.sh installs nodejs and npm)"
  exit 77
fi
if [ ! -x "$GOLGI" ]; then
  echo "viewer e2e: $GOLGI is not an executable golgi binary" >&2
  exit 1
fi

# playwright-core, pinned in package.json, into tests/e2e/node_modules (gitignored).
if [ ! -d "$E2E/node_modules/playwright-core" ]; then
  echo "viewer e2e: installing playwright-core (npm install in $E2E)"
  if ! (cd "$E2E" && npm install --no-audit --no-fund); then
    echo "viewer e2e: npm install failed in $E2E (is the npm registry reachable?)" >&2
    exit 1
  fi
fi

rm -rf "$ART"
mkdir -p "$ART"

ATLAS="$WORK/tiny.db"
if [ "${E2E_REUSE_ATLAS:-0}" = 1 ] && [ -f "$ATLAS" ]; then
  echo "viewer e2e: reusing $ATLAS"
else
  rm -f "$ATLAS" "$ATLAS.partial"
  echo "viewer e2e: building the atlas ($ATLAS)"
  t0=$(date +%s)
  if ! "$GOLGI" --quiet atlas build --model "$MODEL" --limit 96 --out "$ATLAS" >"$ART/atlas-build.log" 2>&1; then
    echo "viewer e2e: golgi atlas build failed; its output:" >&2
    tail -n 40 "$ART/atlas-build.log" >&2
    exit 1
  fi
  echo "viewer e2e: atlas built in $(( $(date +%s) - t0 )) s"
fi

# --port 0: the server picks a free port and prints its URL as the first line on stdout.
SERVE_OUT="$ART/serve.stdout"
SERVE_LOG="$ART/serve.log"
"$GOLGI" serve "$ATLAS" --model "$MODEL" --port 0 --web "$SRC/web" --log >"$SERVE_OUT" 2>"$SERVE_LOG" &
SERVER=$!
cleanup() {
  if kill -0 "$SERVER" 2>/dev/null; then
    kill "$SERVER" 2>/dev/null || true
    # Give it a moment to stop, then insist.
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$SERVER" 2>/dev/null || true
  fi
  wait "$SERVER" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

server_died() {
  echo "viewer e2e: golgi serve exited early; its log:" >&2
  tail -n 40 "$SERVE_LOG" >&2
  exit 1
}

URL=""
for _ in $(seq 1 300); do
  URL=$(grep -m1 -Eo '^https?://[^[:space:]]+' "$SERVE_OUT" 2>/dev/null || true)
  [ -n "$URL" ] && break
  kill -0 "$SERVER" 2>/dev/null || server_died
  sleep 0.2
done
if [ -z "$URL" ]; then
  echo "viewer e2e: golgi serve printed no URL within 60 s; its log:" >&2
  tail -n 40 "$SERVE_LOG" >&2
  exit 1
fi
URL=${URL%/}

healthy=0
for _ in $(seq 1 150); do
  if node -e 'fetch(process.argv[1]).then(r => r.json()).then(j => process.exit(j.ok ? 0 : 1)).catch(() => process.exit(1))' "$URL/api/health"; then
    healthy=1
    break
  fi
  kill -0 "$SERVER" 2>/dev/null || server_died
  sleep 0.2
done
if [ "$healthy" != 1 ]; then
  echo "viewer e2e: $URL/api/health did not answer ok within 30 s; server log:" >&2
  tail -n 40 "$SERVE_LOG" >&2
  exit 1
fi
echo "viewer e2e: golgi serve at $URL"

status=0
node "$E2E/viewer.test.mjs" --url "$URL" --artifacts "$ART" --chromium "$CHROMIUM" || status=$?
if [ "$status" -ne 0 ]; then
  echo "viewer e2e: last lines of the server log ($SERVE_LOG):" >&2
  tail -n 20 "$SERVE_LOG" >&2
  exit 1
fi
echo "viewer e2e: passed in $(( $(date +%s) - started )) s; artifacts in $ART"
