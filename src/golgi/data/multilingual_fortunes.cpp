// multilingual-fortunes: fortune-cookie paragraphs from Debian's fortunes packages, one language
// per package, split on '%' lines, decoding-checked, deduplicated and split train/val/test.
//
// Encodings. In Debian 12 every file this loader reads is already UTF-8 (checked file by file
// with `iconv -f UTF-8 -t UTF-8`; the packages converted their upstream files and ship `.u8`
// symlinks to them). Upstream collections were historically in legacy encodings, and a data_dir
// may point at such an older copy, so each language names the legacy encoding its upstream used:
// ISO-8859-1 for the Western European languages, ISO-8859-2 for Polish, Czech and Slovak, KOI8-R
// for Russian (fortunes-ru's original files), CP1251 for Bulgarian and ISO-8859-3 for Esperanto
// (the encoding of fortunes-eo-iso3). A paragraph that is not valid UTF-8 is converted from that
// encoding with iconv(3); one that still does not decode is dropped. Both are counted in the card.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <unordered_set>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/core/strings.h"
#include "golgi/io/atomic_file.h"
#include "golgi/data/text_corpus.h"

namespace golgi::data {

namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultDir = "/usr/share/games/fortunes";

struct LanguageSource {
  const char* language;         // ISO 639-1
  const char* package;          // the Debian package that ships the files
  const char* dir;              // relative to data_dir; "" is data_dir itself
  std::vector<std::string> files;    // explicit file list; empty means every file in dir
  std::vector<std::string> exclude;  // files of dir to skip
  const char* suffix;           // when non-empty, only files ending with it
  const char* legacy_encoding;  // fallback for paragraphs that are not UTF-8
};

// English lives in the top-level directory next to files other packages put there (fortunes-it
// and fortunes-br install copies at the top level too), so its files are listed explicitly:
// those of fortunes and fortunes-min, less ascii-art (pictures, not language).
const std::vector<LanguageSource>& language_sources() {
  static const std::vector<LanguageSource> sources = {
      {"bg", "fortunes-bg", "bg", {}, {}, "", "CP1251"},
      {"cs", "fortunes-cs", "cs", {}, {"klasik-sk"}, "", "ISO-8859-2"},
      {"de", "fortunes-de", "de", {}, {"asciiart"}, "", "ISO-8859-1"},
      {"en", "fortunes", "",
       {"art", "computers", "cookie", "debian", "definitions", "disclaimer", "drugs", "education", "ethnic",
        "food", "fortunes", "goedel", "humorists", "kids", "knghtbrd", "law", "linux", "linuxcookie",
        "literature", "love", "magic", "medicine", "men-women", "miscellaneous", "news", "paradoxum", "people",
        "perl", "pets", "platitudes", "politics", "pratchett", "riddles", "science", "songs-poems", "sports",
        "startrek", "tao", "translate-me", "wisdom", "work", "zippy"},
       {}, "", "ISO-8859-1"},
      {"eo", "fortunes-eo", "eo", {}, {}, "", "ISO-8859-3"},
      // The offensive collection (es/off, fortunes-es-off) is a separate package and not read.
      {"es", "fortunes-es", "es", {}, {}, ".fortunes", "ISO-8859-1"},
      {"ga", "fortunes-ga", "ga", {}, {}, "", "ISO-8859-1"},
      {"it", "fortunes-it", "it", {}, {}, "", "ISO-8859-1"},
      {"pl", "fortunes-pl", "pl", {}, {}, "", "ISO-8859-2"},
      {"pt", "fortunes-br", "", {"brasil"}, {}, "", "ISO-8859-1"},
      {"ru", "fortunes-ru", "ru", {}, {}, "", "KOI8-R"},
      {"sk", "fortunes-cs", "sk", {}, {}, "", "ISO-8859-2"},
  };
  return sources;
}

// The files of one language, sorted, as paths relative to data_dir.
std::vector<std::string> list_files(const std::string& root, const LanguageSource& src) {
  std::string dir = std::string(src.dir).empty() ? root : root + "/" + src.dir;
  std::vector<std::string> out;
  if (!src.files.empty()) {
    for (const auto& f : src.files) {
      std::string rel = std::string(src.dir).empty() ? f : std::string(src.dir) + "/" + f;
      GOLGI_CHECK(fs::is_regular_file(root + "/" + rel), "multilingual-fortunes: '", root, "/", rel,
                  "' is missing (language '", src.language, "'); run scripts/setup.sh (it installs Debian's ",
                  src.package, ") or pass a data_dir that has it");
      out.push_back(rel);
    }
    return out;
  }
  GOLGI_CHECK(fs::is_directory(dir), "multilingual-fortunes: directory '", dir, "' is missing (language '",
              src.language, "'); run scripts/setup.sh (it installs Debian's ", src.package,
              ") or pass a data_dir that has it");
  for (const auto& entry : fs::directory_iterator(dir)) {
    // is_regular_file follows symlinks: sk/klasik-sk is a link into cs/.
    if (!entry.is_regular_file()) continue;
    std::string name = entry.path().filename().string();
    if (ends_with(name, ".dat") || ends_with(name, ".u8")) continue;  // strfile index / UTF-8 alias
    if (*src.suffix && !ends_with(name, src.suffix)) continue;
    if (std::find(src.exclude.begin(), src.exclude.end(), name) != src.exclude.end()) continue;
    out.push_back(std::string(src.dir) + "/" + name);
  }
  GOLGI_CHECK(!out.empty(), "multilingual-fortunes: no fortune files in '", dir, "' (language '", src.language,
              "'); run scripts/setup.sh (it installs Debian's ", src.package, ")");
  std::sort(out.begin(), out.end());
  return out;
}

// Applies terminal overstriking ("_\bX" underlines, "X\bX" bolds in old fortune files) by deleting
// the character before each backspace, and drops other control characters except newline and tab.
std::string clean_text(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c == 0x08) {
      // Remove one whole UTF-8 character: its continuation bytes, then its lead byte.
      while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
      if (!out.empty()) out.pop_back();
      continue;
    }
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) continue;
    out.push_back(ch);
  }
  return out;
}

