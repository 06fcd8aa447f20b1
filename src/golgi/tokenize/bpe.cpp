#include "golgi/tokenize/bpe.h"

#include <algorithm>
#include <limits>
#include <set>
#include <unordered_set>

#include "golgi/core/error.h"
#include "golgi/core/json.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/tokenize/unicode.h"

namespace golgi::tokenize {

namespace {

// `word` with every non-overlapping occurrence of (left, right), scanned left to right, replaced by
// `merged`: the one merge step shared by encoding (GPT-2 merges all occurrences at once) and training.
std::vector<int64_t> merge_pair(const std::vector<int64_t>& word, int64_t left, int64_t right, int64_t merged) {
  std::vector<int64_t> next;
  next.reserve(word.size());
  for (size_t i = 0; i < word.size();) {
    if (i + 1 < word.size() && word[i] == left && word[i + 1] == right) {
      next.push_back(merged);
      i += 2;
    } else {
      next.push_back(word[i++]);
    }
  }
  return next;
}

uint64_t pair_key(int64_t a, int64_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(b); }

bool is_special_form(const std::string& token) {
  return token.size() >= 4 && token.compare(0, 2, "<|") == 0 && token.compare(token.size() - 2, 2, "|>") == 0;
}

// What the pre-tokeniser's three non-whitespace classes see.
enum class CharClass { kLetter, kNumber, kSpace, kOther };

CharClass classify(char32_t cp) {
  if (is_letter(cp)) return CharClass::kLetter;
  if (is_number(cp)) return CharClass::kNumber;
  if (is_whitespace(cp)) return CharClass::kSpace;
  return CharClass::kOther;
}

}  // namespace

const std::array<std::string, 256>& byte_to_unicode() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++);
      append_utf8(t[b], cp);
    }
    return t;
  }();
  return table;
}

std::string bytes_to_unicode_string(std::string_view bytes) {
  const auto& table = byte_to_unicode();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += table[static_cast<unsigned char>(c)];
  return out;
}

std::vector<std::string_view> pretokenize(std::string_view text) {
  std::vector<size_t> offsets;
  const std::vector<char32_t> cps = decode_utf8(text, &offsets);
  const size_t n = cps.size();
  std::vector<CharClass> cls(n);
  for (size_t i = 0; i < n; ++i) cls[i] = classify(cps[i]);

  std::vector<std::string_view> out;
  auto emit = [&](size_t begin, size_t end) { out.push_back(text.substr(offsets[begin], offsets[end] - offsets[begin])); };
  auto run_of = [&](size_t from, CharClass c) {
    while (from < n && cls[from] == c) ++from;
    return from;
  };

  size_t i = 0;
  while (i < n) {
    // 's|'t|'re|'ve|'m|'ll|'d (lower case only, as in GPT-2).
    if (cps[i] == '\'' && i + 1 < n) {
      const char32_t c1 = cps[i + 1], c2 = i + 2 < n ? cps[i + 2] : 0;
      size_t len = 0;
      if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
        len = 2;
      else if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
        len = 3;
      if (len > 0) {
        emit(i, i + len);
        i += len;
        continue;
      }
    }
    // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional literal space, then a run of one class.
    const size_t start = (cps[i] == ' ' && i + 1 < n && cls[i + 1] != CharClass::kSpace) ? i + 1 : i;
    if (cls[start] != CharClass::kSpace) {
      size_t end = run_of(start, cls[start]);
      // Inside a run of "other" characters a contraction cannot start, because the regex engine
      // is already inside this alternative's greedy match; so plain run_of is right.
      emit(i, end);
      i = end;
      continue;
    }
    // `\s+(?!\S)` then `\s+`: a whitespace run, less its last character when a non-space follows
    // (that character then prefixes the next word), unless the run is a single character.
    const size_t end = run_of(i, CharClass::kSpace);
    if (end == n || end - i == 1) {
      emit(i, end);
      i = end;
    } else {
      emit(i, end - 1);
      i = end - 1;
    }
  }
  return out;
}

