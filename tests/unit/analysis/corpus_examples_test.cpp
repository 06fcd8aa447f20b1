// Labelled examples from a text corpus (analysis/corpus_examples.h), on the real
// multilingual-fortunes corpus with golgi's byte tokenizer.
#include <gtest/gtest.h>

#include "golgi/analysis/corpus_examples.h"
#include "golgi/data/text_corpus.h"
#include "golgi/train/language_model.h"
#include "test_support.h"

namespace {

using namespace golgi;

TEST(CorpusExamples, SeparatorInstructionResponseAndCountedRange) {
  auto tokenizer = train::make_lm_tokenizer("byte");
  analysis::CorpusExampleOptions o;
  o.languages = {"de", "ru"};
  o.per_label = 7;
  o.prefix_bytes = 16;
  o.max_tokens = 64;
  auto out = analysis::corpus_examples(*tokenizer, o);
  EXPECT_EQ(out.labels, (std::vector<std::string>{"de", "ru"}));
  ASSERT_EQ(out.examples.size(), 14u);
  const int64_t separator = *train::document_separator(*tokenizer);
  for (const auto& ex : out.examples) {
    EXPECT_EQ(ex.tokens[0], separator);
    EXPECT_LE(ex.tokens.size(), 64u);
    // The instruction is at most 16 bytes and ends on a UTF-8 boundary: the first counted byte
    // is never a continuation byte.
    EXPECT_GE(ex.count_begin, 1 + 16 - 3);
    EXPECT_LE(ex.count_begin, 1 + 16);
    EXPECT_NE(ex.tokens[static_cast<size_t>(ex.count_begin)] & 0xC0, 0x80);
    EXPECT_EQ(ex.count_end, -1);
  }
  EXPECT_EQ(out.card["per_language"]["ru"]["documents"], 7);

  // The documents are an even spread of the split, in the language's order.
  auto corpus = data::load_text_corpus("multilingual-fortunes", data::TextCorpusOptions().with_languages({"de"}));
  std::vector<const data::TextDocument*> de;
  for (const auto& d : corpus.train) de.push_back(&d);
  const auto& third = de[2 * de.size() / 7]->text;
  const auto& ex = out.examples[2].tokens;
  std::string decoded = tokenizer->decode(std::vector<int64_t>(ex.begin() + 1, ex.end()));
  EXPECT_EQ(decoded, third.substr(0, decoded.size()));
}

TEST(CorpusExamples, BadOptions) {
  auto tokenizer = train::make_lm_tokenizer("byte");
  analysis::CorpusExampleOptions o;
  o.split = "dev";
  EXPECT_NE(golgi::testing::error_of([&] { analysis::corpus_examples(*tokenizer, o); }).find("split"), std::string::npos);
  o.split = "val";
  o.max_tokens = 1;
  EXPECT_NE(golgi::testing::error_of([&] { analysis::corpus_examples(*tokenizer, o); }).find("max_tokens"),
            std::string::npos);
}

}  // namespace
