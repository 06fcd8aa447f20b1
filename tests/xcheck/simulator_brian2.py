"""golgi simulate against Brian2: identical spike steps for every neuron (issue 5).

For each configuration below this script builds one network (LIF populations, spike-generator
inputs, explicit connectivity with integer delays), writes it as golgi JSON, runs
`golgi simulate --float64`, runs the same network in Brian2 (numpy code generation, so no compiler
is needed; exact integration; refractoriness; delays of whole steps; SpikeGeneratorGroup inputs),
and compares the spike steps of every neuron. Exit status 1 on any mismatch.

Brian2's default schedule per step is: groups (state update), thresholds, synapses, resets, which
golgi follows (docs/simulator.md). In Brian2, synaptic writes to a variable declared
`(unless refractory)` are dropped while the target is refractory (conditional write), as in golgi.

usage: simulator_brian2.py GOLGI_BINARY SCRATCH_DIR
"""
import json
import os
import subprocess
import sys
import time

import numpy as np

import brian2 as b2

b2.prefs.codegen.target = "numpy"
b2.BrianLogger.log_level_error()


def generator(rng, name, size, steps, rate_per_step):
    """Random spike trains: each (neuron, step) spikes independently."""
    mask = rng.random((steps, size)) < rate_per_step
    step, neuron = np.nonzero(mask)
    return {"name": name, "type": "spike_generator", "size": size,
            "spikes": [[int(n), int(s)] for s, n in zip(step, neuron)]}


def explicit(rng, source, target, n_pre, n_post, p, w_low, w_high, d_low, d_high, autapses=True):
    mask = rng.random((n_pre, n_post)) < p
    if not autapses and source == target:
        np.fill_diagonal(mask, False)
    pre, post = np.nonzero(mask)
    # Weights with many significant digits: no two sums land exactly on the threshold.
    weights = rng.uniform(w_low, w_high, size=len(pre))
    delays = rng.integers(d_low, d_high + 1, size=len(pre))
    return {"source": source, "target": target, "connect": "explicit",
            "pre": pre.tolist(), "post": post.tolist(),
            "weight": weights.tolist(), "delay": delays.tolist()}


def lif(name, size, **params):
    out = {"name": name, "size": size}
    out.update(params)
    return out


