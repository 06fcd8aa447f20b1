// Language-model data and metrics for `golgi train` / `golgi eval` on text corpora.
//
// Packing: the documents of each language are tokenized and concatenated, each followed by the
// tokenizer's end-of-document token (<|endoftext|> or <|eos|>), so a document always starts right
// after one. The stream is cut into windows of seq_len + 1 tokens that overlap by one (the inputs
// are tokens 0..seq_len-1, the targets 1..seq_len). Languages are packed separately, so every
// window has one language. Training drops each language's final partial window; val and test keep
// it, padded with -1 (ignored by the loss and the metrics), so small languages are measured on
// all of their text.
//
// Balance: with balance = a in (0, 1], language l's share of the training windows becomes
// proportional to n_l^a (n_l its window count) by repeating windows of the smaller languages
// (a = 1 keeps the natural mix; a = 0.5 is the usual "temperature" sampling of multilingual LMs,
// e.g. Conneau et al. 2020 use 0.3).
//
// Bits per byte: total next-token cross-entropy (in bits) over the UTF-8 bytes the target tokens
// stand for; special tokens (the document separators) count as one byte each, like the newline
// a plain-text file would have there. For a byte tokenizer this is the loss per token in bits,
// up to the separators; unlike bits per token, it compares across tokenizers.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "golgi/core/json.h"
#include "golgi/data/dataset.h"
#include "golgi/models/model.h"
#include "golgi/tokenize/tokenizer.h"

namespace golgi::train {

struct LmDataOptions {
  std::string corpus = "multilingual-fortunes";
  std::string data_dir;           // empty: the corpus's default
  std::string tokenizer = "byte";  // "byte" or a tokenizer folder
  uint64_t seed = 0;
  int64_t seq_len = 256;
  double balance = 1.0;
  std::vector<std::string> languages;  // empty: all
};

struct LmData {
  // inputs [windows, seq_len + 1] int64 (-1 = padding), targets [windows] = language index.
  std::shared_ptr<data::Dataset> train, val, test;
  std::vector<std::string> languages;  // index -> ISO code
  std::shared_ptr<tokenize::Tokenizer> tokenizer;
  at::Tensor token_bytes;  // [vocab] int64: UTF-8 bytes each token stands for (special: 1)
  Json card;
};

// True when `name` is a registered text corpus (data/text_corpora.def).
bool is_text_corpus(const std::string& name);

// The token that ends (and so precedes) every document in training: <|endoftext|> or <|eos|>, or
// nullopt when the tokenizer has neither.
std::optional<int64_t> document_separator(const tokenize::Tokenizer& tokenizer);

// The tokenizer "byte" names (ByteTokenizer with its default special tokens) or the one in a folder.
std::shared_ptr<tokenize::Tokenizer> make_lm_tokenizer(const std::string& spec);

LmData load_lm_data(const LmDataOptions& options);

// The data a saved language model was trained on, as its card records it (golgi's model.json):
// corpus, split seed, window length, and the tokenizer saved in the model folder (else the card's).
// A bare Hugging Face folder has no record: corpus empty, seed 0, seq_len 256. Callers override
// fields after the call.
LmDataOptions lm_data_options_from_card(const Json& card, const std::string& model_dir);

// Mean next-token cross-entropy (nats) of a batch of windows [batch, seq_len + 1]; -1 targets are
// ignored.
at::Tensor lm_loss(models::Model& model, const at::Tensor& windows);

struct LmEvalResult {
  int64_t windows = 0, tokens = 0, bytes = 0;
  double loss = 0;            // nats per target token
  double bits_per_byte = 0;
  struct Language {
    std::string language;
    int64_t tokens = 0, bytes = 0;
    double loss = 0, bits_per_byte = 0;
  };
  std::vector<Language> per_language;
  Json to_json() const;
};

// Evaluates a language model over `windows` (eval mode, no gradients).
LmEvalResult evaluate_lm(models::Model& model, const data::Dataset& windows, const at::Tensor& token_bytes,
                         const std::vector<std::string>& languages, int64_t batch_size = 32);

// `n` windows spread evenly over the dataset (every language keeps its share), for quick
// evaluations; the whole dataset when n <= 0 or n >= size.
std::shared_ptr<data::Dataset> spread_subset(const std::shared_ptr<data::Dataset>& windows, int64_t n);

// At most `per_language` windows of every language, evenly spread over that language's windows
// (all of a language that has fewer), so each language is measured on the same amount of text.
std::shared_ptr<data::Dataset> per_language_subset(const std::shared_ptr<data::Dataset>& windows, int64_t per_language);
// Writes the tokenizer into a model folder so `golgi generate --prompt` finds it.
void save_lm_tokenizer(const std::string& dir, const tokenize::Tokenizer& tokenizer);

}  // namespace golgi::train
