#include "golgi/methods/snmf/snmf_streaming.h"

#include <cmath>
#include <limits>
#include <map>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/json.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/torch_bridge.h"

namespace golgi::methods {

int64_t snmf_chunk_columns_for_budget(int64_t d, int64_t n, int64_t features, int64_t element_bytes,
                                      int64_t budget_bytes) {
  GOLGI_CHECK(d > 0 && n > 0 && features > 0 && element_bytes > 0, "snmf: bad sizes for the memory budget");
  const int64_t factors = ((d + 2 * n) * features + d * features) * element_bytes;
  const int64_t left = budget_bytes - factors;
  const int64_t per_column = 2 * d * element_bytes;
  GOLGI_CHECK(left >= per_column, "snmf: the factors alone (F, G, best G, A·G: ", factors / (1 << 20),
              " MiB) do not fit in the memory budget of ", budget_bytes / (1 << 20),
              " MiB; raise --max-memory or lower --features");
  return std::max<int64_t>(1, std::min(n, left / per_column));
}

namespace {

struct LoopState {
  int64_t iteration = 0;  // iterations done
  std::vector<double> loss_history;
  double best_loss = std::numeric_limits<double>::infinity();
  int64_t best_iteration = -1, since_best = 0;
  bool done = false;
};

// The options a checkpoint must agree on: all but max_iter, so a finished run can be extended.
Json resumable_options(const SnmfOptions& o) {
  Json j = SnmfOptions::schema().to_json(o);
  j.erase("max_iter");
  return j;
}

Json state_json(const LoopState& s, int64_t d, int64_t n, const SnmfOptions& o) {
  return {{"iteration", s.iteration},
          {"loss_history", s.loss_history},
          {"best_loss", s.best_iteration < 0 ? Json(nullptr) : Json(s.best_loss)},
          {"best_iteration", s.best_iteration},
          {"since_best", s.since_best},
          {"done", s.done},
          {"d", d},
          {"n", n},
          {"options", resumable_options(o)}};
}

at::Tensor checked_chunk(const SnmfColumns& columns, int64_t begin, int64_t end, int64_t d, c10::ScalarType dtype) {
  at::Tensor A = columns(begin, end);
  GOLGI_CHECK(A.defined() && A.dim() == 2 && A.size(0) == d && A.size(1) == end - begin, "snmf: columns [", begin,
              ", ", end, ") must be a [", d, ", ", end - begin, "] tensor, got ", A.defined() ? A.sizes() : at::IntArrayRef{});
  GOLGI_CHECK(A.scalar_type() == dtype, "snmf: every chunk must have the first chunk's dtype ", dtype, ", got ",
              A.scalar_type());
  GOLGI_CHECK(torch::isfinite(A).all().item<bool>(), "snmf: columns [", begin, ", ", end,
              ") hold NaN or inf values; check the recorded activations");
  return A;
}

}  // namespace

SnmfResult semi_nmf_streaming(const SnmfColumns& columns, int64_t d, int64_t n, const SnmfOptions& options,
                              const SnmfStreamOptions& stream, const at::Tensor& F0, const at::Tensor& G0,
                              const std::function<void(int64_t, double)>& on_iteration) {
  GOLGI_CHECK(d > 0 && n > 0, "snmf: A must be non-empty, got ", d, " x ", n);
  GOLGI_CHECK(stream.chunk_columns >= 1, "snmf: chunk_columns must be >= 1, got ", stream.chunk_columns);
  GOLGI_CHECK(stream.checkpoint_every >= 1, "snmf: checkpoint_every must be >= 1, got ", stream.checkpoint_every);
  const int64_t K = options.features();
  GOLGI_CHECK(K >= 1, "snmf: features (K) must be >= 1, got ", K);
  torch::NoGradGuard no_grad;
  const int64_t chunk = stream.chunk_columns;
  const c10::ScalarType dtype = columns(0, std::min(n, int64_t{1})).scalar_type();
  GOLGI_CHECK(dtype == torch::kFloat || dtype == torch::kDouble, "snmf: A must be float32 or float64, got ", dtype);
  const auto topt = torch::TensorOptions().dtype(dtype);

  LoopState s;
  at::Tensor F, G, AG, best_F, best_G;
  if (stream.resume && !stream.checkpoint.empty() && io::file_exists(stream.checkpoint)) {
    std::map<std::string, std::string> meta;
    auto tensors = io::load_tensors(stream.checkpoint, &meta);
    GOLGI_CHECK(meta.count("state"), "snmf: ", stream.checkpoint, " is not an snmf checkpoint (no state); delete it or pick another file");
    const Json state = Json::parse(meta["state"]);
    const Json expected = state_json(s, d, n, options);
    GOLGI_CHECK(state["d"] == d && state["n"] == n && state["options"] == expected["options"], "snmf: the checkpoint ",
                stream.checkpoint, " was made for A ", state["d"].dump(), " x ", state["n"].dump(), " with options ",
                state["options"].dump(), "; this run has A ", d, " x ", n, " and ", expected["options"].dump(),
                ". Resume with the same data and options, or delete the checkpoint");
    std::map<std::string, at::Tensor> by_name(tensors.begin(), tensors.end());
    F = by_name.at("F");
    G = by_name.at("G");
    AG = by_name.at("AG");
    if (by_name.count("best_F")) {
      best_F = by_name.at("best_F");
      best_G = by_name.at("best_G");
    }
    s.iteration = state["iteration"].get<int64_t>();
    s.loss_history = state["loss_history"].get<std::vector<double>>();
    s.best_iteration = state["best_iteration"].get<int64_t>();
    if (s.best_iteration >= 0) s.best_loss = state["best_loss"].get<double>();
    s.since_best = state["since_best"].get<int64_t>();
    // A run that stopped for patience stays stopped; one that reached max_iter may go on.
    s.done = state["done"].get<bool>() && s.since_best >= options.patience();
  } else {
    std::tie(F, G) = snmf_initial_factors(d, n, options, F0, G0, torch::empty({0}, topt));
    // The first F step needs A·G0: one pass of its own.
    AG = torch::zeros({d, K}, topt);
    for (int64_t b = 0; b < n; b += chunk) {
      const int64_t e = std::min(n, b + chunk);
      AG += checked_chunk(columns, b, e, d, dtype).matmul(G.slice(0, b, e));
    }
  }

  auto save = [&] {
    if (stream.checkpoint.empty()) return;
    std::vector<std::pair<std::string, at::Tensor>> tensors = {{"F", F}, {"G", G}, {"AG", AG}};
    if (best_F.defined()) {
      tensors.emplace_back("best_F", best_F);
      tensors.emplace_back("best_G", best_G);
    }
    io::save_tensors(stream.checkpoint, tensors, {{"state", state_json(s, d, n, options).dump()}});
  };

  const at::Tensor ridge = torch::eye(K, topt) * options.reg();
  while (!s.done && s.iteration < options.max_iter()) {
    // 1-3 as in semi_nmf, with A·G from the previous pass.
    F = at::linalg_solve(G.t().matmul(G) + ridge, AG.t()).t();
    F = snmf_sparsify_columns(F, options.sparsity());
    at::Tensor scale = G.norm(2, /*dim=*/0).clamp_min(1e-8);
    G = G / scale;
    F = F * scale;
    // 4-5 chunk by chunk, accumulating A·G for the next F step.
    const at::Tensor Q = F.t().matmul(F);
    const at::Tensor Q_pos = (Q.abs() + Q) / 2, Q_neg = (Q.abs() - Q) / 2;
    at::Tensor AG_next = torch::zeros({d, K}, topt);
    double loss = 0;
    for (int64_t b = 0; b < n; b += chunk) {
      const int64_t e = std::min(n, b + chunk);
      const at::Tensor A = checked_chunk(columns, b, e, d, dtype);
      at::Tensor Gc = G.slice(0, b, e);
      const at::Tensor P = A.t().matmul(F);
      const at::Tensor P_pos = (P.abs() + P) / 2, P_neg = (P.abs() - P) / 2;
      at::Tensor updated = Gc * ((P_pos + Gc.matmul(Q_neg)) / (P_neg + Gc.matmul(Q_pos) + 1e-6)).sqrt();
      Gc.copy_(updated);
      loss += (A - F.matmul(updated.t())).to(torch::kDouble).pow(2).sum().item<double>();
      AG_next += A.matmul(updated);
    }
    AG = AG_next;
    GOLGI_CHECK(std::isfinite(loss), "snmf: the loss became ", loss, " at iteration ", s.iteration,
                "; the activations may be badly scaled (try float64 or a larger reg)");
    s.loss_history.push_back(loss);
    const int64_t it = s.iteration++;
    if (loss < s.best_loss - options.tol()) {
      s.best_loss = loss;
      s.best_iteration = it;
      best_F = F.clone();
      best_G = G.clone();
      s.since_best = 0;
    } else if (++s.since_best >= options.patience()) {
      s.done = true;
    }
    if (on_iteration) on_iteration(it, loss);
    if (s.done || s.iteration % stream.checkpoint_every == 0 || s.iteration == options.max_iter()) save();
  }

  SnmfResult result;
  result.F = best_F;
  result.G = best_G;
  result.loss_history = s.loss_history;
  result.best_loss = s.best_loss;
  result.best_iteration = s.best_iteration;
  result.iterations = s.iteration;
  double total = 0;
  for (int64_t b = 0; b < n; b += chunk)
    total += checked_chunk(columns, b, std::min(n, b + chunk), d, dtype).to(torch::kDouble).pow(2).sum().item<double>();
  result.relative_error = total > 0 ? std::sqrt(result.best_loss / total) : 0.0;
  return result;
}

}  // namespace golgi::methods
