// Easy/hard feature networks for representation-bias measurements (repr_bias.h).
#include "golgi/methods/repr_bias/repr_bias.h"

#include <chrono>
#include <cmath>
#include <optional>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/seed.h"
#include "golgi/hooks/scoped_hooks.h"
#include "golgi/models/mlp.h"
#include "golgi/models/registry.h"

namespace golgi::methods {

at::Tensor sample_bits(int64_t n, const std::vector<double>& p_one, uint64_t seed) {
  GOLGI_CHECK(n >= 1, "repr-bias: the number of samples must be >= 1, got ", n);
  GOLGI_CHECK(!p_one.empty(), "repr-bias: give at least one bit probability");
  for (size_t i = 0; i < p_one.size(); ++i)
    GOLGI_CHECK(p_one[i] >= 0 && p_one[i] <= 1, "repr-bias: bit ", i, " has probability ", p_one[i],
                ", expected a value in [0, 1]");
  const auto bits = static_cast<int64_t>(p_one.size());
  at::Tensor x = torch::empty({n, bits}, torch::kFloat32);
  float* out = x.data_ptr<float>();
  SplitMix64 rng(seed);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < bits; ++i) out[r * bits + i] = rng.uniform() < p_one[static_cast<size_t>(i)] ? 1.0f : 0.0f;
  return x;
}

namespace {
void check_bits(const at::Tensor& bits, int64_t needed) {
  GOLGI_CHECK(bits.defined() && bits.dim() == 2, "repr-bias: bits must be [n, bits], got ",
              bits.defined() ? bits.sizes() : at::IntArrayRef{});
  GOLGI_CHECK(bits.size(1) >= needed, "repr-bias: the feature reads bit ", needed - 1, " but the input has only ",
              bits.size(1), " bits");
}
}  // namespace

at::Tensor easy_feature(const at::Tensor& bits) {
  check_bits(bits, 5);
  return bits.narrow(1, 0, 5).to(torch::kLong).sum(1).ge(3).to(torch::kLong);
}

at::Tensor hard_feature(const at::Tensor& bits) { return parity_feature(bits, {5, 6, 7, 8}); }

at::Tensor parity_feature(const at::Tensor& bits, const std::vector<int64_t>& which) {
  GOLGI_CHECK(!which.empty(), "repr-bias: a parity needs at least one bit");
  int64_t needed = 0;
  for (int64_t i : which) {
    GOLGI_CHECK(i >= 0, "repr-bias: bit indices must be >= 0, got ", i);
    needed = std::max(needed, i + 1);
  }
  check_bits(bits, needed);
  at::Tensor sum = torch::zeros({bits.size(0)}, torch::kLong);
  for (int64_t i : which) sum += bits.select(1, i).to(torch::kLong);
  return sum.remainder(2);
}

double parity2_bit_probability(double share) {
  GOLGI_CHECK(share > 0 && share <= 0.5, "repr-bias: a 2-bit parity of independent bits is 1 in at most half of the "
              "samples; the share must be in (0, 0.5], got ", share);
  // 2q(1 - q) = share, the root below 1/2.
  return 0.5 * (1.0 - std::sqrt(1.0 - 2.0 * share));
}

const OptionSchema<ReprBiasModelOptions>& ReprBiasModelOptions::schema() {
  static const auto schema =
      OptionSchema<ReprBiasModelOptions>("repr_bias_model")
          .add("inputs", &ReprBiasModelOptions::inputs_, "input bits", between<int64_t>(1, 1 << 16))
          .add("hidden", &ReprBiasModelOptions::hidden_, "hidden layer widths (ReLU)", between<int64_t>(1, 1 << 16))
          .add("features", &ReprBiasModelOptions::features_, "binary output heads", between<int64_t>(1, 1024))
          .add("seed", &ReprBiasModelOptions::seed_, "seed of the initial weights", at_least<int64_t>(0));
  return schema;
}

std::shared_ptr<models::Model> make_repr_bias_mlp(const ReprBiasModelOptions& options) {
  ReprBiasModelOptions::schema().validate(options);
  GOLGI_CHECK(!options.hidden().empty(), "repr-bias: the network needs at least one hidden layer (the representation)");
  // The registry's MLP draws its initial weights from LibTorch's default generator.
  torch::manual_seed(derive_seed(static_cast<uint64_t>(options.seed()), "repr-bias/init"));
  models::MlpOptions mlp;
  mlp.input_shape({options.inputs()}).hidden(options.hidden()).classes(2 * options.features()).activation("relu");
  return models::make_model("mlp", models::MlpOptions::schema().to_json(mlp));
}

