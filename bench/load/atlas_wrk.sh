#!/usr/bin/env bash
# Load check of `golgi serve` (docs/atlas.md "HTTP API"); a benchmark, not a test (not in ctest).
#
#   bench/load/atlas_wrk.sh ATLAS.db [MODEL_DIR]
#
# 1. Starts `golgi serve ATLAS.db [--model MODEL_DIR]` on a free local port.
# 2. Reads: wrk -t2 -c32 -d30s --latency against /api/neuron?model=M&ref=R (the atlas's first
#    neuron); prints requests/s, p99 latency and errors (socket errors, non-2xx answers).
# 3. With MODEL_DIR: 8 concurrent POST /api/steer clients (python3 + urllib), each one request;
#    prints how many got 200, 503 (queue full, expected above --queue + 1) and anything else
#    (should be 0).
# Environment: GOLGI (default build/bin/golgi), DURATION (30s), CONNECTIONS (32), THREADS (2),
#   QUEUE (steering queue, default 4), STEER_TOKENS (max_new_tokens per steer request, 32).
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || "$1" == "-h" || "$1" == "--help" ]]; then
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
atlas=$1
model=${2:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
golgi=${GOLGI:-$root/build/bin/golgi}
duration=${DURATION:-30s}
connections=${CONNECTIONS:-32}
threads=${THREADS:-2}
queue=${QUEUE:-4}
steer_tokens=${STEER_TOKENS:-32}
python=/usr/bin/python3

[[ -x "$golgi" ]] || { echo "atlas_wrk: no golgi binary at $golgi (build it, or set GOLGI)" >&2; exit 2; }
[[ -f "$atlas" ]] || { echo "atlas_wrk: no atlas file '$atlas' (golgi atlas build --out ...)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "atlas_wrk: wrk is not installed (apt-get install wrk)" >&2; exit 2; }

work=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# --port 0 picks a free port; the server prints its URL on stdout once it listens.
serve_args=("$atlas" --port 0 --queue "$queue")
[[ -n "$model" ]] && serve_args+=(--model "$model")
"$golgi" serve "${serve_args[@]}" >"$work/url" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 300); do
  [[ -s "$work/url" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "atlas_wrk: golgi serve exited:" >&2; cat "$work/server.log" >&2; exit 2; }
  sleep 0.1
done
url=$(head -n1 "$work/url")
[[ -n "$url" ]] || { echo "atlas_wrk: golgi serve printed no URL" >&2; cat "$work/server.log" >&2; exit 2; }
url=${url%/}

# The model name and its first neuron, from the API itself.
read -r name ref < <("$python" - "$url" <<'PY'
import json, sys, urllib.parse, urllib.request
base = sys.argv[1]
models = json.load(urllib.request.urlopen(base + "/api/models"))
name = models[0]["name"]
page = json.load(urllib.request.urlopen(base + "/api/neurons?" + urllib.parse.urlencode({"model": name, "limit": 1})))
print(name, page["neurons"][0]["ref"])
PY
)
target="$url/api/neuron?$("$python" -c 'import sys, urllib.parse; print(urllib.parse.urlencode({"model": sys.argv[1], "ref": sys.argv[2]}))' "$name" "$ref")"

echo "golgi serve $atlas (model $name) at $url"
echo "wrk -t$threads -c$connections -d$duration --latency $target"
wrk -t"$threads" -c"$connections" -d"$duration" --latency "$target" >"$work/wrk.txt"
requests_per_s=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.txt")
p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
total=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
socket_errors=$(awk -F'[ ,]+' '/Socket errors/ {print $4 + $6 + $8 + $10}' "$work/wrk.txt")
non_2xx=$(awk -F': ' '/Non-2xx or 3xx responses/ {print $2}' "$work/wrk.txt")
echo "requests/s: ${requests_per_s:-?}"
echo "p99 latency: ${p99:-?}"
echo "requests: ${total:-?}; errors: socket ${socket_errors:-0}, non-2xx ${non_2xx:-0}"

if [[ -n "$model" ]]; then
  echo "steering: 8 concurrent clients, queue $queue, max_new_tokens $steer_tokens"
  "$python" - "$url" "$ref" "$steer_tokens" <<'PY'
import collections, json, sys, threading, urllib.error, urllib.request
base, ref, tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
health = json.load(urllib.request.urlopen(base + "/api/health"))
if not health["steering"]:
    sys.exit("atlas_wrk: the server has no steering model (does MODEL_DIR match the atlas?)")
name = health["steering"][0]
counts = collections.Counter()
lock = threading.Lock()
barrier = threading.Barrier(8)

def client(i):
    body = json.dumps({"model": name, "prompt": "client %d says" % i, "max_new_tokens": tokens,
                       "interventions": [{"ref": ref, "op": "clamp", "value": 5.0 + i}]}).encode()
    request = urllib.request.Request(base + "/api/steer", data=body, headers={"Content-Type": "application/json"})
    barrier.wait()
    try:
        status = urllib.request.urlopen(request, timeout=300).status
    except urllib.error.HTTPError as e:
        status = e.code
    except Exception as e:  # connection refused or reset: the server fell over
        status = "no answer (%s)" % type(e).__name__
    with lock:
        counts[status] += 1

threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
other = sum(n for status, n in counts.items() if status not in (200, 503))
print("steering answers: 200: %d, 503: %d, other: %d %s" % (counts[200], counts[503], other,
      "" if not other else dict((k, v) for k, v in counts.items() if k not in (200, 503))))
sys.exit(1 if other else 0)
PY
fi