// Trailing whitespace of each line and blank lines at both ends removed.
std::string trim_paragraph(const std::vector<std::string>& lines) {
  size_t begin = 0, end = lines.size();
  auto blank = [](const std::string& s) { return s.find_first_not_of(" \t") == std::string::npos; };
  while (begin < end && blank(lines[begin])) ++begin;
  while (end > begin && blank(lines[end - 1])) --end;
  std::string out;
  for (size_t i = begin; i < end; ++i) {
    std::string line = lines[i];
    size_t last = line.find_last_not_of(" \t");
    line.erase(last == std::string::npos ? 0 : last + 1);
    if (i > begin) out.push_back('\n');
    out += line;
  }
  return out;
}

// Paragraphs of a fortune file: text between lines that hold only '%'.
std::vector<std::string> split_paragraphs(const std::string& bytes) {
  std::vector<std::string> paragraphs, lines;
  size_t pos = 0;
  while (pos <= bytes.size()) {
    size_t nl = bytes.find('\n', pos);
    if (nl == std::string::npos) nl = bytes.size();
    std::string line = bytes.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "%") {
      paragraphs.push_back(trim_paragraph(lines));
      lines.clear();
    } else {
      lines.push_back(std::move(line));
    }
    pos = nl + 1;
  }
  paragraphs.push_back(trim_paragraph(lines));
  paragraphs.erase(std::remove(paragraphs.begin(), paragraphs.end(), std::string()), paragraphs.end());
  return paragraphs;
}

// Whitespace-collapsed form, so paragraphs that differ only in line wrapping count as duplicates.
std::string dedup_key(const std::string& text) {
  std::string key;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !key.empty()) key.push_back(' ');
    space = false;
    key.push_back(c);
  }
  return key;
}

}  // namespace

