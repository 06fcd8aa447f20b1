#include "golgi/data/facts_kb.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/core/strings.h"
#include "golgi/io/atomic_file.h"

namespace golgi::data {

namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultDir = "/usr/share";

std::string missing_hint(const std::string& package) {
  return "; run scripts/setup.sh (it installs Debian's " + package + ") or pass a data_dir that has it";
}

Json read_json(const std::string& path, const std::string& package) {
  GOLGI_CHECK(fs::is_regular_file(path), "facts-kb: '", path, "' is missing", missing_hint(package));
  try {
    return Json::parse(io::read_file(path));
  } catch (const Json::exception& e) {
    GOLGI_FAIL("facts-kb: '", path, "' is not valid JSON (", e.what(), "); reinstall Debian's ", package);
  }
}

// The array under `key` of an iso-codes file ({"3166-1": [...]}).
const Json& iso_array(const Json& doc, const std::string& key, const std::string& path) {
  GOLGI_CHECK(doc.is_object() && doc.contains(key) && doc[key].is_array(), "facts-kb: '", path,
              "' has no array '", key, "'; is it an iso-codes file?");
  return doc[key];
}

std::string str_field(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// A glibc locale string value: "EUR " or "<U0045><U0055><U0052>", quotes stripped, <Uxxxx>
// symbols decoded, surrounding spaces trimmed.
std::string decode_locale_string(const std::string& raw) {
  std::string s = raw;
  size_t a = s.find('"'), b = s.rfind('"');
  if (a != std::string::npos && b > a) s = s.substr(a + 1, b - a - 1);
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<' && i + 2 < s.size() && s[i + 1] == 'U') {
      size_t close = s.find('>', i);
      if (close != std::string::npos) {
        try {
          append_utf8(out, static_cast<uint32_t>(std::stoul(s.substr(i + 2, close - i - 2), nullptr, 16)));
          i = close;
          continue;
        } catch (const std::exception&) {
          // Not a <Uxxxx> symbol: keep the characters as they are.
        }
      }
    }
    out.push_back(s[i]);
  }
  size_t first = out.find_first_not_of(' '), last = out.find_last_not_of(' ');
  return first == std::string::npos ? std::string() : out.substr(first, last - first + 1);
}

// A parsed locale source: section -> key -> raw value (including `copy`).
using LocaleFile = std::map<std::string, std::map<std::string, std::string>>;

LocaleFile parse_locale(const std::string& text) {
  LocaleFile file;
  std::string section;
  for (const auto& raw_line : split(text, '\n')) {
    std::string line = raw_line;
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '%' || line[start] == '#') continue;
    line = line.substr(start);
    if (starts_with(line, "END ")) {
      section.clear();
      continue;
    }
    if (starts_with(line, "LC_")) {
      section = line.substr(0, line.find_first_of(" \t"));
      continue;
    }
    if (section.empty()) continue;
    size_t sep = line.find_first_of(" \t");
    if (sep == std::string::npos) continue;
    std::string key = line.substr(0, sep);
    if (!file[section].count(key)) file[section][key] = line.substr(sep + 1);
  }
  return file;
}

class LocaleReader {
 public:
  explicit LocaleReader(std::string dir) : dir_(std::move(dir)) {}

  // The decoded value of `key` in `section` of locale `name`, following `copy` directives; empty
  // when absent.
  std::string get(const std::string& name, const std::string& section, const std::string& key, int depth = 0) {
    if (depth > 8) return {};  // a copy cycle; glibc would reject it too
    const LocaleFile& file = load(name);
    auto sec = file.find(section);
    if (sec == file.end()) return {};
    auto it = sec->second.find(key);
    if (it != sec->second.end()) return decode_locale_string(it->second);
    auto copy = sec->second.find("copy");
    if (copy != sec->second.end()) return get(decode_locale_string(copy->second), section, key, depth + 1);
    return {};
  }

 private:
  const LocaleFile& load(const std::string& name) {
    auto it = cache_.find(name);
    if (it != cache_.end()) return it->second;
    std::string path = dir_ + "/" + name;
    LocaleFile parsed = fs::is_regular_file(path) ? parse_locale(io::read_file(path)) : LocaleFile();
    return cache_.emplace(name, std::move(parsed)).first->second;
  }

  std::string dir_;
  std::map<std::string, LocaleFile> cache_;
};

bool is_plain_locale_name(const std::string& name) {
  // ll_CC or lll_CC: no @modifier, no .codeset; the territory is the ISO 3166 code after '_'.
  size_t us = name.find('_');
  if (us < 2 || us > 3 || name.size() != us + 3) return false;
  for (size_t i = 0; i < us; ++i)
    if (name[i] < 'a' || name[i] > 'z') return false;
  return std::isupper(static_cast<unsigned char>(name[us + 1])) &&
         std::isupper(static_cast<unsigned char>(name[us + 2]));
}

