// Lottery tickets: IMP with rewinding, masked training, stability (lottery.h).
#include "golgi/methods/lottery/lottery.h"

#include <chrono>
#include <algorithm>
#include <cmath>
#include <map>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/seed.h"
#include "golgi/core/stopwatch.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/models/registry.h"
#include "golgi/train/trainer.h"

namespace golgi::methods {

namespace {

std::map<std::string, at::Tensor> by_name(const NamedTensors& tensors) {
  return std::map<std::string, at::Tensor>(tensors.begin(), tensors.end());
}

// A mask as bool, after checking that it holds only 0 and 1.
at::Tensor as_bool_mask(const at::Tensor& mask, const std::string& name) {
  GOLGI_CHECK(mask.defined(), "lottery: the mask of '", name, "' is undefined");
  if (mask.scalar_type() == torch::kBool) return mask;
  GOLGI_CHECK(mask.eq(0).logical_or(mask.eq(1)).all().item<bool>(), "lottery: the mask of '", name,
              "' must hold only 0 and 1");
  return mask.ne(0);
}

}  // namespace

std::vector<std::string> prunable_weights(const models::Model& model) {
  std::vector<std::string> names;
  for (const auto& p : model.named_parameters()) {
    const std::string& name = p.key();
    const std::string suffix = ".weight";
    const bool is_weight = name == "weight" || (name.size() > suffix.size() &&
                                                name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0);
    // 1-D weights are BatchNorm / LayerNorm scales: never pruned.
    if (is_weight && p.value().dim() >= 2) names.push_back(name);
  }
  GOLGI_CHECK(!names.empty(), "lottery: model '", model.architecture(),
              "' has no prunable weights (parameters named *.weight with 2 or more dimensions)");
  return names;
}

std::string output_weight(const models::Model& model) { return prunable_weights(model).back(); }

NamedTensors dense_masks(const models::Model& model, const std::vector<std::string>& names) {
  const auto params = model.named_parameters();
  NamedTensors masks;
  for (const auto& name : names) {
    const at::Tensor* p = params.find(name);
    GOLGI_CHECK(p != nullptr, "lottery: model '", model.architecture(), "' has no parameter '", name, "'");
    masks.emplace_back(name, torch::ones(p->sizes(), torch::kBool));
  }
  return masks;
}

NamedTensors prune_global_magnitude(const NamedTensors& weights, const NamedTensors& masks, double fraction,
                                    const std::vector<std::string>& ignore) {
  GOLGI_CHECK(fraction > 0 && fraction < 1, "lottery: the pruning fraction must be in (0, 1), got ", fraction);
  GOLGI_CHECK(!masks.empty(), "lottery: no masks given: nothing to prune");
  for (const auto& name : ignore) {
    bool found = false;
    for (const auto& [n, m] : masks) found = found || n == name;
    GOLGI_CHECK(found, "lottery: the ignored tensor '", name, "' has no mask; give its (all-ones) mask too");
  }
  auto ignored = [&](const std::string& name) { return std::find(ignore.begin(), ignore.end(), name) != ignore.end(); };
  const auto w = by_name(weights);
  std::vector<at::Tensor> bool_masks, magnitudes, remaining;
  int64_t n = 0;
  for (const auto& [name, mask] : masks) {
    at::Tensor m = as_bool_mask(mask.cpu(), name);
    bool_masks.push_back(m);
    // open_lth counts the remaining weights of every masked tensor, ignored ones included.
    n += m.sum().item<int64_t>();
    if (ignored(name)) {
      magnitudes.emplace_back();
      continue;
    }
    auto it = w.find(name);
    GOLGI_CHECK(it != w.end(), "lottery: there is a mask for '", name, "' but no weight of that name");
    GOLGI_CHECK(it->second.sizes() == mask.sizes(), "lottery: the mask of '", name, "' has shape ", mask.sizes(),
                " but the weight has ", it->second.sizes());
    // float32 -> float64 is exact, so comparisons give what they give in the weights' own dtype.
    at::Tensor a = it->second.detach().cpu().to(torch::kFloat64).abs();
    GOLGI_CHECK(torch::isfinite(a).all().item<bool>(), "lottery: weight '", name, "' has NaN or infinite values");
    magnitudes.push_back(a);
    remaining.push_back(a.masked_select(m));
  }
  GOLGI_CHECK(!remaining.empty(), "lottery: every masked tensor is ignored: nothing to prune");
  const at::Tensor pool = torch::cat(remaining);
  // open_lth: number_of_weights_to_prune = ceil(fraction * remaining), in float64.
  const auto k = static_cast<int64_t>(std::ceil(fraction * static_cast<double>(n)));
  GOLGI_CHECK(k < pool.numel(), "lottery: only ", pool.numel(), " prunable weights remain; the step would prune ",
              k + 1, " of them and leave none (lower the fraction or the number of levels)");
  const at::Tensor sorted = std::get<0>(pool.sort());
  const double threshold = sorted[k].item<double>();
  NamedTensors out;
  for (size_t i = 0; i < masks.size(); ++i)
    out.emplace_back(masks[i].first, ignored(masks[i].first)
                                         ? bool_masks[i]
                                         : bool_masks[i].logical_and(magnitudes[i].gt(threshold)));
  return out;
}

NamedTensors random_masks_like(const NamedTensors& masks, uint64_t seed) {
  NamedTensors out;
  for (size_t i = 0; i < masks.size(); ++i) {
    const auto& [name, mask] = masks[i];
    const at::Tensor m = as_bool_mask(mask.cpu(), name);
    const int64_t kept = m.sum().item<int64_t>();
    const auto perm = permutation(m.numel(), derive_seed(seed, "lottery/random-prune", i));
    at::Tensor r = torch::zeros({m.numel()}, torch::kBool);
    auto ra = r.accessor<bool, 1>();
    for (int64_t j = 0; j < kept; ++j) ra[perm[static_cast<size_t>(j)]] = true;
    out.emplace_back(name, r.view(m.sizes()));
  }
  return out;
}

int64_t remaining_weights(const NamedTensors& masks) {
  int64_t total = 0;
  for (const auto& [name, mask] : masks) total += as_bool_mask(mask, name).sum().item<int64_t>();
  return total;
}

Json sparsity_report(const NamedTensors& masks) {
  Json layers = Json::array();
  int64_t total = 0, remaining = 0;
  for (const auto& [name, mask] : masks) {
    const int64_t t = mask.numel(), r = as_bool_mask(mask, name).sum().item<int64_t>();
    total += t;
    remaining += r;
    layers.push_back({{"name", name},
                      {"total", t},
                      {"remaining", r},
                      {"sparsity", t ? 1.0 - static_cast<double>(r) / static_cast<double>(t) : 0.0}});
  }
  return {{"layers", layers},
          {"total", total},
          {"remaining", remaining},
          {"sparsity", total ? 1.0 - static_cast<double>(remaining) / static_cast<double>(total) : 0.0}};
}

double masked_distance(const NamedTensors& w1, const NamedTensors& w2, const NamedTensors& masks) {
  const auto a = by_name(w1), b = by_name(w2);
  double diff = 0, norm = 0;
  for (const auto& [name, mask] : masks) {
    auto ia = a.find(name), ib = b.find(name);
    GOLGI_CHECK(ia != a.end() && ib != b.end(), "lottery: distance: weight '", name, "' is missing from ",
                ia == a.end() ? "the first" : "the second", " set");
    GOLGI_CHECK(ia->second.sizes() == mask.sizes() && ib->second.sizes() == mask.sizes(),
                "lottery: distance: shapes of '", name, "' disagree");
    const at::Tensor m = as_bool_mask(mask, name);
    const at::Tensor x = ia->second.detach().to(torch::kFloat64).masked_select(m);
    const at::Tensor y = ib->second.detach().to(torch::kFloat64).masked_select(m);
    diff += (x - y).pow(2).sum().item<double>();
    norm += x.pow(2).sum().item<double>();
  }
  GOLGI_CHECK(norm > 0, "lottery: distance: the reference weights are all zero at the unpruned positions");
  return std::sqrt(diff / norm);
}

void save_masks(const std::string& path, const NamedTensors& masks, const Json& metadata) {
  NamedTensors u8;
  for (const auto& [name, mask] : masks) u8.emplace_back(name, as_bool_mask(mask, name).to(torch::kUInt8).contiguous().cpu());
  std::map<std::string, std::string> meta = {{"format", "golgi-lottery-masks"}};
  if (!metadata.empty()) meta["lottery"] = metadata.dump();
  io::save_tensors(path, u8, meta);
}

NamedTensors load_masks(const std::string& path) {
  NamedTensors masks;
  for (auto& [name, t] : io::load_tensors(path)) masks.emplace_back(name, as_bool_mask(t, path + ": " + name));
  GOLGI_CHECK(!masks.empty(), "lottery: the masks file ", path, " holds no tensors");
  return masks;
}

const OptionSchema<LotteryTrainOptions>& LotteryTrainOptions::schema() {
  static const auto schema =
      OptionSchema<LotteryTrainOptions>("lottery_train")
          .add("iterations", &LotteryTrainOptions::iterations_, "optimiser steps T of every training run",
               at_least<int64_t>(1))
          .add("batch_size", &LotteryTrainOptions::batch_size_, "examples per step", at_least<int64_t>(1))
          .add("optimizer", &LotteryTrainOptions::optimizer_, "optimiser", {"sgd", "adam", "adamw"})
          .add("lr", &LotteryTrainOptions::lr_, "peak learning rate", at_least(0.0, /*inclusive=*/false))
          .add("momentum", &LotteryTrainOptions::momentum_, "SGD momentum (0: none)", between(0.0, 0.999))
          .add("weight_decay", &LotteryTrainOptions::weight_decay_, "weight decay", at_least(0.0))
          .add("schedule", &LotteryTrainOptions::schedule_, "learning-rate schedule over the T iterations",
               {"constant", "cosine"})
          .add("warmup", &LotteryTrainOptions::warmup_, "linear warm-up iterations", at_least<int64_t>(0));
  return schema;
}

double lottery_lr(const LotteryTrainOptions& options, int64_t iteration) {
  const int64_t T = options.iterations();
  if (options.warmup() > 0 && iteration < options.warmup())
    return options.lr() * static_cast<double>(iteration + 1) / static_cast<double>(options.warmup());
  if (options.schedule() == "cosine")
    return options.lr() * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(iteration) / static_cast<double>(T)));
  return options.lr();
}