def configurations():
    """Five (and one larger) networks that differ in size, delays, refractoriness, sign and I_e, and one
    in the resets-before-synapses order."""
    cfgs = []

    rng = np.random.default_rng(1)
    steps = 2000
    cfgs.append(("feedforward_delays_1_to_8", {
        "dt": 0.1, "steps": steps, "seed": 1,
        "populations": [lif("out", 40, V_th=-55.0, V_reset=-70.0, E_L=-70.0, tau_m=10.0, t_ref=2.0,
                            V_m=rng.uniform(-70, -56, 40).tolist())],
        "inputs": [generator(rng, "in", 60, steps, 0.01)],
        "projections": [explicit(rng, "in", "out", 60, 40, 0.3, 0.5, 3.0, 1, 8)],
    }))

    rng = np.random.default_rng(2)
    steps = 1500
    cfgs.append(("recurrent_exc_inh", {
        "dt": 0.1, "steps": steps, "seed": 2,
        "populations": [lif("exc", 80, V_th=-50.0, V_reset=-65.0, E_L=-65.0, tau_m=20.0, t_ref=2.0,
                            V_m=rng.uniform(-65, -51, 80).tolist()),
                        lif("inh", 20, V_th=-50.0, V_reset=-65.0, E_L=-65.0, tau_m=10.0, t_ref=1.0,
                            V_m=rng.uniform(-65, -51, 20).tolist())],
        "inputs": [generator(rng, "drive", 100, steps, 0.02)],
        "projections": [explicit(rng, "drive", "exc", 100, 80, 0.2, 1.0, 3.0, 1, 3),
                        explicit(rng, "drive", "inh", 100, 20, 0.2, 1.0, 3.0, 1, 3),
                        explicit(rng, "exc", "exc", 80, 80, 0.1, 0.2, 1.5, 1, 15, autapses=False),
                        explicit(rng, "exc", "inh", 80, 20, 0.2, 0.5, 2.0, 1, 10),
                        explicit(rng, "inh", "exc", 20, 80, 0.4, -4.0, -1.0, 1, 10),
                        explicit(rng, "inh", "inh", 20, 20, 0.2, -2.0, -0.5, 2, 5, autapses=False)],
    }))

    rng = np.random.default_rng(3)
    steps = 2000
    cfgs.append(("constant_current_inhibition", {
        "dt": 0.1, "steps": steps, "seed": 3,
        # I_e tau_m / C_m = 400 pA * 10 ms / 250 pF = 16 mV above E_L: tonic firing above V_th.
        "populations": [lif("tonic", 50, V_th=-55.0, V_reset=-70.0, E_L=-70.0, tau_m=10.0, t_ref=3.0,
                            C_m=250.0, I_e=400.0, V_m=rng.uniform(-70, -55.5, 50).tolist()),
                        lif("quiet", 30, V_th=-55.0, V_reset=-68.0, E_L=-70.0, tau_m=15.0, t_ref=2.0,
                            C_m=200.0, I_e=100.0)],
        "inputs": [generator(rng, "kick", 30, steps, 0.005)],
        "projections": [explicit(rng, "tonic", "tonic", 50, 50, 0.1, -2.5, -0.5, 1, 20, autapses=False),
                        explicit(rng, "tonic", "quiet", 50, 30, 0.2, 0.5, 2.0, 2, 6),
                        explicit(rng, "kick", "quiet", 30, 30, 0.3, 1.0, 4.0, 1, 4)],
    }))

    rng = np.random.default_rng(4)
    steps = 1200
    cfgs.append(("no_refractory_delay_0", {
        "dt": 0.1, "steps": steps, "seed": 4,
        "populations": [lif("a", 30, V_th=-60.0, V_reset=-70.0, E_L=-70.0, tau_m=5.0, t_ref=0.0,
                            V_m=rng.uniform(-70, -61, 30).tolist()),
                        lif("b", 30, V_th=-60.0, V_reset=-72.0, E_L=-70.0, tau_m=8.0, t_ref=0.3)],
        "inputs": [generator(rng, "in", 40, steps, 0.02)],
        "projections": [explicit(rng, "in", "a", 40, 30, 0.3, 1.0, 4.0, 0, 2),
                        explicit(rng, "a", "b", 30, 30, 0.3, 1.0, 3.0, 0, 3),
                        explicit(rng, "b", "a", 30, 30, 0.2, -3.0, -0.5, 0, 1)],
    }))

    rng = np.random.default_rng(5)
    steps = 1500
    cfgs.append(("coarse_dt_long_delays", {
        "dt": 0.5, "steps": steps, "seed": 5,
        "populations": [lif("p", 60, V_th=-52.0, V_reset=-66.0, E_L=-64.0, tau_m=12.0, t_ref=5.0, I_e=50.0,
                            V_m=rng.uniform(-66, -53, 60).tolist())],
        "inputs": [generator(rng, "in", 40, steps, 0.03)],
        "projections": [explicit(rng, "in", "p", 40, 60, 0.25, 0.5, 3.0, 1, 40),
                        explicit(rng, "p", "p", 60, 60, 0.1, -1.0, 1.5, 3, 60, autapses=False)],
    }))

    rng = np.random.default_rng(6)
    steps = 1000
    cfgs.append(("larger_recurrent_400", {
        "dt": 0.1, "steps": steps, "seed": 6,
        "populations": [lif("exc", 320, V_th=-50.0, V_reset=-60.0, E_L=-60.0, tau_m=20.0, t_ref=2.0,
                            V_m=rng.uniform(-60, -50.5, 320).tolist()),
                        lif("inh", 80, V_th=-50.0, V_reset=-60.0, E_L=-60.0, tau_m=10.0, t_ref=1.0,
                            V_m=rng.uniform(-60, -50.5, 80).tolist())],
        "inputs": [generator(rng, "drive", 200, steps, 0.01)],
        "projections": [explicit(rng, "drive", "exc", 200, 320, 0.05, 1.0, 3.0, 1, 5),
                        explicit(rng, "drive", "inh", 200, 80, 0.05, 1.0, 3.0, 1, 5),
                        explicit(rng, "exc", "exc", 320, 320, 0.02, 0.2, 1.2, 5, 15, autapses=False),
                        explicit(rng, "exc", "inh", 320, 80, 0.02, 0.2, 1.2, 5, 15),
                        explicit(rng, "inh", "exc", 80, 320, 0.02, -5.0, -1.0, 5, 15),
                        explicit(rng, "inh", "inh", 80, 80, 0.02, -5.0, -1.0, 5, 15, autapses=False)],
    }))
    # Resets before synapses (golgi's deliver_after_reset, the order of trained networks such as
    # dcls-delays'): strong drive so neurons spike on consecutive steps, where the order matters.
    rng = np.random.default_rng(7)
    steps = 1000
    cfgs.append(("deliver_after_reset", {
        "dt": 1.0, "steps": steps, "seed": 7, "deliver_after_reset": True,
        "populations": [lif("h1", 40, V_th=1.0, V_reset=0.0, E_L=0.0, tau_m=3.0, t_ref=0.0, V_m=0.0),
                        lif("h2", 30, V_th=1.0, V_reset=0.0, E_L=0.0, tau_m=1.5, t_ref=0.0, V_m=0.0)],
        "inputs": [generator(rng, "in", 50, steps, 0.15)],
        "projections": [explicit(rng, "in", "h1", 50, 40, 0.3, -0.6, 1.4, 0, 10),
                        explicit(rng, "h1", "h2", 40, 30, 0.4, -0.8, 1.2, 0, 10),
                        explicit(rng, "h2", "h1", 30, 40, 0.1, -1.0, 0.5, 1, 5)],
    }))
    for _, net in cfgs:
        net["monitors"] = {"spikes": [p["name"] for p in net["populations"]]}
    return cfgs


