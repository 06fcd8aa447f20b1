#include "golgi/train/trainer.h"

#include <chrono>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "golgi/core/progress.h"
#include "golgi/core/runtime.h"
#include "golgi/core/seed.h"
#include "golgi/core/stop_signal.h"
#include "golgi/core/version.h"
#include "golgi/core/strings.h"
#include "golgi/data/registry.h"
#include "golgi/data/text_corpus.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/safetensors.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/models/registry.h"
#include "golgi/train/language_model.h"
#include "golgi/train/optimizer.h"
#include "golgi/train/schedule.h"

namespace golgi::train {

const OptionSchema<TrainOptions>& TrainOptions::schema() {
  static const auto schema = OptionSchema<TrainOptions>("train")
      .add("model", &TrainOptions::model_, "architecture (see `golgi info`)")
      .add("dataset", &TrainOptions::dataset_, "dataset (see `golgi info`)")
      .add("data_dir", &TrainOptions::data_dir_, "dataset folder (empty: the dataset's default)")
      .add("out", &TrainOptions::out_, "output folder (empty: runs/<model>-<dataset>)")
      .add("epochs", &TrainOptions::epochs_, "passes over the training set", between<int64_t>(1, 100000))
      .add("batch_size", &TrainOptions::batch_size_, "samples per step", between<int64_t>(1, 1 << 20))
      .add("optimizer", &TrainOptions::optimizer_, "optimiser", {"sgd", "adam", "adamw"})
      .add("lr", &TrainOptions::lr_, "peak learning rate", Range<double>{0.0, 10.0, false, true})
      .add("min_lr", &TrainOptions::min_lr_, "final learning rate of the cosine schedule", at_least(0.0))
      .add("weight_decay", &TrainOptions::weight_decay_, "weight decay (decoupled for adamw, L2 otherwise)",
           at_least(0.0))
      .add("momentum", &TrainOptions::momentum_, "SGD momentum", Range<double>{0.0, 1.0, true, false})
      .add("nesterov", &TrainOptions::nesterov_, "Nesterov momentum for SGD")
      .add("schedule", &TrainOptions::schedule_, "learning-rate schedule", {"constant", "step", "cosine", "onecycle"})
      .add("warmup_steps", &TrainOptions::warmup_steps_, "linear warm-up steps", at_least<int64_t>(0))
      .add("step_size", &TrainOptions::step_size_, "steps between decays of the step schedule", at_least<int64_t>(1))
      .add("gamma", &TrainOptions::gamma_, "decay factor of the step schedule", Range<double>{0.0, 1.0, false, true})
      .add("grad_clip", &TrainOptions::grad_clip_, "clip the global gradient norm to this (0: off)", at_least(0.0))
      .add("checkpoint_every", &TrainOptions::checkpoint_every_, "steps between checkpoints (0: epoch ends only)",
           at_least<int64_t>(0))
      .add("train_limit", &TrainOptions::train_limit_, "use the first N training samples (0: all)", at_least<int64_t>(0))
      .add("test_limit", &TrainOptions::test_limit_, "evaluate on the first N test samples (0: all)", at_least<int64_t>(0))
      .add("seed", &TrainOptions::seed_, "seed of every random stream", at_least<int64_t>(0))
      .add("threads", &TrainOptions::threads_, "intra-op threads (0: all cores)", at_least<int64_t>(0))
      .add("max_steps", &TrainOptions::max_steps_, "stop after this many steps, keeping a checkpoint (0: no limit)",
           at_least<int64_t>(0))
      .add("init_from", &TrainOptions::init_from_,
           "start from the weights of this saved model (same architecture and options; fine-tuning or continued "
           "training with a new schedule)")
      .add("steps", &TrainOptions::steps_, "train for exactly this many steps (0: epochs decide)", at_least<int64_t>(0))
      .add("seq_len", &TrainOptions::seq_len_, "language models: tokens per training window", at_least<int64_t>(1))
      .add("tokenizer", &TrainOptions::tokenizer_, "language models: 'byte' or a tokenizer folder")
      .add("balance", &TrainOptions::balance_,
           "language models: a language's share of training windows grows as (its windows)^balance (1: natural mix)",
           Range<double>{0.0, 1.0, false, true});
  return schema;
}

Json EvalResult::to_json() const {
  return {{"samples", samples}, {"loss", loss}, {"accuracy", accuracy}, {"per_class_accuracy", per_class_accuracy}};
}

EvalResult evaluate(models::Model& model, const data::Dataset& dataset, int64_t batch_size) {
  GOLGI_CHECK(batch_size > 0, "batch_size must be > 0, got ", batch_size);
  torch::NoGradGuard no_grad;
  bool was_training = model.is_training();
  model.eval();
  EvalResult r;
  const int64_t classes = std::max<int64_t>(dataset.num_classes(), 1);
  std::vector<double> correct_per(classes, 0), count_per(classes, 0);
  double loss_sum = 0, correct = 0;
  for (int64_t begin = 0; begin < dataset.size(); begin += batch_size) {
    auto batch = dataset.range(begin, std::min(dataset.size(), begin + batch_size));
    at::Tensor logits = model.forward(batch.inputs);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, batch.targets, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    at::Tensor hit = logits.argmax(1).eq(batch.targets);
    correct += hit.sum().item<double>();
    auto targets = batch.targets.accessor<int64_t, 1>();
    auto hits = hit.accessor<bool, 1>();
    for (int64_t i = 0; i < targets.size(0); ++i) {
      if (targets[i] < classes) {
        count_per[targets[i]] += 1;
        correct_per[targets[i]] += hits[i];
      }
    }
  }
  r.samples = dataset.size();
  r.loss = r.samples ? loss_sum / r.samples : 0;
  r.accuracy = r.samples ? correct / r.samples : 0;
  for (int64_t c = 0; c < classes; ++c) r.per_class_accuracy.push_back(count_per[c] ? correct_per[c] / count_per[c] : 0);
  if (was_training) model.train();
  return r;
}

std::string output_dir(const TrainOptions& options) {
  return options.out().empty() ? "runs/" + options.model() + "-" + options.dataset() : options.out();
}

namespace {

// Everything about the loop's position that a checkpoint must carry besides tensors.
struct LoopState {
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t batch = 0;  // next batch index within `epoch`
  double epoch_loss_sum = 0;
  int64_t epoch_samples = 0;
  double seconds = 0;  // training time spent before this process
  Json history = Json::array();
};

Json state_json(const LoopState& s, const Json& options, const Json& model_options) {
  return {{"step", s.step},
          {"epoch", s.epoch},
          {"batch", s.batch},
          {"epoch_loss_sum", s.epoch_loss_sum},
          {"epoch_samples", s.epoch_samples},
          {"seconds", s.seconds},
          {"history", s.history},
          {"options", options},
          {"model_options", model_options}};
}

void save_checkpoint(const std::string& path, const models::Model& model, const Optimizer& optimizer,
                     const LoopState& state, const Json& options, const Json& model_options) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (auto& [name, t] : models::model_state(model)) tensors.emplace_back("model." + name, t.contiguous());
  for (auto& [name, t] : optimizer.state()) tensors.emplace_back("optim." + name, t.contiguous());
  tensors.emplace_back("rng.cpu", at::detail::getDefaultCPUGenerator().get_state());
  io::save_tensors(path, tensors, {{"format", "golgi-checkpoint"}, {"state", state_json(state, options, model_options).dump()}});
}

// Options that may differ between the original run and its resumption without changing the result.
Json comparable_options(Json options) {
  options.erase("threads");
  options.erase("max_steps");
  options.erase("out");
  options.erase("data_dir");
  return options;
}

}  // namespace