namespace {
train::Optimizer make_optimizer(models::Model& model, const LotteryTrainOptions& options) {
  std::vector<std::pair<std::string, at::Tensor>> params;
  for (const auto& p : model.named_parameters()) params.emplace_back(p.key(), p.value());
  return train::Optimizer(params, train::OptimizerOptions()
                                      .name(options.optimizer())
                                      .momentum(options.momentum())
                                      .weight_decay(options.weight_decay()));
}
}  // namespace

MaskedTrainer::MaskedTrainer(models::Model& model, std::shared_ptr<const data::Dataset> train,
                             const LotteryTrainOptions& options)
    : model_(model), train_(std::move(train)), options_(options),
      optimizer_((LotteryTrainOptions::schema().validate(options_), make_optimizer(model, options_))) {
  GOLGI_CHECK(train_ != nullptr && train_->size() > 0, "lottery: the training set is empty");
  GOLGI_CHECK(train_->size() >= options_.batch_size(), "lottery: batch_size ", options_.batch_size(),
              " exceeds the ", train_->size(), " training examples");
}

void MaskedTrainer::set_masks(NamedTensors masks) {
  const auto params = model_.named_parameters();
  for (auto& [name, mask] : masks) {
    const at::Tensor* p = params.find(name);
    GOLGI_CHECK(p != nullptr, "lottery: there is a mask for '", name, "' but model '", model_.architecture(),
                "' has no such parameter");
    GOLGI_CHECK(p->sizes() == mask.sizes(), "lottery: the mask of '", name, "' has shape ", mask.sizes(),
                " but the parameter has ", p->sizes());
    mask = as_bool_mask(mask, name);
  }
  masks_ = std::move(masks);
  apply_masks();
}

