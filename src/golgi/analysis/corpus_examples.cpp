#include "golgi/analysis/corpus_examples.h"

#include <algorithm>

#include "golgi/core/error.h"
#include "golgi/data/text_corpus.h"
#include "golgi/tokenize/tokenizer.h"
#include "golgi/train/language_model.h"

namespace golgi::analysis {

namespace {

// The longest prefix of `text` of at most `bytes` bytes that ends on a UTF-8 character boundary.
size_t utf8_prefix(const std::string& text, size_t bytes) {
  if (bytes >= text.size()) return text.size();
  size_t cut = bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return cut;
}

}  // namespace

CorpusExamples corpus_examples(const tokenize::Tokenizer& tokenizer, const CorpusExampleOptions& options) {
  GOLGI_CHECK(options.split == "train" || options.split == "val" || options.split == "test", "split must be train, ",
              "val or test, got '", options.split, "'");
  GOLGI_CHECK(options.per_label >= 0, "per_label must be >= 0, got ", options.per_label);
  GOLGI_CHECK(options.prefix_bytes >= 0, "prefix_bytes must be >= 0, got ", options.prefix_bytes);
  GOLGI_CHECK(options.max_tokens >= 2, "max_tokens must be >= 2, got ", options.max_tokens);
  auto corpus = data::load_text_corpus(options.corpus, data::TextCorpusOptions()
                                                           .with_data_dir(options.data_dir)
                                                           .with_seed(options.seed)
                                                           .with_languages(options.languages));
  const auto& docs = options.split == "train" ? corpus.train : options.split == "val" ? corpus.val : corpus.test;
  const auto separator = train::document_separator(tokenizer);

  CorpusExamples out;
  for (const auto& doc : docs)
    if (std::find(out.labels.begin(), out.labels.end(), doc.language) == out.labels.end())
      out.labels.push_back(doc.language);
  std::sort(out.labels.begin(), out.labels.end());
  GOLGI_CHECK(!out.labels.empty(), "corpus '", options.corpus, "' has no documents in its ", options.split, " split");

  Json per_language = Json::object();
  for (size_t k = 0; k < out.labels.size(); ++k) {
    std::vector<const data::TextDocument*> of_language;
    for (const auto& doc : docs)
      if (doc.language == out.labels[k]) of_language.push_back(&doc);
    // An even spread over the split (documents are in corpus order, so the first N would all come
    // from one source file).
    const int64_t n = static_cast<int64_t>(of_language.size());
    const int64_t take = options.per_label > 0 ? std::min(options.per_label, n) : n;
    int64_t used = 0, skipped = 0, counted_tokens = 0;
    for (int64_t i = 0; i < take; ++i) {
      const auto& text = of_language[static_cast<size_t>(i * n / take)]->text;
      const size_t cut = utf8_prefix(text, static_cast<size_t>(options.prefix_bytes));
      TextExample ex;
      ex.label = static_cast<int64_t>(k);
      if (separator) ex.tokens.push_back(*separator);
      const auto instruction = tokenizer.encode(std::string_view(text).substr(0, cut));
      ex.tokens.insert(ex.tokens.end(), instruction.begin(), instruction.end());
      ex.count_begin = static_cast<int64_t>(ex.tokens.size());
      const auto response = tokenizer.encode(std::string_view(text).substr(cut));
      ex.tokens.insert(ex.tokens.end(), response.begin(), response.end());
      if (static_cast<int64_t>(ex.tokens.size()) > options.max_tokens) ex.tokens.resize(static_cast<size_t>(options.max_tokens));
      if (options.prefix_bytes == 0) ex.count_begin = separator ? 1 : 0;
      if (ex.count_begin >= static_cast<int64_t>(ex.tokens.size())) {
        ++skipped;
        continue;
      }
      counted_tokens += static_cast<int64_t>(ex.tokens.size()) - ex.count_begin;
      out.examples.push_back(std::move(ex));
      ++used;
    }
    per_language[out.labels[k]] = {{"documents", used}, {"skipped_no_response", skipped},
                                   {"counted_tokens", counted_tokens}, {"available", n}};
  }
  out.card = {{"corpus", options.corpus}, {"split", options.split},       {"seed", options.seed},
              {"per_label", options.per_label}, {"prefix_bytes", options.prefix_bytes},
              {"max_tokens", options.max_tokens}, {"per_language", per_language}};
  return out;
}

}  // namespace golgi::analysis