std::string representation_hook(const ReprBiasModelOptions& options) {
  GOLGI_CHECK(!options.hidden().empty(), "repr-bias: the network needs at least one hidden layer (the representation)");
  return "layers." + std::to_string(options.hidden().size() - 1) + ".hook_post";
}

const OptionSchema<BinaryHeadsTrainOptions>& BinaryHeadsTrainOptions::schema() {
  static const auto schema =
      OptionSchema<BinaryHeadsTrainOptions>("binary_heads_train")
          .add("steps", &BinaryHeadsTrainOptions::steps_, "optimiser steps (the maximum with until_accuracy)",
               at_least<int64_t>(1))
          .add("until_accuracy", &BinaryHeadsTrainOptions::until_accuracy_,
               "stop once every trained head reaches this validation accuracy (0: off)", between(0.0, 1.0))
          .add("check_every", &BinaryHeadsTrainOptions::check_every_, "steps between criterion checks",
               at_least<int64_t>(1))
          .add("extra_steps", &BinaryHeadsTrainOptions::extra_steps_, "steps after the criterion is met",
               at_least<int64_t>(0))
          .add("batch_size", &BinaryHeadsTrainOptions::batch_size_, "samples per step", at_least<int64_t>(1))
          .add("lr", &BinaryHeadsTrainOptions::lr_, "Adam learning rate", at_least(0.0, /*inclusive=*/false))
          .add("seed", &BinaryHeadsTrainOptions::seed_, "seed of the sample order", at_least<int64_t>(0))
          .add("heads", &BinaryHeadsTrainOptions::heads_, "heads trained (empty: all)", at_least<int64_t>(0))
          .add("log_every", &BinaryHeadsTrainOptions::log_every_, "steps per history entry", at_least<int64_t>(1))
          .add("progress", &BinaryHeadsTrainOptions::progress_, "show a progress bar");
  return schema;
}

Json BinaryHeadsTraining::to_json() const {
  return {{"history", history}, {"final_loss", final_loss}, {"seconds", seconds}, {"steps", steps},
          {"criterion_step", criterion_step}};
}

namespace {
int64_t check_heads_data(const models::Model& model, const at::Tensor& inputs, const at::Tensor& targets) {
  GOLGI_CHECK(inputs.defined() && inputs.dim() >= 2 && inputs.size(0) >= 1, "repr-bias: inputs must be [n, ...], got ",
              inputs.defined() ? inputs.sizes() : at::IntArrayRef{});
  GOLGI_CHECK(targets.defined() && targets.dim() == 2 && targets.size(0) == inputs.size(0),
              "repr-bias: targets must be [", inputs.size(0), ", features], got ",
              targets.defined() ? targets.sizes() : at::IntArrayRef{});
  GOLGI_CHECK(targets.numel() == 0 || (targets.min().item<int64_t>() >= 0 && targets.max().item<int64_t>() <= 1),
              "repr-bias: targets must be 0 or 1");
  (void)model;
  return targets.size(1);
}
}  // namespace

