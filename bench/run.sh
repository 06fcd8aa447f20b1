#!/usr/bin/env bash
# Runs golgi's benchmarks next to their peers and writes bench/results/*.json (see bench/README.md).
#
#   bash bench/run.sh BUILD_DIR          (make bench does this with BUILD_DIR=build)
#
# Environment: GOLGI_BENCH_REPETITIONS (default 10), GOLGI_BENCH_PYTHON (default /usr/bin/python3,
# Debian's interpreter with python3-torch: the same libtorch 1.13 as golgi), GOLGI_BENCH_SECTIONS
# (default "hook_overhead transformer spiking": which benchmarks to run; also "lmhead_decode").
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: bash bench/run.sh BUILD_DIR" >&2
  exit 2
fi
build_dir=$1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
results=$root/bench/results
python=${GOLGI_BENCH_PYTHON:-/usr/bin/python3}
reps=${GOLGI_BENCH_REPETITIONS:-10}
sections=${GOLGI_BENCH_SECTIONS:-hook_overhead transformer spiking}
bench_bin=$build_dir/bin/golgi_bench_hook_overhead

if [[ ! -x $bench_bin ]]; then
  echo "bench/run.sh: $bench_bin is missing; build it with" >&2
  echo "  cmake --build $build_dir -j2 --target golgi_bench_hook_overhead" >&2
  exit 1
fi
if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "bench/run.sh: $python cannot import torch; install Debian's python3-torch (make setup)" >&2
  exit 1
fi

# One thread in both arms. at::set_num_threads / torch.set_num_threads size ATen's OpenMP pool,
# but Debian's OpenBLAS keeps its own pthread pool and reads its size only when it is loaded.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

mkdir -p "$results"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ " $sections " == *" hook_overhead "* ]]; then
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# The two arms alternate, one repetition each per round, so that a change in the machine's load
# (it is shared) lands on both rather than on whichever arm ran second.
echo "== hook_overhead: $reps rounds of golgi ($bench_bin) then python3-torch (bench/peers/hook_overhead.py)"
for ((round = 1; round <= reps; round++)); do
  "$bench_bin" \
    --benchmark_repetitions=1 \
    --benchmark_enable_random_interleaving=true \
    --benchmark_min_time=0.2 \
    --benchmark_format=json \
    --benchmark_out="$tmp/golgi.$round.json" \
    --benchmark_out_format=json >/dev/null 2> >(grep -v 'Library was built as DEBUG' >&2)
  "$python" "$root/bench/peers/hook_overhead.py" --repetitions 1 >"$tmp/python.$round.json"
  echo "   round $round/$reps done (load average $(cut -d' ' -f1 /proc/loadavg))"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

"$python" - "$tmp" "$reps" "$results" "$load_before" "$load_after" <<'PY'
"""Combines the golgi (Google Benchmark) and python3-torch results into hook_overhead.json."""
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys

tmp, rounds, results, load_before, load_after = sys.argv[1:6]
rounds = int(rounds)
golgi_rounds = [json.load(open(f"{tmp}/golgi.{i}.json")) for i in range(1, rounds + 1)]
peer_rounds = [json.load(open(f"{tmp}/python.{i}.json")) for i in range(1, rounds + 1)]
for name, data in (("golgi", golgi_rounds), ("python", peer_rounds)):
    with open(f"{results}/hook_overhead.{name}-raw.json", "w") as f:
        json.dump({"rounds": data}, f, indent=1)
out_path = f"{results}/hook_overhead.json"
golgi = golgi_rounds[0]
peer = peer_rounds[0]
TARGET_US = 2.0  # the issue's target per caching hook
median = statistics.median

# Google Benchmark: every round's run of each benchmark, keyed by name without "/iterations:N".
reps = {}
for data in golgi_rounds:
    for b in data["benchmarks"]:
        if b.get("run_type", "iteration") == "iteration":
            reps.setdefault(re.sub(r"/(iterations|min_time|repeats):[^/]+", "", b["run_name"]), []).append(b)
# Medians over rounds of every numeric field (times, counters); time_unit kept.
medians = {}
for name, runs in reps.items():
    m = {k: median(r[k] for r in runs) for k, v in runs[0].items() if isinstance(v, (int, float))}
    m["time_unit"] = runs[0]["time_unit"]
    medians[name] = m


def to_us(b, key):
    scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[b["time_unit"]]
    return b[key] * scale


def golgi_pair(model, kind):
    b = medians[f"BM_HookOverhead/{model}/{kind}"]
    out = {k: b[k] for k in ("hooks", "base_wall_us", "hooked_wall_us", "per_hook_wall_us", "base_cpu_us",
                              "hooked_cpu_us", "per_hook_cpu_us")}
    out["per_hook_wall_us_repetitions"] = [r["per_hook_wall_us"] for r in reps[f"BM_HookOverhead/{model}/{kind}"]]
    return out


