#include "golgi/analysis/language_id.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace golgi::analysis {

namespace {

// Calls f(trigram) for every byte trigram of " " + text + " ".
template <typename F>
void for_each_trigram(std::string_view text, F&& f) {
  if (text.empty()) return;
  std::string padded;
  padded.reserve(text.size() + 2);
  padded.push_back(' ');
  padded.append(text);
  padded.push_back(' ');
  for (size_t i = 0; i + 2 < padded.size(); ++i) {
    const uint32_t t = (static_cast<uint32_t>(static_cast<uint8_t>(padded[i])) << 16) |
                       (static_cast<uint32_t>(static_cast<uint8_t>(padded[i + 1])) << 8) |
                       static_cast<uint32_t>(static_cast<uint8_t>(padded[i + 2]));
    f(t);
  }
}

}  // namespace

void ByteTrigramLanguageId::add(const std::string& language, std::string_view text) {
  auto it = std::lower_bound(by_language_.begin(), by_language_.end(), language,
                             [](const auto& entry, const std::string& l) { return entry.first < l; });
  if (it == by_language_.end() || it->first != language) it = by_language_.insert(it, {language, Counts{}});
  Counts& counts = it->second;
  for_each_trigram(text, [&](uint32_t t) {
    ++counts.trigrams[t];
    ++counts.total;
    ++vocabulary_[t];
  });
}

std::vector<double> ByteTrigramLanguageId::scores(std::string_view text) const {
  // Add-one smoothing over the trigrams seen in training, plus one slot for unseen ones.
  const double vocabulary = static_cast<double>(vocabulary_.size()) + 1.0;
  std::vector<double> out;
  out.reserve(by_language_.size());
  for (const auto& [language, counts] : by_language_) {
    const double denominator = std::log(static_cast<double>(counts.total) + vocabulary);
    double score = 0;
    for_each_trigram(text, [&](uint32_t t) {
      auto found = counts.trigrams.find(t);
      const double c = found == counts.trigrams.end() ? 0.0 : static_cast<double>(found->second);
      score += std::log(c + 1.0) - denominator;
    });
    out.push_back(score);
  }
  return out;
}

std::string ByteTrigramLanguageId::classify(std::string_view text) const {
  if (by_language_.empty() || text.empty()) return "";
  const std::vector<double> s = scores(text);
  const size_t best = static_cast<size_t>(std::max_element(s.begin(), s.end()) - s.begin());
  return by_language_[best].first;
}

std::vector<std::string> ByteTrigramLanguageId::languages() const {
  std::vector<std::string> out;
  for (const auto& entry : by_language_) out.push_back(entry.first);
  return out;
}

}  // namespace golgi::analysis
