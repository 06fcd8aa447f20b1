#include <gtest/gtest.h>

#include <array>
#include <map>
#include <set>

#include "golgi/core/error.h"
#include "golgi/data/facts_kb.h"
#include "golgi/data/text_corpus.h"

namespace {

using namespace golgi::data;

const FactsKb& full_kb() {
  static const FactsKb kb = load_facts_kb(FactsKbOptions().with_seed(11));
  return kb;
}

// The object of (subject, relation) wherever it landed, or "" when absent.
std::string lookup(const std::string& subject, const std::string& relation) {
  for (const auto* split : {&full_kb().train, &full_kb().eval})
    for (const auto& f : *split)
      if (f.subject == subject && f.relation == relation) return f.object;
  return "";
}

TEST(FactsKb, KnownFacts) {
  EXPECT_EQ(lookup("Berlin", "city_country"), "Germany");        // zone1970.tab: DE,... Europe/Berlin
  EXPECT_EQ(lookup("Buenos Aires", "city_country"), "Argentina");  // America/Argentina/Buenos_Aires
  EXPECT_EQ(lookup("Bayern", "subdivision_country"), "Germany");   // DE-BY as iso-codes names it
  EXPECT_EQ(lookup("Bayern", "subdivision_type"), "Land");
  EXPECT_EQ(lookup("Germany", "country_currency"), "EUR");
  EXPECT_EQ(lookup("Japan", "country_currency"), "JPY");
  EXPECT_EQ(lookup("Japan", "country_calling_code"), "81");
  EXPECT_EQ(lookup("Germany", "country_calling_code"), "49");
  EXPECT_EQ(lookup("Japan", "country_language"), "Japanese");
  // Germany has locales for German, Low German, Sorbian and Frisian: ambiguous, so dropped.
  EXPECT_EQ(lookup("Germany", "country_language"), "");
  EXPECT_EQ(lookup("Hungary", "country_language"), "Hungarian");
  EXPECT_EQ(lookup("German", "language_code"), "deu");
  EXPECT_EQ(lookup("French", "language_code"), "fra");
}

TEST(FactsKb, EveryRelationHasTrainAndEvalFactsAndTheCardCountsThem) {
  const auto& kb = full_kb();
  // The card lands in --gtest_output reports, so per-relation counts can be read from a test run.
  RecordProperty("card", kb.card["relations"].dump());
  std::map<std::string, std::array<int64_t, 2>> counts;
  for (const auto& f : kb.train) ++counts[f.relation][0];
  for (const auto& f : kb.eval) ++counts[f.relation][1];
  ASSERT_EQ(kb.relations.size(), facts_kb_relations().size());
  for (const auto& r : kb.relations) {
    SCOPED_TRACE(r.name);
    EXPECT_GT(counts[r.name][0], 0);
    EXPECT_GT(counts[r.name][1], 0);
    EXPECT_EQ(kb.card["relations"][r.name]["train"].get<int64_t>(), counts[r.name][0]);
    EXPECT_EQ(kb.card["relations"][r.name]["eval"].get<int64_t>(), counts[r.name][1]);
    EXPECT_GE(r.templates.size(), 2u);
  }
  EXPECT_GT(counts["city_country"][0] + counts["city_country"][1], 250);
  EXPECT_GT(counts["subdivision_country"][0] + counts["subdivision_country"][1], 3000);
  EXPECT_GT(counts["country_currency"][0] + counts["country_currency"][1], 100);
}

TEST(FactsKb, SplitIsSubjectDisjointAndFactsAreUnique) {
  const auto& kb = full_kb();
  std::set<std::string> train_subjects;
  std::set<std::pair<std::string, std::string>> keys;
  for (const auto& f : kb.train) {
    train_subjects.insert(f.subject);
    EXPECT_TRUE(keys.insert({f.subject, f.relation}).second) << f.subject << " " << f.relation;
  }
  for (const auto& f : kb.eval) {
    EXPECT_EQ(train_subjects.count(f.subject), 0u) << f.subject;
    EXPECT_TRUE(keys.insert({f.subject, f.relation}).second) << f.subject << " " << f.relation;
  }
  // About eval_fraction (0.2) of the facts go to eval.
  double frac = static_cast<double>(kb.eval.size()) / static_cast<double>(kb.eval.size() + kb.train.size());
  EXPECT_GT(frac, 0.1);
  EXPECT_LT(frac, 0.3);
  for (const auto* split : {&kb.train, &kb.eval})
    for (const auto& f : *split) ASSERT_TRUE(is_valid_utf8(f.subject) && is_valid_utf8(f.object)) << f.subject;
}

TEST(FactsKb, DeterministicAndSeeded) {
  auto options = FactsKbOptions().with_relations({"city_country", "country_currency"}).with_seed(11);
  FactsKb a = load_facts_kb(options), b = load_facts_kb(options);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.eval, b.eval);
  EXPECT_EQ(a.card, b.card);
  // A subject's split does not depend on which other relations were loaded.
  std::set<std::string> full_eval;
  for (const auto& f : full_kb().eval) full_eval.insert(f.subject + "|" + f.relation);
  for (const auto& f : a.eval) EXPECT_EQ(full_eval.count(f.subject + "|" + f.relation), 1u) << f.subject;
  FactsKb c = load_facts_kb(options.with_seed(12));
  EXPECT_NE(a.eval, c.eval);
  EXPECT_EQ(a.relations.size(), 2u);
}

TEST(FactsKb, Prompts) {
  Prompt p = prompt({"Berlin", "city_country", "Germany"}, 0);
  EXPECT_EQ(p.text, "Berlin is a city in");
  EXPECT_EQ(p.target, " Germany");
  Prompt q = prompt({"Bayern", "subdivision_country", "Germany"}, 0);
  EXPECT_EQ(q.text, "Bayern is a subdivision of");
  for (const auto& r : facts_kb_relations())
    for (size_t i = 0; i < r.templates.size(); ++i) {
      Prompt t = prompt({"X", r.name, "Y"}, i);
      EXPECT_NE(t.text.find('X'), std::string::npos) << r.name;
      EXPECT_EQ(t.target, " Y");
    }
  EXPECT_THROW(prompt({"Berlin", "city_country", "Germany"}, 99), golgi::Error);
  EXPECT_THROW(prompt({"Berlin", "capital_of", "Germany"}, 0), golgi::Error);
}

TEST(FactsKb, BadInputsGiveClearErrors) {
  auto message = [](const FactsKbOptions& o) {
    try {
      load_facts_kb(o);
    } catch (const golgi::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string missing = message(FactsKbOptions().with_data_dir("/nonexistent/golgi/share"));
  EXPECT_NE(missing.find("/nonexistent/golgi/share"), std::string::npos) << missing;
  EXPECT_NE(missing.find("scripts/setup.sh"), std::string::npos) << missing;
  // A directory without iso-codes names that package.
  std::string no_iso = message(FactsKbOptions().with_data_dir("/usr/share/zoneinfo"));
  EXPECT_NE(no_iso.find("iso-codes"), std::string::npos) << no_iso;
  EXPECT_NE(no_iso.find("scripts/setup.sh"), std::string::npos) << no_iso;
  EXPECT_NE(message(FactsKbOptions().with_relations({"city_countyr"})).find("city_country"), std::string::npos);
  EXPECT_NE(message(FactsKbOptions().with_eval_fraction(1.5)).find("eval_fraction"), std::string::npos);
}

}  // namespace