// Collects subject -> objects per relation, then keeps only unambiguous subjects.
struct FactCollector {
  std::map<std::string, std::map<std::string, std::set<std::string>>> by_relation;
  void add(const std::string& relation, const std::string& subject, const std::string& object) {
    if (subject.empty() || object.empty()) return;
    by_relation[relation][subject].insert(object);
  }
};

}  // namespace

bool Fact::operator<(const Fact& o) const {
  return std::tie(relation, subject, object) < std::tie(o.relation, o.subject, o.object);
}

const std::vector<RelationSpec>& facts_kb_relations() {
  static const std::vector<RelationSpec> relations = {
      {"city_country", {"{subject} is a city in", "The city of {subject} is located in", "{subject} is in the country of"}},
      {"subdivision_country",
       {"{subject} is a subdivision of", "{subject} is an administrative region of", "The region {subject} belongs to"}},
      {"subdivision_type",
       {"{subject} is a subdivision of type", "The administrative status of {subject} is"}},
      {"country_currency",
       {"The currency code of {subject} is", "The ISO 4217 code of the currency used in {subject} is"}},
      {"country_calling_code",
       {"The international calling code of {subject} is", "To phone {subject} from abroad, dial the country code"}},
      {"country_language", {"The language spoken in {subject} is", "The main language of {subject} is"}},
      {"language_code", {"The ISO 639-3 code of {subject} is", "The three-letter language code for {subject} is"}},
  };
  return relations;
}

Prompt prompt(const Fact& fact, size_t template_index) {
  const auto& relations = facts_kb_relations();
  auto it = std::find_if(relations.begin(), relations.end(), [&](const RelationSpec& r) { return r.name == fact.relation; });
  GOLGI_CHECK(it != relations.end(), "facts-kb has no relation '", fact.relation, "'");
  GOLGI_CHECK(template_index < it->templates.size(), "relation '", fact.relation, "' has ", it->templates.size(),
              " templates (0..", it->templates.size() - 1, "), got template index ", template_index);
  std::string text = it->templates[template_index];
  const std::string marker = "{subject}";
  size_t pos = text.find(marker);
  GOLGI_ASSERT(pos != std::string::npos, "template without {subject}: ", text);
  text.replace(pos, marker.size(), fact.subject);
  return {text, " " + fact.object};
}

