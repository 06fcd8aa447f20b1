// golgi's arm of the transformer benchmarks I1, I2, I5, I6 (issue 3); the peer is
// bench/peers/transformer_lm.py, whose docstring defines each measurement. Both arms build the
// same GPT-2-shaped models with random weights, run float32 under inference mode at the same
// thread count, and print one JSON object of the same schema; bench/transformer_compare.py
// combines them (bench/run.sh alternates the arms).
//
//   golgi_bench_transformer [--threads T] [--repetitions N] [--only I1,I5] [--i1-forwards 3]
//                           [--i2-batches 40] [--i5-forwards 300]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/torch.h>

#include "golgi/core/json.h"
#include "golgi/core/strings.h"
#include "golgi/core/version.h"
#include "golgi/hooks/activation_cache.h"
#include "golgi/hooks/activation_store.h"
#include "golgi/hooks/scoped_hooks.h"
#include "golgi/models/generate.h"
#include "golgi/models/gpt2.h"

namespace {

using namespace golgi;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::shared_ptr<models::Gpt2> gpt2_small() {
  torch::manual_seed(0);
  auto model = std::make_shared<models::Gpt2>(models::Gpt2Options());  // GPT-2 small shape
  model->eval();
  return model;
}

at::Tensor random_tokens(int64_t vocab, int64_t batch, int64_t pos, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(vocab, {batch, pos}, torch::kLong);
}

std::vector<std::string> mlp_post_names(int64_t layers) {
  std::vector<std::string> names;
  for (int64_t l = 0; l < layers; ++l) names.push_back("blocks." + std::to_string(l) + ".mlp.hook_post");
  return names;
}

double flops_per_token(const models::TransformerLM& model, int64_t ctx) {
  const auto& c = model.config();
  double non_embedding = 0;
  for (const auto& p : model.named_parameters())
    if (p.key() != "W_E" && p.key() != "W_pos") non_embedding += static_cast<double>(p.value().numel());
  const double ctx_avg = (static_cast<double>(ctx) + 1) / 2;
  return 2 * (non_embedding + static_cast<double>(c.d_model * c.vocab_size)) +
         2.0 * 2 * static_cast<double>(c.n_layers) * ctx_avg * static_cast<double>(c.d_model);
}

Json bench_i1(models::Gpt2& model, int reps, int forwards) {
  hooks::ActivationCache cache(model, mlp_post_names(12));
  at::Tensor tokens = random_tokens(model.config().vocab_size, 4, 128, 1);
  auto forward = [&] { return cache.run([&] { return model.forward(tokens); }); };
  forward();
  std::vector<double> values;
  for (int r = 0; r < reps; ++r) {
    std::vector<double> times;
    for (int f = 0; f < forwards; ++f) {
      auto t0 = Clock::now();
      forward();
      times.push_back(seconds_since(t0));
    }
    values.push_back(static_cast<double>(tokens.numel()) / median(times));
  }
  return {{"tokens_per_s", values}, {"flops_per_token", flops_per_token(model, 128)}};
}

Json bench_i2(models::Gpt2& model, int reps, int batches) {
  const int64_t layers = 6, d_mlp = model.config().d_mlp;
  auto names = mlp_post_names(layers);
  hooks::ActivationCache cache(model, names);
  std::vector<at::Tensor> inputs;
  for (int b = 0; b < batches; ++b) inputs.push_back(random_tokens(model.config().vocab_size, 4, 128, 100 + b));
  const char* tmp = std::getenv("TMPDIR");
  const std::string base = std::string(tmp && *tmp ? tmp : "/tmp") + "/golgi-bench-i2";
  auto record = [&](int n) {
    std::filesystem::remove_all(base);
    hooks::StoreConfig config;
    for (const auto& name : names) config.hooks.push_back({name, {d_mlp}});
    hooks::ActivationStoreWriter store(base, config);
    int64_t row = 0;
    for (int b = 0; b < n; ++b) {
      // stop_at_layer = 6: blocks 0-5 only, no ln_final, no logits.
      cache.run([&] { return model.run(inputs[b], nullptr, layers); });
      std::map<std::string, at::Tensor> batch;
      for (const auto& name : names) batch[name] = cache[name].reshape({-1, d_mlp});
      const int64_t rows = inputs[b].numel();
      store.append(batch, torch::arange(row, row + rows, torch::kLong));
      row += rows;
    }
    store.finish();
  };
  record(1);
  std::vector<double> values;
  int64_t tokens = 0;
  for (const auto& x : inputs) tokens += x.numel();
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    record(batches);
    values.push_back(static_cast<double>(tokens) / seconds_since(t0));
  }
  std::filesystem::remove_all(base);
  return {{"tokens_per_s", values}, {"tokens", tokens}};
}

