#!/usr/bin/python3
"""Combines rounds of golgi_bench_transformer and bench/peers/transformer_lm.py into transformer.json.

    transformer_compare.py TMPDIR ROUNDS RESULTS_DIR LOAD_BEFORE LOAD_AFTER

Reads TMPDIR/tgolgi.{i}.json and TMPDIR/tpython.{i}.json for i = 1..ROUNDS (both arms print the
same schema; see the peer's docstring). Per benchmark and arm, the value is the median over every
repetition of every round. Ratios are oriented so that > 1 always means golgi is faster:
golgi / python for tokens_per_s (I1, I2), python / golgi for us_per_forward (I5) and ms_per_token
(I6). Targets: I1 >= 1.2, I2 >= 2, I5 >= 3, I6 >= 1.5. I1's fraction of the sgemm peak, per arm:
median tokens_per_s * flops_per_token / 1e9 / that arm's sgemm_gflops (best over rounds); also
against the better of the two arms' peaks (same libtorch, same machine), which is steadier.
A benchmark missing from either arm (a missing file, --only) is reported as not measured.

Writes RESULTS_DIR/transformer.json atomically (temp file + os.replace), the raw rounds as
RESULTS_DIR/transformer.{golgi,python}-raw.json, and prints a table.
"""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

ARMS = ("golgi", "python")
# benchmark: (metric, higher is better, target ratio, what)
BENCHMARKS = {
    "I1": ("tokens_per_s", True, 1.2,
           "GPT-2-small shape, forward [4,128] with full logits, caching the 12 blocks.*.mlp.hook_post"),
    "I2": ("tokens_per_s", True, 2.0,
           "GPT-2-small shape, blocks.0-5.mlp.hook_post over 20,480 tokens into .npy shards on disk, "
           "forward stopped after block 5; includes the writes"),
    "I5": ("us_per_forward", False, 3.0,
           "tiny model (2 layers, d_model 128, 4 heads, d_mlp 512, vocab 259), forward [1,32] caching all 33 "
           "hook points (15 per layer + 3)"),
    "I6": ("ms_per_token", False, 1.5,
           "GPT-2-small shape, greedy generation of 64 tokens from a [1,16] prompt with a KV cache, "
           "caching every blocks.*.mlp.hook_post"),
}


def load_rounds(tmp, arm, rounds):
    data, missing = [], []
    for i in range(1, rounds + 1):
        path = os.path.join(tmp, f"t{arm}.{i}.json")
        try:
            with open(path) as f:
                data.append(json.load(f))
        except (OSError, ValueError) as e:
            missing.append(f"{path}: {e.__class__.__name__}")
    return data, missing


def values(rounds, bench, metric):
    out = []
    for r in rounds:
        out.extend(r.get("results", {}).get(bench, {}).get(metric, []))
    return out


def first(rounds, bench, key):
    for r in rounds:
        v = r.get("results", {}).get(bench, {}).get(key)
        if v is not None:
            return v
    return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def git_head():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def write_json(path, obj):
    """Atomically: a temp file in the same directory, then os.replace."""
    fd, tmp_path = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp creates 0600
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise


def fmt(v, width, prec):
    return f"{v:{width}.{prec}f}" if v is not None else f"{'-':>{width}}"


