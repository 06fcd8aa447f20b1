// gpt2 / llama: hook layout, KV cache, stop_at_layer, per-head results, generation, Hugging Face
// layout round trips and error messages. Numerical parity with an independent implementation is
// tests/xcheck/transformer_parity.sh.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

#include "golgi/hooks/activation_cache.h"
#include "golgi/hooks/scoped_hooks.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/models/generate.h"
#include "golgi/models/hf_checkpoint.h"
#include "golgi/models/registry.h"
#include "golgi/models/transformer.h"
#include "test_support.h"

namespace {

using namespace golgi;
using models::TransformerLM;

std::shared_ptr<TransformerLM> tiny(const std::string& arch, bool tied = true) {
  torch::manual_seed(7);
  Json o = {{"vocab_size", 23}, {"n_ctx", 32}, {"d_model", 16}, {"n_layers", 2}, {"n_heads", 4}, {"d_mlp", 24},
            {"tie_embeddings", tied}};
  if (arch == "llama") o["n_kv_heads"] = 2;
  auto model = std::dynamic_pointer_cast<TransformerLM>(models::make_model(arch, o));
  // Larger weights than the training initialisation, so that logits and samples vary.
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters())
    if (p.dim() == 2) p.normal_(0, 0.5);
  model->eval();
  return model;
}

at::Tensor ids(int64_t batch, int64_t pos, int64_t seed = 1) {
  torch::manual_seed(seed);
  return torch::randint(23, {batch, pos}, torch::kLong);
}

class BothArchitectures : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Transformer, BothArchitectures, ::testing::Values("gpt2", "llama"));

TEST_P(BothArchitectures, HookShapesFollowTransformerLens) {
  auto model = tiny(GetParam());
  const bool llama = GetParam() == "llama";
  hooks::ActivationCache cache(*model, {"**"});
  cache.run([&] { return model->forward(ids(2, 5)); });
  auto shape = [&](const std::string& name) { return cache[name].sizes().vec(); };
  using V = std::vector<int64_t>;
  EXPECT_EQ(shape("hook_embed"), (V{2, 5, 16}));
  EXPECT_EQ(model->has_hook("hook_pos_embed"), !llama);
  EXPECT_EQ(shape("blocks.1.hook_resid_pre"), (V{2, 5, 16}));
  EXPECT_EQ(shape("blocks.1.ln1.hook_normalized"), (V{2, 5, 16}));
  EXPECT_EQ(shape("blocks.0.attn.hook_q"), (V{2, 5, 4, 4}));
  EXPECT_EQ(shape("blocks.0.attn.hook_k"), (V{2, 5, llama ? 2 : 4, 4}));
  EXPECT_EQ(shape("blocks.0.attn.hook_attn_scores"), (V{2, 4, 5, 5}));
  EXPECT_EQ(shape("blocks.0.attn.hook_pattern"), (V{2, 4, 5, 5}));
  EXPECT_EQ(shape("blocks.0.attn.hook_z"), (V{2, 5, 4, 4}));
  EXPECT_EQ(shape("blocks.0.attn.hook_result"), (V{2, 5, 4, 16}));
  EXPECT_EQ(shape("blocks.0.mlp.hook_pre"), (V{2, 5, 24}));
  EXPECT_EQ(model->has_hook("blocks.0.mlp.hook_pre_linear"), llama);
  EXPECT_EQ(model->has_hook("blocks.0.attn.hook_rot_q"), llama);
  EXPECT_EQ(shape("blocks.0.mlp.hook_post"), (V{2, 5, 24}));
  EXPECT_EQ(shape("ln_final.hook_normalized"), (V{2, 5, 16}));
  // Causal: no attention to later positions, rows sum to one.
  at::Tensor pattern = cache["blocks.1.attn.hook_pattern"];
  EXPECT_EQ(pattern.triu(1).abs().max().item<float>(), 0.0f);
  EXPECT_TRUE(torch::allclose(pattern.sum(-1), torch::ones({2, 4, 5}), 1e-5, 1e-5));
  // Residual bookkeeping: resid_post = resid_mid + mlp_out = resid_pre + attn_out + mlp_out.
  EXPECT_TRUE(torch::allclose(cache["blocks.0.hook_resid_post"],
                              cache["blocks.0.hook_resid_pre"] + cache["blocks.0.hook_attn_out"] +
                                  cache["blocks.0.hook_mlp_out"], 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(cache["blocks.0.hook_resid_post"], cache["blocks.1.hook_resid_pre"]));
}

TEST_P(BothArchitectures, PerHeadResultsSumToTheAttentionOutput) {
  auto model = tiny(GetParam());
  at::Tensor tokens = ids(2, 6);
  hooks::ActivationCache plain(*model, {"blocks.1.hook_attn_out"});
  at::Tensor logits = plain.run([&] { return model->forward(tokens); });
  hooks::ActivationCache with_result(*model, {"blocks.1.hook_attn_out", "blocks.1.attn.hook_result"});
  at::Tensor logits2 = with_result.run([&] { return model->forward(tokens); });
  at::Tensor summed = with_result["blocks.1.attn.hook_result"].sum(2);
  if (model->block(1).attn->b_O.defined()) summed = summed + model->block(1).attn->b_O;
  EXPECT_TRUE(torch::allclose(summed, plain["blocks.1.hook_attn_out"], 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(logits, logits2, 1e-4, 1e-5));
}

TEST_P(BothArchitectures, KvCacheMatchesTheFullForward) {
  auto model = tiny(GetParam());
  torch::NoGradGuard no_grad;
  at::Tensor tokens = ids(3, 11);
  at::Tensor full = model->forward(tokens);
  models::KVCache cache;
  std::vector<at::Tensor> parts{model->run(tokens.narrow(1, 0, 6), &cache)};
  for (int64_t p = 6; p < 11; ++p) parts.push_back(model->run(tokens.narrow(1, p, 1), &cache));
  EXPECT_EQ(cache.length(), 11);
  EXPECT_TRUE(torch::allclose(at::cat(parts, 1), full, 1e-4, 1e-5));
}

TEST_P(BothArchitectures, StopAtLayerReturnsTheResidualAndRunsNothingLater) {
  auto model = tiny(GetParam());
  at::Tensor tokens = ids(1, 4);
  hooks::ActivationCache cache(*model, {"blocks.0.hook_resid_post"});
  cache.run([&] { return model->forward(tokens); });
  int later = 0;
  auto guard = hooks::add_hook(*model, "blocks.1.hook_resid_pre", [&](const at::Tensor&, const hooks::HookPointImpl&) {
    ++later;
    return at::Tensor();
  });
  at::Tensor resid = model->run(tokens, nullptr, 1);
  EXPECT_EQ(later, 0);
  EXPECT_TRUE(torch::allclose(resid, cache["blocks.0.hook_resid_post"]));
  EXPECT_THROW(model->run(tokens, nullptr, 2), golgi::Error);
}

TEST_P(BothArchitectures, GreedyGenerationIsTheArgmaxOfFullForwards) {
  auto model = tiny(GetParam());
  at::Tensor prompt = ids(2, 3);
  auto options = models::GenerateOptions().max_new_tokens(8).temperature(0);
  at::Tensor out = models::generate(*model, prompt, options);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{2, 11}));
  torch::NoGradGuard no_grad;
  at::Tensor expected = prompt;
  for (int step = 0; step < 8; ++step)
    expected = at::cat({expected, model->forward(expected).select(1, -1).argmax(-1, true)}, 1);
  EXPECT_TRUE(torch::equal(out, expected));
}