void MaskedTrainer::apply_masks() {
  if (masks_.empty()) return;
  torch::NoGradGuard no_grad;
  const auto params = model_.named_parameters();
  for (const auto& [name, mask] : masks_) params.find(name)->masked_fill_(mask.logical_not(), 0.0);
  // Optimiser buffers of pruned weights ("<name>.momentum", ".exp_avg", ".exp_avg_sq") are zeroed
  // too, so that a rewound state's momentum cannot move a pruned weight.
  const auto masks = by_name(masks_);
  std::map<std::string, at::Tensor> state;
  for (auto& [key, t] : optimizer_.state()) {
    at::Tensor copy = t.clone();
    const auto dot = key.rfind('.');
    if (dot != std::string::npos) {
      auto it = masks.find(key.substr(0, dot));
      if (it != masks.end() && copy.sizes() == it->second.sizes()) copy.masked_fill_(it->second.logical_not(), 0.0);
    }
    state.emplace(key, copy);
  }
  optimizer_.load_state(state);
}

void MaskedTrainer::set_order_seed(uint64_t seed) {
  order_seed_ = seed;
  cached_epoch_ = -1;
}

double MaskedTrainer::train_until(int64_t until, const std::string& label) {
  GOLGI_CHECK(until >= iteration_ && until <= options_.iterations(), "lottery: cannot train from iteration ",
              iteration_, " to ", until, " (T = ", options_.iterations(), ")");
  const int64_t B = options_.batch_size(), N = train_->size(), per_epoch = N / B;
  std::unique_ptr<Progress> progress;
  if (!label.empty()) progress = std::make_unique<Progress>(label, until - iteration_, "step");
  const auto params = model_.named_parameters();
  std::vector<std::pair<at::Tensor, at::Tensor>> masked;  // (parameter, pruned positions)
  for (const auto& [name, mask] : masks_) masked.emplace_back(*params.find(name), mask.logical_not());
  model_.train();
  double loss_sum = 0;
  const int64_t start = iteration_;
  std::vector<int64_t> ids(static_cast<size_t>(B));
  for (; iteration_ < until; ++iteration_) {
    const int64_t epoch = iteration_ / per_epoch, b = iteration_ % per_epoch;
    if (epoch != cached_epoch_) {
      order_ = data::epoch_order(N, order_seed_, epoch, true);
      cached_epoch_ = epoch;
    }
    std::copy(order_.begin() + b * B, order_.begin() + (b + 1) * B, ids.begin());
    const auto batch = train_->batch(ids);
    optimizer_.zero_grad();
    at::Tensor loss = torch::nn::functional::cross_entropy(model_.forward(batch.inputs), batch.targets);
    loss.backward();
    {
      torch::NoGradGuard no_grad;
      for (auto& [p, pruned] : masked)
        if (p.grad().defined()) p.mutable_grad().masked_fill_(pruned, 0.0);
    }
    optimizer_.step(lottery_lr(options_, iteration_));
    {
      // The update itself cannot move a pruned weight (zero gradient, zero buffers, zero weight
      // decay term), but pinning them costs little and makes "exactly 0" hold by construction.
      torch::NoGradGuard no_grad;
      for (auto& [p, pruned] : masked) p.masked_fill_(pruned, 0.0);
    }
    const double l = loss.item<double>();
    GOLGI_CHECK(std::isfinite(l), "lottery: the training loss became ", l, " at iteration ", iteration_,
                "; lower --lr");
    loss_sum += l;
    if (progress) {
      progress->advance();
      if (iteration_ % 50 == 0) progress->set_postfix("loss " + std::to_string(l).substr(0, 6));
    }
  }
  if (progress) progress->finish();
  return until > start ? loss_sum / static_cast<double>(until - start) : 0.0;
}