BpeTokenizer::BpeTokenizer(const std::map<std::string, int64_t>& vocab,
                           const std::vector<std::pair<std::string, std::string>>& merges, const std::string& source,
                           const std::vector<std::string>& extra_special) {
  GOLGI_CHECK(!vocab.empty(), source, ": the vocabulary is empty");
  id_to_token_.assign(vocab.size(), std::string());
  std::vector<bool> seen(vocab.size(), false);
  for (const auto& [token, id] : vocab) {
    GOLGI_CHECK(id >= 0 && id < static_cast<int64_t>(vocab.size()), source, ": token '", token, "' has id ", id,
                "; ids must be dense in [0, ", vocab.size(), ")");
    GOLGI_CHECK(!seen[id], source, ": id ", id, " is given to two tokens, '", id_to_token_[id], "' and '", token, "'");
    seen[id] = true;
    id_to_token_[id] = token;
    token_to_id_[token] = id;
  }
  const auto& table = byte_to_unicode();
  for (int b = 0; b < 256; ++b) {
    auto it = token_to_id_.find(table[b]);
    GOLGI_CHECK(it != token_to_id_.end(), source, ": the vocabulary lacks the single-byte token '", table[b],
                "' (byte ", b, "); a byte-level BPE vocabulary needs all 256");
    byte_id_[b] = it->second;
    unicode_to_byte_[decode_utf8(table[b])[0]] = static_cast<unsigned char>(b);
  }
  merges_ = merges;
  merge_rank_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    auto ia = token_to_id_.find(a), ib = token_to_id_.find(b), ic = token_to_id_.find(a + b);
    GOLGI_CHECK(ia != token_to_id_.end(), source, ": merge ", rank + 1, " '", a, " ", b, "' uses '", a,
                "', which is not in the vocabulary");
    GOLGI_CHECK(ib != token_to_id_.end(), source, ": merge ", rank + 1, " '", a, " ", b, "' uses '", b,
                "', which is not in the vocabulary");
    GOLGI_CHECK(ic != token_to_id_.end(), source, ": merge ", rank + 1, " '", a, " ", b, "' makes '", a + b,
                "', which is not in the vocabulary");
    // A repeated merge keeps its first (lowest) rank, as a rank lookup table built in order would.
    merge_rank_.emplace(pair_key(ia->second, ib->second), std::make_pair(static_cast<int64_t>(rank), ic->second));
  }
  for (const auto& [token, id] : token_to_id_)
    if (is_special_form(token)) add_special(token, id);
  for (const auto& token : extra_special) {
    auto it = token_to_id_.find(token);
    GOLGI_CHECK(it != token_to_id_.end(), source, ": special token '", token, "' is not in the vocabulary");
    add_special(token, it->second);
  }
}

std::vector<int64_t> BpeTokenizer::encode_word(std::string_view bytes) const {
  std::vector<int64_t> word;
  word.reserve(bytes.size());
  for (char c : bytes) word.push_back(byte_id_[static_cast<unsigned char>(c)]);
  while (word.size() > 1) {
    int64_t best_rank = std::numeric_limits<int64_t>::max(), merged = -1;
    int64_t left = -1, right = -1;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      auto it = merge_rank_.find(pair_key(word[i], word[i + 1]));
      if (it != merge_rank_.end() && it->second.first < best_rank) {
        best_rank = it->second.first;
        merged = it->second.second;
        left = word[i];
        right = word[i + 1];
      }
    }
    if (merged < 0) break;
    // Merge every occurrence, left to right, as GPT-2 does.
    std::vector<int64_t> next = merge_pair(word, left, right, merged);
    word.swap(next);
  }
  return word;
}

void BpeTokenizer::encode_ordinary(std::string_view text, std::vector<int64_t>& out) const {
  for (std::string_view piece : pretokenize(text)) {
    std::string key(piece);
    {
      std::lock_guard<std::mutex> lock(cache_mutex_);
      auto it = cache_.find(key);
      if (it != cache_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        continue;
      }
    }
    std::vector<int64_t> ids = encode_word(piece);
    out.insert(out.end(), ids.begin(), ids.end());
    std::lock_guard<std::mutex> lock(cache_mutex_);
    // Unbounded text could grow the cache without limit; start over past a generous size.
    if (cache_.size() > 200000) cache_.clear();
    cache_.emplace(std::move(key), std::move(ids));
  }
}

std::string BpeTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  for (int64_t id : ids) {
    const std::string& token = id_to_token(id);
    if (is_special(id)) {
      out += token;
      continue;
    }
    for (char32_t cp : decode_utf8(token)) {
      auto it = unicode_to_byte_.find(cp);
      // Tokens outside the byte alphabet (added tokens of HF files) decode as their own text.
      if (it == unicode_to_byte_.end())
        append_utf8(out, cp);
      else
        out += static_cast<char>(it->second);
    }
  }
  return out;
}