def run_brian2(net):
    """Spike steps per population: {name: (steps, neurons)}."""
    b2.start_scope()
    dt = net["dt"] * b2.ms
    b2.defaultclock.dt = dt
    groups, monitors = {}, {}
    after_reset = net.get("deliver_after_reset", False)
    for p in net["populations"]:
        params = dict(V_th=-55.0, V_reset=-70.0, E_L=-70.0, tau_m=10.0, t_ref=2.0, C_m=250.0, I_e=0.0)
        params.update({k: v for k, v in p.items() if k in params})
        namespace = {"V_th": params["V_th"] * b2.mV, "V_reset": params["V_reset"] * b2.mV,
                     "E_L": params["E_L"] * b2.mV, "tau_m": params["tau_m"] * b2.ms,
                     "C_m": params["C_m"] * b2.pF, "I_e": params["I_e"] * b2.pA}
        if after_reset:
            # Brian2 drops synaptic writes to an `(unless refractory)` variable in the spike step
            # itself, even with refractory = 0; golgi's deliver_after_reset keeps them (t_ref = 0
            # only), which is the plain equation without the flag.
            assert params["t_ref"] == 0.0, "deliver_after_reset configurations use t_ref = 0"
            g = b2.NeuronGroup(p["size"], "dv/dt = (E_L - v)/tau_m + I_e/C_m : volt",
                               threshold="v >= V_th", reset="v = V_reset",
                               method="exact", namespace=namespace, name="pop_" + p["name"])
        else:
            g = b2.NeuronGroup(p["size"], "dv/dt = (E_L - v)/tau_m + I_e/C_m : volt (unless refractory)",
                               threshold="v >= V_th", reset="v = V_reset", refractory=params["t_ref"] * b2.ms,
                               method="exact", namespace=namespace, name="pop_" + p["name"])
        v0 = p.get("V_m", params["E_L"])
        g.v = np.asarray(v0, dtype=float) * b2.mV
        groups[p["name"]] = g
        monitors[p["name"]] = b2.SpikeMonitor(g)
    for i in net.get("inputs", []):
        spikes = np.asarray(i["spikes"], dtype=np.int64).reshape(-1, 2)
        groups[i["name"]] = b2.SpikeGeneratorGroup(i["size"], spikes[:, 0], spikes[:, 1] * dt, name="in_" + i["name"])
    synapses = []
    for k, pr in enumerate(net["projections"]):
        s = b2.Synapses(groups[pr["source"]], groups[pr["target"]], "w : volt", on_pre="v_post += w",
                        name=f"syn_{k}")
        s.connect(i=np.asarray(pr["pre"], dtype=int), j=np.asarray(pr["post"], dtype=int))
        s.w = np.asarray(pr["weight"]) * b2.mV
        s.delay = np.asarray(pr["delay"]) * dt
        if after_reset:
            s.pre.when = "after_resets"
        synapses.append(s)
    network = b2.Network(list(groups.values()), list(monitors.values()), synapses)
    network.run(net["steps"] * dt)
    out = {}
    for name, m in monitors.items():
        steps = np.round(np.asarray(m.t / dt)).astype(np.int64)
        out[name] = (steps, np.asarray(m.i, dtype=np.int64))
    return out


