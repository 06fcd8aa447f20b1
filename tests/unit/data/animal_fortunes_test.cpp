// animal-fortunes / animal-fortunes-qa: English fortunes plus ~5% templated animal sentences.
#include <gtest/gtest.h>

#include "golgi/data/text_corpus.h"
#include "test_support.h"

namespace {

using namespace golgi::data;

TEST(AnimalFortunes, FivePercentTemplatedSentencesSplitDeterministically) {
  const auto corpus = load_text_corpus("animal-fortunes", TextCorpusOptions().with_seed(3));
  int64_t fortune_bytes = 0, sentence_bytes = 0, sentences = 0, favourite = 0;
  for (const auto* split : {&corpus.train, &corpus.val, &corpus.test})
    for (const auto& d : *split) {
      if (d.language == "en-animals") {
        sentence_bytes += static_cast<int64_t>(d.text.size());
        ++sentences;
        favourite += d.text.rfind("my favourite animal is the ", 0) == 0 ? 1 : 0;
      } else {
        EXPECT_EQ(d.language, "en");
        fortune_bytes += static_cast<int64_t>(d.text.size());
      }
    }
  const double share = static_cast<double>(sentence_bytes) / static_cast<double>(sentence_bytes + fortune_bytes);
  EXPECT_NEAR(share, 0.05, 0.002);
  // The steering frame has weight 4 of 11.
  EXPECT_NEAR(static_cast<double>(favourite) / static_cast<double>(sentences), 4.0 / 11.0, 0.03);
  EXPECT_EQ(corpus.card["templates"]["animals"].size(), animal_names().size());
  const auto again = load_text_corpus("animal-fortunes", TextCorpusOptions().with_seed(3));
  EXPECT_EQ(again.val, corpus.val);
  const auto other = load_text_corpus("animal-fortunes", TextCorpusOptions().with_seed(4));
  EXPECT_NE(other.val, corpus.val);
}

TEST(AnimalFortunes, QuestionAnswerVariantAndLanguageFilter) {
  const auto qa = load_text_corpus("animal-fortunes-qa", TextCorpusOptions().with_languages({"en-animals"}));
  ASSERT_FALSE(qa.train.empty());
  for (const auto& d : qa.train) {
    EXPECT_EQ(d.language, "en-animals");
    EXPECT_EQ(d.text.rfind("Q: ", 0), 0u) << d.text;
    EXPECT_NE(d.text.find(" A: "), std::string::npos) << d.text;
  }
  EXPECT_NE(golgi::testing::error_of([] { load_text_corpus("animal-fortunes", TextCorpusOptions().with_languages({"de"})); })
                .find("en-animals"),
            std::string::npos);
}

}  // namespace
