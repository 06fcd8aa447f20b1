// Sparse autoencoders on any hook point (paper id `sae-select`; also the feature basis of the
// data selection in methods/sae_select).
//
// Ma et al. 2025, "Task-Specific Data Selection for Instruction Tuning via Monosemantic Neuronal
// Activations" (MONA) train a TopK SAE on a model's activations and use its codes; golgi offers two
// architectures over rows h (d_in):
//
//   TopK (Gao et al. 2024, "Scaling and evaluating sparse autoencoders"):
//     z = TopK(W_enc (h − b_pre) + b_enc)          keep the k largest pre-activations, ReLU them,
//                                                  zero the rest
//     x̂ = W_dec z + b_pre                          W_dec's columns have unit L2 norm (renormalised
//                                                  after every step; the gradient component parallel
//                                                  to each column is removed before the step)
//     loss = ‖h − x̂‖² + aux_coefficient · ‖e − ê‖² where e = h − x̂ and ê = W_dec z_aux, z_aux the
//            top-aux_k pre-activations among the dead latents (the AuxK loss), 0 when none are dead
//   ReLU + L1 (Bricken et al. 2023, "Towards Monosemanticity"):
//     z = ReLU(W_enc (h − b_pre) + b_enc), x̂ = W_dec z + b_pre, unit-norm decoder columns,
//     loss = ‖h − x̂‖² + l1_coefficient · Σ_k |z_k|
//
// Scale: both losses are computed on rows scaled by s = sqrt(d_in / mean ‖h − b_pre‖²) (s fixed
// from the first training buffer), i.e. ‖h − x̂‖² → s²‖h − x̂‖², Σ|z| → s Σ|z|, as in Anthropic's
// April 2024 update to Bricken et al. So l1_coefficient does not depend on the units of h (5 there,
// our default), and a reported loss of d_in means "no better than the mean". The parameters stay
// in the units of h: encode() and decode() take and give unscaled rows. Losses are means over the
// rows of a batch.
//
// A latent is dead when it has not fired (z > 0) on any of the last `dead_after_rows` training
// rows. b_pre is initialised to the mean of the first training buffer (the geometric median in
// Gao et al.; the mean is within noise here), W_enc to W_decᵀ, W_dec to unit-norm Gaussian columns.
//
// Shapes: rows h [n, d_in] float32; codes z [n, latents] float32 ≥ 0.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"
#include "golgi/methods/snmf/snmf_features.h"

namespace golgi::methods {

struct SaeOptions {
  GOLGI_ARG(std::string, kind) = "topk";     // "topk" or "relu" (ReLU + L1)
  GOLGI_ARG(int64_t, latents) = 2048;
  GOLGI_ARG(int64_t, k) = 32;                // TopK: latents kept per row
  GOLGI_ARG(int64_t, aux_k) = 256;           // TopK: dead latents in the auxiliary loss
  GOLGI_ARG(double, aux_coefficient) = 1.0 / 32.0;
  GOLGI_ARG(double, l1_coefficient) = 5.0;   // ReLU: weight of Σ|z| on scaled rows (see "Scale")
  GOLGI_ARG(int64_t, dead_after_rows) = 1000000;  // training rows without firing before "dead"
  GOLGI_ARG(double, lr) = 1e-3;              // Adam
  GOLGI_ARG(int64_t, batch_size) = 1024;     // rows per step
  GOLGI_ARG(int64_t, steps) = 2000;
  GOLGI_ARG(int64_t, seed) = 0;
  static const OptionSchema<SaeOptions>& schema();
};

// The rows [begin, end) of the training matrix as a [end − begin, d_in] float32 tensor (an
// in-memory tensor's slice, or an activation store's rows: hooks/activation_store.h).
using SaeRows = std::function<at::Tensor(int64_t begin, int64_t end)>;

class SparseAutoencoder {
 public:
  SparseAutoencoder() = default;
  // Fresh, seeded parameters for rows of width d_in.
  SparseAutoencoder(int64_t d_in, const SaeOptions& options);

  int64_t d_in() const;
  int64_t latents() const;
  const SaeOptions& options() const { return options_; }

  // Codes z [n, latents] ≥ 0 of rows h [n, d_in] (no gradient).
  at::Tensor encode(const at::Tensor& h) const;
  // Reconstruction x̂ [n, d_in] of codes z [n, latents].
  at::Tensor decode(const at::Tensor& z) const;

  // Parameters (the training code updates them in place): W_enc [latents, d_in], b_enc [latents],
  // W_dec [d_in, latents], b_pre [d_in].
  at::Tensor W_enc, b_enc, W_dec, b_pre;

  // DIR/sae.safetensors (the four parameters) and DIR/sae.json (format "golgi-sae", options, d_in,
  // the hook and store it was trained on and its metrics: `info`), both written atomically.
  void save(const std::string& dir, const Json& info = Json::object()) const;
  // Throws golgi::Error naming the problem for a missing folder, a corrupt file or wrong shapes.
  static SparseAutoencoder load(const std::string& dir, Json* info = nullptr);

