#!/usr/bin/env bash
# xcheck: `golgi simulate --float64` against Brian2 (Debian's python3-brian, numpy code generation):
# seven networks (sizes 40-400 neurons, delays 0-60 steps, refractory periods 0-5 ms, recurrent
# excitation and inhibition, with and without I_e, dt 0.1 and 0.5 ms, 1,000-2,000 steps) must give
# identical spike steps for every neuron. See docs/simulator.md for the shared schedule.
# Arguments: GOLGI_BINARY SOURCE_DIR SCRATCH_DIR [HELPER_BINARY (unused)]
set -euo pipefail
golgi="$1"; src="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work"
if ! /usr/bin/python3 -c 'import brian2' 2>/dev/null; then
  echo "simulator_brian2: /usr/bin/python3 cannot import brian2; install Debian's python3-brian" >&2
  exit 1
fi
/usr/bin/python3 "$src/tests/xcheck/simulator_brian2.py" "$golgi" "$work"
