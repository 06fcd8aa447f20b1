#include "golgi/analysis/neuron_stats.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <regex>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/hooks/scoped_hooks.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/models/transformer.h"

namespace golgi::analysis {

int64_t NeuronStats::neurons() const {
  int64_t n = 0;
  for (int64_t h : hook_neurons) n += h;
  return n;
}

at::Tensor NeuronStats::probability() const {
  return (active.to(torch::kFloat64) / tokens.clamp_min(1).to(torch::kFloat64).unsqueeze(1)).to(torch::kFloat32);
}

at::Tensor NeuronStats::mean() const {
  return (sum / tokens.clamp_min(1).to(torch::kFloat64).unsqueeze(1)).to(torch::kFloat32);
}

std::pair<int64_t, int64_t> NeuronStats::locate(int64_t n) const {
  GOLGI_CHECK(n >= 0 && n < neurons(), "neuron ", n, " is out of range [0, ", neurons(), ")");
  for (size_t h = 0; h < hook_neurons.size(); ++h) {
    if (n < hook_neurons[h]) return {static_cast<int64_t>(h), n};
    n -= hook_neurons[h];
  }
  GOLGI_ASSERT(false, "locate fell through");
  return {0, 0};
}

std::string NeuronStats::neuron_name(int64_t n) const {
  auto [h, i] = locate(n);
  return hooks[h] + ":" + std::to_string(i);
}

Json NeuronStats::summary_json() const {
  Json per_label = Json::object();
  for (size_t k = 0; k < labels.size(); ++k)
    per_label[labels[k]] = {{"tokens", tokens[k].item<int64_t>()}, {"examples", examples[k].item<int64_t>()}};
  Json hook_list = Json::array();
  for (size_t h = 0; h < hooks.size(); ++h) hook_list.push_back({{"name", hooks[h]}, {"neurons", hook_neurons[h]}});
  return {{"labels", labels},
          {"hooks", hook_list},
          {"neurons", neurons()},
          {"active_above", active_above},
          {"per_label", per_label},
          {"per_example", responses.defined()}};
}

void NeuronStats::save(const std::string& dir) const {
  io::make_dirs(dir);
  io::save_npy(dir + "/probability.npy", probability());
  io::save_npy(dir + "/mean.npy", mean());
  io::save_npy(dir + "/max.npy", max);
  io::save_npy(dir + "/active.npy", active);
  io::save_npy(dir + "/tokens.npy", tokens);
  if (responses.defined()) {
    io::save_npy(dir + "/responses.npy", responses);
    io::save_npy(dir + "/example_labels.npy", example_labels);
  }
  Json doc = summary_json();
  doc["files"] = {{"probability", "probability.npy [labels, neurons] float32"},
                  {"mean", "mean.npy [labels, neurons] float32"},
                  {"max", "max.npy [labels, neurons] float32 (-inf: no counted token)"},
                  {"active", "active.npy [labels, neurons] int64"},
                  {"tokens", "tokens.npy [labels] int64"}};
  if (responses.defined()) {
    doc["files"]["responses"] = "responses.npy [examples, neurons] float32";
    doc["files"]["example_labels"] = "example_labels.npy [examples] int64";
  }
  io::write_json_file(dir + "/stats.json", doc);
}

namespace {

// The block index a hook point belongs to, or -1 for hooks outside the blocks.
int64_t block_of(const std::string& hook) {
  static const std::regex pattern(R"(^blocks\.(\d+)\.)");
  std::smatch m;
  if (std::regex_search(hook, m, pattern)) return std::stoll(m[1]);
  return -1;
}

}  // namespace

NeuronStats neuron_statistics(models::TransformerLM& model, const std::vector<TextExample>& examples,
                              const std::vector<std::string>& labels, const NeuronStatsOptions& options) {
  GOLGI_CHECK(!labels.empty(), "neuron statistics need at least one label");
  GOLGI_CHECK(!examples.empty(), "neuron statistics need at least one example");
  GOLGI_CHECK(options.batch_size() >= 1, "batch_size must be >= 1, got ", options.batch_size());
  GOLGI_CHECK(!options.hooks().empty(), "name at least one hook point (e.g. blocks.*.mlp.hook_post)");
  const int64_t K = static_cast<int64_t>(labels.size());
  const int64_t vocab = model.config().vocab_size;
  const int64_t n_ctx = model.config().n_ctx;
  for (size_t e = 0; e < examples.size(); ++e) {
    const auto& ex = examples[e];
    const int64_t length = static_cast<int64_t>(ex.tokens.size());
    const int64_t end = ex.count_end < 0 ? length : ex.count_end;
    GOLGI_CHECK(length > 0, "example ", e, " has no tokens");
    GOLGI_CHECK(n_ctx <= 0 || length <= n_ctx, "example ", e, " has ", length, " tokens, more than the model's context ",
                n_ctx, "; truncate the examples");
    GOLGI_CHECK(ex.label >= 0 && ex.label < K, "example ", e, " has label ", ex.label, ", outside [0, ", K, ")");
    GOLGI_CHECK(ex.count_begin >= 0 && ex.count_begin < end && end <= length, "example ", e, " counts tokens [",
                ex.count_begin, ", ", end, ") of ", length, ": the counted range must be non-empty and inside the sequence");
    for (int64_t t : ex.tokens)
      GOLGI_CHECK(t >= 0 && t < vocab, "example ", e, " holds token id ", t, ", outside the vocabulary [0, ", vocab, ")");
  }

  NeuronStats stats;
  stats.labels = labels;
  stats.active_above = options.active_above();
  int64_t last_block = -1;
  bool beyond_blocks = false;
  for (auto* point : model.match_hooks(options.hooks())) {
    GOLGI_CHECK(point->neuron_dim() == -1, "hook point '", point->name(), "' (", point->shape(),
                ") does not have its neurons last; neuron statistics take [batch, pos, neurons] hook points such as "
                "blocks.*.mlp.hook_post, blocks.*.hook_resid_post or blocks.*.attn.hook_z");
    stats.hooks.push_back(point->name());
    const int64_t block = block_of(point->name());
    if (block < 0 && point->name() != "hook_embed" && point->name() != "hook_pos_embed") beyond_blocks = true;
    last_block = std::max(last_block, block);
  }
  // Stop the forward pass after the last block that holds a hook (no unembedding), unless a hook
  // lies beyond the blocks (ln_final).
  const int64_t stop_at = beyond_blocks || last_block + 1 >= model.config().n_layers ? -1 : last_block + 1;

  const int64_t H = static_cast<int64_t>(stats.hooks.size());
  std::vector<at::Tensor> batch_acts(H);
  hooks::HookGuards guards;
  for (int64_t h = 0; h < H; ++h)
    guards.push_back(hooks::read_hook(model, stats.hooks[h], [&batch_acts, h](const at::Tensor& a) { batch_acts[h] = a; }));

  const int64_t E = static_cast<int64_t>(examples.size());
  stats.tokens = torch::zeros({K}, torch::kInt64);
  stats.examples = torch::zeros({K}, torch::kInt64);
  stats.example_labels = torch::empty({E}, torch::kInt64);
  std::vector<at::Tensor> responses;

  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::unique_ptr<Progress> progress;
  if (options.progress()) progress = std::make_unique<Progress>("neuron stats", E, "example");
  for (int64_t begin = 0; begin < E; begin += options.batch_size()) {
    const int64_t end = std::min(E, begin + options.batch_size());
    const int64_t B = end - begin;
    int64_t T = 0;
    for (int64_t e = begin; e < end; ++e) T = std::max<int64_t>(T, static_cast<int64_t>(examples[e].tokens.size()));
    // Right padding with token 0 is harmless: attention is causal, and padded positions are not counted.
    auto tokens = torch::zeros({B, T}, torch::kInt64);
    auto mask = torch::zeros({B, T}, torch::kFloat32);
    auto labels_t = torch::empty({B}, torch::kInt64);
    auto tok = tokens.accessor<int64_t, 2>();
    auto m = mask.accessor<float, 2>();
    for (int64_t b = 0; b < B; ++b) {
      const auto& ex = examples[begin + b];
      for (size_t t = 0; t < ex.tokens.size(); ++t) tok[b][static_cast<int64_t>(t)] = ex.tokens[t];
      const int64_t stop = ex.count_end < 0 ? static_cast<int64_t>(ex.tokens.size()) : ex.count_end;
      for (int64_t t = ex.count_begin; t < stop; ++t) m[b][t] = 1.0f;
      labels_t[b] = ex.label;
    }
    model.run(tokens, nullptr, stop_at);
    auto counted = mask.sum(1);  // [B]
    std::vector<at::Tensor> active_parts, sum_parts, max_parts;
    auto uncounted = mask.eq(0).unsqueeze(2);  // [B, T, 1]
    for (int64_t h = 0; h < H; ++h) {
      at::Tensor a = batch_acts[h];
      GOLGI_CHECK(a.defined() && a.dim() == 3 && a.size(0) == B && a.size(1) == T, "hook point '", stats.hooks[h],
                  "' gave ", (a.defined() ? a.sizes() : at::IntArrayRef{}), ", expected [", B, ", ", T, ", neurons]");
      a = a.to(torch::kFloat32);
      GOLGI_CHECK(!torch::isnan(a).any().item<bool>(), "hook point '", stats.hooks[h], "' produced NaN activations");
      if (static_cast<int64_t>(stats.hook_neurons.size()) < H) stats.hook_neurons.push_back(a.size(2));
      auto mask3 = mask.unsqueeze(1);  // [B, 1, T]
      active_parts.push_back(torch::bmm(mask3, a.gt(options.active_above()).to(torch::kFloat32)).squeeze(1));
      sum_parts.push_back(torch::bmm(mask3, a).squeeze(1));
      max_parts.push_back(a.masked_fill(uncounted, -std::numeric_limits<float>::infinity()).amax(1));
      batch_acts[h] = at::Tensor();
    }
    // Per-example counts are exact in float32 (at most a context's worth of tokens).
    auto active_b = torch::cat(active_parts, 1).round().to(torch::kInt64);  // [B, N]
    auto sum_b = torch::cat(sum_parts, 1).to(torch::kFloat64);               // [B, N]
    auto max_b = torch::cat(max_parts, 1);                                   // [B, N]
    if (!stats.active.defined()) {
      stats.active = torch::zeros({K, active_b.size(1)}, torch::kInt64);
      stats.sum = torch::zeros({K, active_b.size(1)}, torch::kFloat64);
      stats.max = torch::full({K, active_b.size(1)}, -std::numeric_limits<float>::infinity(), torch::kFloat32);
    }
    for (int64_t b = 0; b < B; ++b) {
      auto row = stats.max[labels_t[b].item<int64_t>()];
      row.copy_(torch::maximum(row, max_b[b]));
    }
    stats.active.index_add_(0, labels_t, active_b);
    stats.sum.index_add_(0, labels_t, sum_b);
    stats.tokens.index_add_(0, labels_t, counted.round().to(torch::kInt64));
    stats.examples.index_add_(0, labels_t, torch::ones({B}, torch::kInt64));
    stats.example_labels.slice(0, begin, end).copy_(labels_t);
    if (options.per_example()) responses.push_back((sum_b / counted.to(torch::kFloat64).unsqueeze(1)).to(torch::kFloat32));
    if (progress) progress->advance(B);
  }
  if (progress) progress->finish();
  if (was_training) model.train();
  if (options.per_example()) stats.responses = torch::cat(responses, 0);
  return stats;
}

}  // namespace golgi::analysis
