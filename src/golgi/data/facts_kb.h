// facts-kb: (subject, relation, object) triples built from Debian's own reference data, with
// natural-language prompt templates and subject-disjoint train/eval splits, for factual-recall
// experiments (e.g. locating where a model stores "Berlin is in Germany").
//
// Sources (all under data_dir, default /usr/share):
//   city_country          zoneinfo/zone1970.tab (tzdata): the city of a timezone's principal location
//                         -> the country listed first (the city's own country, per the file's header)
//   subdivision_country   iso-codes/json/iso_3166-2.json (iso-codes): subdivision name -> country
//   subdivision_type      iso_3166-2.json: subdivision name -> its type as iso-codes spells it ("Land")
//   country_currency      i18n/locales/<ll>_<CC> (locales): int_curr_symbol, e.g. "EUR"
//   country_calling_code  i18n/locales: int_prefix, e.g. "49"
//   country_language      i18n/locales: the English name (from iso_639-3.json) of the locale's
//                         lang_term/lang_ab; lang_name itself is the native name ("Deutsch"), which
//                         does not suit English prompts
//   language_code         iso-codes/json/iso_639-3.json: English language name -> ISO 639-3 code,
//                         for the languages that also have a two-letter ISO 639-1 code (well-known ones)
// Country names are iso_3166-1.json's common_name where present, else its name.
//
// A subject that maps to two different objects within one relation (a subdivision name used in
// two countries, a country whose locales name two languages) is ambiguous as a recall question
// and dropped; the card counts these. Facts are sorted, and the split sends every fact of a subject
// to eval when uniform(derive_seed(seed, "facts-kb/split/" + subject)) < eval_fraction, so the split
// is subject-disjoint across all relations and the same on every run and machine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "golgi/core/json.h"

namespace golgi::data {

struct Fact {
  std::string subject, relation, object;
  bool operator==(const Fact& o) const { return subject == o.subject && relation == o.relation && object == o.object; }
  bool operator<(const Fact& o) const;  // by relation, subject, object
};

struct RelationSpec {
  std::string name;
  // Prompt templates; "{subject}" marks where the subject goes. The object follows the prompt
  // after one space.
  std::vector<std::string> templates;
};

struct FactsKbOptions {
  std::string data_dir;                // empty: /usr/share
  uint64_t seed = 0;                   // seeds the subject-disjoint split
  double eval_fraction = 0.2;          // expected fraction of subjects in eval, in [0, 1]
  std::vector<std::string> relations;  // empty: all relations

  FactsKbOptions& with_data_dir(std::string v) { data_dir = std::move(v); return *this; }
  FactsKbOptions& with_seed(uint64_t v) { seed = v; return *this; }
  FactsKbOptions& with_eval_fraction(double v) { eval_fraction = v; return *this; }
  FactsKbOptions& with_relations(std::vector<std::string> v) { relations = std::move(v); return *this; }
};

struct FactsKb {
  std::vector<Fact> train, eval;        // sorted; no subject appears in both
  std::vector<RelationSpec> relations;  // the relations loaded, in fixed order
  Json card;                            // sources and per-relation counts
};

struct Prompt {
  std::string text;    // e.g. "Berlin is a city in"
  std::string target;  // e.g. " Germany" (leading space)
};

// All relations facts-kb knows, with their templates.
const std::vector<RelationSpec>& facts_kb_relations();

// Throws golgi::Error for bad options, unknown relations, or missing Debian packages (naming the
// package and scripts/setup.sh).
FactsKb load_facts_kb(const FactsKbOptions& options);

// The prompt for `fact` with template `template_index` of its relation; throws for an unknown
// relation or an index out of range.
Prompt prompt(const Fact& fact, size_t template_index = 0);

}  // namespace golgi::data
