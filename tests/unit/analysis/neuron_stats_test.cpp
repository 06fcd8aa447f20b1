// Neuron statistics over labelled text (analysis/neuron_stats.h) against a direct computation from
// the full cached activations, and evaluation under intervention.
#include <gtest/gtest.h>

#include <limits>
#include <torch/torch.h>

#include "golgi/analysis/intervention_eval.h"
#include "golgi/analysis/neuron_stats.h"
#include "golgi/hooks/activation_cache.h"
#include "golgi/models/registry.h"
#include "golgi/models/transformer.h"
#include "test_support.h"

namespace {

using namespace golgi;

// The call throws a golgi::Error whose message contains `needle`.
void expect_error(const std::function<void()>& f, const std::string& needle) {
  const std::string message = golgi::testing::error_of(f);
  EXPECT_NE(message.find(needle), std::string::npos) << "message: '" << message << "', expected '" << needle << "'";
}

std::shared_ptr<models::TransformerLM> tiny_llama() {
  torch::manual_seed(3);
  Json o = {{"vocab_size", 19}, {"n_ctx", 32}, {"d_model", 16}, {"n_layers", 3}, {"n_heads", 4},
            {"n_kv_heads", 2}, {"d_mlp", 12}};
  auto model = std::dynamic_pointer_cast<models::TransformerLM>(models::make_model("llama", o));
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters())
    if (p.dim() == 2) p.normal_(0, 0.5);
  model->eval();
  return model;
}

std::vector<analysis::TextExample> examples(int64_t n) {
  std::vector<analysis::TextExample> out;
  torch::manual_seed(11);
  for (int64_t e = 0; e < n; ++e) {
    analysis::TextExample ex;
    const int64_t length = 3 + (e * 7) % 11;
    auto t = torch::randint(19, {length}, torch::kLong);
    ex.tokens.assign(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + length);
    ex.label = e % 3;
    ex.count_begin = e % 2;               // sometimes skip the first token
    ex.count_end = e % 4 == 0 ? -1 : length - 1;  // sometimes stop before the last
    out.push_back(ex);
  }
  return out;
}