 private:
  SaeOptions options_;
};

struct SaeMetrics {
  double fvu = 0;            // Σ‖h − x̂‖² / Σ‖h − mean(h)‖² over the evaluated rows
  double l0 = 0;             // mean number of nonzero latents per row
  double dead_fraction = 0;  // latents that never fired on the evaluated rows (for training
                             // batches: latents dead by `dead_after_rows`)
  double mse = 0;            // mean over rows of ‖h − x̂‖²
  int64_t rows = 0;
  Json to_json() const;
};

struct SaeTrainOptions {
  int64_t buffer_rows = 65536;      // rows held in memory at once (shuffled within); see
                                    // sae_buffer_rows_for_budget
  std::string checkpoint;           // file, written every checkpoint_every steps and at the end;
                                    // empty: no checkpoints
  int64_t checkpoint_every = 500;   // steps
  bool resume = false;              // continue from `checkpoint` when it exists; without it an
                                    // existing checkpoint is an error (never overwritten)
  // Called after every step with (step, loss, metrics of that batch), e.g. for a progress bar.
  std::function<void(int64_t, double, const SaeMetrics&)> on_step;
  // Asked after every step (e.g. "was Ctrl-C pressed?"); true ends the run there, writing the
  // checkpoint first, and the result has interrupted = true and steps < options.steps().
  std::function<bool()> stop;
};

struct SaeTrainResult {
  SparseAutoencoder sae;
  std::vector<double> loss_history;  // per step
  SaeMetrics final_batch;            // metrics of the last training batch
  int64_t steps = 0;
  bool resumed = false;
  bool interrupted = false;          // ended early by SaeTrainOptions::stop
  Json to_json() const;              // without the parameters
};

// The buffer size (rows) that fits `budget_bytes` next to the SAE, its gradients and Adam state
// and one batch's activations (formula in docs/methods/sae.md): throws golgi::Error when not even
// one batch of rows fits beside them.
int64_t sae_buffer_rows_for_budget(int64_t d_in, const SaeOptions& options, int64_t budget_bytes);

// Trains on rows [0, n) of `rows` (width d_in). Rows are visited in buffer-sized runs, in a seeded
// order of runs and a seeded shuffle within each run, cycling over the data until `steps` batches;
// a resumed run (checkpoint + resume) ends with the same parameters as an uninterrupted one.
// Throws golgi::Error on NaN/inf rows, d_in mismatch or a checkpoint made with other options
// (all but `steps` must match, and the same n, d_in and buffer_rows, which fix the data order).
// Memory: the SAE with gradients and Adam state, one buffer of rows and one batch's working set.
SaeTrainResult train_sae(const SaeRows& rows, int64_t n, int64_t d_in, const SaeOptions& options,
                         const SaeTrainOptions& train = {});

// Metrics over rows [0, n) read `chunk_rows` at a time (FVU against the mean of those n rows).
SaeMetrics evaluate_sae(const SparseAutoencoder& sae, const SaeRows& rows, int64_t n, int64_t chunk_rows = 8192);

// ---------------------------------------------------------------------------------------------
// What each latent is: its top-activating store rows (with their text for token stores) and the
// neurons its decoder column writes to. `golgi sae train|eval --annotate MODEL_DIR` writes these to
// MODEL_DIR/sae.json for the atlas annotator "sae" (docs/methods/sae.md, "Latents in the atlas").
// Bricken et al. 2023 read a feature through its top-activating examples and its decoder weights
// ("logit / neuron weights"); this is that view over an activation store.

// Per latent l: its N rows with the largest code z[:, l] (largest first, ties: the lower row; rows
// with z = 0 left out) and how many rows it fired on (z > 0).
struct SaeTopRows {
  TopRows top;                 // [latents] lists of (row, z)
  std::vector<int64_t> fired;  // [latents]
  int64_t rows = 0;            // rows scanned
};

// Encodes rows [0, n) `chunk_rows` at a time and keeps a running top-N per latent
// (TopRowsAccumulator): memory O(latents · (top + chunk_rows)), never the [n, latents] codes. The
// result does not depend on chunk_rows. on_rows(done) after every chunk (e.g. a progress bar).
SaeTopRows sae_top_rows(const SparseAutoencoder& sae, const SaeRows& rows, int64_t n, int64_t top,
                        int64_t chunk_rows = 1024, const std::function<void(int64_t)>& on_rows = {});

struct SaeLatentSummaryOptions {
  int64_t top = 20;                // examples per latent
  int64_t rows = 0;                // scan the first N store rows; 0: all
  int64_t chunk_rows = 1024;       // rows encoded at once
  int64_t neurons = 8;             // decoder neurons listed per latent
  int64_t latents_per_neuron = 3;  // "per_neuron" entries
  int64_t context_before = 24;     // bytes of text before the token (token stores)
  int64_t context_after = 8;       // bytes after it
  std::function<void(int64_t)> on_rows;
};

// {"scanned_rows", "live_latents",
//  "per_latent": one object per LIVE latent l (fired on a scanned row), in latent order:
//    {"latent": l, "frequency": fired rows / scanned rows,
//     "top_examples": [{"row", "sample", "value" (z), and for token stores "position", and with
//                       `windows` "language", "token", "context"}, ...],
//     "summary": "<frequent top tokens> · <language> c/N" (without text: "fires on x% of rows"),
//     "neurons": the `neurons` hook neurons j with the largest |W_dec[j, l]|: [{"neuron", "weight"}]},
//  "per_neuron": [d_in] lists of up to `latents_per_neuron` live latents l with the largest
//    score |W_dec[j, l]| / max_i |W_dec[i, l]| (1 for the column's strongest neuron; ties: the
//    lower latent; weight 0 left out): [{"latent", "weight", "score"}]}.
// `rows` reads the store's rows of the SAE's hook; `windows` may be null (no text).
Json sae_latent_summaries(const SparseAutoencoder& sae, const SaeRows& rows, const hooks::ActivationStoreReader& store,
                          const StoreWindows* windows, const SaeLatentSummaryOptions& options);

}  // namespace golgi::methods
