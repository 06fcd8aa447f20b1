#include "golgi/analysis/exact_match.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/models/generate.h"
#include "golgi/models/transformer.h"

namespace golgi::analysis {

namespace {

// Restores the model's training flag on every exit path.
class EvalModeGuard {
 public:
  explicit EvalModeGuard(torch::nn::Module& m) : module_(m), was_training_(m.is_training()) { module_.eval(); }
  ~EvalModeGuard() { module_.train(was_training_); }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_training_;
};

void check_examples(const models::TransformerLM& model, const std::vector<AnswerExample>& examples,
                    const ExactMatchOptions& options) {
  GOLGI_CHECK(options.batch_size() >= 1, "exact_match: batch_size must be >= 1, got ", options.batch_size());
  const int64_t vocab = model.config().vocab_size, n_ctx = model.config().n_ctx;
  for (size_t e = 0; e < examples.size(); ++e) {
    const auto& ex = examples[e];
    GOLGI_CHECK(!ex.prompt.empty(), "exact_match: example ", e, " has an empty prompt");
    GOLGI_CHECK(!ex.answer.empty(), "exact_match: example ", e, " has an empty answer");
    for (const auto* part : {&ex.prompt, &ex.answer})
      for (int64_t t : *part)
        GOLGI_CHECK(t >= 0 && t < vocab, "exact_match: example ", e, " has token ", t, " outside the vocabulary [0, ",
                    vocab, ")");
    const int64_t length = static_cast<int64_t>(ex.prompt.size() + ex.answer.size());
    GOLGI_CHECK(length <= n_ctx, "exact_match: example ", e, " needs ", length,
                " positions (prompt + answer), more than the model's context of ", n_ctx);
  }
}

void teacher_forced(models::TransformerLM& model, const std::vector<AnswerExample>& examples, int64_t batch_size,
                    std::vector<uint8_t>& correct) {
  // Longest first, so the first batch shows the peak memory and batches hold similar lengths.
  std::vector<size_t> order(examples.size());
  std::iota(order.begin(), order.end(), size_t{0});
  auto input_length = [&](size_t e) { return examples[e].prompt.size() + examples[e].answer.size() - 1; };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return input_length(a) > input_length(b); });
  for (size_t begin = 0; begin < order.size(); begin += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(order.size(), begin + static_cast<size_t>(batch_size));
    const int64_t rows = static_cast<int64_t>(end - begin);
    const int64_t width = static_cast<int64_t>(input_length(order[begin]));
    // Right padding with token 0: a causal model's earlier positions never see it.
    at::Tensor inputs = torch::zeros({rows, width}, torch::kInt64);
    auto in = inputs.accessor<int64_t, 2>();
    for (int64_t i = 0; i < rows; ++i) {
      const auto& ex = examples[order[begin + static_cast<size_t>(i)]];
      int64_t p = 0;
      for (int64_t t : ex.prompt) in[i][p++] = t;
      for (size_t t = 0; t + 1 < ex.answer.size(); ++t) in[i][p++] = ex.answer[t];
    }
    at::Tensor predicted = model.forward(inputs).argmax(-1).contiguous();  // [rows, width]
    auto pred = predicted.accessor<int64_t, 2>();
    for (int64_t i = 0; i < rows; ++i) {
      const size_t e = order[begin + static_cast<size_t>(i)];
      const auto& ex = examples[e];
      const int64_t first = static_cast<int64_t>(ex.prompt.size()) - 1;  // predicts answer[0]
      bool ok = true;
      for (size_t t = 0; t < ex.answer.size() && ok; ++t) ok = pred[i][first + static_cast<int64_t>(t)] == ex.answer[t];
      correct[e] = ok ? 1 : 0;
    }
  }
}

