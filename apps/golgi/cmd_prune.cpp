// golgi prune: iterative magnitude pruning with rewinding (lottery tickets, methods/lottery):
// per level a sparse model folder with its masks, and the per-layer sparsity on stdout.
#include <cstdio>

#include <fmt/core.h>

#include "cli.h"
#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/data/registry.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/methods/lottery/lottery.h"
#include "golgi/models/registry.h"

namespace golgi::cli {

namespace {

struct PruneArgs {
  std::string model, arch, model_options = "{}", dataset = "fashion-mnist", data_dir, out = "pruned";
  int64_t train_limit = 0, test_limit = 0;
};

std::string level_dir(const std::string& out, int64_t level) { return fmt::format("{}/level_{:02d}", out, level); }

}  // namespace

Command add_prune(CLI::App& app) {
  auto args = std::make_shared<PruneArgs>();
  auto* sub = app.add_subcommand(
      "prune",
      "Iterative magnitude pruning with rewinding (lottery tickets; Frankle et al. 2019, docs/methods/lottery.md).\n"
      "Trains the dense model for --iterations steps (saving its weights, optimiser state and schedule position at\n"
      "--rewind-iteration), then per level prunes --fraction of the remaining conv/linear weights globally by\n"
      "magnitude (biases and BatchNorm never), rewinds the survivors to that saved state and retrains.\n"
      "Writes OUT/level_LL/ (model.safetensors with the pruned weights at 0, model.json, masks.safetensors: one\n"
      "U8 0/1 tensor per pruned weight, named like it) for LL = 00 (dense) .. --levels, and OUT/lottery.json\n"
      "(accuracy and per-layer sparsity per level, rewritten after every level). Prints per-layer sparsity.\n"
      "Small models (LeNet-300-100 at batch 60) train fastest with the global --threads 1.\n"
      "Example: golgi --threads 1 prune --arch mlp --model-options '{\"hidden\": [300, 100]}' --train-limit 20000 \\\n"
      "           --levels 8 --rewind-iteration 100 --out runs/lenet-imp");
  sub->add_option("--model", args->model, "start from this saved model folder (its weights are W_0)");
  sub->add_option("--arch", args->arch, "or build a fresh model of this architecture (seeded by --seed; see `golgi info`)");
  sub->add_option("--model-options", args->model_options, "architecture options for --arch as JSON, e.g. '{\"hidden\": [300, 100]}'")
      ->capture_default_str();
  sub->add_option("--dataset", args->dataset, "dataset to train and test on")->capture_default_str();
  sub->add_option("--data-dir", args->data_dir, "dataset folder (default: the dataset's own location)");
  sub->add_option("--train-limit", args->train_limit, "use the first N training images (0: all)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--test-limit", args->test_limit, "evaluate on the first N test images (0: all)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--out", args->out, "output folder (created)")->capture_default_str();
  auto train_flags = std::make_shared<SchemaFlags<methods::LotteryTrainOptions>>(
      sub, methods::LotteryTrainOptions::schema(), methods::LotteryTrainOptions());
  auto imp_flags =
      std::make_shared<SchemaFlags<methods::ImpOptions>>(sub, methods::ImpOptions::schema(), methods::ImpOptions());
  return {sub, [args, train_flags, imp_flags] {
            methods::LotteryTrainOptions train_options;
            train_flags->apply(train_options);
            methods::ImpOptions options;
            imp_flags->apply(options);
            GOLGI_CHECK(args->model.empty() != args->arch.empty(),
                        "golgi prune: give exactly one of --model DIR (a saved model) or --arch NAME (a fresh one)");
            // Checked before the data loads, so a bad flag fails at once.
            methods::LotteryTrainOptions::schema().validate(train_options);
            methods::ImpOptions::schema().validate(options);
            GOLGI_CHECK(options.rewind_iteration() < train_options.iterations(), "golgi prune: --rewind-iteration ",
                        options.rewind_iteration(), " must be below --iterations ", train_options.iterations());
            const uint64_t seed = static_cast<uint64_t>(options.seed());
            seed_everything(seed);
            std::shared_ptr<models::Model> model;
            Json source;
            if (!args->model.empty()) {
              model = models::load_model(args->model).model;
              source = {{"model", args->model}};
            } else {
              Json model_options = Json::parse(args->model_options, nullptr, false);
              GOLGI_CHECK(!model_options.is_discarded() && model_options.is_object(),
                          "--model-options must be a JSON object, got '", args->model_options, "'");
              model = models::make_model(args->arch, model_options);
              source = {{"arch", args->arch}, {"options", model->options()}, {"init_seed", seed}};
            }
            GOLGI_CHECK(model->task() == "classify", "golgi prune: model '", model->architecture(),
                        "' is a ", model->task(), " model; prune trains classifiers");
            data::DataOptions data_options;
            data_options.data_dir = args->data_dir;
            data_options.seed = seed;
            std::shared_ptr<const data::Dataset> train = data::load_dataset(args->dataset, data_options);
            data_options.split = "test";
            std::shared_ptr<const data::Dataset> test = data::load_dataset(args->dataset, data_options);
            if (args->train_limit > 0 && args->train_limit < train->size()) train = train->head(args->train_limit);
            if (args->test_limit > 0 && args->test_limit < test->size()) test = test->head(args->test_limit);

            io::make_dirs(args->out);
            Json summary = {{"command", command_line()},
                            {"seed", seed},
                            {"source", source},
                            {"dataset", {{"name", args->dataset}, {"train", train->size()}, {"test", test->size()}}},
                            {"train_options", methods::LotteryTrainOptions::schema().to_json(train_options)},
                            {"imp_options", methods::ImpOptions::schema().to_json(options)},
                            {"distance", "||(w1 - w2) * m|| / ||w1 * m|| over unpruned prunable weights"},
                            {"levels", Json::array()}};
            std::printf("%-6s %9s %9s  %s\n", "level", "remaining", "accuracy", "sparsity per layer");
            std::fflush(stdout);
            methods::iterative_magnitude_pruning(
                *model, train, *test, train_options, options,
                [&](const methods::ImpLevel& level, const models::Model& trained, const methods::NamedTensors& masks) {
                  const std::string dir = level_dir(args->out, level.level);
                  Json card = {{"command", command_line()},
                               {"seed", seed},
                               {"dataset", {{"name", args->dataset}, {"train_samples", train->size()}, {"card", train->card()}}},
                               {"metrics", {{"test_accuracy", level.accuracy}, {"test_loss", level.test_loss}}},
                               {"lottery", {{"level", level.level},
                                            {"rewind_iteration", options.rewind_iteration()},
                                            {"fraction", options.fraction()},
                                            {"masks", methods::kMasksFile},
                                            {"sparsity", level.sparsity}}}};
                  models::save_model(dir, trained, card);
                  methods::save_masks(dir + "/" + methods::kMasksFile, masks,
                                      {{"level", level.level}, {"rewind_iteration", options.rewind_iteration()}});
                  Json entry = level.to_json();
                  entry["folder"] = dir;
                  summary["levels"].push_back(entry);
                  io::write_json_file(args->out + "/lottery.json", summary);
                  std::string layers;
                  for (const auto& l : level.sparsity["layers"])
                    layers += fmt::format("{} {:.1f}%  ", l["name"].get<std::string>(), 100 * l["sparsity"].get<double>());
                  std::printf("%-6lld %8.2f%% %8.2f%%  %s\n", static_cast<long long>(level.level),
                              100 * (1 - level.sparsity["sparsity"].get<double>()), 100 * level.accuracy, layers.c_str());
                  std::fflush(stdout);
                });
            std::printf("wrote %s/level_00 .. level_%02lld (model + masks) and %s/lottery.json\n", args->out.c_str(),
                        static_cast<long long>(options.levels()), args->out.c_str());
            return kExitOk;
          }};
}

}  // namespace golgi::cli