TrainResult train(const TrainOptions& options, const Json& model_options, const std::string& command, bool resume) {
  TrainOptions::schema().validate(options);
  const Json options_json = TrainOptions::schema().to_json(options);
  set_threads(static_cast<int>(options.threads()));
  seed_everything(static_cast<uint64_t>(options.seed()));

  // Language models train on a text corpus; classifiers on a dataset.
  const bool language_model = is_text_corpus(options.dataset());
  std::shared_ptr<data::Dataset> train_set, test_set;
  LmData lm;
  Json mopts = model_options.is_null() ? Json::object() : model_options;
  auto defaults = models::model_registry().get(options.model()).default_options();
  if (language_model) {
    GOLGI_CHECK(defaults.contains("vocab_size"), "dataset '", options.dataset(), "' is a text corpus, but model '",
                options.model(), "' is not a language model; use gpt2 or llama");
    LmDataOptions lm_options;
    lm_options.corpus = options.dataset();
    lm_options.data_dir = options.data_dir();
    lm_options.tokenizer = options.tokenizer();
    lm_options.seed = static_cast<uint64_t>(options.seed());
    lm_options.seq_len = options.seq_len();
    lm_options.balance = options.balance();
    lm = load_lm_data(lm_options);
    train_set = lm.train;
    test_set = lm.val;  // per-epoch metrics; the test split is measured once at the end
    if (!mopts.contains("vocab_size")) mopts["vocab_size"] = lm.tokenizer->vocab_size();
    if (!mopts.contains("n_ctx") && defaults.value("n_ctx", int64_t{0}) < options.seq_len()) mopts["n_ctx"] = options.seq_len();
  } else {
    GOLGI_CHECK(!defaults.contains("vocab_size"), "model '", options.model(), "' is a language model; train it on a ",
                "text corpus (", join(data::text_corpus_registry().names(), ", "), ")");
    data::DataOptions data_options;
    data_options.data_dir = options.data_dir();
    data_options.seed = static_cast<uint64_t>(options.seed());
    data_options.split = "train";
    train_set = data::load_dataset(options.dataset(), data_options);
    data_options.split = "test";
    test_set = data::load_dataset(options.dataset(), data_options);
    // Adapt the model's input and output to the dataset unless the user set them.
    auto shape = train_set->sample_shape();
    if (defaults.contains("classes") && !mopts.contains("classes")) mopts["classes"] = train_set->num_classes();
    if (defaults.contains("input_shape") && !mopts.contains("input_shape")) mopts["input_shape"] = shape;
    if (shape.size() == 3) {
      if (defaults.contains("in_channels") && !mopts.contains("in_channels")) mopts["in_channels"] = shape[0];
      if (defaults.contains("image_size") && !mopts.contains("image_size")) mopts["image_size"] = shape[1];
    }
  }
  if (language_model) {
    train_set = spread_subset(train_set, options.train_limit());
    // Windows are grouped by language: limits take an even spread so every language stays measured.
    test_set = spread_subset(test_set, options.test_limit());
    lm.test = spread_subset(lm.test, options.test_limit());
  } else {
    if (options.train_limit() > 0 && options.train_limit() < train_set->size()) train_set = train_set->head(options.train_limit());
    if (options.test_limit() > 0 && options.test_limit() < test_set->size()) test_set = test_set->head(options.test_limit());
  }

  auto model = models::make_model(options.model(), mopts);
  if (!options.init_from().empty()) {
    // The saved model's options win over the defaults, so its weights fit; explicit model options
    // that differ from it are an error.
    auto start = models::load_model(options.init_from());
    GOLGI_CHECK(start.model->architecture() == options.model(), "--init-from '", options.init_from(), "' is a ",
                start.model->architecture(), " model, not ", options.model());
    Json merged = start.model->options();
    for (const auto& [key, value] : mopts.items()) {
      if (model_options.is_object() && model_options.contains(key))
        GOLGI_CHECK(merged[key] == value, "--init-from '", options.init_from(), "' has ", key, " = ", merged[key].dump(),
                    " but the model options ask for ", value.dump());
    }
    model = models::make_model(options.model(), merged);
    models::load_model_state(*model, models::model_state(*start.model), options.init_from());
  }
  const Json full_model_options = model->options();
  if (language_model)
    GOLGI_CHECK(full_model_options.value("n_ctx", int64_t{0}) >= options.seq_len(), "model n_ctx (",
                full_model_options.value("n_ctx", int64_t{0}), ") is shorter than seq_len (", options.seq_len(), ")");
  // One epoch-end (and final) measurement: val/test metrics as JSON.
  auto measure = [&](const data::Dataset& set) -> Json {
    if (language_model) return evaluate_lm(*model, set, lm.token_bytes, lm.languages).to_json();
    return evaluate(*model, set).to_json();
  };

  std::vector<std::pair<std::string, at::Tensor>> named_params;
  std::vector<at::Tensor> params;
  for (auto& p : model->named_parameters()) {
    named_params.emplace_back(p.key(), p.value());
    params.push_back(p.value());
  }
  Optimizer optimizer(named_params, OptimizerOptions()
                                        .name(options.optimizer())
                                        .weight_decay(options.weight_decay())
                                        .momentum(options.momentum())
                                        .nesterov(options.nesterov()));
  ScheduleOptions schedule = ScheduleOptions()
                                 .name(options.schedule())
                                 .lr(options.lr())
                                 .min_lr(options.min_lr())
                                 .warmup_steps(options.warmup_steps())
                                 .step_size(options.step_size())
                                 .gamma(options.gamma());

  const std::string out = output_dir(options);
  io::make_dirs(out);
  const std::string checkpoint_path = out + "/checkpoint.safetensors";
  const int64_t n = train_set->size();
  const int64_t batches = (n + options.batch_size() - 1) / options.batch_size();
  const int64_t total_steps = options.steps() > 0 ? options.steps() : batches * options.epochs();
  const int64_t epochs = options.steps() > 0 ? (options.steps() + batches - 1) / batches : options.epochs();

  TrainResult result;
  result.out_dir = out;
  LoopState state;
  if (resume && io::file_exists(checkpoint_path)) {
    std::map<std::string, std::string> metadata;
    auto tensors = io::load_tensors(checkpoint_path, &metadata);
    GOLGI_CHECK(metadata.count("state"), "'", checkpoint_path, "' is not a golgi training checkpoint (no state)");
    Json saved = Json::parse(metadata["state"], nullptr, false);
    GOLGI_CHECK(!saved.is_discarded(), "'", checkpoint_path, "' has a corrupt state record");
    GOLGI_CHECK(comparable_options(saved["options"]) == comparable_options(options_json), "cannot resume '",
                checkpoint_path, "': it was trained with options ", comparable_options(saved["options"]).dump(),
                " but this run has ", comparable_options(options_json).dump(), "; use the same options or another --out");
    GOLGI_CHECK(saved["model_options"] == full_model_options, "cannot resume '", checkpoint_path,
                "': its model options ", saved["model_options"].dump(), " differ from ", full_model_options.dump());
    std::vector<std::pair<std::string, at::Tensor>> model_part;
    std::map<std::string, at::Tensor> optim_part;
    at::Tensor rng;
    for (auto& [name, t] : tensors) {
      if (starts_with(name, "model.")) model_part.emplace_back(name.substr(6), t);
      else if (starts_with(name, "optim.")) optim_part[name.substr(6)] = t;
      else if (name == "rng.cpu") rng = t;
    }
    models::load_model_state(*model, model_part, checkpoint_path);
    optimizer.load_state(optim_part);
    GOLGI_CHECK(rng.defined(), "'", checkpoint_path, "' lacks the generator state 'rng.cpu'");
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(rng);
    state.step = saved["step"];
    state.epoch = saved["epoch"];
    state.batch = saved["batch"];
    state.epoch_loss_sum = saved["epoch_loss_sum"];
    state.epoch_samples = saved["epoch_samples"];
    state.seconds = saved["seconds"];
    state.history = saved["history"];
    result.resumed = true;
    if (!progress_quiet())
      fmt::print(stderr, "resuming {} at step {} (epoch {}, batch {})\n", checkpoint_path, state.step, state.epoch + 1,
                 state.batch);
  }

  StopSignalScope signals;
  auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] { return state.seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  auto checkpoint = [&] {
    LoopState snapshot = state;
    snapshot.seconds = elapsed();
    save_checkpoint(checkpoint_path, *model, optimizer, snapshot, options_json, full_model_options);
  };

  Json last_measured;  // the latest epoch-end measurement (reused at the end when it is current)
  Progress progress("train " + options.model(), total_steps, "step");
  progress.set(state.step);
  model->train();
  bool stopped = false;
  for (; state.epoch < epochs && !stopped; ++state.epoch) {
    auto order = data::epoch_order(n, static_cast<uint64_t>(options.seed()), state.epoch, /*shuffle=*/true);
    for (; state.batch < batches && state.step < total_steps; ++state.batch) {
      int64_t begin = state.batch * options.batch_size();
      std::vector<int64_t> ids(order.begin() + begin, order.begin() + std::min(n, begin + options.batch_size()));
      auto batch = train_set->batch(ids);
      double lr = learning_rate(schedule, state.step, total_steps);
      optimizer.zero_grad();
      at::Tensor loss = language_model ? lm_loss(*model, batch.inputs)
                                       : torch::nn::functional::cross_entropy(model->forward(batch.inputs), batch.targets);
      double loss_value = loss.item<double>();
      GOLGI_CHECK(std::isfinite(loss_value), "training diverged: loss is ", loss_value, " at step ", state.step,
                  " (lr ", lr, "); lower --lr or set --grad-clip");
      loss.backward();
      if (options.grad_clip() > 0) clip_grad_norm(params, options.grad_clip());
      optimizer.step(lr);
      state.step += 1;
      state.epoch_loss_sum += loss_value * static_cast<double>(ids.size());
      state.epoch_samples += static_cast<int64_t>(ids.size());
      progress.set_postfix(fmt::format("epoch {}/{}, loss {:.4f}, lr {:.2e}", state.epoch + 1, epochs,
                                       loss_value, lr));
      progress.set(state.step);
      bool last_batch = state.batch + 1 == batches || state.step == total_steps;
      if (stop_requested() || (options.max_steps() > 0 && state.step >= options.max_steps())) {
        state.batch += 1;  // the checkpoint records the next batch to run
        checkpoint();
        result.interrupted = stop_requested() != 0;
        stopped = true;
        break;
      }
      if (!last_batch && options.checkpoint_every() > 0 && state.step % options.checkpoint_every() == 0) {
        state.batch += 1;
        checkpoint();
        state.batch -= 1;
      }
    }
    if (stopped) break;
    Json measured = measure(*test_set);
    last_measured = {{"step", state.step}, {"metrics", measured}};
    Json entry = {{"epoch", state.epoch + 1},
                  {"step", state.step},
                  {"train_loss", state.epoch_samples ? state.epoch_loss_sum / state.epoch_samples : 0.0},
                  {"seconds", elapsed()}};
    if (language_model) {
      entry["val_loss"] = measured["loss"];
      entry["val_bits_per_byte"] = measured["bits_per_byte"];
      Json per = Json::object();
      for (const auto& [lang, m] : measured["per_language"].items()) per[lang] = m["bits_per_byte"];
      entry["val_bits_per_byte_per_language"] = per;
      progress.message(fmt::format("epoch {}/{} (step {}): train loss {:.4f}, val loss {:.4f}, val {:.3f} bits/byte",
                                   state.epoch + 1, epochs, state.step, entry["train_loss"].get<double>(),
                                   measured["loss"].get<double>(), measured["bits_per_byte"].get<double>()));
    } else {
      entry["test_loss"] = measured["loss"];
      entry["test_accuracy"] = measured["accuracy"];
      progress.message(fmt::format("epoch {}/{}: train loss {:.4f}, test loss {:.4f}, test accuracy {:.2f}%",
                                   state.epoch + 1, epochs, entry["train_loss"].get<double>(),
                                   measured["loss"].get<double>(), 100 * measured["accuracy"].get<double>()));
    }
    state.history.push_back(entry);
    state.batch = 0;
    state.epoch_loss_sum = 0;
    state.epoch_samples = 0;
    LoopState next = state;
    next.epoch += 1;
    std::swap(next, state);
    checkpoint();
    std::swap(next, state);
  }
  progress.finish();

  result.steps = state.step;
  result.metrics = {{"seed", options.seed()},
                    {"command", command},
                    {"options", options_json},
                    {"model", options.model()},
                    {"model_options", full_model_options},
                    {"dataset", {{"name", options.dataset()}, {"train_samples", n},
                                 {language_model ? "val_samples" : "test_samples", test_set->size()}}},
                    {"steps", state.step},
                    {"threads", threads()},
                    {"seconds", elapsed()},
                    {"history", state.history},
                    {"finished", !stopped}};
  if (stopped) {
    io::write_json_file(out + "/metrics.json", result.metrics);
    return result;
  }
  result.finished = true;
  Json card_metrics = {{"steps", state.step}, {"train_seconds", elapsed()}};
  Json dataset_card = train_set->card();
  if (language_model) {
    // Final measurements on the val and test splits (an even spread of test_limit windows when set).
    const bool current = !last_measured.is_null() && last_measured["step"] == state.step;
    Json val = current ? last_measured["metrics"] : evaluate_lm(*model, *test_set, lm.token_bytes, lm.languages).to_json();
    result.lm_test = evaluate_lm(*model, *lm.test, lm.token_bytes, lm.languages).to_json();
    result.metrics["val"] = val;
    result.metrics["test"] = result.lm_test;
    card_metrics["val"] = val;
    card_metrics["test"] = result.lm_test;
    dataset_card = lm.card;
  } else {
    result.test = evaluate(*model, *test_set);
    result.metrics["test"] = result.test.to_json();
    card_metrics["test_accuracy"] = result.test.accuracy;
    card_metrics["test_loss"] = result.test.loss;
  }
  io::write_json_file(out + "/metrics.json", result.metrics);
  Json card = {{"command", command},
               {"seed", options.seed()},
               {"golgi_version", kVersion},
               {"train_options", options_json},
               {"dataset", {{"name", options.dataset()}, {"card", dataset_card}}},
               {"metrics", card_metrics}};
  models::save_model(out, *model, card);
  if (language_model) save_lm_tokenizer(out, *lm.tokenizer);
  return result;
}

}  // namespace golgi::train
