// Sparse autoencoders: TopK (Gao et al. 2024) and ReLU + L1 (Bricken et al. 2023). See sae.h.
#include "golgi/methods/sae/sae.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>

#include <torch/torch.h>

#include "golgi/core/seed.h"
#include "golgi/hooks/activation_store.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"

namespace golgi::methods {

const OptionSchema<SaeOptions>& SaeOptions::schema() {
  static const auto schema =
      OptionSchema<SaeOptions>("sae")
          .add("kind", &SaeOptions::kind_, "architecture: TopK (Gao et al. 2024) or ReLU + L1 (Bricken et al. 2023)",
               {"topk", "relu"})
          .add("latents", &SaeOptions::latents_, "dictionary size (latents)", at_least<int64_t>(1))
          .add("k", &SaeOptions::k_, "TopK: latents kept per row", at_least<int64_t>(1))
          .add("aux_k", &SaeOptions::aux_k_, "TopK: dead latents used by the AuxK loss", at_least<int64_t>(0))
          .add("aux_coefficient", &SaeOptions::aux_coefficient_, "TopK: weight of the AuxK loss", at_least(0.0))
          .add("l1_coefficient", &SaeOptions::l1_coefficient_,
               "ReLU: weight of the L1 penalty on codes of rows scaled to mean squared norm d_in", at_least(0.0))
          .add("dead_after_rows", &SaeOptions::dead_after_rows_,
               "a latent silent on this many consecutive training rows is dead", at_least<int64_t>(1))
          .add("lr", &SaeOptions::lr_, "Adam learning rate", at_least(0.0, /*inclusive=*/false))
          .add("batch_size", &SaeOptions::batch_size_, "rows per step", at_least<int64_t>(1))
          .add("steps", &SaeOptions::steps_, "training steps (batches)", at_least<int64_t>(0))
          .add("seed", &SaeOptions::seed_, "seed of the initialisation and of the data order", at_least<int64_t>(0));
  return schema;
}

namespace {

constexpr double kAdamBeta1 = 0.9, kAdamBeta2 = 0.999, kAdamEps = 1e-8;
constexpr const char* kCheckpointFormat = "golgi-sae-checkpoint";
// Whole-buffer computations go through slices of this many rows, so their temporaries stay small.
constexpr int64_t kSliceRows = 1024;

void validate_options(const SaeOptions& options, int64_t d_in) {
  SaeOptions::schema().validate(options);
  GOLGI_CHECK(d_in >= 1, "sae: rows must have at least one column, got d_in = ", d_in);
  if (options.kind() == "topk")
    GOLGI_CHECK(options.k() <= options.latents(), "option 'sae.k' (", options.k(),
                ") must not exceed 'sae.latents' (", options.latents(), "): a TopK SAE keeps k of its latents");
}

// Pre-activations W_enc (h − b_pre) + b_enc, [n, latents].
at::Tensor pre_activations(const at::Tensor& h, const at::Tensor& W_enc, const at::Tensor& b_enc,
                           const at::Tensor& b_pre) {
  return torch::addmm(b_enc, h - b_pre, W_enc.t());
}

// The k largest entries of each row of `pre`, ReLU'd, in place; zeros elsewhere.
at::Tensor top_k_codes(const at::Tensor& pre, int64_t k) {
  auto top = pre.topk(k, /*dim=*/1);
  return torch::zeros_like(pre).scatter(1, std::get<1>(top), torch::relu(std::get<0>(top)));
}

at::Tensor codes_of(const at::Tensor& pre, const SaeOptions& options) {
  return options.kind() == "topk" ? top_k_codes(pre, options.k()) : torch::relu(pre);
}

// Rows from the callback as a contiguous float32 [end − begin, d_in] tensor, checked for shape and
// finiteness (the error names the offending row, so a user can find it in the store).
at::Tensor fetch_rows(const SaeRows& rows, int64_t begin, int64_t end, int64_t d_in) {
  at::Tensor t = rows(begin, end);
  GOLGI_CHECK(t.defined() && t.dim() == 2 && t.size(0) == end - begin && t.size(1) == d_in, "sae: rows [", begin,
              ", ", end, ") should be a [", end - begin, ", ", d_in, "] tensor, got ",
              t.defined() ? t.sizes() : at::IntArrayRef{});
  t = t.to(torch::kFloat).contiguous();
  // Checked in slices so that the check's temporaries stay small next to a large buffer.
  for (int64_t lo = 0; lo < t.size(0); lo += kSliceRows) {
    at::Tensor finite_rows = torch::isfinite(t.slice(0, lo, lo + kSliceRows)).all(1);
    if (!finite_rows.all().item<bool>()) {
      int64_t first = lo + torch::nonzero(finite_rows.logical_not()).index({0, 0}).item<int64_t>();
      GOLGI_FAIL("sae: rows [", begin, ", ", end, ") contain NaN or infinite values (first at row ", begin + first,
                 "); clean or re-record the activations");
    }
  }
  return t;
}

void check_width(const at::Tensor& t, int64_t width, const char* what, const char* name) {
  GOLGI_CHECK(t.defined() && t.dim() == 2 && t.size(1) == width, "sae ", what, ": expected ", name, " of shape [n, ",
              width, "], got ", t.defined() ? t.sizes() : at::IntArrayRef{});
}

int64_t checked_i64(const std::map<std::string, std::string>& meta, const std::string& key,
                    const std::string& path) {
  auto it = meta.find(key);
  GOLGI_CHECK(it != meta.end(), "SAE checkpoint '", path, "' has no '", key,
              "' in its metadata; it is corrupt or not a golgi SAE checkpoint: delete it");
  try {
    size_t used = 0;
    int64_t v = std::stoll(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (const std::exception&) {
  }
  GOLGI_FAIL("SAE checkpoint '", path, "' has a non-integer '", key, "' ('", it->second, "'); delete it");
}

// Options that decide the trained parameters, apart from `steps` (a resumed run may go further).
Json options_fingerprint(const SaeOptions& options) {
  Json j = SaeOptions::schema().to_json(options);
  j.erase("steps");
  return j;
}

// Everything a training run carries from step to step (and into a checkpoint).
struct TrainState {
  at::Tensor W_enc, b_enc, W_dec, b_pre;  // leaves with requires_grad
  std::vector<at::Tensor> adam_m, adam_v;  // in the order of params()
  at::Tensor rows_since_fired;             // [latents] int64
  double scale = 0;                        // s of sae.h "Scale"; 0 until the first buffer is read
  int64_t step = 0, epoch = 0, run = 0, offset = 0;  // position in the data order
  std::vector<double> losses;

  std::vector<at::Tensor> params() const { return {W_enc, b_enc, W_dec, b_pre}; }
};

const char* const kParamNames[] = {"W_enc", "b_enc", "W_dec", "b_pre"};

void write_checkpoint(const std::string& path, const TrainState& s, const SaeOptions& options, int64_t d_in,
                      int64_t n, int64_t buffer_rows) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  auto params = s.params();
  for (size_t i = 0; i < params.size(); ++i) tensors.emplace_back(kParamNames[i], params[i].detach().contiguous());
  for (size_t i = 0; i < params.size(); ++i)
    tensors.emplace_back(std::string("adam.m.") + kParamNames[i], s.adam_m[i].contiguous());
  for (size_t i = 0; i < params.size(); ++i)
    tensors.emplace_back(std::string("adam.v.") + kParamNames[i], s.adam_v[i].contiguous());
  tensors.emplace_back("rows_since_fired", s.rows_since_fired.contiguous());
  tensors.emplace_back("scale", torch::tensor({s.scale}, torch::kDouble));
  tensors.emplace_back("loss_history", torch::tensor(s.losses, torch::kDouble).reshape({-1}));
  std::map<std::string, std::string> meta = {
      {"format", kCheckpointFormat},
      {"options", options_fingerprint(options).dump()},
      {"d_in", std::to_string(d_in)},
      {"rows", std::to_string(n)},
      {"buffer_rows", std::to_string(buffer_rows)},
      {"step", std::to_string(s.step)},
      {"epoch", std::to_string(s.epoch)},
      {"run", std::to_string(s.run)},
      {"offset", std::to_string(s.offset)},
  };
  io::save_tensors(path, tensors, meta);
}

TrainState read_checkpoint(const std::string& path, const SaeOptions& options, int64_t d_in, int64_t n,
                           int64_t buffer_rows) {
  std::map<std::string, std::string> meta;
  auto tensors = io::load_tensors(path, &meta);
  auto it = meta.find("format");
  GOLGI_CHECK(it != meta.end() && it->second == kCheckpointFormat, "'", path,
              "' is not a golgi SAE checkpoint (no format tag '", kCheckpointFormat, "'); delete it or pick another path");
  const Json fingerprint = options_fingerprint(options);
  GOLGI_CHECK(meta["options"] == fingerprint.dump(), "SAE checkpoint '", path,
              "' was made with other options: ", meta["options"], " vs now ", fingerprint.dump(),
              "; resume with the same options (only --steps may change) or delete it");
  const int64_t ck_d = checked_i64(meta, "d_in", path), ck_n = checked_i64(meta, "rows", path),
                ck_buffer = checked_i64(meta, "buffer_rows", path);
  GOLGI_CHECK(ck_d == d_in && ck_n == n, "SAE checkpoint '", path, "' was made on ", ck_n, " rows of width ", ck_d,
              ", the data now has ", n, " rows of width ", d_in, "; resume on the same data or delete it");
  GOLGI_CHECK(ck_buffer == buffer_rows, "SAE checkpoint '", path, "' was made with a buffer of ", ck_buffer,
              " rows, now ", buffer_rows, " (the buffer fixes the data order); resume with the same memory budget");
  std::map<std::string, at::Tensor> by_name(tensors.begin(), tensors.end());
  auto get = [&](const std::string& name, at::IntArrayRef shape, c10::ScalarType type) {
    auto t = by_name.find(name);
    GOLGI_CHECK(t != by_name.end(), "SAE checkpoint '", path, "' has no tensor '", name, "'; delete it");
    GOLGI_CHECK(t->second.sizes() == shape && t->second.scalar_type() == type, "SAE checkpoint '", path, "': tensor '",
                name, "' has shape ", t->second.sizes(), ", expected ", shape, "; delete it");
    return t->second.clone();
  };
  const int64_t L = options.latents();
  TrainState s;
  std::vector<std::vector<int64_t>> shapes = {{L, d_in}, {L}, {d_in, L}, {d_in}};
  std::vector<at::Tensor> params;
  for (size_t i = 0; i < 4; ++i) params.push_back(get(kParamNames[i], shapes[i], torch::kFloat));
  for (size_t i = 0; i < 4; ++i)
    s.adam_m.push_back(get(std::string("adam.m.") + kParamNames[i], shapes[i], torch::kFloat));
  for (size_t i = 0; i < 4; ++i)
    s.adam_v.push_back(get(std::string("adam.v.") + kParamNames[i], shapes[i], torch::kFloat));
  s.W_enc = params[0].requires_grad_(true);
  s.b_enc = params[1].requires_grad_(true);
  s.W_dec = params[2].requires_grad_(true);
  s.b_pre = params[3].requires_grad_(true);
  s.rows_since_fired = get("rows_since_fired", {L}, torch::kLong);
  s.scale = get("scale", {1}, torch::kDouble).item<double>();
  s.step = checked_i64(meta, "step", path);
  s.epoch = checked_i64(meta, "epoch", path);
  s.run = checked_i64(meta, "run", path);
  s.offset = checked_i64(meta, "offset", path);
  at::Tensor losses = get("loss_history", {s.step}, torch::kDouble);
  s.losses.assign(losses.data_ptr<double>(), losses.data_ptr<double>() + s.step);
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SparseAutoencoder

SparseAutoencoder::SparseAutoencoder(int64_t d_in, const SaeOptions& options) : options_(options) {
  validate_options(options, d_in);
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(options.seed(), "sae/init"));
  W_dec = torch::randn({d_in, options.latents()}, gen, torch::kFloat);
  W_dec.div_(W_dec.norm(2, {0}, /*keepdim=*/true).clamp_min(1e-12));
  // Gao et al.: the encoder starts as the decoder's transpose, so every latent starts aligned
  // with the direction it writes.
  W_enc = W_dec.t().contiguous();
  b_enc = torch::zeros({options.latents()}, torch::kFloat);
  b_pre = torch::zeros({d_in}, torch::kFloat);
}

int64_t SparseAutoencoder::d_in() const { return W_dec.defined() ? W_dec.size(0) : 0; }
int64_t SparseAutoencoder::latents() const { return W_dec.defined() ? W_dec.size(1) : 0; }

at::Tensor SparseAutoencoder::encode(const at::Tensor& h) const {
  GOLGI_CHECK(W_dec.defined(), "sae encode: this SparseAutoencoder is empty; construct or load one first");
  check_width(h, d_in(), "encode", "rows");
  torch::NoGradGuard no_grad;
  return codes_of(pre_activations(h.to(torch::kFloat), W_enc, b_enc, b_pre), options_);
}

at::Tensor SparseAutoencoder::decode(const at::Tensor& z) const {
  GOLGI_CHECK(W_dec.defined(), "sae decode: this SparseAutoencoder is empty; construct or load one first");
  check_width(z, latents(), "decode", "codes");
  torch::NoGradGuard no_grad;
  return torch::addmm(b_pre, z.to(torch::kFloat), W_dec.t());
}

void SparseAutoencoder::save(const std::string& dir, const Json& info) const {
  GOLGI_CHECK(W_dec.defined(), "sae save: this SparseAutoencoder is empty; nothing to save");
  io::make_dirs(dir);
  io::save_tensors(dir + "/sae.safetensors", {{"W_enc", W_enc.detach().contiguous()},
                                              {"b_enc", b_enc.detach().contiguous()},
                                              {"W_dec", W_dec.detach().contiguous()},
                                              {"b_pre", b_pre.detach().contiguous()}});
  Json doc = {{"format", "golgi-sae"},
              {"version", 1},
              {"d_in", d_in()},
              {"latents", latents()},
              {"options", SaeOptions::schema().to_json(options_)},
              {"info", info}};
  io::write_json_file(dir + "/sae.json", doc);
}

SparseAutoencoder SparseAutoencoder::load(const std::string& dir, Json* info) {
  GOLGI_CHECK(std::filesystem::is_directory(dir), "SAE folder '", dir,
              "' does not exist; train one with: golgi sae train --store DIR --hook H --out ", dir);
  const std::string json_path = dir + "/sae.json", tensor_path = dir + "/sae.safetensors";
  GOLGI_CHECK(io::file_exists(json_path), "'", dir, "' has no sae.json: it is not a saved SAE");
  const Json doc = io::read_json_file(json_path);
  GOLGI_CHECK(doc.is_object() && doc.value("format", "") == "golgi-sae", "'", json_path,
              "' is not a golgi SAE description (format should be 'golgi-sae')");
  SparseAutoencoder sae;
  SaeOptions::schema().apply(sae.options_, json_member(doc, "options", json_path));
  const Json& d_json = json_member(doc, "d_in", json_path);
  GOLGI_CHECK(d_json.is_number_integer() && d_json.get<int64_t>() >= 1, "'", json_path,
              "': d_in must be a positive integer, got ", d_json.dump());
  const int64_t d_in = d_json.get<int64_t>(), L = sae.options_.latents();
  validate_options(sae.options_, d_in);
  auto tensors = io::load_tensors(tensor_path);
  std::map<std::string, at::Tensor> by_name(tensors.begin(), tensors.end());
  auto get = [&](const std::string& name, std::vector<int64_t> shape) {
    auto it = by_name.find(name);
    GOLGI_CHECK(it != by_name.end(), "'", tensor_path, "' has no tensor '", name, "'; the SAE is incomplete");
    GOLGI_CHECK(it->second.sizes() == at::IntArrayRef(shape), "'", tensor_path, "': '", name, "' has shape ",
                it->second.sizes(), ", but sae.json (d_in ", d_in, ", latents ", L, ") needs ", at::IntArrayRef(shape));
    at::Tensor t = it->second.to(torch::kFloat).contiguous();
    GOLGI_CHECK(torch::isfinite(t).all().item<bool>(), "'", tensor_path, "': '", name, "' holds NaN or inf values");
    return t;
  };
  sae.W_enc = get("W_enc", {L, d_in});
  sae.b_enc = get("b_enc", {L});
  sae.W_dec = get("W_dec", {d_in, L});
  sae.b_pre = get("b_pre", {d_in});
  if (info) *info = doc.value("info", Json::object());
  return sae;
}

// ---------------------------------------------------------------------------------------------
// Metrics

Json SaeMetrics::to_json() const {
  return {{"fvu", fvu}, {"l0", l0}, {"dead_fraction", dead_fraction}, {"mse", mse}, {"rows", rows}};
}

Json SaeTrainResult::to_json() const {
  Json j = {{"steps", steps}, {"resumed", resumed}, {"interrupted", interrupted}, {"final_batch", final_batch.to_json()},
            {"loss_history", loss_history}};
  if (!loss_history.empty()) {
    j["first_loss"] = loss_history.front();
    j["final_loss"] = loss_history.back();
  }
  return j;
}

SaeMetrics evaluate_sae(const SparseAutoencoder& sae, const SaeRows& rows, int64_t n, int64_t chunk_rows) {
  GOLGI_CHECK(n >= 1, "sae evaluate: need at least one row, got ", n);
  GOLGI_CHECK(chunk_rows >= 1, "sae evaluate: chunk_rows must be >= 1, got ", chunk_rows);
  torch::NoGradGuard no_grad;
  const int64_t d = sae.d_in();
  // Σ‖h − c‖² − n‖mean − c‖² with c the first chunk's mean: the total variance without the
  // cancellation of Σ‖h‖² − n‖mean‖² on activations far from the origin.
  at::Tensor shift, sum_shifted = torch::zeros({d}, torch::kDouble);  // shift: float [d]
  double sum_sq_shifted = 0, sse = 0, nonzeros = 0;
  at::Tensor fired = torch::zeros({sae.latents()}, torch::kBool);
  for (int64_t begin = 0; begin < n; begin += chunk_rows) {
    const int64_t end = std::min(n, begin + chunk_rows);
    at::Tensor h = fetch_rows(rows, begin, end, d);
    at::Tensor z = sae.encode(h);
    // Per-row sums in float (d_in terms each), accumulated across rows and chunks in double:
    // no double copy of the chunk, which would double its memory.
    sse += (h - sae.decode(z)).pow(2).sum(1).to(torch::kDouble).sum().item<double>();
    if (!shift.defined()) shift = h.mean(0);
    at::Tensor centred = h - shift;
    sum_shifted += centred.sum(0).to(torch::kDouble);
    sum_sq_shifted += centred.pow(2).sum(1).to(torch::kDouble).sum().item<double>();
    at::Tensor active = z > 0;
    nonzeros += active.sum().item<double>();
    fired.logical_or_(active.any(0));
  }
  SaeMetrics m;
  m.rows = n;
  const double variance = sum_sq_shifted - sum_shifted.pow(2).sum().item<double>() / double(n);
  m.fvu = variance > 0 ? sse / variance : (sse > 0 ? std::numeric_limits<double>::infinity() : 0.0);
  m.mse = sse / double(n);
  m.l0 = nonzeros / double(n);
  m.dead_fraction = 1.0 - fired.sum().item<double>() / double(sae.latents());
  return m;
}

// ---------------------------------------------------------------------------------------------
// Training

int64_t sae_buffer_rows_for_budget(int64_t d_in, const SaeOptions& options, int64_t budget_bytes) {
  validate_options(options, d_in);
  const double L = double(options.latents()), d = double(d_in), batch = double(options.batch_size());
  // Parameters, their gradients and Adam's two moments: 4 copies of 2·L·d + L + d floats.
  const double sae_bytes = 4.0 * 4.0 * (2 * L * d + L + d);
  // One step's activations and their gradients: about 6 [batch, d] and 7 [batch, latents] floats
  // (batch, centred batch, reconstruction, error, pre-activations, codes, AuxK codes, ...).
  const double batch_bytes = 4.0 * batch * (6 * d + 7 * L);
  // A buffered row: its floats, as much again as headroom for reading (the store shard being
  // copied in, allocator slack), and its int64 shuffle index.
  const double row_bytes = 8.0 * d + 8.0;
  const double left = double(budget_bytes) - sae_bytes - batch_bytes;
  const double mb = 1024.0 * 1024.0;
  GOLGI_CHECK(left >= row_bytes * batch, "sae: a memory budget of ", double(budget_bytes) / mb,
              " MB does not fit the SAE with its Adam state (", sae_bytes / mb, " MB), one batch's working set (",
              batch_bytes / mb, " MB) and a buffer of one batch (", row_bytes * batch / mb,
              " MB); raise the budget (--max-memory) or lower --latents or --batch-size");
  return static_cast<int64_t>(left / row_bytes);
}

SaeTrainResult train_sae(const SaeRows& rows, int64_t n, int64_t d_in, const SaeOptions& options,
                         const SaeTrainOptions& train) {
  validate_options(options, d_in);
  GOLGI_CHECK(n >= 1, "sae train: need at least one row, got ", n);
  GOLGI_CHECK(train.buffer_rows >= 1, "sae train: buffer_rows must be >= 1, got ", train.buffer_rows);
  GOLGI_CHECK(train.checkpoint_every >= 1, "sae train: checkpoint_every must be >= 1, got ", train.checkpoint_every);
  const int64_t L = options.latents(), batch_size = options.batch_size();
  const int64_t buffer = std::min(train.buffer_rows, n);
  const int64_t runs = (n + buffer - 1) / buffer;
  const uint64_t seed = static_cast<uint64_t>(options.seed());

  TrainState s;
  SaeTrainResult result;
  const bool have_checkpoint = !train.checkpoint.empty() && io::file_exists(train.checkpoint);
  if (have_checkpoint) {
    GOLGI_CHECK(train.resume, "sae train: checkpoint '", train.checkpoint,
                "' already exists; pass --resume to continue it, or delete it to start over");
    s = read_checkpoint(train.checkpoint, options, d_in, n, buffer);
    GOLGI_CHECK(s.step <= options.steps(), "sae train: checkpoint '", train.checkpoint, "' is at step ", s.step,
                ", beyond the requested ", options.steps(), " steps; ask for at least ", s.step, " steps");
    result.resumed = true;
  } else {
    SparseAutoencoder init(d_in, options);
    s.W_enc = init.W_enc.clone().requires_grad_(true);
    s.b_enc = init.b_enc.clone().requires_grad_(true);
    s.W_dec = init.W_dec.clone().requires_grad_(true);
    s.b_pre = init.b_pre.clone().requires_grad_(true);
    for (const auto& p : s.params()) {
      s.adam_m.push_back(torch::zeros_like(p).detach());
      s.adam_v.push_back(torch::zeros_like(p).detach());
    }
    s.rows_since_fired = torch::zeros({L}, torch::kLong);
  }

  // The buffered run of rows and its shuffle, reloaded only when the position moves to another.
  int64_t loaded_run = -1, shuffled_epoch = -1;
  at::Tensor buffer_rows, shuffle;
  std::vector<int64_t> run_order;
  int64_t run_order_epoch = -1;
  SaeMetrics last;
  const bool topk = options.kind() == "topk";
  const double aux_coefficient = options.aux_coefficient();

  while (s.step < options.steps()) {
    if (run_order_epoch != s.epoch) {
      run_order = permutation(runs, derive_seed(seed, "sae/runs", static_cast<uint64_t>(s.epoch)));
      run_order_epoch = s.epoch;
    }
    const int64_t run = run_order[s.run];
    const int64_t begin = run * buffer, end = std::min(n, begin + buffer), len = end - begin;
    if (loaded_run != run) {
      buffer_rows = at::Tensor();  // free the old run before reading the next
      buffer_rows = fetch_rows(rows, begin, end, d_in);
      loaded_run = run;
      shuffled_epoch = -1;
    }
    if (shuffled_epoch != s.epoch) {
      auto order = permutation(len, derive_seed(seed, "sae/shuffle", static_cast<uint64_t>(s.epoch * runs + run)));
      shuffle = torch::tensor(order, torch::kLong);
      shuffled_epoch = s.epoch;
    }
    if (s.scale == 0) {
      // b_pre and the loss scale from the first buffer (sae.h).
      torch::NoGradGuard no_grad;
      s.b_pre.copy_(buffer_rows.mean(0));
      double spread = 0;
      for (int64_t lo = 0; lo < len; lo += kSliceRows)
        spread += (buffer_rows.slice(0, lo, lo + kSliceRows) - s.b_pre).pow(2).sum().item<double>();
      spread /= double(len);
      s.scale = spread > 0 ? std::sqrt(double(d_in) / spread) : 1.0;
    }
    const int64_t count = std::min(batch_size, len - s.offset);
    at::Tensor batch = buffer_rows.index_select(0, shuffle.slice(0, s.offset, s.offset + count));

    // Forward and loss (sae.h).
    at::Tensor pre = pre_activations(batch, s.W_enc, s.b_enc, s.b_pre);
    at::Tensor z = codes_of(pre, options);
    at::Tensor err = batch - torch::addmm(s.b_pre, z, s.W_dec.t());
    at::Tensor sq_err = err.pow(2).sum(1);
    const double s2 = s.scale * s.scale;
    at::Tensor loss = s2 * sq_err.mean();
    if (!topk) loss = loss + options.l1_coefficient() * s.scale * z.sum(1).mean();
    const at::Tensor dead = s.rows_since_fired >= options.dead_after_rows();
    const int64_t n_dead = dead.sum().item<int64_t>();
    if (topk && n_dead > 0 && options.aux_k() > 0 && aux_coefficient > 0) {
      // AuxK: the dead latents' best reconstruction of the main error, so they get gradient again.
      const int64_t kk = std::min(options.aux_k(), n_dead);
      at::Tensor pre_dead = pre.masked_fill(dead.logical_not(), -std::numeric_limits<float>::infinity());
      at::Tensor z_aux = top_k_codes(pre_dead, kk);
      at::Tensor aux = (err.detach() - z_aux.matmul(s.W_dec.t())).pow(2).sum(1).mean();
      loss = loss + aux_coefficient * s2 * aux;
    }
    loss.backward();

    {
      torch::NoGradGuard no_grad;
      // Keep the decoder's columns on the unit sphere: drop each column's radial gradient, step,
      // renormalise.
      at::Tensor g = s.W_dec.mutable_grad();
      g.sub_(s.W_dec * (g * s.W_dec).sum(0, /*keepdim=*/true));
      const double t = double(s.step + 1);
      const double bc1 = 1 - std::pow(kAdamBeta1, t), bc2 = 1 - std::pow(kAdamBeta2, t);
      auto params = s.params();
      for (size_t i = 0; i < params.size(); ++i) {
        at::Tensor grad = params[i].grad();
        s.adam_m[i].mul_(kAdamBeta1).add_(grad, 1 - kAdamBeta1);
        s.adam_v[i].mul_(kAdamBeta2).addcmul_(grad, grad, 1 - kAdamBeta2);
        at::Tensor denom = (s.adam_v[i] / bc2).sqrt_().add_(kAdamEps);
        params[i].addcdiv_(s.adam_m[i], denom, -options.lr() / bc1);
        params[i].mutable_grad().zero_();
      }
      s.W_dec.div_(s.W_dec.norm(2, {0}, /*keepdim=*/true).clamp_min(1e-12));

      at::Tensor active = z.detach() > 0;
      at::Tensor fired = active.any(0);
      s.rows_since_fired = torch::where(fired, torch::zeros_like(s.rows_since_fired), s.rows_since_fired + count);

      at::Tensor centred = batch - batch.mean(0);
      const double variance = centred.pow(2).sum().item<double>();
      const double sse = sq_err.detach().sum().item<double>();
      last.rows = count;
      last.fvu = variance > 0 ? sse / variance : (sse > 0 ? std::numeric_limits<double>::infinity() : 0.0);
      last.mse = sse / double(count);
      last.l0 = active.sum().item<double>() / double(count);
      last.dead_fraction = (s.rows_since_fired >= options.dead_after_rows()).sum().item<double>() / double(L);
    }
    const double loss_value = loss.item<double>();
    GOLGI_CHECK(std::isfinite(loss_value), "sae train: the loss became ", loss_value, " at step ", s.step,
                "; lower --lr");
    s.losses.push_back(loss_value);

    s.offset += count;
    if (s.offset >= len) {
      s.offset = 0;
      if (++s.run == runs) {
        s.run = 0;
        ++s.epoch;
      }
    }
    ++s.step;
    if (train.on_step) train.on_step(s.step, loss_value, last);
    const bool stop = s.step < options.steps() && train.stop && train.stop();
    if (!train.checkpoint.empty() &&
        (stop || s.step % train.checkpoint_every == 0 || s.step == options.steps()))
      write_checkpoint(train.checkpoint, s, options, d_in, n, buffer);
    if (stop) {
      result.interrupted = true;
      break;
    }
  }

  result.sae = SparseAutoencoder(d_in, options);
  result.sae.W_enc = s.W_enc.detach().clone();
  result.sae.b_enc = s.b_enc.detach().clone();
  result.sae.W_dec = s.W_dec.detach().clone();
  result.sae.b_pre = s.b_pre.detach().clone();
  result.loss_history = s.losses;
  result.final_batch = last;
  result.steps = s.step;
  return result;
}

// ---------------------------------------------------------------------------------------------
// Latent summaries

SaeTopRows sae_top_rows(const SparseAutoencoder& sae, const SaeRows& rows, int64_t n, int64_t top,
                        int64_t chunk_rows, const std::function<void(int64_t)>& on_rows) {
  GOLGI_CHECK(sae.latents() > 0, "sae top rows: this SparseAutoencoder is empty; construct or load one first");
  GOLGI_CHECK(n >= 1, "sae top rows: need at least one row, got ", n);
  GOLGI_CHECK(top >= 1, "sae: --top must be >= 1, got ", top);
  GOLGI_CHECK(chunk_rows >= 1, "sae top rows: chunk_rows must be >= 1, got ", chunk_rows);
  torch::NoGradGuard no_grad;
  TopRowsAccumulator best(sae.latents(), top);
  at::Tensor fired = torch::zeros({sae.latents()}, torch::kLong);
  for (int64_t begin = 0; begin < n; begin += chunk_rows) {
    const int64_t end = std::min(n, begin + chunk_rows);
    const at::Tensor z = sae.encode(fetch_rows(rows, begin, end, sae.d_in()));
    best.add(z);
    fired += (z > 0).sum(0);
    if (on_rows) on_rows(end);
  }
  SaeTopRows out;
  out.top = best.result();
  out.rows = n;
  const at::Tensor f = fired.contiguous();
  out.fired.assign(f.data_ptr<int64_t>(), f.data_ptr<int64_t>() + f.numel());
  return out;
}

Json sae_latent_summaries(const SparseAutoencoder& sae, const SaeRows& rows, const hooks::ActivationStoreReader& store,
                          const StoreWindows* windows, const SaeLatentSummaryOptions& options) {
  GOLGI_CHECK(options.rows >= 0, "sae: --annotate-rows must be >= 0 (0: all rows), got ", options.rows);
  GOLGI_CHECK(options.neurons >= 1 && options.latents_per_neuron >= 1,
              "sae latent summaries: neurons and latents_per_neuron must be >= 1");
  const int64_t n = options.rows > 0 ? std::min(options.rows, store.rows()) : store.rows();
  const SaeTopRows scan = sae_top_rows(sae, rows, n, options.top, options.chunk_rows, options.on_rows);

  torch::NoGradGuard no_grad;
  const at::Tensor W = sae.W_dec.to(torch::kDouble).contiguous();  // [d_in, latents]
  const at::Tensor magnitude = W.abs();
  SnmfFeatureOptions text_options;
  text_options.context_before = options.context_before;
  text_options.context_after = options.context_after;
  const int64_t neurons_per_latent = std::min(options.neurons, sae.d_in());
  Json latents = Json::array();
  std::vector<int64_t> live;
  for (int64_t l = 0; l < sae.latents(); ++l) {
    const int64_t fired = scan.fired[static_cast<size_t>(l)];
    if (fired == 0) continue;
    live.push_back(l);
    const at::Tensor order =
        std::get<1>(magnitude.select(1, l).sort(/*stable=*/true, /*dim=*/0, /*descending=*/true)).slice(0, 0, neurons_per_latent);
    Json neurons = Json::array();
    for (int64_t i = 0; i < order.size(0); ++i) {
      const int64_t j = order[i].item<int64_t>();
      neurons.push_back({{"neuron", j}, {"weight", W[j][l].item<double>()}});
    }
    const double frequency = double(fired) / double(n);
    std::string summary;
    Json examples = top_row_examples(scan.top[static_cast<size_t>(l)], store, windows, text_options, &summary);
    if (summary.empty()) {
      char text[64];
      std::snprintf(text, sizeof text, "fires on %.2f%% of rows", 100 * frequency);
      summary = text;
    }
    latents.push_back({{"latent", l},
                       {"frequency", frequency},
                       {"fired_rows", fired},
                       {"top_examples", examples},
                       {"summary", summary},
                       {"neurons", neurons}});
  }

  // Per neuron: the live latents whose decoder column weighs it most, relative to the column's
  // strongest neuron (columns have unit norm, but how concentrated they are differs).
  Json per_neuron = Json::array();
  if (live.empty()) {
    for (int64_t j = 0; j < sae.d_in(); ++j) per_neuron.push_back(Json::array());
  } else {
    const at::Tensor live_index = torch::tensor(live, torch::kLong);
    const at::Tensor live_magnitude = magnitude.index_select(1, live_index);             // [d_in, live]
    const at::Tensor scores = live_magnitude / live_magnitude.amax(0, true).clamp_min(1e-300);
    const int64_t keep = std::min<int64_t>(options.latents_per_neuron, scores.size(1));
    auto [sorted, order] = scores.sort(/*stable=*/true, /*dim=*/1, /*descending=*/true);
    const at::Tensor top_scores = sorted.slice(1, 0, keep).contiguous();
    const at::Tensor top_order = order.slice(1, 0, keep).contiguous();
    for (int64_t j = 0; j < sae.d_in(); ++j) {
      Json entries = Json::array();
      for (int64_t i = 0; i < keep; ++i) {
        const double score = top_scores[j][i].item<double>();
        if (score <= 0) continue;
        const int64_t l = live[static_cast<size_t>(top_order[j][i].item<int64_t>())];
        entries.push_back({{"latent", l}, {"weight", W[j][l].item<double>()}, {"score", score}});
      }
      per_neuron.push_back(entries);
    }
  }
  return {{"scanned_rows", n},
          {"live_latents", static_cast<int64_t>(live.size())},
          {"per_latent", latents},
          {"per_neuron", per_neuron}};
}

}  // namespace golgi::methods
