#include "golgi/train/adversarial.h"

#include <chrono>
#include <cmath>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/seed.h"
#include "golgi/core/stopwatch.h"
#include "golgi/models/model.h"

namespace golgi::train {

const OptionSchema<PgdOptions>& PgdOptions::schema() {
  static const auto schema =
      OptionSchema<PgdOptions>("pgd")
          .add("epsilon", &PgdOptions::epsilon_, "L-inf radius in input units", at_least(0.0))
          .add("step_size", &PgdOptions::step_size_, "step alpha in input units", at_least(0.0, /*inclusive=*/false))
          .add("steps", &PgdOptions::steps_, "gradient-sign steps", at_least<int64_t>(1))
          .add("random_start", &PgdOptions::random_start_, "start from a uniform point of the eps-ball")
          .add("lower", &PgdOptions::lower_, "lowest valid input value (data bound)")
          .add("upper", &PgdOptions::upper_, "highest valid input value (data bound)")
          .add("seed", &PgdOptions::seed_, "seed of the random start", at_least<int64_t>(0));
  return schema;
}

const OptionSchema<ClassifierTrainOptions>& ClassifierTrainOptions::schema() {
  static const auto schema =
      OptionSchema<ClassifierTrainOptions>("classifier_train")
          .add("epochs", &ClassifierTrainOptions::epochs_, "passes over the training data", at_least<int64_t>(1))
          .add("batch_size", &ClassifierTrainOptions::batch_size_, "samples per step", at_least<int64_t>(1))
          .add("lr", &ClassifierTrainOptions::lr_, "Adam learning rate", at_least(0.0, /*inclusive=*/false))
          .add("weight_decay", &ClassifierTrainOptions::weight_decay_, "Adam L2 penalty", at_least(0.0))
          .add("seed", &ClassifierTrainOptions::seed_, "seed of the data order and attack starts",
               at_least<int64_t>(0))
          .add("adversarial", &ClassifierTrainOptions::adversarial_, "train on PGD examples (Madry et al. 2018)")
          .add("progress", &ClassifierTrainOptions::progress_, "show a progress bar")
          .add("label", &ClassifierTrainOptions::label_, "progress bar label");
  return schema;
}

Json ClassifierTrainOptions::to_json() const {
  Json out = schema().to_json(*this);
  if (adversarial()) out["attack"] = PgdOptions::schema().to_json(attack());
  return out;
}

Json ClassifierTrainResult::to_json() const {
  return {{"steps", steps}, {"final_loss", final_loss}, {"seconds", seconds}};
}

namespace {

void check_batch(const models::Model& model, const at::Tensor& inputs, const at::Tensor& targets,
                 const char* what) {
  GOLGI_CHECK(inputs.defined() && targets.defined(), what, ": inputs and targets must both be given");
  GOLGI_CHECK(inputs.is_floating_point(), what, ": inputs must be floating point, got ", inputs.scalar_type());
  GOLGI_CHECK(targets.dim() == 1 && targets.scalar_type() == torch::kLong, what,
              ": targets must be [batch] int64 class indices, got ", targets.sizes(), " ", targets.scalar_type());
  GOLGI_CHECK(inputs.dim() >= 1 && inputs.size(0) == targets.size(0), what, ": ", inputs.size(0), " inputs but ",
              targets.size(0), " targets");
  const auto shape = model.input_shape();
  GOLGI_CHECK(static_cast<size_t>(inputs.dim()) == shape.size() + 1, what, ": inputs ", inputs.sizes(),
              " do not match the model's per-sample shape ", at::IntArrayRef(shape));
}

}  // namespace

at::Tensor pgd_attack(models::Model& model, const at::Tensor& inputs, const at::Tensor& targets,
                      const PgdOptions& options) {
  PgdOptions::schema().validate(options);
  check_batch(model, inputs, targets, "pgd");
  GOLGI_CHECK(options.lower() < options.upper(), "pgd: the data bounds must satisfy lower < upper, got [",
              options.lower(), ", ", options.upper(), "]");
  const at::Tensor x = inputs.detach();
  if (x.numel() == 0) return x.clone();
  {
    // A small tolerance: normalised data computed in float may sit a rounding error past a bound
    // written in decimal.
    const double tolerance = 1e-4 * (options.upper() - options.lower());
    const double lo = x.min().item<double>(), hi = x.max().item<double>();
    GOLGI_CHECK(lo >= options.lower() - tolerance && hi <= options.upper() + tolerance,
                "pgd: the inputs span [", lo, ", ", hi, "] but the data bounds are [", options.lower(), ", ",
                options.upper(), "]; set pgd.lower/pgd.upper to the range of the model's inputs (normalised "
                "Fashion-MNIST: [-0.8102, 2.0227])");
  }
  const double eps = options.epsilon();
  if (eps == 0) return x.clone();
  const at::Tensor low = (x - eps).clamp_min(options.lower());
  const at::Tensor high = (x + eps).clamp_max(options.upper());

  at::Tensor adv;
  if (options.random_start()) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(options.seed()));
    const at::Tensor u = at::empty(x.sizes(), x.options()).uniform_(-eps, eps, gen);
    adv = torch::min(torch::max(x + u, low), high);
  } else {
    adv = x.clone();
  }
  for (int64_t step = 0; step < options.steps(); ++step) {
    at::Tensor site = adv.detach().requires_grad_(true);
    at::Tensor loss;
    {
      torch::AutoGradMode enable(true);
      // Summed, not averaged: only the sign of each sample's gradient is used, and a sum keeps tiny
      // per-sample gradients of a large batch away from float underflow.
      loss = torch::nn::functional::cross_entropy(
          model.forward(site), targets, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    }
    const at::Tensor grad = torch::autograd::grad({loss}, {site})[0];
    torch::NoGradGuard no_grad;
    adv = torch::min(torch::max(adv + options.step_size() * grad.sign(), low), high);
  }
  return adv.detach();
}

