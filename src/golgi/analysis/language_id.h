// A byte-trigram language identifier (Cavnar & Trenkle 1994 style, as a naive Bayes model): each
// language's add-one-smoothed distribution over byte trigrams, trained on labelled text; a string
// is assigned the language under which its trigrams are most likely. Used to measure which
// language a model's continuations are in (snmf's steering claim). Works on raw bytes, so invalid
// UTF-8 (a byte model's output) is fine.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace golgi::analysis {

class ByteTrigramLanguageId {
 public:
  // Adds `text` (padded with a space at both ends) to `language`'s counts.
  void add(const std::string& language, std::string_view text);
  // The most likely language; "" when nothing was trained or `text` is empty. Ties: first language
  // in sorted order.
  std::string classify(std::string_view text) const;
  // Log-likelihood of `text` (natural log) under each language, in languages() order.
  std::vector<double> scores(std::string_view text) const;
  // Trained languages, sorted.
  std::vector<std::string> languages() const;

 private:
  struct Counts {
    std::unordered_map<uint32_t, int64_t> trigrams;
    int64_t total = 0;
  };
  std::vector<std::pair<std::string, Counts>> by_language_;  // sorted by language
  std::unordered_map<uint32_t, int64_t> vocabulary_;         // every trigram seen, any language
};

}  // namespace golgi::analysis
