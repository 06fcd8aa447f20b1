// Text corpora: language-labelled documents with deterministic, seeded train/val/test splits.
//
// A corpus is small enough to hold in memory (a few MB of text), so loading returns plain vectors
// of documents plus a card (a JSON object with sources, encodings and per-language counts). Every
// document's text is valid UTF-8: loaders check decoding and either convert from the file's real
// encoding or drop the paragraph, counting drops in the card. Loading is deterministic: inputs are
// read in sorted order and splits come from golgi::permutation(n, derive_seed(seed, ...)), so the
// same options give the same corpus on every run and machine.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "golgi/core/json.h"
#include "golgi/core/registry.h"

namespace golgi::data {

struct TextDocument {
  std::string text;      // valid UTF-8, no trailing newline
  std::string language;  // ISO 639-1 code ("en", "de", ...)
  std::string source;    // where it came from, e.g. "de/murphy"
  bool operator==(const TextDocument& o) const {
    return text == o.text && language == o.language && source == o.source;
  }
};

struct TextCorpus {
  std::string name;
  std::vector<TextDocument> train, val, test;
  Json card;  // sources, encodings, per-language counts per split, drops
};

struct TextCorpusOptions {
  std::string data_dir;                // empty: the corpus's default (Debian) location
  uint64_t seed = 0;                   // seeds the train/val/test split
  double val_fraction = 0.05;          // per language, in [0, 1); val + test < 1
  double test_fraction = 0.05;         // per language, in [0, 1)
  std::vector<std::string> languages;  // empty: every language the corpus has

  TextCorpusOptions& with_data_dir(std::string v) { data_dir = std::move(v); return *this; }
  TextCorpusOptions& with_seed(uint64_t v) { seed = v; return *this; }
  TextCorpusOptions& with_val_fraction(double v) { val_fraction = v; return *this; }
  TextCorpusOptions& with_test_fraction(double v) { test_fraction = v; return *this; }
  TextCorpusOptions& with_languages(std::vector<std::string> v) { languages = std::move(v); return *this; }
};

struct TextCorpusEntry {
  std::string name;
  std::function<TextCorpus(const TextCorpusOptions&)> load;
  std::string description;
};

const Registry<TextCorpusEntry>& text_corpus_registry();
// Throws golgi::Error for an unknown name (with suggestions), bad options or missing packages.
TextCorpus load_text_corpus(const std::string& name, const TextCorpusOptions& options);

// Loaders (listed in text_corpora.def).
TextCorpus load_multilingual_fortunes(const TextCorpusOptions& options);
TextCorpus load_animal_fortunes(const TextCorpusOptions& options);
TextCorpus load_animal_fortunes_qa(const TextCorpusOptions& options);
// The animals of animal-fortunes' templated sentences, lower case ("dog", "cat", ...).
const std::vector<std::string>& animal_names();

// Shared helpers for text loaders.
// True when `bytes` is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool is_valid_utf8(std::string_view bytes);
// Converts `bytes` from `encoding` (an iconv name such as "ISO-8859-2" or "KOI8-R") to UTF-8.
// Returns false (and leaves `out` unspecified) when the bytes are not valid in that encoding.
bool convert_to_utf8(std::string_view bytes, const std::string& encoding, std::string& out);
// Validates fractions (each in [0, 1), sum < 1) with errors naming the field.
void check_split_fractions(double val_fraction, double test_fraction);

}  // namespace golgi::data
