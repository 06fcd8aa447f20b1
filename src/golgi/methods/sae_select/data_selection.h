// Task-specific data selection with sparse-autoencoder codes (paper id `sae-select`).
//
// Ma et al. 2025, "Task-Specific Data Selection for Instruction Tuning via Monosemantic Neuronal
// Activations" (MONA). A passage is represented by the SAE codes of a model's activations at one
// hook point (methods/sae/sae.h); the task is represented by a prototype built from a few target
// passages; the pool passages most similar to the prototype are selected for fine-tuning:
//
//   e(p)   = (1 / |T_p|) Σ_{t ∈ T_p} z_t          z_t = SAE codes of token t's activation h_t,
//                                                 T_p = p's tokens (padding and the document
//                                                 separator excluded)
//   proto  = (1 / |targets|) Σ_{p ∈ targets} e(p)
//   J(a, b) = Σ_k min(a_k, b_k) / Σ_k max(a_k, b_k)   (generalised Jaccard; 0 when Σ max = 0)
//   select the top ⌈q · |pool|⌉ pool passages by J(e(p), proto) (ties: lower index first).
//
// The paper aggregates codes per sample and scores samples against the task's codes with a
// generalised-Jaccard (weighted) similarity, which rewards sharing the same active features in
// similar amounts rather than a similar direction. Baselines here: cosine similarity of the SAE
// embeddings ("cosine-sae"), cosine similarity of the mean raw activations ("cosine-raw", the
// dense-embedding baseline) and seeded uniform scores ("random").
//
// Shapes: SAE embeddings [n, latents] float32 ≥ 0; raw embeddings [n, d_in] float32;
// scores [n] float64.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"
#include "golgi/methods/sae/sae.h"
#include "golgi/models/model.h"
#include "golgi/tokenize/tokenizer.h"

namespace golgi::methods {

// J(a, b) for nonnegative vectors a, b [K] (float64 accumulation). Throws golgi::Error on a shape
// mismatch or a negative entry.
double generalized_jaccard(const at::Tensor& a, const at::Tensor& b);
// J(rows_i, b) for every row of rows [n, K] against b [K] -> [n] float64.
at::Tensor generalized_jaccard_rows(const at::Tensor& rows, const at::Tensor& b);
// Cosine similarity of every row of rows [n, K] with b [K] -> [n] float64 (0 for a zero vector).
at::Tensor cosine_rows(const at::Tensor& rows, const at::Tensor& b);

// The names score_pool accepts, in the order reports list them.
const std::vector<std::string>& selection_methods();

struct SelectionOptions {
  GOLGI_ARG(std::string, method) = "jaccard";  // "jaccard", "cosine-sae", "cosine-raw" or "random"
  GOLGI_ARG(double, fraction) = 0.05;          // q in (0, 1]
  GOLGI_ARG(int64_t, max_bytes) = 256;         // passage text embedded: its first max_bytes bytes
  GOLGI_ARG(int64_t, batch_size) = 32;         // passages per forward pass
  GOLGI_ARG(int64_t, seed) = 0;                // the "random" method's stream
  static const OptionSchema<SelectionOptions>& schema();
};

// Per-passage embeddings: the mean over counted tokens of the SAE codes and of the raw
// activations. A passage with no counted token has zero embeddings and tokens 0.
struct PassageEmbeddings {
  at::Tensor sae;     // [n, latents] float32
  at::Tensor raw;     // [n, d_in] float32
  at::Tensor tokens;  // [n] int64: counted tokens per passage
  int64_t size() const { return sae.defined() ? sae.size(0) : 0; }
};

// Means over the positions where mask [batch, pos] (bool, or 0/1) is set of the SAE codes of
// activations [batch, pos, d_in] and of the activations themselves. Positions outside the mask
// never contribute (their values may be anything, even NaN).
PassageEmbeddings pool_passage_codes(const SparseAutoencoder& sae, const at::Tensor& activations, const at::Tensor& mask);

// Token ids a passage is embedded as: `separator` (when set: a document starts right after it in
// training) followed by the tokens of the passage's first `max_bytes` bytes (cut back to a UTF-8
// character boundary), at most `max_tokens` ids in all. The separator is position 0 and is never
// counted.
std::vector<int64_t> passage_tokens(const tokenize::Tokenizer& tokenizer, std::optional<int64_t> separator,
                                    const std::string& text, int64_t max_bytes, int64_t max_tokens);

// Embeds `texts` with `model`'s activations at `hook` ([batch, pos, d] hooks only): batched forward
// passes (right-padded; causal attention keeps padding out of earlier positions, and padded
// positions are masked out), no gradients, stopping after the hook, with a progress bar labelled
// `label`. Throws golgi::Error when the hook does not exist (listing some that do) or its width
// differs from the SAE's d_in (naming both).
PassageEmbeddings embed_passages(models::Model& model, const std::string& hook, const SparseAutoencoder& sae,
                                 const tokenize::Tokenizer& tokenizer, std::optional<int64_t> separator,
                                 const std::vector<std::string>& texts, const SelectionOptions& options,
                                 int64_t max_tokens, const std::string& label = "select: embedding");

// The task prototype: the mean of the targets' embeddings (sae [latents], raw [d_in]).
struct TaskPrototype {
  at::Tensor sae, raw;
};
TaskPrototype task_prototype(const PassageEmbeddings& targets);

// Scores [n] float64 of the pool's passages for `method` (higher = more task-like); "random"
// draws uniform scores from `seed`.
at::Tensor score_pool(const PassageEmbeddings& pool, const TaskPrototype& prototype, const std::string& method,
                      int64_t seed);

// ⌈fraction · n⌉ passage indices with the highest scores [n], best first; ties go to the lower
// index. Throws golgi::Error for fraction outside (0, 1] or an empty pool.
std::vector<int64_t> select_top(const at::Tensor& scores, double fraction);

// A passage of a pool or target file and its record (the JSONL object, or {"text": line}).
struct Passage {
  std::string text;
  Json record;
};
// Reads passages from `path`: JSON Lines when the name ends in ".jsonl" (one object per non-empty
// line with a string field "text"; other fields are kept), else plain text with one passage per
// non-empty line. `what` names the file in errors ("--pool"). Throws golgi::Error for a missing or
// unreadable file, a malformed line (its number) or a file without passages.
std::vector<Passage> read_passages(const std::string& path, const std::string& what);

// Fraction of `selected` whose domain_of[i] equals `domain` (0 for an empty selection).
double domain_precision(const std::vector<int64_t>& selected, const std::vector<std::string>& domain_of,
                        const std::string& domain);

}  // namespace golgi::methods
