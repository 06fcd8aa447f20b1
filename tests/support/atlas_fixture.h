// A small synthetic atlas for tests of the atlas reader and the server (docs/atlas.md schema v1).
//
// Contents (every value follows from the formulas below, so tests can check exact answers):
//   model id 1: name `name` (default "toy-lm"), architecture llama, task language-model, dataset
//     "toy-corpus", split val, 3 examples, 9 positions; source_path as given
//   labels: 0 "en" (2 examples), 1 "de" (1 example)
//   hooks (ord 0, 1): blocks.{l}.mlp.hook_post, layer l, kind mlp, 8 neurons, 3 positions/example
//   neuron (l, i), l in {0, 1}, i in 0..7: ref "blocks.{l}.mlp.hook_post:{i}",
//     mean = l + 0.1 i, std = 0.5 + 0.01 i, min = -1 - i, max = 2 + i + 10 l,
//     prob_active = 0.05 (i + 1), top_label = i % 2, top_label_mean = mean + 1,
//     selectivity = 0.1 i, histogram {"lo": min, "hi": max, "counts": [1, 2, 3], "sampled": 6,
//     "total": 60}; except (1, 7), whose statistics are NULL (a neuron that never fired)
//   neuron_labels: every neuron x label: mean = mean + label, prob_active = 0.5, max = max - label
//   examples (text = the tokens joined): 10 ["Der", " Hund", " bellt"] de;
//     11 ["The", " dog", " barks"] en; 12 ["100%", " of_", " cats"] en (LIKE wildcards in the text)
//   exemplars: two per neuron: rank 0 example 10 + i % 3, activation max, position i % 3,
//     window_start 0, acts [0.1, max, 0.2]; rank 1 example 10 + (i + 1) % 3, activation max / 2,
//     position 1, window_start 1, acts [max / 2, 0] (a window of tokens 1 and 2)
//   annotations: decoded_tokens (lmhead-decode) on every layer-1 neuron i < 7, label kTokens[i],
//     score 0.3 + 0.01 i; language (language-neurons) on (0, 3) "de" 0.81 and (0, 5) "en" 0.6;
//     label_selectivity (label-selectivity) on (1, 2) "de" 0.74
//   model_annotations: language-neurons / language_summary {"languages": ["en", "de"]}
//   images: id 1, kind input, 1 x 1, kToyPng
//   build_info: complete true, stage "done", golgi_version "test", seconds 1.5, options {}
#pragma once

#include <string>
#include <vector>

namespace golgi::testing {

// The decoded-token labels of layer-1 neurons 0..6.
extern const std::vector<std::string> kToyTokens;
// A valid 1x1 transparent RGBA PNG.
extern const std::string kToyPng;

// Writes the atlas above to `path` (replacing any file there).
void write_toy_atlas(const std::string& path, const std::string& name = "toy-lm", const std::string& source_path = "");

}  // namespace golgi::testing
