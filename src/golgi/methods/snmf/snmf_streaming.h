// Semi-NMF over activations larger than memory (paper id `snmf`; snmf.h has the algorithm).
//
// How it differs from semi_nmf (snmf.h): only in where A lives and in the order of floating-point
// sums. A (d × n) is read in column chunks (e.g. from an on-disk activation store) and never held
// whole; F (d × K), G (n × K), the best G and one chunk of A are in memory, so memory is
// O((d + 2n)·K + d·chunk) instead of O(d·n) (K = 50 ≪ d_mlp). The iterates are the same as
// in-memory semi-NMF up to rounding: every quantity the update needs is a sum over columns,
//   A G = Σ_c A_c G_c,   GᵀG = Σ_c G_cᵀ G_c,   P_c = A_cᵀ F (rows of P),   ‖A − F Gᵀ‖² = Σ_c ‖A_c − F G_cᵀ‖²,
// and the G update is row-wise, so one pass over A per iteration suffices: the pass that updates
// G_c (with the new F) and sums the loss also accumulates A_c G_c for the next iteration's F step
// (the first iteration needs one extra pass for A G0). Not a mini-batch approximation.
//
// Checkpoints (optional): one safetensors file, written atomically every `checkpoint_every`
// iterations, with F, G, the best F and G, A·G and the loop state in its metadata; a run with
// `resume` continues from it and ends with the same factors as an uninterrupted run. Every option
// but max_iter must match the checkpoint's (a run can be extended by raising max_iter).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <ATen/core/Tensor.h>

#include "golgi/methods/snmf/snmf.h"

namespace golgi::methods {

// Columns [begin, end) of A as a [d, end − begin] float tensor (float32 or float64, always the
// same dtype).
using SnmfColumns = std::function<at::Tensor(int64_t begin, int64_t end)>;

struct SnmfStreamOptions {
  int64_t chunk_columns = 8192;    // columns of A read at once
  std::string checkpoint;          // file; empty: no checkpoints
  int64_t checkpoint_every = 1;    // iterations
  bool resume = false;             // continue from `checkpoint` when it exists
};

// The largest chunk (columns of A) whose working set fits in `budget_bytes` next to the factors:
// F, G, best G and A·G take (d + 2n)·K + d·K elements; a chunk takes d·chunk elements for A_c and
// about as much again for the residual. Throws golgi::Error when the factors alone do not fit.
int64_t snmf_chunk_columns_for_budget(int64_t d, int64_t n, int64_t features, int64_t element_bytes,
                                      int64_t budget_bytes);

// Semi-NMF of the d × n matrix whose columns `columns` returns. F0/G0 as in semi_nmf. Throws
// golgi::Error on bad shapes, NaN/inf in a chunk, or a checkpoint made with other sizes/options.
SnmfResult semi_nmf_streaming(const SnmfColumns& columns, int64_t d, int64_t n, const SnmfOptions& options,
                              const SnmfStreamOptions& stream, const at::Tensor& F0 = {}, const at::Tensor& G0 = {},
                              const std::function<void(int64_t, double)>& on_iteration = nullptr);

}  // namespace golgi::methods