def main(argv):
    if len(argv) != 6:
        print("usage: transformer_compare.py TMPDIR ROUNDS RESULTS_DIR LOAD_BEFORE LOAD_AFTER", file=sys.stderr)
        return 2
    tmp, rounds, results_dir, load_before, load_after = argv[1:6]
    rounds = int(rounds)
    os.makedirs(results_dir, exist_ok=True)

    arms, missing = {}, {}
    for arm in ARMS:
        arms[arm], missing[arm] = load_rounds(tmp, arm, rounds)
        for m in missing[arm]:
            print(f"transformer_compare: {arm} round missing or unreadable: {m}", file=sys.stderr)
        for r in arms[arm]:
            if r.get("arm") != arm:
                print(f"transformer_compare: warning: a t{arm}.*.json says arm {r.get('arm')!r}", file=sys.stderr)
        write_json(os.path.join(results_dir, f"transformer.{arm}-raw.json"), {"rounds": arms[arm]})

    def meta(arm, key):
        vals = sorted({json.dumps(r.get(key)) for r in arms[arm]})
        vals = [json.loads(v) for v in vals]
        return vals[0] if len(vals) == 1 else (vals or None)

    threads = {arm: meta(arm, "threads") for arm in ARMS}
    if threads["golgi"] is not None and threads["python"] is not None and threads["golgi"] != threads["python"]:
        print(f"transformer_compare: warning: thread counts differ: {threads}", file=sys.stderr)

    sgemm = {}
    for arm in ARMS:
        g = [r["sgemm_gflops"] for r in arms[arm] if isinstance(r.get("sgemm_gflops"), (int, float))]
        sgemm[arm] = {"best": max(g) if g else None, "median": statistics.median(g) if g else None,
                      "rounds": g}

    benchmarks = {}
    for bench, (metric, higher_better, target, what) in BENCHMARKS.items():
        entry = {"what": what, "metric": metric, "higher_is_better": higher_better, "target_ratio": target}
        med = {}
        for arm in ARMS:
            v = values(arms[arm], bench, metric)
            entry[f"{arm}_{metric}_repetitions"] = v
            med[arm] = statistics.median(v) if v else None
            entry[f"{arm}_{metric}"] = med[arm]
        for key in ("flops_per_token", "tokens", "new_tokens"):
            per_arm = {arm: first(arms[arm], bench, key) for arm in ARMS}
            if any(v is not None for v in per_arm.values()):
                entry[key] = per_arm
        if med["golgi"] is None or med["python"] is None:
            entry["measured"] = False
            entry["not_measured"] = [arm for arm in ARMS if med[arm] is None]
            entry["ratio"] = None
            entry["target_met"] = None
        else:
            entry["measured"] = True
            ratio = med["golgi"] / med["python"] if higher_better else med["python"] / med["golgi"]
            entry["ratio"] = ratio
            entry["ratio_means"] = ("golgi / python" if higher_better else "python / golgi") + "; > 1: golgi faster"
            entry["target_met"] = ratio >= target
        if bench == "I1":
            frac = {}
            for arm in ARMS:
                fpt = first(arms[arm], bench, "flops_per_token")
                peak = sgemm[arm]["best"]
                frac[arm] = (med[arm] * fpt / 1e9 / peak) if None not in (med[arm], fpt, peak) and peak > 0 else None
            entry["fraction_of_sgemm_peak"] = frac
            # The same libtorch on the same machine: the best of both arms is the machine's peak, and
            # a figure against it does not move with one arm's unlucky sgemm runs.
            peaks = [sgemm[arm]["best"] for arm in ARMS if sgemm[arm]["best"]]
            machine_peak = max(peaks) if peaks else None
            entry["fraction_of_machine_sgemm_peak"] = {
                arm: (med[arm] * first(arms[arm], bench, "flops_per_token") / 1e9 / machine_peak)
                if None not in (med[arm], first(arms[arm], bench, "flops_per_token"), machine_peak) else None
                for arm in ARMS}
            entry["gflops"] = {arm: (med[arm] * first(arms[arm], bench, "flops_per_token") / 1e9)
                               if med[arm] is not None and first(arms[arm], bench, "flops_per_token") else None
                               for arm in ARMS}
        benchmarks[bench] = entry

    result = {
        "benchmark": "transformer",
        "what": "GPT-2-style transformer LM workloads with activation hooks: golgi (golgi_bench_transformer) vs "
                "python3-torch eager with TransformerLens-style HookPoints (bench/peers/transformer_lm.py); "
                "per benchmark and arm the median over all repetitions of all rounds (rounds alternate the two "
                "arms); ratio > 1 means golgi is faster.",
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_head": git_head(),
        "rounds": rounds,
        "rounds_read": {arm: len(arms[arm]) for arm in ARMS},
        "threads": threads,
        "grad_mode": {arm: meta(arm, "grad_mode") for arm in ARMS},
        "torch_version": {arm: meta(arm, "torch_version") for arm in ARMS},
        "python_version": meta("python", "python_version"),
        "peer": meta("python", "peer"),
        "machine": {
            "nproc": os.cpu_count(),
            "cpu_model": cpu_model(),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
        },
        "sgemm_gflops": {"what": "1024x1024 @ 1024x1024 fp32 mm in each arm's process at its thread count; "
                                 "best = max over rounds (the peak used for fractions)", **sgemm},
        "benchmarks": benchmarks,
    }
    out_path = os.path.join(results_dir, "transformer.json")
    write_json(out_path, result)

    print()
    print(f"transformer benchmarks, threads {threads['golgi']}/{threads['python']} (golgi/python), median over "
          f"{len(arms['golgi'])}/{len(arms['python'])} rounds (load average {load_before} -> {load_after}, "
          f"{os.cpu_count()} cpus, {cpu_model()})")
    print(f"{'bench':5} {'metric':15} {'golgi':>11} {'python':>11} {'ratio':>6} {'target':>7}  result")
    for bench, e in benchmarks.items():
        metric = e["metric"]
        g, p = e[f"golgi_{metric}"], e[f"python_{metric}"]
        prec = 1 if metric != "ms_per_token" else 2
        if e["measured"]:
            status = "met" if e["target_met"] else "MISSED"
        else:
            status = "not measured (" + ", ".join(e["not_measured"]) + ")"
        print(f"{bench:5} {metric:15} {fmt(g, 11, prec)} {fmt(p, 11, prec)} {fmt(e['ratio'], 6, 2)} "
              f"{'>= ' + format(e['target_ratio'], 'g'):>7}  {status}")
    sg, sp = sgemm["golgi"]["best"], sgemm["python"]["best"]
    print(f"sgemm peak (1024^3 fp32): golgi {fmt(sg, 0, 1).strip()} GFLOP/s, python {fmt(sp, 0, 1).strip()} GFLOP/s")
    if "I1" in benchmarks:
        fr = benchmarks["I1"]["fraction_of_sgemm_peak"]
        fm = benchmarks["I1"]["fraction_of_machine_sgemm_peak"]
        print(f"I1 fraction of sgemm peak: golgi {fmt(fr['golgi'], 0, 2).strip()}, "
              f"python {fmt(fr['python'], 0, 2).strip()} (each arm's own peak); golgi "
              f"{fmt(fm['golgi'], 0, 2).strip()}, python {fmt(fm['python'], 0, 2).strip()} (the better of the two)")
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
