#!/usr/bin/env bash
# Builds the libFuzzer targets with clang++ into build-fuzz/ and runs each for SECONDS seconds
# (default 20), one after another so that a 2-core machine stays usable. Fails if any fuzzer finds
# a crash, a sanitizer report or a leak; the reproducer is left in build-fuzz/artifacts/.
#   tests/fuzz/run.sh [SECONDS]
set -euo pipefail
seconds=${1:-20}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$root/build-fuzz
jobs=${GOLGI_FUZZ_JOBS:-2}

CXX=${CXX:-clang++} cmake -S "$root/tests/fuzz" -B "$build" -G Ninja >/dev/null
cmake --build "$build" -j "$jobs"

rm -rf "$build/seeds"
"$build/golgi_fuzz_seeds" "$build/seeds"
mkdir -p "$build/artifacts"

failed=()
for name in safetensors npy idx; do
  corpus=$build/corpus/$name
  mkdir -p "$corpus"
  dict=()
  if [[ -f $root/tests/fuzz/$name.dict ]]; then dict=(-dict="$root/tests/fuzz/$name.dict"); fi
  log=$build/$name.log
  echo "== $name: fuzzing for ${seconds}s (log: $log)"
  if "$build/${name}_fuzz" "$corpus" "$build/seeds/$name" "${dict[@]}" \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 \
      -artifact_prefix="$build/artifacts/$name-" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "   ok: $runs executions, corpus $(ls "$corpus" | wc -l) files"
  else
    echo "   FAILED: see $log"
    grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "$log" | head -5 || true
    failed+=("$name")
  fi
done

if ((${#failed[@]})); then
  echo "fuzzing FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzzing passed: safetensors npy idx, ${seconds}s each"