def peer_pair(model, kind):
    data = {}
    for p in peer_rounds:
        for k, values in p["models"][model][kind]["repetitions_data"].items():
            data.setdefault(k, []).extend(values)
    out = {k: median(v) for k, v in data.items()}
    out["hooks"] = peer["models"][model][kind]["hooks"]
    out["per_hook_wall_us_repetitions"] = data["per_hook_wall_us"]
    return out


# Multiply-adds x 2 of the conv and linear layers at the default options, batch 1.
FLOPS = {
    "mlp": 2 * (784 * 256 + 256 * 128 + 128 * 10),
    "cnn": 2 * (28 * 28 * 16 * 1 * 25 + 14 * 14 * 32 * 16 * 25 + 1568 * 128 + 128 * 10),
}

mm = medians["BM_Matmul/512"]
mm_flops = 2.0 * 512 ** 3
peak = {
    "what": "512x512 fp32 at::mm (OpenBLAS sgemm), 1 thread; gflops = best repetition (the peak), "
            "median_* = median repetition. The CNN's convolutions run in oneDNN, which can beat it.",
    "gflops": mm_flops / (min(to_us(r, "real_time") for r in reps["BM_Matmul/512"]) * 1e3),
    "median_gflops_wall": mm_flops / (to_us(mm, "real_time") * 1e3),
    "median_gflops_cpu": mm_flops / (to_us(mm, "cpu_time") * 1e3),
    "python3_torch_gflops": max(p["matmul"]["gflops_best"] for p in peer_rounds),
    "python3_torch_median_gflops_wall": median(p["matmul"]["gflops_wall"] for p in peer_rounds),
}

models = {}
for model in ("mlp", "cnn"):
    g = golgi_pair(model, "cache")
    p = peer_pair(model, "cache")
    fwd = {kind: to_us(medians[f"BM_Forward/{model}/{kind}"], "real_time") for kind in ("no_hooks", "cache_all_hooks")}
    models[model] = {
        "hooks": int(g["hooks"]),
        "golgi_us_per_hook": g["per_hook_wall_us"],
        "python_us_per_hook": p["per_hook_wall_us"],
        "ratio_golgi_over_python": g["per_hook_wall_us"] / p["per_hook_wall_us"],
        "golgi_us_per_hook_cpu": g["per_hook_cpu_us"],
        "python_us_per_hook_cpu": p["per_hook_cpu_us"],
        "ratio_golgi_over_python_cpu": g["per_hook_cpu_us"] / p["per_hook_cpu_us"],
        "meets_target": g["per_hook_wall_us"] <= TARGET_US,
        "golgi_forward_no_hooks_us": g["base_wall_us"],
        "python_forward_no_hooks_us": p["base_wall_us"],
        "forward_ratio_golgi_over_python": g["base_wall_us"] / p["base_wall_us"],
        "golgi_forward_cached_us": g["hooked_wall_us"],
        "python_forward_cached_us": p["hooked_wall_us"],
        "forward_flops": FLOPS[model],
        "golgi_forward_fraction_of_matmul_peak": FLOPS[model] / (g["base_wall_us"] * 1e3) / peak["gflops"],
        "python_forward_fraction_of_matmul_peak": FLOPS[model] / (p["base_wall_us"] * 1e3) / peak["gflops"],
        "golgi_noop_us_per_hook": golgi_pair(model, "noop")["per_hook_wall_us"],
        "python_noop_us_per_hook": peer_pair(model, "noop")["per_hook_wall_us"],
        "golgi_breakdown_us_per_hook": {
            kind: golgi_pair(model, kind)["per_hook_wall_us"]
            for kind in ("noop", "keep", "view_slot", "detach_slot", "cache")
        },
        "golgi_paired": g,
        "python_paired": p,
        "golgi_unpaired_forward_us": fwd,
    }

hook_point = {
    "golgi_ns": {k.split("/", 1)[1]: to_us(b, "real_time") * 1e3 for k, b in medians.items()
                 if k.startswith("BM_HookPoint/") or k.startswith("BM_Part/")},
    "python_us": {k: median(v for p in peer_rounds for v in p["hook_point"]["repetitions_data"][k])
                  for k in ("no_hooks_us", "cache_hook_us")},
}


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def git_head():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