void generated(models::TransformerLM& model, const std::vector<AnswerExample>& examples, int64_t batch_size,
               std::vector<uint8_t>& correct) {
  // The generator takes no padding mask, so a batch holds prompts of one length.
  std::map<size_t, std::vector<size_t>> by_length;
  for (size_t e = 0; e < examples.size(); ++e) by_length[examples[e].prompt.size()].push_back(e);
  for (const auto& [length, members] : by_length) {
    for (size_t begin = 0; begin < members.size(); begin += static_cast<size_t>(batch_size)) {
      const size_t end = std::min(members.size(), begin + static_cast<size_t>(batch_size));
      const int64_t rows = static_cast<int64_t>(end - begin);
      size_t longest = 0;
      at::Tensor prompt = torch::empty({rows, static_cast<int64_t>(length)}, torch::kInt64);
      auto in = prompt.accessor<int64_t, 2>();
      for (int64_t i = 0; i < rows; ++i) {
        const auto& ex = examples[members[begin + static_cast<size_t>(i)]];
        longest = std::max(longest, ex.answer.size());
        for (size_t t = 0; t < length; ++t) in[i][static_cast<int64_t>(t)] = ex.prompt[t];
      }
      at::Tensor out = models::generate(
          model, prompt,
          models::GenerateOptions().temperature(0.0).max_new_tokens(static_cast<int64_t>(longest)).top_p(1.0));
      auto o = out.accessor<int64_t, 2>();
      for (int64_t i = 0; i < rows; ++i) {
        const size_t e = members[begin + static_cast<size_t>(i)];
        const auto& ex = examples[e];
        bool ok = true;
        for (size_t t = 0; t < ex.answer.size() && ok; ++t)
          ok = o[i][static_cast<int64_t>(length + t)] == ex.answer[t];
        correct[e] = ok ? 1 : 0;
      }
    }
  }
}

}  // namespace

double ExactMatchResult::accuracy() const {
  return correct.empty() ? 0.0 : static_cast<double>(n_correct) / static_cast<double>(correct.size());
}

std::vector<double> ExactMatchResult::accuracy_by(const std::vector<int64_t>& group, int64_t groups) const {
  GOLGI_CHECK(group.size() == correct.size(), "accuracy_by: ", group.size(), " group labels for ", correct.size(),
              " examples");
  GOLGI_CHECK(groups >= 0, "accuracy_by: groups must be >= 0, got ", groups);
  std::vector<int64_t> hits(static_cast<size_t>(groups), 0), total(static_cast<size_t>(groups), 0);
  for (size_t e = 0; e < group.size(); ++e) {
    GOLGI_CHECK(group[e] >= 0 && group[e] < groups, "accuracy_by: group ", group[e], " of example ", e,
                " is outside 0..", groups - 1);
    ++total[static_cast<size_t>(group[e])];
    hits[static_cast<size_t>(group[e])] += correct[e];
  }
  std::vector<double> out(static_cast<size_t>(groups));
  for (size_t k = 0; k < out.size(); ++k)
    out[k] = total[k] == 0 ? std::numeric_limits<double>::quiet_NaN()
                           : static_cast<double>(hits[k]) / static_cast<double>(total[k]);
  return out;
}

at::Tensor ExactMatchResult::correct_tensor() const {
  at::Tensor t = torch::empty({static_cast<int64_t>(correct.size())}, torch::kBool);
  auto a = t.accessor<bool, 1>();
  for (size_t e = 0; e < correct.size(); ++e) a[static_cast<int64_t>(e)] = correct[e] != 0;
  return t;
}

ExactMatchResult exact_match(models::TransformerLM& model, const std::vector<AnswerExample>& examples,
                             const ExactMatchOptions& options) {
  check_examples(model, examples, options);
  ExactMatchResult result;
  result.correct.assign(examples.size(), 0);
  if (examples.empty()) return result;
  torch::NoGradGuard no_grad;
  EvalModeGuard eval_mode(model);
  if (options.mode() == ExactMatchMode::kGenerate)
    generated(model, examples, options.batch_size(), result.correct);
  else
    teacher_forced(model, examples, options.batch_size(), result.correct);
  result.n_correct = std::accumulate(result.correct.begin(), result.correct.end(), int64_t{0});
  return result;
}

}  // namespace golgi::analysis