TrainCheckpoint MaskedTrainer::checkpoint() const {
  TrainCheckpoint c;
  for (auto& [name, t] : models::model_state(model_)) c.model.emplace_back(name, t.clone());
  for (auto& [name, t] : optimizer_.state()) c.optimizer.emplace_back(name, t.clone());
  c.iteration = iteration_;
  return c;
}

void MaskedTrainer::restore(const TrainCheckpoint& checkpoint) {
  GOLGI_CHECK(checkpoint.iteration >= 0 && checkpoint.iteration <= options_.iterations(),
              "lottery: checkpoint iteration ", checkpoint.iteration, " is outside 0..", options_.iterations());
  models::load_model_state(model_, checkpoint.model, "lottery checkpoint");
  optimizer_.load_state(by_name(checkpoint.optimizer));
  iteration_ = checkpoint.iteration;
  cached_epoch_ = -1;
  apply_masks();
}

const OptionSchema<ImpOptions>& ImpOptions::schema() {
  static const auto schema =
      OptionSchema<ImpOptions>("lottery_imp")
          .add("levels", &ImpOptions::levels_, "pruning levels after the dense run", between<int64_t>(1, 100))
          .add("fraction", &ImpOptions::fraction_, "fraction of the remaining weights pruned per level",
               between(0.0, 0.99))
          .add("rewind_iteration", &ImpOptions::rewind_iteration_,
               "iteration k of the dense run the survivors are rewound to (0: the initialisation)",
               at_least<int64_t>(0))
          .add("exclude_output", &ImpOptions::exclude_output_, "never prune the output layer")
          .add("seed", &ImpOptions::seed_, "seed of the data order (golgi prune: and of a fresh --arch model)",
               at_least<int64_t>(0))
          .add("eval_batch", &ImpOptions::eval_batch_, "evaluation batch size", at_least<int64_t>(1));
  return schema;
}