TEST_P(BothArchitectures, HooksStayActiveDuringGeneration) {
  auto model = tiny(GetParam());
  at::Tensor prompt = ids(1, 4);
  auto options = models::GenerateOptions().max_new_tokens(5).temperature(0);
  at::Tensor baseline = models::generate(*model, prompt, options);
  std::vector<int64_t> positions;
  at::Tensor steered;
  {
    // Seen positions: the prompt once, then one per new token; zeroing every MLP neuron of both
    // layers changes the continuation.
    auto watch = hooks::add_hook(*model, "blocks.0.mlp.hook_post", [&](const at::Tensor& a, const hooks::HookPointImpl&) {
      positions.push_back(a.size(1));
      return at::Tensor();
    });
    auto zero = [](const at::Tensor& a) { return torch::zeros_like(a); };
    auto zero0 = hooks::replace_hook(*model, "blocks.0.mlp.hook_post", zero);
    auto zero1 = hooks::replace_hook(*model, "blocks.1.mlp.hook_post", zero);
    steered = models::generate(*model, prompt, options);
  }
  EXPECT_EQ(positions, (std::vector<int64_t>{4, 1, 1, 1, 1}));
  EXPECT_FALSE(torch::equal(steered, baseline));
  EXPECT_EQ(model->attached_hook_count(), 0u);
  EXPECT_TRUE(torch::equal(models::generate(*model, prompt, options), baseline));
}

TEST_P(BothArchitectures, SeededSamplingIsReproducibleAndTopKOneIsGreedy) {
  auto model = tiny(GetParam());
  at::Tensor prompt = ids(2, 2);
  auto sample = models::GenerateOptions().max_new_tokens(12).temperature(1.0).top_p(1.0);
  at::Tensor a = models::generate(*model, prompt, sample.seed(3));
  EXPECT_TRUE(torch::equal(a, models::generate(*model, prompt, sample.seed(3))));
  EXPECT_FALSE(torch::equal(a, models::generate(*model, prompt, sample.seed(4))));
  at::Tensor greedy = models::generate(*model, prompt, models::GenerateOptions().max_new_tokens(12).temperature(0));
  EXPECT_TRUE(torch::equal(greedy, models::generate(*model, prompt, sample.top_k(1))));
  // A tiny nucleus keeps only the most likely token as well.
  EXPECT_TRUE(torch::equal(greedy, models::generate(*model, prompt, sample.top_k(0).top_p(1e-6))));
}