TEST(NeuronStats, MatchesDirectComputationAndIgnoresBatching) {
  auto model = tiny_llama();
  auto ex = examples(10);
  const std::vector<std::string> hooks{"blocks.0.mlp.hook_pre", "blocks.2.mlp.hook_post"};
  const double threshold = 0.1;
  auto stats = analysis::neuron_statistics(
      *model, ex, {"a", "b", "c"},
      analysis::NeuronStatsOptions().hooks(hooks).active_above(threshold).batch_size(4).per_example(true).progress(false));
  ASSERT_EQ(stats.hooks, hooks);
  ASSERT_EQ(stats.neurons(), 24);

  // Direct: one example at a time, full cache, loops.
  auto active = torch::zeros({3, 24}, torch::kInt64);
  auto sum = torch::zeros({3, 24}, torch::kFloat64);
  auto max = torch::full({3, 24}, -std::numeric_limits<double>::infinity(), torch::kFloat64);
  auto tokens = torch::zeros({3}, torch::kInt64);
  for (size_t e = 0; e < ex.size(); ++e) {
    hooks::ActivationCache cache(*model, hooks);
    auto input = torch::tensor(ex[e].tokens, torch::kLong).unsqueeze(0);
    cache.run([&] { return model->forward(input); });
    auto acts = torch::cat({cache[hooks[0]][0], cache[hooks[1]][0]}, 1).to(torch::kFloat64);  // [T, 24]
    const int64_t end = ex[e].count_end < 0 ? static_cast<int64_t>(ex[e].tokens.size()) : ex[e].count_end;
    auto counted = acts.slice(0, ex[e].count_begin, end);
    active[ex[e].label] += counted.gt(threshold).sum(0);
    sum[ex[e].label] += counted.sum(0);
    max[ex[e].label] = torch::maximum(max[ex[e].label], std::get<0>(counted.max(0)));
    tokens[ex[e].label] += end - ex[e].count_begin;
    EXPECT_TRUE(torch::allclose(stats.responses[static_cast<int64_t>(e)].to(torch::kFloat64), counted.mean(0), 1e-5, 1e-5))
        << "example " << e;
  }
  EXPECT_TRUE(torch::equal(stats.active, active));
  EXPECT_TRUE(torch::equal(stats.tokens, tokens));
  EXPECT_TRUE(torch::allclose(stats.sum, sum, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(stats.max.to(torch::kFloat64), max, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(stats.probability().to(torch::kFloat64),
                              active.to(torch::kFloat64) / tokens.to(torch::kFloat64).unsqueeze(1), 1e-6, 1e-7));
  EXPECT_EQ(stats.examples.sum().item<int64_t>(), 10);
  EXPECT_EQ(stats.neuron_name(13), "blocks.2.mlp.hook_post:1");

  // Batching does not change anything.
  auto one = analysis::neuron_statistics(*model, ex, {"a", "b", "c"},
                                         analysis::NeuronStatsOptions().hooks(hooks).active_above(threshold).batch_size(1).progress(false));
  EXPECT_TRUE(torch::equal(one.active, stats.active));
  EXPECT_TRUE(torch::allclose(one.sum, stats.sum, 1e-6, 1e-6));
  EXPECT_EQ(model->attached_hook_count(), 0u);
}

TEST(NeuronStats, GlobsExpandInForwardOrder) {
  auto model = tiny_llama();
  auto stats = analysis::neuron_statistics(*model, examples(3), {"a", "b", "c"},
                                           analysis::NeuronStatsOptions().hooks({"blocks.*.mlp.hook_pre"}).progress(false));
  EXPECT_EQ(stats.hooks, (std::vector<std::string>{"blocks.0.mlp.hook_pre", "blocks.1.mlp.hook_pre", "blocks.2.mlp.hook_pre"}));
  EXPECT_EQ(stats.active.sizes(), (std::vector<int64_t>{3, 36}));
}

TEST(NeuronStats, BadInputGetsClearErrors) {
  auto model = tiny_llama();
  auto ex = examples(2);
  auto run = [&](std::vector<analysis::TextExample> e, std::vector<std::string> hooks = {"blocks.0.mlp.hook_post"}) {
    analysis::neuron_statistics(*model, e, {"a", "b", "c"}, analysis::NeuronStatsOptions().hooks(hooks).progress(false));
  };
  expect_error([&] { run(ex, {"blocks.0.mlp.hook_postt"}); }, "hook_post");
  expect_error([&] { run(ex, {"blocks.0.attn.hook_pattern"}); }, "neurons last");
  auto bad = ex;
  bad[1].label = 3;
  expect_error([&] { run(bad); }, "label 3");
  bad = ex;
  bad[0].tokens[0] = 19;
  expect_error([&] { run(bad); }, "vocabulary");
  bad = ex;
  bad[0].count_begin = static_cast<int64_t>(bad[0].tokens.size());
  expect_error([&] { run(bad); }, "counted range");
  expect_error([&] { run({}); }, "at least one example");
  EXPECT_EQ(model->attached_hook_count(), 0u);
}

TEST(InterventionSet, GroupsZeroesAndComposesInOrder) {
  auto model = tiny_llama();
  auto input = torch::randint(19, {2, 6}, torch::kLong);
  hooks::InterventionSet set;
  set.zero_all("blocks.1.mlp.hook_post", {0, 3, 5});
  set.set(hooks::NeuronRef::parse("blocks.1.mlp.hook_post:7"), 2.5);
  set.scale(hooks::NeuronRef::parse("blocks.1.mlp.hook_post:7"), 2.0);  // after the set: 5.0
  set.scale(hooks::NeuronRef::parse("blocks.1.mlp.hook_post:8"), 3.0);
  set.scale(hooks::NeuronRef::parse("blocks.1.mlp.hook_post:8"), 3.0);  // a repeat multiplies again
  set.add("blocks.2.hook_resid_pre", torch::full({16}, 0.25));
  at::Tensor clean_post;
  {
    hooks::ActivationCache cache(*model, {"blocks.1.mlp.hook_post"});
    cache.run([&] { return model->forward(input); });
    clean_post = cache["blocks.1.mlp.hook_post"];
  }
  auto guards = set.apply(*model);
  EXPECT_EQ(guards.size(), 6u);  // zero x3 grouped, set, scale x2.0, scale x3.0, repeated scale x3.0, add
  at::Tensor post, resid;
  hooks::HookGuards readers;
  readers.push_back(hooks::read_hook(*model, "blocks.1.mlp.hook_post", [&](const at::Tensor& a) { post = a; }));
  at::Tensor before_add;
  model->forward(input);
  EXPECT_TRUE(post.select(2, 0).eq(0).all().item<bool>());
  EXPECT_TRUE(post.select(2, 5).eq(0).all().item<bool>());
  EXPECT_TRUE(post.select(2, 7).eq(5.0).all().item<bool>());
  EXPECT_TRUE(torch::allclose(post.select(2, 8), clean_post.select(2, 8) * 9.0, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(post.select(2, 1), clean_post.select(2, 1)));
  readers.clear();
  guards.clear();
  EXPECT_EQ(model->attached_hook_count(), 0u);

  // The JSON form round-trips.
  auto back = hooks::InterventionSet::from_json(set.to_json());
  EXPECT_EQ(back.to_json(), set.to_json());
}

TEST(InterventionSet, AddVectorShiftsTheResidualStream) {
  auto model = tiny_llama();
  auto input = torch::randint(19, {1, 4}, torch::kLong);
  at::Tensor clean, shifted;
  {
    hooks::ActivationCache cache(*model, {"blocks.2.hook_resid_pre"});
    cache.run([&] { return model->forward(input); });
    clean = cache["blocks.2.hook_resid_pre"];
  }
  hooks::InterventionSet set;
  set.add("blocks.2.hook_resid_pre", torch::arange(16, torch::kFloat32));
  {
    auto guards = set.apply(*model);
    hooks::ActivationCache cache(*model, {"blocks.2.hook_resid_pre"});
    cache.run([&] { return model->forward(input); });
    shifted = cache["blocks.2.hook_resid_pre"];
  }
  EXPECT_TRUE(torch::allclose(shifted - clean, torch::arange(16, torch::kFloat32).expand_as(clean), 1e-5, 1e-5));
}

TEST(InterventionSet, BadInputGetsClearErrorsAndAttachesNothing) {
  auto model = tiny_llama();
  hooks::InterventionSet set;
  set.zero(hooks::NeuronRef::parse("blocks.0.mlp.hook_post:1"));
  set.zero(hooks::NeuronRef::parse("blocks.9.mlp.hook_post:1"));
  expect_error([&] { set.apply(*model); }, "blocks.9.mlp.hook_post");
  EXPECT_EQ(model->attached_hook_count(), 0u);
  hooks::InterventionSet text;
  expect_error([&] { text.add_text("set", "blocks.0.mlp.hook_post:1"); }, "REF=VALUE");
  expect_error([&] { text.add_text("scale", "blocks.0.mlp.hook_post:1=abc"); }, "not a number");
  expect_error([&] { text.add_text("shift", "x"); }, "unknown intervention");
  expect_error([&] { hooks::InterventionSet::from_json(Json::object()); }, "interventions");
  expect_error(
      [&] { hooks::InterventionSet::from_json({{"interventions", {{{"op", "set"}, {"neuron", "blocks.0.mlp.hook_post:1"}}}}}); },
      "numeric \"value\"");
  text.add_text("clamp", "blocks.0.mlp.hook_post:2=1.5");
  EXPECT_EQ(text.items()[0].op, hooks::InterventionSet::Op::kSet);
  EXPECT_DOUBLE_EQ(text.items()[0].value, 1.5);
}

TEST(InterventionEval, RelativeChangePerLanguage) {
  train::LmEvalResult a, b;
  a.bits_per_byte = 2.0;
  b.bits_per_byte = 2.5;
  a.per_language = {{"de", 10, 10, 1.0, 2.0}, {"en", 10, 10, 1.0, 4.0}};
  b.per_language = {{"de", 10, 10, 1.0, 3.0}, {"en", 10, 10, 1.0, 4.2}};
  auto effect = analysis::compare_lm(a, b);
  EXPECT_DOUBLE_EQ(effect.relative_change[0], 0.5);
  EXPECT_NEAR(effect.relative_change[1], 0.05, 1e-12);
  EXPECT_DOUBLE_EQ(effect.overall_relative_change, 0.25);
  b.per_language[1].language = "es";
  expect_error([&] { analysis::compare_lm(a, b); }, "differs");
}

}  // namespace