Json ImpLevel::to_json() const {
  return {{"level", level},       {"accuracy", accuracy},     {"test_loss", test_loss},
          {"train_loss", train_loss}, {"seconds", seconds}, {"sparsity", sparsity}};
}

std::vector<ImpLevel> iterative_magnitude_pruning(models::Model& model, std::shared_ptr<const data::Dataset> train,
                                                  const data::Dataset& test, const LotteryTrainOptions& train_options,
                                                  const ImpOptions& options, const ImpObserver& observer) {
  ImpOptions::schema().validate(options);
  GOLGI_CHECK(options.fraction() > 0, "lottery: the pruning fraction must be > 0");
  GOLGI_CHECK(options.rewind_iteration() < train_options.iterations(), "lottery: rewind_iteration ",
              options.rewind_iteration(), " must be below the training iterations ", train_options.iterations());
  MaskedTrainer trainer(model, std::move(train), train_options);
  trainer.set_order_seed(derive_seed(static_cast<uint64_t>(options.seed()), "lottery/order"));
  NamedTensors masks = dense_masks(model, prunable_weights(model));
  std::vector<std::string> ignore;
  if (options.exclude_output()) {
    GOLGI_CHECK(masks.size() >= 2, "lottery: model '", model.architecture(),
                "' has a single prunable weight; excluding the output layer would leave nothing to prune");
    ignore.push_back(output_weight(model));
  }
  trainer.set_masks(masks);
  const int64_t T = train_options.iterations(), k = options.rewind_iteration();
  std::vector<ImpLevel> levels;
  auto finish_level = [&](int64_t level, double train_loss, std::chrono::steady_clock::time_point start) {
    const auto eval = train::evaluate(model, test, options.eval_batch());
    ImpLevel r;
    r.level = level;
    r.accuracy = eval.accuracy;
    r.test_loss = eval.loss;
    r.train_loss = train_loss;
    r.seconds = seconds_since(start);
    r.sparsity = sparsity_report(trainer.masks());
    levels.push_back(r);
    if (observer) observer(r, model, trainer.masks());
  };

  // Level 0: the dense run, saving its state at iteration k.
  auto start = std::chrono::steady_clock::now();
  const double head_loss = trainer.train_until(k, k > 0 ? "dense 0.." + std::to_string(k) : "");
  const TrainCheckpoint rewind = trainer.checkpoint();
  const double tail_loss = trainer.train_until(T, "level 0 (dense)");
  finish_level(0, (head_loss * static_cast<double>(k) + tail_loss * static_cast<double>(T - k)) / static_cast<double>(T),
               start);

  for (int64_t level = 1; level <= options.levels(); ++level) {
    start = std::chrono::steady_clock::now();
    masks = prune_global_magnitude(models::model_state(model), trainer.masks(), options.fraction(), ignore);
    trainer.set_masks(masks);
    trainer.restore(rewind);
    const double loss = trainer.train_until(T, "level " + std::to_string(level));
    finish_level(level, loss, start);
  }
  return levels;
}

}  // namespace golgi::methods