std::optional<int64_t> BpeTokenizer::token_to_id(const std::string& token) const {
  auto it = token_to_id_.find(token);
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

std::string BpeTokenizer::id_to_token(int64_t id) const {
  GOLGI_CHECK(id >= 0 && id < vocab_size(), "token id ", id, " is outside the BPE vocabulary [0, ", vocab_size(), ")");
  return id_to_token_[static_cast<size_t>(id)];
}

namespace {

std::map<std::string, int64_t> vocab_from_json(const Json& json, const std::string& what) {
  GOLGI_CHECK(json.is_object(), what, " must be a JSON object {\"token\": id, ...}, got ", json.type_name());
  std::map<std::string, int64_t> vocab;
  for (auto it = json.begin(); it != json.end(); ++it) {
    GOLGI_CHECK(it.value().is_number_integer(), what, ": the id of token '", it.key(), "' must be an integer, got ",
                it.value().dump());
    vocab[it.key()] = it.value().get<int64_t>();
  }
  return vocab;
}

std::pair<std::string, std::string> split_merge(const std::string& line, const std::string& where) {
  size_t space = line.find(' ');
  GOLGI_CHECK(space != std::string::npos && space > 0 && space + 1 < line.size() &&
                  line.find(' ', space + 1) == std::string::npos,
              where, ": expected a merge 'left right' (two tokens separated by one space), got '", line, "'");
  return {line.substr(0, space), line.substr(space + 1)};
}

}  // namespace

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_files(const std::string& vocab_json, const std::string& merges_txt) {
  auto vocab = vocab_from_json(io::read_json_file(vocab_json), vocab_json);
  const std::string text = io::read_file(merges_txt);
  std::vector<std::pair<std::string, std::string>> merges;
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // The version header of GPT-2's vocab.bpe and HF's merges.txt carries no merge.
    if (line_no == 1 && line.rfind("#version", 0) == 0) continue;
    if (line.empty()) continue;
    merges.push_back(split_merge(line, merges_txt + " line " + std::to_string(line_no)));
  }
  return std::make_unique<BpeTokenizer>(vocab, merges, vocab_json + " + " + merges_txt);
}

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_tokenizer_json(const std::string& path) {
  const Json doc = io::read_json_file(path);
  const Json& model = json_member(doc, "model", path);
  const Json& type = json_member(model, "type", path + " model");
  GOLGI_CHECK(type.is_string() && type.get<std::string>() == "BPE", path, ": model.type must be \"BPE\", got ",
              type.dump());
  auto vocab = vocab_from_json(json_member(model, "vocab", path + " model"), path + " model.vocab");
  const Json& merges_json = json_member(model, "merges", path + " model");
  GOLGI_CHECK(merges_json.is_array(), path, ": model.merges must be an array, got ", merges_json.type_name());
  std::vector<std::pair<std::string, std::string>> merges;
  for (size_t k = 0; k < merges_json.size(); ++k) {
    const Json& m = merges_json[k];
    const std::string where = path + " model.merges[" + std::to_string(k) + "]";
    if (m.is_string()) {
      merges.push_back(split_merge(m.get<std::string>(), where));
    } else {
      GOLGI_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(), where,
                  ": expected \"a b\" or [\"a\", \"b\"], got ", m.dump());
      merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    }
  }
  std::vector<std::string> special;
  auto added = doc.find("added_tokens");
  if (added != doc.end() && added->is_array()) {
    for (const auto& t : *added) {
      GOLGI_CHECK(t.is_object() && t.contains("content") && t["content"].is_string() && t.contains("id") &&
                      t["id"].is_number_integer(),
                  path, ": added_tokens entries need a string 'content' and an integer 'id', got ", t.dump());
      const std::string content = t["content"].get<std::string>();
      const int64_t id = t["id"].get<int64_t>();
      auto in_vocab = vocab.find(content);
      if (in_vocab == vocab.end()) {
        vocab[content] = id;
      } else {
        GOLGI_CHECK(in_vocab->second == id, path, ": added token '", content, "' has id ", id,
                    " but the vocabulary gives it ", in_vocab->second);
      }
      if (t.value("special", false)) special.push_back(content);
    }
  }
  return std::make_unique<BpeTokenizer>(vocab, merges, path, special);
}

void BpeTokenizer::save(const std::string& dir) const {
  io::make_dirs(dir);
  Json vocab = Json::object();
  for (size_t id = 0; id < id_to_token_.size(); ++id) vocab[id_to_token_[id]] = static_cast<int64_t>(id);
  io::write_file_atomic(dir + "/vocab.json", vocab.dump() + "\n");
  std::string merges = "#version: 0.2\n";
  for (const auto& [a, b] : merges_) merges += a + " " + b + "\n";
  io::write_file_atomic(dir + "/merges.txt", merges);
}

