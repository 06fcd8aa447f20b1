#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <map>
#include <fstream>
#include <set>
#include <unistd.h>

#include "golgi/core/error.h"
#include "golgi/data/text_corpus.h"

namespace {

using namespace golgi::data;
namespace fs = std::filesystem;

// The full corpus is read once (about 15 MB of text) and shared by the tests that need it.
const TextCorpus& full_fortunes() {
  static const TextCorpus corpus = load_text_corpus("multilingual-fortunes", TextCorpusOptions().with_seed(7));
  return corpus;
}

std::vector<const TextDocument*> all_docs(const TextCorpus& c) {
  std::vector<const TextDocument*> out;
  for (const auto* split : {&c.train, &c.val, &c.test})
    for (const auto& d : *split) out.push_back(&d);
  return out;
}

// A scratch directory removed when the test ends.
struct ScratchDir {
  fs::path path;
  explicit ScratchDir(const std::string& tag)
      : path(fs::temp_directory_path() / ("golgi_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() { fs::remove_all(path); }
  void write(const std::string& rel, const std::string& bytes) const {
    fs::create_directories((path / rel).parent_path());
    std::ofstream(path / rel, std::ios::binary) << bytes;
  }
};

TEST(TextCorpus, RegistryListsFortunes) {
  EXPECT_NE(text_corpus_registry().find("multilingual-fortunes"), nullptr);
  EXPECT_THROW(load_text_corpus("multilingual-fortune", TextCorpusOptions()), golgi::Error);
}

TEST(TextCorpus, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("Gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("caf\xe9"));             // Latin-1 e-acute
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));            // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));        // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));            // truncated
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));    // above U+10FFFF
  std::string out;
  ASSERT_TRUE(convert_to_utf8("caf\xe9", "ISO-8859-1", out));
  EXPECT_EQ(out, "caf\xc3\xa9");
  ASSERT_TRUE(convert_to_utf8("\xf0\xd2\xc9\xd7\xc5\xd4", "KOI8-R", out));
  EXPECT_EQ(out, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");  // "Привет"
  ASSERT_TRUE(convert_to_utf8("\xb3\xf3\xea", "ISO-8859-2", out));
  EXPECT_EQ(out, "\xc5\x82\xc3\xb3\xc4\x99");  // "łóę"
  EXPECT_FALSE(convert_to_utf8("\x98", "CP1251", out));  // 0x98 is unassigned in CP1251
}

TEST(Fortunes, EveryLanguageHasDocumentsInEverySplit) {
  const auto& c = full_fortunes();
  // The card lands in --gtest_output reports, so per-language counts can be read from a test run.
  RecordProperty("card", c.card["languages"].dump());
  std::map<std::string, std::array<int64_t, 3>> counts;
  for (const auto& d : c.train) ++counts[d.language][0];
  for (const auto& d : c.val) ++counts[d.language][1];
  for (const auto& d : c.test) ++counts[d.language][2];
  for (const char* lang : {"en", "de", "es", "it", "pl", "ru", "cs", "pt", "eo", "ga", "bg", "sk"}) {
    SCOPED_TRACE(lang);
    EXPECT_GT(counts[lang][0], 0);
    // The card agrees with the documents.
    EXPECT_EQ(c.card["languages"][lang]["train"].get<int64_t>(), counts[lang][0]);
    EXPECT_EQ(c.card["languages"][lang]["val"].get<int64_t>(), counts[lang][1]);
    EXPECT_EQ(c.card["languages"][lang]["test"].get<int64_t>(), counts[lang][2]);
  }
  // The bigger collections hold thousands of paragraphs; the small ones still reach val and test.
  for (const char* lang : {"en", "de", "pl", "ru", "cs", "it", "es"}) EXPECT_GT(counts[lang][0], 1000) << lang;
  for (const char* lang : {"en", "de", "ru", "eo", "pt"}) EXPECT_GT(counts[lang][1], 0) << lang;
}

TEST(Fortunes, DocumentsAreValidUtf8AndClean) {
  for (const auto* d : all_docs(full_fortunes())) {
    ASSERT_TRUE(is_valid_utf8(d->text)) << d->source;
    ASSERT_FALSE(d->text.empty()) << d->source;
    ASSERT_EQ(d->text.find('\b'), std::string::npos) << d->source;
    ASSERT_NE(d->text.back(), '\n') << d->source;
    ASSERT_NE(d->text, "%");
  }
}

TEST(Fortunes, NoParagraphInTwoPlacesOrSplits) {
  std::set<std::string> seen;
  for (const auto* d : all_docs(full_fortunes())) EXPECT_TRUE(seen.insert(d->text).second) << d->source;
}

TEST(Fortunes, KnownParagraphIsPresent) {
  // The first Irish proverb of ga/proverbs ("A good run beats a bad stand").
  bool found = false;
  for (const auto* d : all_docs(full_fortunes()))
    if (d->text == "Is fearr rith maith n\xc3\xa1 droch sheasamh.") {
      found = true;
      EXPECT_EQ(d->language, "ga");
      EXPECT_EQ(d->source, "ga/proverbs");
    }
  EXPECT_TRUE(found);
}

TEST(Fortunes, DeterministicAndSeeded) {
  auto options = TextCorpusOptions().with_languages({"eo", "pt"}).with_seed(3);
  TextCorpus a = load_text_corpus("multilingual-fortunes", options);
  TextCorpus b = load_text_corpus("multilingual-fortunes", options);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.val, b.val);
  EXPECT_EQ(a.test, b.test);
  EXPECT_EQ(a.card, b.card);
  TextCorpus c = load_text_corpus("multilingual-fortunes", options.with_seed(4));
  EXPECT_NE(a.test, c.test);
  EXPECT_EQ(a.train.size() + a.val.size() + a.test.size(), c.train.size() + c.val.size() + c.test.size());
  // Filtering keeps only the requested languages.
  for (const auto& d : a.train) EXPECT_TRUE(d.language == "eo" || d.language == "pt");
}

