#!/usr/bin/env bash
# xcheck: `golgi neurons language` (paper id language-neurons) against the official mask that the
# paper's own code (NJUNLP/Language-Neurons-Alignment) selected from real activation counts of
# MistralMathOctopus-7B on MGSM (10 languages, 32 layers x 14336 neurons), read-only fixture
# ../shared/fixtures/language_neurons_mistral_mgsm (see its README.md). Checked, with /usr/bin/python3:
#   * --autosweep ends at lambda 0.109375 (the official lambda), top_k 4588, tau 0.5644363164901733;
#   * identical neuron sets per language and layer as official_mask.json;
#   * 6307 neuron-language pairs; kept neurons by number of languages n = 1..10:
#     [1866, 617, 310, 153, 127, 59, 40, 27, 20, 0] (the README's histogram counts masked neurons, so its
#     n = 0 entry is 0; golgi's summary also counts kept neurons in no language: 4588 - 3219 = 1369);
#   * --lambda 0.11015625 gives exactly one neuron that belongs to all 10 languages.
# Usage: language_neurons_fixture.sh GOLGI_BINARY SOURCE_DIR SCRATCH_DIR [ignored]
set -euo pipefail
golgi="$1"; src="$2"; scratch="$3"
fixture="$src/../shared/fixtures/language_neurons_mistral_mgsm"
if [ ! -f "$fixture/over_zero_counts.npy" ] || [ ! -f "$fixture/meta.json" ] || [ ! -f "$fixture/official_mask.json" ]; then
  echo "language_neurons_fixture: FAILED: fixture folder $fixture (over_zero_counts.npy, meta.json," \
       "official_mask.json) is missing; it lives in the shared fixtures next to the repository"
  exit 1
fi
rm -rf "$scratch"; mkdir -p "$scratch"

"$golgi" --quiet neurons language --counts "$fixture/over_zero_counts.npy" --meta "$fixture/meta.json" \
  --autosweep --out "$scratch/mask.json" 2>"$scratch/autosweep.log" || {
  cat "$scratch/autosweep.log"; echo "language_neurons_fixture: FAILED: golgi neurons language --autosweep"; exit 1; }
"$golgi" --quiet neurons language --counts "$fixture/over_zero_counts.npy" --meta "$fixture/meta.json" \
  --lambda 0.11015625 --out "$scratch/mask_above.json" 2>"$scratch/above.log" || {
  cat "$scratch/above.log"; echo "language_neurons_fixture: FAILED: golgi neurons language --lambda 0.11015625"; exit 1; }

/usr/bin/python3 - "$fixture" "$scratch" <<'PY'
import json, sys
fixture, scratch = sys.argv[1], sys.argv[2]
official = json.load(open(f"{fixture}/official_mask.json"))
meta = json.load(open(f"{fixture}/meta.json"))
mine = json.load(open(f"{scratch}/mask.json"))
above = json.load(open(f"{scratch}/mask_above.json"))
fails = []
def check(cond, what):
    if not cond: fails.append(what)
langs = meta["languages"]
check(mine["languages"] == langs, f"languages {mine['languages']} != {langs}")
check(mine["lambda"] == 0.109375 and official["lambda"] == 0.109375, f"autosweep lambda {mine['lambda']} != 0.109375")
check(mine["top_k"] == 4588, f"top_k {mine['top_k']} != 4588")
check(mine["tau"] == 0.5644363164901733, f"tau {mine['tau']!r} != 0.5644363164901733")
diff = 0
for lang in langs:
    o, g = official["mask"][lang], mine["masks"][lang]
    check(len(g) == len(o) == 32, f"{lang}: {len(g)} layers, official {len(o)}")
    for layer, (ol, gl) in enumerate(zip(o, g)):
        if set(ol) != set(gl) or len(gl) != len(set(gl)):
            diff += 1
            fails.append(f"{lang} layer {layer}: {len(set(gl) - set(ol))} extra, {len(set(ol) - set(gl))} missing")
s = mine["summary"]
pairs = sum(len(l) for lang in langs for l in official["mask"][lang])
check(pairs == 6307 and s["pairs"] == 6307, f"pairs golgi {s['pairs']}, official {pairs}, README 6307")
hist = s["language_histogram"]
check(hist[1:] == [1866, 617, 310, 153, 127, 59, 40, 27, 20, 0], f"histogram n=1..10 {hist[1:]}")
check(hist[0] == 4588 - sum(hist[1:]) == s["unassigned"], f"kept in no language {hist[0]}")
check(s["general"] == 0, f"general {s['general']} at the autosweep lambda")
check(above["summary"]["general"] == 1 and above["summary"]["language_histogram"][10] == 1,
      f"lambda 0.11015625: {above['summary']['general']} neurons in all 10 languages, expected 1")
if fails:
    print("\n".join(fails[:40]))
    print(f"language_neurons_fixture: FAILED ({len(fails)} problems)")
    sys.exit(1)
print(f"language_neurons_fixture: OK: official mask reproduced exactly (10 languages x 32 layers, {pairs} pairs), "
      f"lambda {mine['lambda']}, tau {mine['tau']}, top_k {mine['top_k']}, histogram {hist}; "
      f"lambda 0.11015625 -> 1 all-10 neuron")
PY