TEST(Generate, StopTokenEndsEverySequenceAndPads) {
  auto model = tiny("llama");
  at::Tensor prompt = ids(2, 3);
  at::Tensor greedy = models::generate(*model, prompt, models::GenerateOptions().max_new_tokens(10).temperature(0));
  const int64_t stop = greedy[0][3].item<int64_t>();  // row 0's first new token
  at::Tensor out =
      models::generate(*model, prompt, models::GenerateOptions().max_new_tokens(10).temperature(0).stop_token(stop));
  // Row 0 stops at once; row 1 runs until it produces `stop` too (or hits the limit).
  EXPECT_EQ(out[0][3].item<int64_t>(), stop);
  for (int64_t p = 4; p < out.size(1); ++p) EXPECT_EQ(out[0][p].item<int64_t>(), stop);
  EXPECT_TRUE(torch::equal(out[1], greedy[1].narrow(0, 0, out.size(1))));
}

TEST_P(BothArchitectures, HuggingFaceLayoutRoundTrips) {
  for (bool tied : {true, false}) {
    auto model = tiny(GetParam(), tied);
    auto dir = golgi::testing::scratch_dir("hf_" + GetParam() + (tied ? "_tied" : "_untied"));
    models::save_model(dir, *model, {{"note", "round trip"}});
    ASSERT_TRUE(io::file_exists(dir + "/config.json"));
    std::map<std::string, at::Tensor> tensors;
    for (auto& [name, t] : io::load_tensors(dir + "/model.safetensors")) tensors[name] = t;
    if (GetParam() == "gpt2") {
      ASSERT_TRUE(tensors.count("transformer.h.1.attn.c_attn.weight"));
      EXPECT_EQ(tensors["transformer.h.1.attn.c_attn.weight"].sizes(), (std::vector<int64_t>{16, 48}));  // Conv1D
    } else {
      ASSERT_TRUE(tensors.count("model.layers.1.self_attn.k_proj.weight"));
      EXPECT_EQ(tensors["model.layers.1.self_attn.k_proj.weight"].sizes(), (std::vector<int64_t>{8, 16}));  // GQA
      EXPECT_TRUE(tensors.count("model.layers.0.mlp.gate_proj.weight"));
    }
    EXPECT_EQ(tensors.count("lm_head.weight"), tied ? 0u : 1u);
    at::Tensor tokens = ids(2, 7);
    at::Tensor expected = model->forward(tokens);
    // Through the golgi card and as a bare Hugging Face folder (no model.json).
    EXPECT_TRUE(torch::equal(models::load_model(dir).model->forward(tokens), expected));
    std::remove((dir + "/model.json").c_str());
    auto hf = models::load_model(dir);
    EXPECT_EQ(hf.card["format"], "huggingface");
    EXPECT_TRUE(torch::equal(hf.model->forward(tokens), expected));
  }
}

TEST(TransformerErrors, BadTokensContextAndConfigsAreClearErrors) {
  auto model = tiny("gpt2");
  EXPECT_NE(golgi::testing::error_of([&] { model->forward(torch::full({1, 3}, 23, torch::kLong)); }).find("vocabulary of 23"),
            std::string::npos);
  EXPECT_NE(golgi::testing::error_of([&] { model->forward(torch::zeros({1, 33}, torch::kLong)); }).find("context of 32"),
            std::string::npos);
  EXPECT_NE(golgi::testing::error_of([&] { model->forward(torch::zeros({1, 3})); }).find("integer token ids"),
            std::string::npos);
  EXPECT_NE(golgi::testing::error_of([&] {
              models::generate(*model, ids(1, 30), models::GenerateOptions().max_new_tokens(5));
            }).find("exceed the model's context"),
            std::string::npos);
  EXPECT_NE(golgi::testing::error_of([] {
              models::make_model("llama", {{"n_heads", 6}, {"n_kv_heads", 4}});
            }).find("multiple of n_kv_heads"),
            std::string::npos);
  EXPECT_NE(golgi::testing::error_of([] {
              models::make_from_hf_config({{"model_type", "mamba"}}, "config.json");
            }).find("supported: gpt2, llama"),
            std::string::npos);
  EXPECT_NE(golgi::testing::error_of([] {
              models::make_from_hf_config({{"model_type", "llama"}, {"vocab_size", 10}}, "config.json");
            }).find("lacks \"hidden_size\""),
            std::string::npos);
  // A missing tensor is named.
  auto dir = golgi::testing::scratch_dir("hf_missing");
  models::save_hf_model(dir, *model);
  auto tensors = io::load_tensors(dir + "/model.safetensors");
  tensors.erase(std::remove_if(tensors.begin(), tensors.end(),
                               [](const auto& t) { return t.first == "transformer.h.0.mlp.c_fc.bias"; }),
                tensors.end());
  io::save_tensors(dir + "/model.safetensors", tensors);
  EXPECT_NE(golgi::testing::error_of([&] { models::load_hf_model(dir); }).find("missing transformer.h.0.mlp.c_fc.bias"),
            std::string::npos);
}

}  // namespace
