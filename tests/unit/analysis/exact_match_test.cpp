// Exact-match accuracy of greedy answers (analysis/exact_match.h) against a plain greedy loop (one
// full forward pass per generated token, no cache, no batching), in both modes, with and without
// an intervention attached.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "golgi/analysis/exact_match.h"
#include "golgi/hooks/intervention_set.h"
#include "golgi/models/registry.h"
#include "golgi/models/transformer.h"
#include "test_support.h"

namespace {

using namespace golgi;
using analysis::AnswerExample;
using analysis::ExactMatchMode;
using analysis::ExactMatchOptions;

void expect_error(const std::function<void()>& f, const std::string& needle) {
  const std::string message = golgi::testing::error_of(f);
  EXPECT_NE(message.find(needle), std::string::npos) << "message: '" << message << "', expected '" << needle << "'";
}

constexpr int64_t kVocab = 23;

std::shared_ptr<models::TransformerLM> tiny_llama() {
  torch::manual_seed(5);
  Json o = {{"vocab_size", kVocab}, {"n_ctx", 24}, {"d_model", 16}, {"n_layers", 2}, {"n_heads", 4},
            {"n_kv_heads", 2}, {"d_mlp", 12}};
  auto model = std::dynamic_pointer_cast<models::TransformerLM>(models::make_model("llama", o));
  torch::NoGradGuard no_grad;
  // Large weights make the argmax decisive, so float differences between passes cannot flip it.
  for (auto& p : model->parameters())
    if (p.dim() == 2) p.normal_(0, 0.7);
  model->eval();
  return model;
}

// The greedy continuation of `prompt`, n tokens, by full forward passes (the reference).
std::vector<int64_t> greedy(models::TransformerLM& model, std::vector<int64_t> prompt, size_t n) {
  torch::NoGradGuard no_grad;
  std::vector<int64_t> out;
  for (size_t t = 0; t < n; ++t) {
    at::Tensor in = torch::tensor(prompt, torch::kInt64).unsqueeze(0);
    const int64_t next = model.forward(in)[0][-1].argmax().item<int64_t>();
    out.push_back(next);
    prompt.push_back(next);
  }
  return out;
}

// Prompts of varied lengths; answers = the greedy continuation (lengths 1..4), with every third
// example's answer changed at one position so it must be wrong there.
std::vector<AnswerExample> make_examples(models::TransformerLM& model, std::vector<uint8_t>& expected) {
  std::vector<AnswerExample> out;
  expected.clear();
  torch::manual_seed(17);
  for (int64_t e = 0; e < 14; ++e) {
    AnswerExample ex;
    const int64_t length = 2 + (e * 5) % 9;
    auto t = torch::randint(kVocab, {length}, torch::kLong);
    ex.prompt.assign(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + length);
    const size_t answer_length = 1 + static_cast<size_t>(e % 4);
    ex.answer = greedy(model, ex.prompt, answer_length);
    bool correct = true;
    if (e % 3 == 2) {
      const size_t pos = static_cast<size_t>(e) % answer_length;
      ex.answer[pos] = (ex.answer[pos] + 1) % kVocab;
      correct = false;
    }
    expected.push_back(correct ? 1 : 0);
    out.push_back(ex);
  }
  return out;
}

TEST(ExactMatch, MatchesGreedyLoopInBothModesAndAnyBatchSize) {
  auto model = tiny_llama();
  std::vector<uint8_t> expected;
  auto examples = make_examples(*model, expected);
  for (auto mode : {ExactMatchMode::kTeacherForced, ExactMatchMode::kGenerate}) {
    for (int64_t batch : {1, 3, 64}) {
      auto r = analysis::exact_match(*model, examples, ExactMatchOptions().mode(mode).batch_size(batch));
      EXPECT_EQ(r.correct, expected) << "mode " << static_cast<int>(mode) << " batch " << batch;
      int64_t hits = 0;
      for (auto c : expected) hits += c;
      EXPECT_EQ(r.n_correct, hits);
      EXPECT_DOUBLE_EQ(r.accuracy(), static_cast<double>(hits) / static_cast<double>(expected.size()));
    }
  }
}

TEST(ExactMatch, SeesTheCallersIntervention) {
  auto model = tiny_llama();
  std::vector<uint8_t> unused;
  auto examples = make_examples(*model, unused);
  hooks::InterventionSet set;
  set.zero_all("blocks.0.hook_mlp_out", {0, 3, 5, 7, 11});
  set.zero_all("blocks.1.mlp.hook_pre", {1, 2, 4, 8});
  std::vector<uint8_t> expected;
  size_t changed = 0;
  {
    auto guards = set.apply(*model);
    for (const auto& ex : examples) {
      auto g = greedy(*model, ex.prompt, ex.answer.size());
      expected.push_back(g == ex.answer ? 1 : 0);
    }
    for (auto mode : {ExactMatchMode::kTeacherForced, ExactMatchMode::kGenerate}) {
      auto r = analysis::exact_match(*model, examples, ExactMatchOptions().mode(mode).batch_size(4));
      EXPECT_EQ(r.correct, expected) << "mode " << static_cast<int>(mode);
    }
  }
  // The intervention must have mattered for the test to mean something.
  auto plain = analysis::exact_match(*model, examples);
  for (size_t e = 0; e < expected.size(); ++e) changed += plain.correct[e] != expected[e];
  EXPECT_GT(changed, 0u);
}

TEST(ExactMatch, GroupsTensorAndModeRestored) {
  auto model = tiny_llama();
  std::vector<uint8_t> expected;
  auto examples = make_examples(*model, expected);
  model->train();
  auto r = analysis::exact_match(*model, examples);
  EXPECT_TRUE(model->is_training());
  std::vector<int64_t> group(examples.size());
  for (size_t e = 0; e < group.size(); ++e) group[e] = static_cast<int64_t>(e % 2);
  auto by = r.accuracy_by(group, 3);
  ASSERT_EQ(by.size(), 3u);
  double hits0 = 0, n0 = 0;
  for (size_t e = 0; e < expected.size(); e += 2) hits0 += expected[e], n0 += 1;
  EXPECT_DOUBLE_EQ(by[0], hits0 / n0);
  EXPECT_TRUE(std::isnan(by[2]));
  auto t = r.correct_tensor();
  ASSERT_EQ(t.size(0), static_cast<int64_t>(expected.size()));
  for (size_t e = 0; e < expected.size(); ++e) EXPECT_EQ(t[static_cast<int64_t>(e)].item<bool>(), expected[e] != 0);
  EXPECT_TRUE(analysis::exact_match(*model, {}).correct.empty());
  expect_error([&] { r.accuracy_by({0}, 2); }, "group labels");
  expect_error([&] { r.accuracy_by(group, 1); }, "outside");
}

TEST(ExactMatch, BadInput) {
  auto model = tiny_llama();
  expect_error([&] { analysis::exact_match(*model, {{{}, {1}}}); }, "empty prompt");
  expect_error([&] { analysis::exact_match(*model, {{{1}, {}}}); }, "empty answer");
  expect_error([&] { analysis::exact_match(*model, {{{1, kVocab}, {1}}}); }, "outside the vocabulary");
  expect_error([&] { analysis::exact_match(*model, {{{1}, {-1}}}); }, "outside the vocabulary");
  expect_error([&] { analysis::exact_match(*model, {{std::vector<int64_t>(20, 1), std::vector<int64_t>(5, 1)}}); },
               "context of 24");
  expect_error([&] { analysis::exact_match(*model, {{{1}, {1}}}, ExactMatchOptions().batch_size(0)); },
               "batch_size");
}

}  // namespace