result = {
    "benchmark": "hook_overhead",
    "what": "per-hook cost of caching every hook point during a batch-1 forward pass: golgi ActivationCache "
            "vs python3-torch register_forward_hook(output.detach() into a dict); paired, alternating "
            "forwards of two identical models (one hooked); median over pairs of (hooked - plain) / hooks, "
            "then median over repetitions (rounds alternating the two arms). Times are wall clock unless the key says cpu.",
    "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "git_head": git_head(),
    "threads": 1,
    "grad_mode": "enabled (both arms)",
    "batch": 1,
    "repetitions": rounds,
    "rounds": "golgi and python alternate, one repetition each per round",
    "target_us_per_hook": TARGET_US,
    "machine": {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "google_benchmark_context": golgi.get("context", {}),
    },
    "python_peer": {k: peer[k] for k in ("peer", "python", "python_version", "torch_version", "torch_num_threads",
                                         "openblas_num_threads", "grad_enabled")},
    "matmul_peak": peak,
    "models": models,
    "hook_point": hook_point,
}
with open(out_path, "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")

print()
print(f"hook overhead, 1 thread, batch 1, median of {result['repetitions']} repetitions "
      f"(load average {load_before} -> {load_after}, {os.cpu_count()} cpus)")
print(f"{'model':5} {'hooks':>5} {'golgi us/hook':>14} {'python us/hook':>15} {'ratio':>6} "
      f"{'golgi fwd us':>13} {'python fwd us':>14} {'noop g/p us':>12}")
for model, m in models.items():
    print(f"{model:5} {m['hooks']:5d} {m['golgi_us_per_hook']:14.2f} {m['python_us_per_hook']:15.2f} "
          f"{m['ratio_golgi_over_python']:6.2f} {m['golgi_forward_no_hooks_us']:13.1f} "
          f"{m['python_forward_no_hooks_us']:14.1f} "
          f"{m['golgi_noop_us_per_hook']:5.2f}/{m['python_noop_us_per_hook']:.2f}")
for model, m in models.items():
    parts = ", ".join(f"{k} {v:.2f}" for k, v in m["golgi_breakdown_us_per_hook"].items())
    print(f"golgi {model} us/hook by hook kind: {parts}")
print(f"matmul peak (512^3 fp32, 1 thread): {peak['gflops']:.1f} GFLOP/s best, "
      f"{peak['median_gflops_wall']:.1f} median; forward at "
      + ", ".join(f"{k} {m['golgi_forward_fraction_of_matmul_peak']:.2f}/{m['python_forward_fraction_of_matmul_peak']:.2f}"
                  for k, m in models.items())
      + " of it (golgi/python)")
print(f"target <= {TARGET_US} us per caching hook: "
      + ", ".join(f"{k} {'met' if m['meets_target'] else 'MISSED'}" for k, m in models.items()))
print(f"wrote {out_path}")
PY
fi

# == transformer: golgi_bench_transformer next to bench/peers/transformer_lm.py (python3-torch eager,
# TransformerLens-style HookPoints). Optional: skipped, with a note, when the binary is not built.
#
# Environment: GOLGI_BENCH_TRANSFORMER_ROUNDS (default 3), GOLGI_BENCH_TRANSFORMER_THREADS (default 1;
# both arms get the same count, and so do their OpenMP and OpenBLAS pools).
transformer_bin=$build_dir/bin/golgi_bench_transformer
transformer_rounds=${GOLGI_BENCH_TRANSFORMER_ROUNDS:-3}
transformer_threads=${GOLGI_BENCH_TRANSFORMER_THREADS:-1}
if [[ " $sections " != *" transformer "* ]]; then
  :
elif [[ ! -x $transformer_bin ]]; then
  echo >&2
  echo "== transformer: skipped: $transformer_bin is missing; build it with" >&2
  echo "  cmake --build $build_dir -j2 --target golgi_bench_transformer" >&2
else
  export OMP_NUM_THREADS=$transformer_threads OPENBLAS_NUM_THREADS=$transformer_threads \
    MKL_NUM_THREADS=$transformer_threads
  t_load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  echo
  echo "== transformer: $transformer_rounds rounds of golgi ($transformer_bin) then python3-torch" \
    "(bench/peers/transformer_lm.py), $transformer_threads thread(s)"
  for ((round = 1; round <= transformer_rounds; round++)); do
    "$transformer_bin" --threads "$transformer_threads" --repetitions 1 >"$tmp/tgolgi.$round.json"
    "$python" "$root/bench/peers/transformer_lm.py" --threads "$transformer_threads" --repetitions 1 \
      >"$tmp/tpython.$round.json"
    echo "   round $round/$transformer_rounds done (load average $(cut -d' ' -f1 /proc/loadavg))"
  done
  t_load_after=$(cut -d' ' -f1-3 /proc/loadavg)
  "$python" "$root/bench/transformer_compare.py" "$tmp" "$transformer_rounds" "$results" \
    "$t_load_before" "$t_load_after"
fi

