// Tokenizers: text <-> token ids.
//
// Every tokenizer is byte-exact: decode(encode(text)) == text for any byte string (valid UTF-8 or
// not) that does not contain a special token's text while special tokens are recognised.
//
// Special tokens (e.g. "<|endoftext|>", "<|bos|>") have fixed ids. When special tokens are
// recognised in text (the default), an occurrence of a special token's exact text in the input is
// encoded as that one id; otherwise the text is tokenized like any other. decode() writes a special
// token as its text.
//
// A tokenizer folder (load_tokenizer) is one of:
//   - vocab.json + merges.txt: GPT-2 byte-level BPE (see bpe.h);
//   - tokenizer.json: a Hugging Face tokenizer whose model.type is "BPE" (byte-level);
//   - tokenizer_config.json with {"type": "byte"}: golgi's byte tokenizer (ids 0..255 are the
//     bytes, special tokens follow from 256; optional "special_tokens": ["<|bos|>", ...]).
// tokenizer_config.json with type "byte" wins over the other files when present.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace golgi::tokenize {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Text to ids. Thread-safe.
  std::vector<int64_t> encode(std::string_view text) const;
  // Ids to text. Throws golgi::Error naming the first id outside [0, vocab_size()).
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
  // One past the largest id (ids are dense from 0).
  virtual int64_t vocab_size() const = 0;
  // The token's vocabulary string (for BPE the byte-to-unicode form, e.g. "Ġthe"), or nullopt.
  virtual std::optional<int64_t> token_to_id(const std::string& token) const = 0;
  // Throws golgi::Error when `id` is outside [0, vocab_size()).
  virtual std::string id_to_token(int64_t id) const = 0;

  // Special token text -> id.
  const std::map<std::string, int64_t>& special_tokens() const { return special_; }
  std::optional<int64_t> special_id(const std::string& text) const;
  bool is_special(int64_t id) const;
  // Whether encode() turns special token text into special ids (default true).
  void set_recognise_special(bool on) { recognise_special_ = on; }
  bool recognise_special() const { return recognise_special_; }
  // "byte" or "bpe": for messages and provenance.
  virtual std::string kind() const = 0;

 protected:
  // Encodes text known to contain no special token.
  virtual void encode_ordinary(std::string_view text, std::vector<int64_t>& out) const = 0;
  // Registers a special token; throws golgi::Error when the text is empty or already registered
  // with another id.
  void add_special(const std::string& text, int64_t id);

 private:
  std::map<std::string, int64_t> special_;
  std::map<int64_t, std::string> special_by_id_;
  bool recognise_special_ = true;
};

// Bytes as tokens: id b for byte b, then the special tokens from 256 in the order given.
class ByteTokenizer : public Tokenizer {
 public:
  static std::vector<std::string> default_special_tokens() { return {"<|bos|>", "<|eos|>", "<|pad|>"}; }
  explicit ByteTokenizer(const std::vector<std::string>& special_tokens = default_special_tokens());

  std::string decode(const std::vector<int64_t>& ids) const override;
  int64_t vocab_size() const override { return 256 + n_special_; }
  // Byte tokens are named by the single byte they stand for.
  std::optional<int64_t> token_to_id(const std::string& token) const override;
  std::string id_to_token(int64_t id) const override;
  std::string kind() const override { return "byte"; }

 protected:
  void encode_ordinary(std::string_view text, std::vector<int64_t>& out) const override;

 private:
  int64_t n_special_ = 0;
};

// Loads the tokenizer in `dir` (see the list at the top). Throws one golgi::Error naming the file
// and the problem when the folder holds none of the recognised layouts or a file is malformed.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& dir);

// Writes `dir`/tokenizer_config.json marking a byte tokenizer with these special tokens (atomic).
void save_byte_tokenizer(const std::string& dir,
                         const std::vector<std::string>& special_tokens = ByteTokenizer::default_special_tokens());

}  // namespace golgi::tokenize