Json bench_i5(int reps, int forwards) {
  torch::manual_seed(0);
  auto model = std::make_shared<models::Gpt2>(
      models::Gpt2Options().n_layers(2).d_model(128).n_heads(4).d_mlp(512).vocab_size(259).n_ctx(256));
  model->eval();
  // The peer's 33 sites: every hook point but attn.hook_result (computed only while hooked).
  std::vector<std::string> names;
  for (const auto& n : model->hook_names())
    if (!ends_with(n, "attn.hook_result")) names.push_back(n);
  hooks::ActivationCache cache(*model, names);
  at::Tensor tokens = random_tokens(259, 1, 32, 2);
  auto forward = [&] { return cache.run([&] { return model->forward(tokens); }); };
  for (int i = 0; i < 50; ++i) forward();
  std::vector<double> values;
  for (int r = 0; r < reps; ++r) {
    std::vector<double> times;
    for (int f = 0; f < forwards; ++f) {
      auto t0 = Clock::now();
      forward();
      times.push_back(seconds_since(t0) * 1e6);
    }
    values.push_back(median(times));
  }
  return {{"us_per_forward", values}, {"hooks", names.size()}};
}

Json bench_i6(models::Gpt2& model, int reps, int new_tokens) {
  std::map<std::string, std::vector<at::Tensor>> stored;
  std::vector<hooks::HookGuard> guards;
  for (const auto& name : mlp_post_names(12))
    guards.push_back(hooks::read_hook(model, name, [&stored, name](const at::Tensor& a) { stored[name].push_back(a); }));
  at::Tensor prompt = random_tokens(model.config().vocab_size, 1, 16, 3);
  auto options = models::GenerateOptions().temperature(0);
  auto run = [&](int n) {
    stored.clear();
    return models::generate(model, prompt, options.max_new_tokens(n));
  };
  run(8);
  std::vector<double> values;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    at::Tensor out = run(new_tokens);
    values.push_back(seconds_since(t0) * 1e3 / new_tokens);
    if (out.size(1) != 16 + new_tokens || stored.begin()->second.size() != static_cast<size_t>(new_tokens)) {
      std::fprintf(stderr, "I6: unexpected generation shape\n");
      std::exit(1);
    }
  }
  return {{"ms_per_token", values}, {"new_tokens", new_tokens}};
}

double sgemm_gflops(int64_t n = 1024, int runs = 20) {
  at::Tensor a = torch::randn({n, n}), b = torch::randn({n, n});
  for (int i = 0; i < 3; ++i) at::mm(a, b);
  double best = 1e30;
  for (int i = 0; i < runs; ++i) {
    auto t0 = Clock::now();
    at::mm(a, b);
    best = std::min(best, seconds_since(t0));
  }
  return 2.0 * std::pow(static_cast<double>(n), 3) / best / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, reps = 3, i1_forwards = 3, i2_batches = 40, i5_forwards = 300;
  std::vector<std::string> only = {"I1", "I2", "I5", "I6"};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--threads") threads = std::stoi(value());
    else if (arg == "--repetitions") reps = std::stoi(value());
    else if (arg == "--only") only = split(value(), ',');
    else if (arg == "--i1-forwards") i1_forwards = std::stoi(value());
    else if (arg == "--i2-batches") i2_batches = std::stoi(value());
    else if (arg == "--i5-forwards") i5_forwards = std::stoi(value());
    else {
      std::fprintf(stderr,
                   "usage: golgi_bench_transformer [--threads T] [--repetitions N] [--only I1,I2,I5,I6] "
                   "[--i1-forwards N] [--i2-batches N] [--i5-forwards N]\n");
      return arg == "--help" ? 0 : 2;
    }
  }
  at::set_num_threads(threads);
  at::set_num_interop_threads(1);
  c10::InferenceMode inference;
  auto wants = [&](const char* name) { return std::find(only.begin(), only.end(), name) != only.end(); };
  Json results = Json::object();
  std::shared_ptr<models::Gpt2> small;
  if (wants("I1") || wants("I2") || wants("I6")) small = gpt2_small();
  if (wants("I1")) results["I1"] = bench_i1(*small, reps, i1_forwards);
  if (wants("I2")) results["I2"] = bench_i2(*small, reps, i2_batches);
  if (wants("I5")) results["I5"] = bench_i5(reps, i5_forwards);
  if (wants("I6")) results["I6"] = bench_i6(*small, reps, 64);
  Json out = {{"arm", "golgi"},
              {"peer", "build/bin/golgi_bench_transformer (golgi gpt2, ActivationCache / ActivationStore)"},
              {"golgi_version", kVersion},
              {"torch_version", TORCH_VERSION},
              {"threads", threads},
              {"grad_mode", "inference_mode"},
              {"sgemm_gflops", sgemm_gflops()},
              {"results", results}};
  std::printf("%s\n", out.dump(1).c_str());
  return 0;
}