BinaryHeadsTraining train_binary_heads(models::Model& model, const at::Tensor& inputs, const at::Tensor& targets,
                                       const BinaryHeadsTrainOptions& options, const at::Tensor& val_inputs,
                                       const at::Tensor& val_targets) {
  BinaryHeadsTrainOptions::schema().validate(options);
  const int64_t features = check_heads_data(model, inputs, targets);
  std::vector<int64_t> heads = options.heads();
  if (heads.empty())
    for (int64_t h = 0; h < features; ++h) heads.push_back(h);
  for (int64_t h : heads)
    GOLGI_CHECK(h < features, "repr-bias: head ", h, " does not exist (the targets have ", features, " features)");
  const bool criterion = options.until_accuracy() > 0;
  if (criterion) {
    GOLGI_CHECK(val_inputs.defined() && val_targets.defined(),
                "repr-bias: until_accuracy needs validation inputs and targets");
    GOLGI_CHECK(check_heads_data(model, val_inputs, val_targets) == features, "repr-bias: the validation targets have ",
                val_targets.size(1), " features but the training targets have ", features);
  }
  const auto start = std::chrono::steady_clock::now();
  const at::Tensor y = targets.to(torch::kLong);
  const int64_t n = inputs.size(0), batch = std::min(options.batch_size(), n);
  torch::optim::Adam optimizer(model.parameters(), torch::optim::AdamOptions(options.lr()));
  model.train();
  BinaryHeadsTraining out;
  std::vector<int64_t> order;
  int64_t epoch = -1, cursor = n;  // forces a fresh permutation on the first step
  double window = 0;
  int64_t in_window = 0;
  std::optional<Progress> progress;
  if (options.progress()) progress.emplace("train heads", options.steps(), "step");
  int64_t last_step = options.steps();
  for (int64_t step = 0; step < last_step; ++step) {
    if (cursor + batch > n) {
      order = permutation(n, derive_seed(static_cast<uint64_t>(options.seed()), "repr-bias/order",
                                         static_cast<uint64_t>(++epoch)));
      cursor = 0;
    }
    at::Tensor index = torch::tensor(std::vector<int64_t>(order.begin() + cursor, order.begin() + cursor + batch));
    cursor += batch;
    at::Tensor logits = model.forward(inputs.index_select(0, index));
    GOLGI_CHECK(logits.dim() == 2 && logits.size(1) == 2 * features, "repr-bias: the model outputs ", logits.sizes(),
                " but ", features, " binary heads need [batch, ", 2 * features, "] logits");
    at::Tensor yb = y.index_select(0, index);
    at::Tensor loss = torch::zeros({}, logits.options());
    for (int64_t h : heads) loss = loss + torch::nn::functional::cross_entropy(logits.narrow(1, 2 * h, 2), yb.select(1, h));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    window += loss.item<double>();
    ++in_window;
    if ((step + 1) % options.log_every() == 0) {
      out.final_loss = window / static_cast<double>(in_window);
      out.history.push_back({{"step", step + 1}, {"loss", out.final_loss}});
      window = 0;
      in_window = 0;
    }
    if (criterion && out.criterion_step < 0 && (step + 1) % options.check_every() == 0) {
      const auto accuracy = head_accuracy(model, val_inputs, val_targets);
      model.train();
      bool met = true;
      for (int64_t h : heads) met = met && accuracy[static_cast<size_t>(h)] >= options.until_accuracy();
      if (met) {
        out.criterion_step = step + 1;
        last_step = std::min(options.steps(), step + 1 + options.extra_steps());
      }
    }
    out.steps = step + 1;
    if (progress) progress->set(step + 1);
  }
  if (in_window > 0) {
    out.final_loss = window / static_cast<double>(in_window);
    out.history.push_back({{"step", out.steps}, {"loss", out.final_loss}});
  }
  if (progress) progress->finish();
  model.eval();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

std::vector<double> head_accuracy(models::Model& model, const at::Tensor& inputs, const at::Tensor& targets,
                                  int64_t batch_size) {
  const int64_t features = check_heads_data(model, inputs, targets);
  GOLGI_CHECK(batch_size >= 1, "repr-bias: batch_size must be >= 1, got ", batch_size);
  torch::NoGradGuard no_grad;
  model.eval();
  at::Tensor correct = torch::zeros({features}, torch::kLong);
  const at::Tensor y = targets.to(torch::kLong);
  for (int64_t begin = 0; begin < inputs.size(0); begin += batch_size) {
    const int64_t len = std::min(batch_size, inputs.size(0) - begin);
    at::Tensor logits = model.forward(inputs.narrow(0, begin, len));
    GOLGI_CHECK(logits.dim() == 2 && logits.size(1) == 2 * features, "repr-bias: the model outputs ", logits.sizes(),
                " but ", features, " binary heads need [batch, ", 2 * features, "] logits");
    at::Tensor predicted = logits.view({len, features, 2}).argmax(2);  // [len, F]
    correct += predicted.eq(y.narrow(0, begin, len)).sum(0);
  }
  std::vector<double> out;
  for (int64_t h = 0; h < features; ++h)
    out.push_back(static_cast<double>(correct[h].item<int64_t>()) / static_cast<double>(inputs.size(0)));
  return out;
}

at::Tensor representation(models::Model& model, const std::string& hook, const at::Tensor& inputs, int64_t batch_size) {
  GOLGI_CHECK(inputs.defined() && inputs.dim() >= 1 && inputs.size(0) >= 1, "repr-bias: inputs must be [n, ...]");
  GOLGI_CHECK(batch_size >= 1, "repr-bias: batch_size must be >= 1, got ", batch_size);
  torch::NoGradGuard no_grad;
  model.eval();
  std::vector<at::Tensor> parts;
  at::Tensor current;
  auto guard = hooks::read_hook(model, hook, [&current](const at::Tensor& a) { current = a; });
  for (int64_t begin = 0; begin < inputs.size(0); begin += batch_size) {
    const int64_t len = std::min(batch_size, inputs.size(0) - begin);
    current = at::Tensor();
    model.forward(inputs.narrow(0, begin, len));
    GOLGI_CHECK(current.defined(), "repr-bias: hook point '", hook, "' did not fire during the forward pass");
    parts.push_back(current.detach().reshape({len, -1}).to(torch::kFloat32).clone());
  }
  return torch::cat(parts, 0);
}

}  // namespace golgi::methods
