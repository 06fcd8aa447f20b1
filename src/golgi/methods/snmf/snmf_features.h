// What each semi-NMF feature is (paper id `snmf`; snmf.h has the algorithm): its neurons and the
// store rows that express it most, with their text for language models.
//
// Shafran, Geiger & Geva 2025 read a feature k through the rows of F (which neurons, with what
// sign and weight) and through the samples with the largest G[:, k] (their "top-activating
// contexts"). With A taken from an activation store (hooks/activation_store.h) the rows of G are
// the store's rows, so a row index leads back to a sample and, for a token store, to a window and a
// position whose text is rebuilt from the store's recorded dataset.
//
// Scale: G [n, K] is scanned in row chunks, keeping K running top-N lists (memory O(K·(N + chunk)),
// not an n·K sort), and the store is read only at the selected rows.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"

namespace golgi::data {
class Dataset;
}
namespace golgi::tokenize {
class Tokenizer;
}
namespace golgi::hooks {
class ActivationStoreReader;
}

namespace golgi::methods {

struct SnmfFeatureOptions {
  int64_t top = 20;             // examples per feature
  int64_t context_before = 24;  // bytes of text before the token
  int64_t context_after = 8;    // bytes of text after it
  int64_t chunk_rows = 65536;   // rows of G scanned at once
};

// (row, value) pairs per column, largest value first.
using TopRows = std::vector<std::vector<std::pair<int64_t, double>>>;

// The running top-N rows of every column of a matrix [n, K] >= 0 that arrives in row chunks (G of
// semi-NMF, the codes of a sparse autoencoder): memory O(K·(N + chunk)). Chunks must come in
// ascending row order without gaps; result() equals a stable full sort of each column (value
// descending, ties: the lower row) cut to N, whatever the chunk sizes. Rows with value 0 are left out.
class TopRowsAccumulator {
 public:
  TopRowsAccumulator(int64_t columns, int64_t top);
  // chunk [m, K]: rows [rows_seen(), rows_seen() + m).
  void add(const at::Tensor& chunk);
  int64_t rows_seen() const { return rows_seen_; }
  TopRows result() const;

 private:
  int64_t columns_, top_, rows_seen_ = 0;
  at::Tensor best_values_, best_rows_;  // [<= top, K] double / int64
};

// The N rows with the largest G[:, k] for every k, as (row, value) pairs, largest first (ties: the
// lower row). G [n, K] >= 0. Rows with G = 0 are left out.
TopRows snmf_top_rows(const at::Tensor& G, int64_t top, int64_t chunk_rows = 65536);

// The windows a token store was recorded from, rebuilt from index.json's "dataset" (corpus, split,
// seed, seq_len, tokenizer, per-language limit; see `golgi record`).
struct StoreWindows {
  std::shared_ptr<data::Dataset> windows;  // [windows, seq_len + 1] int64 (-1 padding), targets = language
  std::vector<std::string> languages;
  std::shared_ptr<tokenize::Tokenizer> tokenizer;
};
// Throws golgi::Error when the store is not a token store or its corpus cannot be loaded.
StoreWindows load_store_windows(const hooks::ActivationStoreReader& store);

// Text around token `position` of a window [seq_len + 1] (-1 padding): {"before", "token", "after",
// "context"} with "context" = before + "[[" + token + "]]" + after, cut at UTF-8 character
// boundaries to at most `before_bytes` / `after_bytes` bytes. A token that is part of a character
// (a byte of "ö") shows the whole character; invalid bytes show as U+FFFD.
Json token_context(const tokenize::Tokenizer& tokenizer, const at::Tensor& window, int64_t position,
                   int64_t before_bytes, int64_t after_bytes);

// The examples of one column's top rows: [{"row", "sample", "value", and for token stores
// "position", and with `windows` "language", "token", "context"}, ...], and in *summary
// "<frequent top tokens> · <language> <count>/<examples>" (empty without text).
Json top_row_examples(const std::vector<std::pair<int64_t, double>>& rows, const hooks::ActivationStoreReader& store,
                      const StoreWindows* windows, const SnmfFeatureOptions& options, std::string* summary);

// One JSON object per feature k:
//   {"feature": k, "neurons": [{"neuron": j, "weight": F[j, k]}, ...] (nonzero, by |weight|),
//    "top_examples": [{"row", "sample", "value", and for token stores "position", "language",
//                      "token", "context"}, ...], "summary": "<frequent top tokens> · <language>"}
// `windows` may be null (no text; always so for per-sample stores).
Json snmf_feature_summaries(const at::Tensor& F, const at::Tensor& G, const hooks::ActivationStoreReader& store,
                            const StoreWindows* windows, const SnmfFeatureOptions& options);

}  // namespace golgi::methods