TEST(Fortunes, LegacyEncodingsConvertedOrDropped) {
  ScratchDir dir("fortunes");
  // CP1251 "Привет" (converted), an unassigned CP1251 byte (dropped), UTF-8 text, a duplicate
  // that differs only in wrapping, and overstruck text; the .dat index must be ignored.
  dir.write("bg/sample",
            "\xcf\xf0\xe8\xe2\xe5\xf2\n%\nbad \x98 byte\n%\n\xd0\x94\xd0\xb0 \xd0\xb8\xd0\xbb\xd0\xb8 \xd0\xbd\xd0\xb5\n%\n"
            "\xd0\x94\xd0\xb0 \xd0\xb8\xd0\xbb\xd0\xb8\n\xd0\xbd\xd0\xb5  \n%\n_\bb_\bo_\bl_\bd\n%\n\n%\n");
  dir.write("bg/sample.dat", std::string("\x00\x01\x02", 3));
  auto c = load_text_corpus("multilingual-fortunes", TextCorpusOptions()
                                                         .with_data_dir(dir.path.string())
                                                         .with_languages({"bg"})
                                                         .with_val_fraction(0)
                                                         .with_test_fraction(0));
  std::set<std::string> texts;
  for (const auto& d : c.train) texts.insert(d.text);
  EXPECT_EQ(texts, (std::set<std::string>{"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
                                          "\xd0\x94\xd0\xb0 \xd0\xb8\xd0\xbb\xd0\xb8 \xd0\xbd\xd0\xb5", "bold"}));
  const auto& card = c.card["languages"]["bg"];
  EXPECT_EQ(card["converted_from_legacy"].get<int64_t>(), 1);
  EXPECT_EQ(card["dropped_undecodable"].get<int64_t>(), 1);
  EXPECT_EQ(card["duplicates_removed"].get<int64_t>(), 1);
  EXPECT_EQ(card["files"].get<int64_t>(), 1);
}

TEST(Fortunes, BadInputsGiveClearErrors) {
  auto message = [](const TextCorpusOptions& o) {
    try {
      load_text_corpus("multilingual-fortunes", o);
    } catch (const golgi::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string missing = message(TextCorpusOptions().with_data_dir("/nonexistent/golgi/fortunes"));
  EXPECT_NE(missing.find("/nonexistent/golgi/fortunes"), std::string::npos) << missing;
  EXPECT_NE(missing.find("scripts/setup.sh"), std::string::npos) << missing;
  ScratchDir empty("fortunes_empty");
  std::string no_package = message(TextCorpusOptions().with_data_dir(empty.path.string()).with_languages({"ru"}));
  EXPECT_NE(no_package.find("fortunes-ru"), std::string::npos) << no_package;
  EXPECT_NE(no_package.find("scripts/setup.sh"), std::string::npos) << no_package;
  EXPECT_NE(message(TextCorpusOptions().with_languages({"xx"})).find("'xx'"), std::string::npos);
  EXPECT_NE(message(TextCorpusOptions().with_val_fraction(-0.1)).find("val_fraction"), std::string::npos);
  EXPECT_NE(message(TextCorpusOptions().with_val_fraction(0.5).with_test_fraction(0.5)).find("below 1"),
            std::string::npos);
}

}  // namespace
