// Labelled examples from a text corpus, for neuron statistics (analysis/neuron_stats.h).
//
// Every document becomes one example labelled with its language:
//
//   [separator] + tokens(instruction) + tokens(response)       (truncated to max_tokens)
//
// where the instruction is the document's first prefix_bytes bytes (cut back to a UTF-8 character
// boundary) and the response is the rest, tokenized separately so the boundary is exact for any
// tokenizer. The separator is the tokenizer's end-of-document token, which precedes every document
// in training (train/language_model.h), so the model sees the text as it saw it in training. Only
// response tokens are counted (language-neurons: p counts "instruction+response minus
// instruction" tokens, i.e. response tokens). Documents without response tokens after truncation
// are skipped and counted in the card.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "golgi/analysis/neuron_stats.h"
#include "golgi/core/json.h"

namespace golgi::tokenize {
class Tokenizer;
}

namespace golgi::analysis {

struct CorpusExampleOptions {
  std::string corpus = "multilingual-fortunes";
  std::string data_dir;       // empty: the corpus's default
  std::string split = "train";  // train, val or test
  uint64_t seed = 0;          // the corpus split seed (use the model's training seed to keep val held out)
  int64_t per_label = 0;      // at most this many documents per language, evenly spread (0: all)
  int64_t prefix_bytes = 16;  // the instruction's length in bytes; 0: every token counts
  int64_t max_tokens = 256;   // longest example, separator included
  std::vector<std::string> languages;  // empty: every language of the corpus
};

struct CorpusExamples {
  std::vector<TextExample> examples;
  std::vector<std::string> labels;  // language codes, sorted
  Json card;                        // corpus, split, per-language documents used and skipped
};

// Throws golgi::Error for an unknown corpus, split or language, or bad sizes.
CorpusExamples corpus_examples(const tokenize::Tokenizer& tokenizer, const CorpusExampleOptions& options);

}  // namespace golgi::analysis