TextCorpus load_multilingual_fortunes(const TextCorpusOptions& options) {
  check_split_fractions(options.val_fraction, options.test_fraction);
  const auto& sources = language_sources();
  std::vector<std::string> known;
  for (const auto& s : sources) known.push_back(s.language);
  std::vector<std::string> wanted = options.languages.empty() ? known : options.languages;
  for (const auto& lang : wanted) {
    std::string hint = did_you_mean(lang, known);
    GOLGI_CHECK(std::find(known.begin(), known.end(), lang) != known.end(),
                "multilingual-fortunes has no language '", lang, "'", hint.empty() ? "" : "; " + hint,
                " (known: ", join(known, ", "), ")");
  }
  std::string root = options.data_dir.empty() ? kDefaultDir : options.data_dir;
  GOLGI_CHECK(fs::is_directory(root), "multilingual-fortunes: data directory '", root,
              "' does not exist; run scripts/setup.sh (it installs Debian's fortunes packages) or pass data_dir");

  TextCorpus corpus;
  corpus.name = "multilingual-fortunes";
  Json languages_card = Json::object();
  std::unordered_set<std::string> seen;
  // Languages in the fixed table order (sorted by code) so that the first copy of a duplicate,
  // the one kept, does not depend on the order of options.languages.
  for (const auto& src : sources) {
    if (std::find(wanted.begin(), wanted.end(), src.language) == wanted.end()) continue;
    std::vector<TextDocument> docs;
    int64_t paragraphs = 0, duplicates = 0, converted = 0, dropped = 0;
    std::vector<std::string> files = list_files(root, src);
    for (const auto& rel : files) {
      for (auto& para : split_paragraphs(io::read_file(root + "/" + rel))) {
        ++paragraphs;
        std::string text;
        if (is_valid_utf8(para)) {
          text = std::move(para);
        } else if (convert_to_utf8(para, src.legacy_encoding, text)) {
          ++converted;
        } else {
          ++dropped;
          continue;
        }
        text = clean_text(text);
        std::string key = dedup_key(text);
        if (key.empty()) continue;
        if (!seen.insert(key).second) {
          ++duplicates;
          continue;
        }
        docs.push_back({std::move(text), src.language, rel});
      }
    }
    GOLGI_CHECK(!docs.empty(), "multilingual-fortunes: no paragraphs for language '", src.language, "' under '",
                root, "'; run scripts/setup.sh (it installs Debian's ", src.package, ")");
    auto n = static_cast<int64_t>(docs.size());
    auto n_test = static_cast<int64_t>(std::llround(options.test_fraction * static_cast<double>(n)));
    auto n_val = static_cast<int64_t>(std::llround(options.val_fraction * static_cast<double>(n)));
    // One stream per language: adding or filtering languages does not reshuffle the others.
    std::vector<int64_t> order =
        permutation(n, derive_seed(options.seed, std::string("multilingual-fortunes/split/") + src.language));
    for (int64_t i = 0; i < n; ++i) {
      auto& doc = docs[static_cast<size_t>(order[static_cast<size_t>(i)])];
      if (i < n_test)
        corpus.test.push_back(std::move(doc));
      else if (i < n_test + n_val)
        corpus.val.push_back(std::move(doc));
      else
        corpus.train.push_back(std::move(doc));
    }
    languages_card[src.language] = {{"package", src.package},
                                    {"files", files.size()},
                                    {"paragraphs", paragraphs},
                                    {"documents", n},
                                    {"train", n - n_val - n_test},
                                    {"val", n_val},
                                    {"test", n_test},
                                    {"duplicates_removed", duplicates},
                                    {"converted_from_legacy", converted},
                                    {"dropped_undecodable", dropped},
                                    {"legacy_encoding", src.legacy_encoding}};
  }
  corpus.card = {{"name", corpus.name},
                 {"source", root},
                 {"format", "fortune files: paragraphs separated by lines holding only '%'"},
                 {"encoding",
                  "UTF-8 expected (Debian 12 ships every file as UTF-8); paragraphs that are not valid UTF-8 are "
                  "converted from the language's legacy_encoding with iconv, else dropped"},
                 {"cleaning", "overstriking (char, backspace) removed; control characters except newline/tab removed; "
                              "trailing spaces and blank edge lines trimmed"},
                 {"deduplication", "exact match after collapsing whitespace, across all languages; first kept"},
                 {"split", "per language: permutation(n, derive_seed(seed, 'multilingual-fortunes/split/<lang>')); "
                           "first round(test_fraction*n) test, next round(val_fraction*n) val, rest train"},
                 {"seed", options.seed},
                 {"val_fraction", options.val_fraction},
                 {"test_fraction", options.test_fraction},
                 {"languages", languages_card},
                 {"train", corpus.train.size()},
                 {"val", corpus.val.size()},
                 {"test", corpus.test.size()}};
  return corpus;
}

}  // namespace golgi::data
