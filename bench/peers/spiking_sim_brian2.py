"""Peer of bench/spiking_sim_bench.cpp: the same network in Brian2's cpp_standalone device.

20,000 LIF neurons (tau_m 20 ms, E_L = V_reset = -70 mV, V_th -50 mV, t_ref 2 ms, V_m uniform in
[-70, -50] mV), each driven one to one by its own Poisson input (`--rate` Hz, `--w-ext` mV, delay
one step), recurrent connections with probability `--p` (no autapses, `--w-rec` mV, `--delay`
steps). Exact integration, threshold v >= V_th, numpy-free C++ code.

Reported time is Brian2's own measurement of the run loop (Network::_last_run_time, written to
results/last_run_info.txt by the generated program): compilation and building the synapses are
excluded; the median of --repeats runs of the compiled program. One thread (cpp_standalone without
OpenMP). Prints one JSON object on the last line.
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

import brian2 as b2


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--neurons", type=int, default=20000)
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--dt", type=float, default=0.1)
    parser.add_argument("--p", type=float, default=0.01)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--w-ext", type=float, default=1.6)
    parser.add_argument("--w-rec", type=float, default=0.05)
    parser.add_argument("--delay", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="runs of the compiled program (median reported)")
    parser.add_argument("--keep", action="store_true", help="keep the generated project folder")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="golgi_brian2_standalone_")
    b2.set_device("cpp_standalone", directory=folder, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0
    # One compiler at a time: the machine is shared, and compile time is not measured anyway.
    b2.prefs.devices.cpp_standalone.extra_make_args_unix = ["-j1"]
    b2.BrianLogger.log_level_error()
    b2.seed(args.seed)
    dt = args.dt * b2.ms
    b2.defaultclock.dt = dt
    n = args.neurons
    g = b2.NeuronGroup(n, "dv/dt = (E_L - v)/tau_m : volt (unless refractory)", threshold="v >= V_th",
                       reset="v = V_reset", refractory=2 * b2.ms, method="exact",
                       namespace={"E_L": -70 * b2.mV, "tau_m": 20 * b2.ms, "V_th": -50 * b2.mV,
                                  "V_reset": -70 * b2.mV})
    g.v = "-70*mV + 20*mV*rand()"
    drive = b2.PoissonGroup(n, args.rate * b2.Hz)
    ext = b2.Synapses(drive, g, on_pre=f"v_post += {args.w_ext}*mV")
    ext.connect(j="i")
    ext.delay = dt
    rec = b2.Synapses(g, g, on_pre=f"v_post += {args.w_rec}*mV")
    rec.connect(condition="i != j", p=args.p)
    rec.delay = args.delay * dt
    spikes = b2.SpikeMonitor(g, record=False)  # counts only
    b2.run(args.steps * dt)
    t0 = time.time()
    b2.device.build(directory=folder, compile=True, run=True, debug=False)
    wall = time.time() - t0
    def last_run_time():
        with open(os.path.join(folder, "results", "last_run_info.txt")) as f:
            return float(f.read().split()[0])

    # The first run came with the build; run the compiled program again for the other repeats.
    times = [last_run_time()]
    for _ in range(args.repeats - 1):
        subprocess.run([os.path.join(folder, "main")], cwd=folder, check=True, stdout=subprocess.DEVNULL)
        times.append(last_run_time())
    run_time = sorted(times)[len(times) // 2]
    n_spikes = int(spikes.num_spikes)
    n_synapses = int(len(rec))
    seconds_simulated = args.steps * args.dt / 1000.0
    events = n_spikes * (n_synapses / n) + n * args.rate * seconds_simulated
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps({"peer": "brian2 " + b2.__version__ + " cpp_standalone", "seconds": run_time,
                      "rounds_seconds": times, "load_average": os.getloadavg()[0],
                      "build_and_run_wall_seconds": wall, "spikes": n_spikes,
                      "rate_hz": n_spikes / (n * seconds_simulated), "recurrent_synapses": n_synapses,
                      "synaptic_events_estimate": events, "synaptic_events_per_s": events / run_time,
                      "threads": 1}))


if __name__ == "__main__":
    main()