# == lmhead_decode: golgi_bench_lmhead_decode (every GPT-2-small-shaped neuron through a 50,257-token
# unembedding, ~3 minutes a pass on one core) with bench/peers/lmhead_decode.py as its embedded peer.
# Not in the default sections (it takes ~10 minutes); ask for it with GOLGI_BENCH_SECTIONS=lmhead_decode.
lmhead_bin=$build_dir/bin/golgi_bench_lmhead_decode
lmhead_threads=${GOLGI_BENCH_LMHEAD_THREADS:-1}
if [[ " $sections " != *" lmhead_decode "* ]]; then
  :
elif [[ ! -x $lmhead_bin ]]; then
  echo >&2
  echo "== lmhead_decode: skipped: $lmhead_bin is missing; build it with" >&2
  echo "  cmake --build $build_dir -j2 --target golgi_bench_lmhead_decode" >&2
else
  export OMP_NUM_THREADS=$lmhead_threads OPENBLAS_NUM_THREADS=$lmhead_threads MKL_NUM_THREADS=$lmhead_threads
  echo
  echo "== lmhead_decode: golgi ($lmhead_bin) with its python3-torch peer, $lmhead_threads thread(s)"
  "$lmhead_bin" --threads "$lmhead_threads" --repetitions 1 --paired 24 --peer "$root/bench/peers/lmhead_decode.py" \
    >"$tmp/lmhead.json"
  cp "$tmp/lmhead.json" "$results/lmhead_decode.json.tmp" && mv "$results/lmhead_decode.json.tmp" "$results/lmhead_decode.json"
  echo "   wrote $results/lmhead_decode.json"
fi

# == spiking: issue 5's speed targets. golgi_bench_spiking_lif alternates its arms with the
# python3-torch eager peer (bench/peers/spiking_lif.py) round by round: the 140-256-256-20 training
# step (1 and 2 threads) and the Open Neuromorphic shape Linear(n, n) + LIF, T 500, batch 16
# (n = 512, 2048). Then the network simulator against Brian2 cpp_standalone
# (golgi_bench_spiking_sim with bench/peers/spiking_sim_brian2.py).
spiking_lif_bin=$build_dir/bin/golgi_bench_spiking_lif
spiking_sim_bin=$build_dir/bin/golgi_bench_spiking_sim
spiking_rounds=${GOLGI_BENCH_SPIKING_ROUNDS:-3}
if [[ " $sections " != *" spiking "* ]]; then
  :
elif [[ ! -x $spiking_lif_bin || ! -x $spiking_sim_bin ]]; then
  echo >&2
  echo "== spiking: skipped: $spiking_lif_bin or $spiking_sim_bin is missing; build them with" >&2
  echo "  cmake --build $build_dir -j2 --target golgi_bench_spiking_lif golgi_bench_spiking_sim" >&2
else
  echo
  for threads in 1 2; do
    export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
    echo "== spiking: training step, $threads thread(s), $spiking_rounds rounds"
    "$spiking_lif_bin" --shape train --threads "$threads" --steps 5 --rounds "$spiking_rounds" \
      --peer "$root/bench/peers/spiking_lif.py" >"$tmp/spiking_train_$threads.json"
  done
  export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
  echo "== spiking: Open Neuromorphic shape, n = 512, 1 thread"
  "$spiking_lif_bin" --shape onn --n 512 --threads 1 --steps 3 --rounds "$spiking_rounds" \
    --peer "$root/bench/peers/spiking_lif.py" >"$tmp/spiking_onn_512.json"
  # n = 2048: ~130 GFLOP of products per step; one round, without the step-by-step reference arm.
  echo "== spiking: Open Neuromorphic shape, n = 2048, 1 thread"
  "$spiking_lif_bin" --shape onn --n 2048 --arm golgi --threads 1 --steps 2 --rounds 1 \
    --peer "$root/bench/peers/spiking_lif.py" >"$tmp/spiking_onn_2048.json"
  "$python" - "$tmp" "$results" <<'PY'
import json, sys
tmp, results = sys.argv[1:3]
out = {"training": {f"{t}_threads": json.load(open(f"{tmp}/spiking_train_{t}.json")) for t in (1, 2)},
       "open_neuromorphic": {f"n{n}": json.load(open(f"{tmp}/spiking_onn_{n}.json")) for n in (512, 2048)}}
with open(f"{results}/spiking_lif.json.tmp", "w") as f:
    json.dump(out, f, indent=2)
PY
  mv "$results/spiking_lif.json.tmp" "$results/spiking_lif.json"
  echo "   wrote $results/spiking_lif.json"
  echo "== spiking: simulator vs Brian2 cpp_standalone"
  "$spiking_sim_bin" --threads-list 1,2 --rounds "$spiking_rounds" --peer "$root/bench/peers/spiking_sim_brian2.py" \
    --out "$results/spiking_sim.json"
  echo "   wrote $results/spiking_sim.json"
fi
