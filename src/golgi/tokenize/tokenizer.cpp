#include "golgi/tokenize/tokenizer.h"

#include <algorithm>

#include "golgi/core/error.h"
#include "golgi/core/json.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/tokenize/bpe.h"

namespace golgi::tokenize {

std::vector<int64_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int64_t> out;
  if (!recognise_special_ || special_.empty()) {
    encode_ordinary(text, out);
    return out;
  }
  // Scan for the earliest special token; on ties at one position the longest wins, so that a
  // special token that is a prefix of another never hides it.
  size_t pos = 0;
  while (pos < text.size()) {
    size_t best_at = std::string_view::npos;
    const std::pair<const std::string, int64_t>* best = nullptr;
    for (const auto& entry : special_) {
      size_t at = text.find(entry.first, pos);
      if (at == std::string_view::npos) continue;
      if (at < best_at || (at == best_at && entry.first.size() > best->first.size())) {
        best_at = at;
        best = &entry;
      }
    }
    if (!best) {
      encode_ordinary(text.substr(pos), out);
      break;
    }
    if (best_at > pos) encode_ordinary(text.substr(pos, best_at - pos), out);
    out.push_back(best->second);
    pos = best_at + best->first.size();
  }
  return out;
}

std::optional<int64_t> Tokenizer::special_id(const std::string& text) const {
  auto it = special_.find(text);
  if (it == special_.end()) return std::nullopt;
  return it->second;
}

bool Tokenizer::is_special(int64_t id) const { return special_by_id_.count(id) > 0; }

void Tokenizer::add_special(const std::string& text, int64_t id) {
  GOLGI_CHECK(!text.empty(), "special tokens must be non-empty text");
  auto it = special_.find(text);
  GOLGI_CHECK(it == special_.end() || it->second == id, "special token '", text, "' is given two ids, ", it->second,
              " and ", id);
  special_[text] = id;
  special_by_id_[id] = text;
}

ByteTokenizer::ByteTokenizer(const std::vector<std::string>& special_tokens) {
  for (const auto& text : special_tokens) {
    GOLGI_CHECK(!special_id(text), "byte tokenizer: special token '", text, "' is listed twice");
    add_special(text, 256 + n_special_);
    ++n_special_;
  }
}

void ByteTokenizer::encode_ordinary(std::string_view text, std::vector<int64_t>& out) const {
  for (char c : text) out.push_back(static_cast<unsigned char>(c));
}

std::string ByteTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  out.reserve(ids.size());
  for (int64_t id : ids) {
    if (id >= 0 && id < 256)
      out += static_cast<char>(id);
    else
      out += id_to_token(id);
  }
  return out;
}

std::optional<int64_t> ByteTokenizer::token_to_id(const std::string& token) const {
  if (token.size() == 1) return static_cast<unsigned char>(token[0]);
  return special_id(token);
}

std::string ByteTokenizer::id_to_token(int64_t id) const {
  GOLGI_CHECK(id >= 0 && id < vocab_size(), "token id ", id, " is outside the byte tokenizer's vocabulary [0, ",
              vocab_size(), ")");
  if (id < 256) return std::string(1, static_cast<char>(id));
  for (const auto& entry : special_tokens())
    if (entry.second == id) return entry.first;
  GOLGI_ASSERT(false, "byte tokenizer id ", id, " has no token");
  return {};
}

namespace {

std::unique_ptr<Tokenizer> load_byte(const std::string& path, const Json& config) {
  std::vector<std::string> special = ByteTokenizer::default_special_tokens();
  auto it = config.find("special_tokens");
  if (it != config.end()) {
    GOLGI_CHECK(it->is_array(), path, ": 'special_tokens' must be an array of strings, got ", it->type_name());
    special.clear();
    for (const auto& s : *it) {
      GOLGI_CHECK(s.is_string(), path, ": 'special_tokens' must hold strings, got ", s.dump());
      special.push_back(s.get<std::string>());
    }
  }
  try {
    return std::make_unique<ByteTokenizer>(special);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& dir) {
  const std::string config_path = dir + "/tokenizer_config.json";
  if (io::file_exists(config_path)) {
    Json config = io::read_json_file(config_path);
    if (config.is_object() && config.contains("type")) {
      const Json& type = config["type"];
      GOLGI_CHECK(type.is_string() && type.get<std::string>() == "byte", config_path,
                  ": 'type' must be \"byte\" (the only tokenizer golgi marks this way), got ", type.dump());
      return load_byte(config_path, config);
    }
  }
  const std::string vocab = dir + "/vocab.json", merges = dir + "/merges.txt", hf = dir + "/tokenizer.json";
  const bool has_vocab = io::file_exists(vocab), has_merges = io::file_exists(merges);
  if (has_vocab && has_merges) return BpeTokenizer::from_files(vocab, merges);
  if (io::file_exists(hf)) return BpeTokenizer::from_tokenizer_json(hf);
  GOLGI_CHECK(!has_vocab, "tokenizer folder '", dir, "' has vocab.json but no merges.txt beside it");
  GOLGI_CHECK(!has_merges, "tokenizer folder '", dir, "' has merges.txt but no vocab.json beside it");
  GOLGI_FAIL("'", dir, "' holds no tokenizer: expected vocab.json + merges.txt, tokenizer.json, or ",
             "tokenizer_config.json with {\"type\": \"byte\"}");
}

void save_byte_tokenizer(const std::string& dir, const std::vector<std::string>& special_tokens) {
  ByteTokenizer check(special_tokens);  // validates the list before anything is written
  io::make_dirs(dir);
  io::write_json_file(dir + "/tokenizer_config.json", Json{{"type", "byte"}, {"special_tokens", special_tokens}});
}

}  // namespace golgi::tokenize
