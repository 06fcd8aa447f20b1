// GPT-2 byte-level BPE: the byte-to-unicode map, the GPT-2 pre-tokeniser, encoding by merge rank,
// and training on a corpus.
//
// Encoding (as GPT-2's encoder.py): the text is split into pre-tokens by the pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (implemented by hand over code points; letter/number classes per unicode.h); each pre-token's
// UTF-8 bytes are mapped to printable characters by byte_to_unicode(); then, starting from single
// characters, the adjacent pair with the lowest merge rank is merged everywhere in the word,
// repeatedly, until no pair has a rank. The resulting strings are looked up in the vocabulary.
//
// Files: vocab.json is {"token": id, ...} with tokens in byte-to-unicode form; merges.txt has one
// merge "a b" per line in rank order, optionally preceded by a "#version: ..." line. A vocabulary
// token of the form "<|...|>" is a special token.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "golgi/tokenize/tokenizer.h"

namespace golgi::tokenize {

// GPT-2's reversible map from the 256 byte values to printable code points: the printable bytes
// '!'..'~', 0xA1..0xAC and 0xAE..0xFF map to themselves, every other byte b to U+0100 + (its index
// among the non-printable bytes). Entry b is the UTF-8 of the code point for byte b.
const std::array<std::string, 256>& byte_to_unicode();
// Byte-level form of raw bytes, e.g. " the" -> "Ġthe".
std::string bytes_to_unicode_string(std::string_view bytes);

// The GPT-2 pre-tokeniser: splits `text` into the pattern's matches (byte slices of `text`, which
// concatenate back to `text` exactly).
std::vector<std::string_view> pretokenize(std::string_view text);

class BpeTokenizer : public Tokenizer {
 public:
  // `vocab`: token -> id (ids dense from 0, unique). `merges`: pairs in rank order; both halves
  // and their concatenation must be in the vocabulary, and so must the 256 single-byte tokens.
  // `source` names the file(s) in error messages. Throws golgi::Error on any violation.
  BpeTokenizer(const std::map<std::string, int64_t>& vocab, const std::vector<std::pair<std::string, std::string>>& merges,
               const std::string& source, const std::vector<std::string>& extra_special = {});

  // Reads vocab.json + merges.txt; errors name the file (and line for merges.txt).
  static std::unique_ptr<BpeTokenizer> from_files(const std::string& vocab_json, const std::string& merges_txt);
  // Reads a Hugging Face tokenizer.json with model.type "BPE"; merges may be "a b" strings or
  // ["a", "b"] pairs; added_tokens marked special become special tokens.
  static std::unique_ptr<BpeTokenizer> from_tokenizer_json(const std::string& path);

  std::string decode(const std::vector<int64_t>& ids) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(id_to_token_.size()); }
  std::optional<int64_t> token_to_id(const std::string& token) const override;
  std::string id_to_token(int64_t id) const override;
  std::string kind() const override { return "bpe"; }
  int64_t n_merges() const { return static_cast<int64_t>(merges_.size()); }

  // Writes vocab.json and merges.txt (with a "#version: 0.2" header) into `dir`, atomically.
  void save(const std::string& dir) const;

 protected:
  void encode_ordinary(std::string_view text, std::vector<int64_t>& out) const override;

 private:
  // Ids of one pre-token (already in byte-to-unicode form is not required: raw bytes).
  std::vector<int64_t> encode_word(std::string_view bytes) const;

  std::unordered_map<std::string, int64_t> token_to_id_;
  std::vector<std::string> id_to_token_;
  std::vector<std::pair<std::string, std::string>> merges_;
  // (left id, right id) packed into 64 bits -> (rank, merged id).
  std::unordered_map<uint64_t, std::pair<int64_t, int64_t>> merge_rank_;
  std::array<int64_t, 256> byte_id_{};
  // Decoding: code point of the byte-to-unicode alphabet -> byte.
  std::unordered_map<char32_t, unsigned char> unicode_to_byte_;
  // Pre-token bytes -> ids. Words repeat a lot in text, so this saves most of the merge work.
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache_;
};

struct BpeTrainOptions {
  // Special tokens, given the last ids.
  std::vector<std::string> special_tokens = {"<|endoftext|>"};
  // A pair must occur at least this often (counting word frequency) to be merged.
  int64_t min_frequency = 2;
};

// Learns merges on `texts` until the vocabulary (256 bytes + merges + special tokens) reaches
// `vocab_size` or no pair occurs min_frequency times. Ids: byte b is id b in byte order, each new
// merged token takes the next id, special tokens follow. Each step merges the most frequent adjacent pair within
// pre-tokens (pairs never cross pre-token boundaries); ties go to the pair whose (left, right)
// token strings (byte-to-unicode form) compare smallest, so training is deterministic.
// Throws golgi::Error when vocab_size < 256 + number of special tokens.
std::unique_ptr<BpeTokenizer> train_bpe(const std::vector<std::string>& texts, int64_t vocab_size,
                                        const BpeTrainOptions& options = {});

}  // namespace golgi::tokenize