ClassifierTrainResult train_classifier(models::Model& model, const at::Tensor& inputs, const at::Tensor& targets,
                                       const ClassifierTrainOptions& options) {
  ClassifierTrainOptions::schema().validate(options);
  if (options.adversarial()) PgdOptions::schema().validate(options.attack());
  check_batch(model, inputs, targets, "train_classifier");
  const int64_t n = inputs.size(0);
  GOLGI_CHECK(n > 0, "train_classifier: the training set is empty");
  const auto start = std::chrono::steady_clock::now();
  const int64_t batch = std::min(options.batch_size(), n);
  const int64_t steps_per_epoch = (n + batch - 1) / batch;
  torch::optim::Adam optimizer(model.parameters(),
                               torch::optim::AdamOptions(options.lr()).weight_decay(options.weight_decay()));
  std::unique_ptr<Progress> progress;
  if (options.progress()) progress = std::make_unique<Progress>(options.label(), options.epochs() * steps_per_epoch, "step");
  ClassifierTrainResult result;
  const uint64_t seed = static_cast<uint64_t>(options.seed());
  for (int64_t epoch = 0; epoch < options.epochs(); ++epoch) {
    const std::vector<int64_t> order = permutation(n, derive_seed(seed, "classifier/order", static_cast<uint64_t>(epoch)));
    double loss_sum = 0;
    int64_t loss_count = 0;
    // The last, partial batch is kept: the small training sets of the reproductions cannot spare it.
    for (int64_t begin = 0; begin < n; begin += batch) {
      const int64_t len = std::min(batch, n - begin);
      const at::Tensor index = torch::tensor(std::vector<int64_t>(order.begin() + begin, order.begin() + begin + len));
      at::Tensor x = inputs.index_select(0, index);
      const at::Tensor y = targets.index_select(0, index);
      model.train();
      if (options.adversarial()) {
        PgdOptions attack = options.attack();
        attack.seed(static_cast<int64_t>(derive_seed(seed, "classifier/pgd", static_cast<uint64_t>(result.steps)) >> 1));
        x = pgd_attack(model, x, y, attack);
      }
      const at::Tensor loss = torch::nn::functional::cross_entropy(model.forward(x), y);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      const double value = loss.item<double>();
      GOLGI_CHECK(std::isfinite(value), "train_classifier: the loss became ", value, " at step ", result.steps,
                  "; lower the learning rate (", options.lr(), ")");
      loss_sum += value * static_cast<double>(len);
      loss_count += len;
      ++result.steps;
      if (progress) {
        progress->advance();
        if (result.steps % 20 == 0) progress->set_postfix("loss " + std::to_string(value).substr(0, 6));
      }
    }
    result.final_loss = loss_sum / static_cast<double>(loss_count);
  }
  if (progress) progress->finish();
  model.eval();
  result.seconds = seconds_since(start);
  return result;
}

double classifier_accuracy(models::Model& model, const at::Tensor& inputs, const at::Tensor& targets,
                           int64_t batch_size) {
  check_batch(model, inputs, targets, "classifier_accuracy");
  GOLGI_CHECK(batch_size >= 1, "classifier_accuracy: batch_size must be >= 1, got ", batch_size);
  const int64_t n = inputs.size(0);
  GOLGI_CHECK(n > 0, "classifier_accuracy: no samples");
  torch::NoGradGuard no_grad;
  model.eval();
  int64_t correct = 0;
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t len = std::min(batch_size, n - begin);
    correct += model.forward(inputs.narrow(0, begin, len)).argmax(1).eq(targets.narrow(0, begin, len)).sum().item<int64_t>();
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

double robust_accuracy(models::Model& model, const at::Tensor& inputs, const at::Tensor& targets,
                       const PgdOptions& attack, int64_t batch_size) {
  check_batch(model, inputs, targets, "robust_accuracy");
  GOLGI_CHECK(batch_size >= 1, "robust_accuracy: batch_size must be >= 1, got ", batch_size);
  const int64_t n = inputs.size(0);
  GOLGI_CHECK(n > 0, "robust_accuracy: no samples");
  model.eval();
  int64_t correct = 0;
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t len = std::min(batch_size, n - begin);
    const at::Tensor y = targets.narrow(0, begin, len);
    PgdOptions batch_attack = attack;
    batch_attack.seed(static_cast<int64_t>(derive_seed(static_cast<uint64_t>(attack.seed()), "robust-accuracy",
                                                       static_cast<uint64_t>(begin)) >> 1));
    const at::Tensor adv = pgd_attack(model, inputs.narrow(0, begin, len), y, batch_attack);
    torch::NoGradGuard no_grad;
    correct += model.forward(adv).argmax(1).eq(y).sum().item<int64_t>();
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

}  // namespace golgi::train