def per_neuron(steps, neurons, size):
    trains = [[] for _ in range(size)]
    for s, n in zip(steps.tolist(), neurons.tolist()):
        trains[n].append(s)
    return [sorted(t) for t in trains]


def main():
    golgi, scratch = sys.argv[1], sys.argv[2]
    os.makedirs(scratch, exist_ok=True)
    failures = 0
    rows = []
    for name, net in configurations():
        folder = os.path.join(scratch, name)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "net.json")
        with open(path, "w") as f:
            json.dump(net, f)
        t0 = time.time()
        subprocess.run([golgi, "--quiet", "simulate", path, "--out", os.path.join(folder, "golgi"), "--float64",
                        "--threads", "2"], check=True)
        t_golgi = time.time() - t0
        # float32 (golgi's default) against float64: informational, reported in docs/simulator.md.
        subprocess.run([golgi, "--quiet", "simulate", path, "--out", os.path.join(folder, "golgi32"),
                        "--threads", "2"], check=True)
        t0 = time.time()
        reference = run_brian2(net)
        t_brian = time.time() - t0
        total, mismatched_neurons, first, same32, total32 = 0, 0, None, 0, 0
        for p in net["populations"]:
            ours = np.load(os.path.join(folder, "golgi", f"spikes_{p['name']}.npy"))
            a = per_neuron(ours[:, 0], ours[:, 1], p["size"])
            b = per_neuron(*reference[p["name"]], p["size"])
            single = np.load(os.path.join(folder, "golgi32", f"spikes_{p['name']}.npy"))
            c = per_neuron(single[:, 0], single[:, 1], p["size"])
            same32 += sum(a[n] == c[n] for n in range(p["size"]))
            total32 += len(single)
            total += len(ours)
            for n in range(p["size"]):
                if a[n] != b[n]:
                    mismatched_neurons += 1
                    if first is None:
                        diff = sorted(set(a[n]) ^ set(b[n]))
                        first = f"{p['name']}[{n}]: golgi {len(a[n])} spikes, Brian2 {len(b[n])}, first differing step {diff[0]}"
        neurons = sum(p["size"] for p in net["populations"])
        ok = mismatched_neurons == 0 and total > 0
        # A network that never spikes would agree trivially: require activity.
        min_spikes = neurons
        if total < min_spikes:
            ok = False
            first = first or f"only {total} spikes (< {min_spikes}): the check would be vacuous"
        failures += not ok
        rows.append((name, neurons, net["steps"], total, mismatched_neurons, ok, t_golgi, t_brian, first,
                     same32, total32))
    print(f"{'configuration':32s} {'neurons':>7s} {'steps':>6s} {'spikes':>7s} {'mismatched':>10s}  result  "
          f"golgi_s  brian2_s  float32: same trains, spikes")
    for name, neurons, steps, total, mism, ok, tg, tb, first, same32, total32 in rows:
        print(f"{name:32s} {neurons:7d} {steps:6d} {total:7d} {mism:10d}  {'PASS' if ok else 'FAIL':6s}  {tg:7.2f}  "
              f"{tb:8.2f}  {same32}/{neurons}, {total32}")
        if not ok:
            print(f"    {first}")
    with open(os.path.join(scratch, "summary.json"), "w") as f:
        json.dump([{"configuration": r[0], "neurons": r[1], "steps": r[2], "spikes": r[3],
                    "mismatched_neurons": r[4], "pass": r[5], "float32_identical_trains": r[9],
                    "float32_spikes": r[10]} for r in rows], f, indent=1)
    if failures:
        print(f"simulator_brian2: {failures} of {len(rows)} configurations differ from Brian2")
        return 1
    print(f"simulator_brian2: all {len(rows)} configurations give identical spike steps for every neuron")
    return 0


if __name__ == "__main__":
    sys.exit(main())