FactsKb load_facts_kb(const FactsKbOptions& options) {
  GOLGI_CHECK(std::isfinite(options.eval_fraction) && options.eval_fraction >= 0 && options.eval_fraction <= 1,
              "facts-kb eval_fraction must be in [0, 1], got ", options.eval_fraction);
  const auto& all = facts_kb_relations();
  std::vector<std::string> known;
  for (const auto& r : all) known.push_back(r.name);
  for (const auto& r : options.relations) {
    std::string hint = did_you_mean(r, known);
    GOLGI_CHECK(std::find(known.begin(), known.end(), r) != known.end(), "facts-kb has no relation '", r, "'",
                hint.empty() ? "" : "; " + hint, " (known: ", join(known, ", "), ")");
  }
  auto wanted = [&](const std::string& r) {
    return options.relations.empty() ||
           std::find(options.relations.begin(), options.relations.end(), r) != options.relations.end();
  };
  std::string root = options.data_dir.empty() ? kDefaultDir : options.data_dir;
  GOLGI_CHECK(fs::is_directory(root), "facts-kb: data directory '", root,
              "' does not exist; run scripts/setup.sh (it installs Debian's tzdata, iso-codes and locales) or pass "
              "data_dir");

  // Country names by ISO 3166-1 alpha-2, needed by every relation except language_code.
  const std::string iso_dir = root + "/iso-codes/json";
  std::map<std::string, std::string> country_name;
  {
    std::string path = iso_dir + "/iso_3166-1.json";
    Json doc = read_json(path, "iso-codes");
    for (const auto& c : iso_array(doc, "3166-1", path)) {
      std::string name = str_field(c, "common_name");
      if (name.empty()) name = str_field(c, "name");
      std::string code = str_field(c, "alpha_2");
      if (!code.empty() && !name.empty()) country_name[code] = name;
    }
  }
  // English language names by ISO 639-1 and 639-3 code.
  std::map<std::string, std::string> language_name;
  FactCollector facts;
  if (wanted("language_code") || wanted("country_language")) {
    std::string path = iso_dir + "/iso_639-3.json";
    Json doc = read_json(path, "iso-codes");
    for (const auto& l : iso_array(doc, "639-3", path)) {
      std::string name = str_field(l, "name"), a2 = str_field(l, "alpha_2"), a3 = str_field(l, "alpha_3");
      if (name.empty() || a3.empty()) continue;
      language_name[a3] = name;
      if (!a2.empty()) {
        language_name[a2] = name;
        if (wanted("language_code")) facts.add("language_code", name, a3);
      }
    }
  }
  if (wanted("city_country")) {
    std::string path = root + "/zoneinfo/zone1970.tab";
    GOLGI_CHECK(fs::is_regular_file(path), "facts-kb: '", path, "' is missing", missing_hint("tzdata"));
    for (const auto& line : split(io::read_file(path), '\n')) {
      if (line.empty() || line[0] == '#') continue;
      std::vector<std::string> cols = split(line, '\t');
      GOLGI_CHECK(cols.size() >= 3, "facts-kb: '", path, "' has a malformed line '", line, "' (expected tab-separated "
                  "codes, coordinates, timezone)");
      std::string country = split(cols[0], ',')[0];
      std::string zone = cols[2];
      std::string city = zone.substr(zone.rfind('/') + 1);
      std::replace(city.begin(), city.end(), '_', ' ');
      auto it = country_name.find(country);
      if (it != country_name.end()) facts.add("city_country", city, it->second);
    }
  }
  if (wanted("subdivision_country") || wanted("subdivision_type")) {
    std::string path = iso_dir + "/iso_3166-2.json";
    Json doc = read_json(path, "iso-codes");
    for (const auto& s : iso_array(doc, "3166-2", path)) {
      std::string code = str_field(s, "code"), name = str_field(s, "name"), type = str_field(s, "type");
      auto it = country_name.find(code.substr(0, code.find('-')));
      if (it == country_name.end()) continue;
      if (wanted("subdivision_country")) facts.add("subdivision_country", name, it->second);
      if (wanted("subdivision_type")) facts.add("subdivision_type", name, type);
    }
  }
  if (wanted("country_currency") || wanted("country_calling_code") || wanted("country_language")) {
    std::string dir = root + "/i18n/locales";
    GOLGI_CHECK(fs::is_directory(dir), "facts-kb: '", dir, "' is missing", missing_hint("locales"));
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.is_regular_file() && is_plain_locale_name(entry.path().filename().string()))
        names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    GOLGI_CHECK(!names.empty(), "facts-kb: no locale sources (ll_CC files) in '", dir, "'", missing_hint("locales"));
    LocaleReader reader(dir);
    for (const auto& name : names) {
      auto it = country_name.find(name.substr(name.find('_') + 1));
      if (it == country_name.end()) continue;
      const std::string& country = it->second;
      if (wanted("country_currency"))
        facts.add("country_currency", country, reader.get(name, "LC_MONETARY", "int_curr_symbol"));
      if (wanted("country_calling_code"))
        facts.add("country_calling_code", country, reader.get(name, "LC_TELEPHONE", "int_prefix"));
      if (wanted("country_language")) {
        std::string code = reader.get(name, "LC_ADDRESS", "lang_term");
        if (code.empty()) code = reader.get(name, "LC_ADDRESS", "lang_ab");
        auto lang = language_name.find(code);
        if (lang != language_name.end()) facts.add("country_language", country, lang->second);
      }
    }
  }

  FactsKb kb;
  Json relations_card = Json::object();
  for (const auto& spec : all) {
    if (!wanted(spec.name)) continue;
    kb.relations.push_back(spec);
    int64_t n_train = 0, n_eval = 0, ambiguous = 0;
    for (const auto& [subject, objects] : facts.by_relation[spec.name]) {
      if (objects.size() != 1) {
        ++ambiguous;
        continue;
      }
      Fact fact{subject, spec.name, *objects.begin()};
      // Per-subject coin: the split of a subject does not depend on which other facts exist.
      SplitMix64 coin(derive_seed(options.seed, "facts-kb/split/" + subject));
      if (coin.uniform() < options.eval_fraction) {
        kb.eval.push_back(std::move(fact));
        ++n_eval;
      } else {
        kb.train.push_back(std::move(fact));
        ++n_train;
      }
    }
    GOLGI_CHECK(n_train + n_eval > 0, "facts-kb: no facts for relation '", spec.name, "' under '", root, "'",
                missing_hint("tzdata, iso-codes and locales"));
    relations_card[spec.name] = {{"facts", n_train + n_eval},
                                 {"train", n_train},
                                 {"eval", n_eval},
                                 {"dropped_ambiguous_subjects", ambiguous},
                                 {"templates", spec.templates}};
  }
  std::sort(kb.train.begin(), kb.train.end());
  std::sort(kb.eval.begin(), kb.eval.end());
  kb.card = {{"name", "facts-kb"},
             {"source", root},
             {"packages", {"tzdata", "iso-codes", "locales"}},
             {"files",
              {"zoneinfo/zone1970.tab", "iso-codes/json/iso_3166-1.json", "iso-codes/json/iso_3166-2.json",
               "iso-codes/json/iso_639-3.json", "i18n/locales/<ll>_<CC>"}},
             {"split", "subject-disjoint: a subject goes to eval when SplitMix64(derive_seed(seed, "
                       "'facts-kb/split/' + subject)).uniform() < eval_fraction"},
             {"ambiguity", "subjects with more than one object within a relation are dropped"},
             {"seed", options.seed},
             {"eval_fraction", options.eval_fraction},
             {"relations", relations_card},
             {"train", kb.train.size()},
             {"eval", kb.eval.size()}};
  return kb;
}

}  // namespace golgi::data