std::unique_ptr<BpeTokenizer> train_bpe(const std::vector<std::string>& texts, int64_t vocab_size,
                                        const BpeTrainOptions& options) {
  const int64_t n_special = static_cast<int64_t>(options.special_tokens.size());
  GOLGI_CHECK(vocab_size >= 256 + n_special, "vocab_size must be at least 256 bytes + ", n_special,
              " special tokens = ", 256 + n_special, ", got ", vocab_size);
  GOLGI_CHECK(options.min_frequency >= 1, "min_frequency must be >= 1, got ", options.min_frequency);
  for (const auto& s : options.special_tokens) GOLGI_CHECK(!s.empty(), "special tokens must be non-empty");

  // Distinct pre-tokens with their counts: merges only ever look inside one word.
  std::unordered_map<std::string, int64_t> counts;
  for (const auto& text : texts)
    for (std::string_view piece : pretokenize(text)) ++counts[std::string(piece)];
  // Sorted so that word indices, and everything after, do not depend on hash order.
  std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end());

  std::vector<std::string> tokens(256);
  const auto& table = byte_to_unicode();
  for (int b = 0; b < 256; ++b) tokens[b] = table[b];
  std::vector<std::vector<int64_t>> words(sorted.size());
  std::vector<int64_t> freq(sorted.size());
  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<int32_t>> pair_words;
  for (size_t w = 0; w < sorted.size(); ++w) {
    for (char c : sorted[w].first) words[w].push_back(static_cast<unsigned char>(c));
    freq[w] = sorted[w].second;
    for (size_t i = 0; i + 1 < words[w].size(); ++i) {
      uint64_t key = pair_key(words[w][i], words[w][i + 1]);
      pair_count[key] += freq[w];
      pair_words[key].push_back(static_cast<int32_t>(w));
    }
  }

  std::vector<std::pair<std::string, std::string>> merges;
  const int64_t target_merges = vocab_size - 256 - n_special;
  std::vector<int64_t> visited(sorted.size(), -1);
  std::unordered_map<std::string, int64_t> token_ids;
  for (int b = 0; b < 256; ++b) token_ids.emplace(tokens[b], b);
  while (static_cast<int64_t>(tokens.size()) < 256 + target_merges) {
    uint64_t best = 0;
    int64_t best_count = 0;
    for (const auto& [key, count] : pair_count) {
      if (count < options.min_frequency || count < best_count) continue;
      if (count > best_count) {
        best = key, best_count = count;
        continue;
      }
      const auto& ka = tokens[key >> 32];
      const auto& kb = tokens[key & 0xFFFFFFFFu];
      const auto& ba = tokens[best >> 32];
      const auto& bb = tokens[best & 0xFFFFFFFFu];
      if (ka < ba || (ka == ba && kb < bb)) best = key;
    }
    if (best_count == 0) break;
    const int64_t left = static_cast<int64_t>(best >> 32), right = static_cast<int64_t>(best & 0xFFFFFFFFu);
    const int64_t step = static_cast<int64_t>(merges.size());
    merges.emplace_back(tokens[left], tokens[right]);
    // Two merges can spell the same token ("a bc" and "ab c"); it keeps its first id.
    std::string spelled = tokens[left] + tokens[right];
    auto known = token_ids.find(spelled);
    int64_t merged = known != token_ids.end() ? known->second : static_cast<int64_t>(tokens.size());
    if (known == token_ids.end()) {
      token_ids.emplace(spelled, merged);
      tokens.push_back(std::move(spelled));
    }

    std::vector<int32_t> affected = std::move(pair_words[best]);
    pair_words.erase(best);
    for (int32_t w : affected) {
      if (visited[w] == step) continue;  // a word is listed once per occurrence of the pair
      visited[w] = step;
      auto& word = words[w];
      bool has = false;
      for (size_t i = 0; i + 1 < word.size() && !has; ++i) has = word[i] == left && word[i + 1] == right;
      if (!has) continue;  // stale entry: an earlier merge consumed the pair in this word
      for (size_t i = 0; i + 1 < word.size(); ++i) {
        auto it = pair_count.find(pair_key(word[i], word[i + 1]));
        if ((it->second -= freq[w]) == 0) pair_count.erase(it);
      }
      std::vector<int64_t> next = merge_pair(word, left, right, merged);
      word.swap(next);
      for (size_t i = 0; i + 1 < word.size(); ++i) {
        uint64_t key = pair_key(word[i], word[i + 1]);
        pair_count[key] += freq[w];
        if (word[i] == merged || word[i + 1] == merged) pair_words[key].push_back(w);
      }
    }
  }

  std::map<std::string, int64_t> vocab;
  for (size_t id = 0; id < tokens.size(); ++id) vocab.emplace(tokens[id], static_cast<int64_t>(id));
  for (const auto& s : options.special_tokens) {
    GOLGI_CHECK(vocab.count(s) == 0, "special token '", s, "' is already a learned token or listed twice");
    vocab.emplace(s, static_cast<int64_t>(vocab.size()));
  }
  return std::make_unique<BpeTokenizer>(vocab, merges, "trained BPE", options.special_tokens);
}

}  // namespace golgi::tokenize
