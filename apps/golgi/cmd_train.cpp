// golgi train: train a registered model on a registered dataset, with checkpoints and --resume.
#include <cstdio>

#include <fmt/core.h>

#include "cli.h"
#include "golgi/core/json.h"
#include "golgi/core/runtime.h"
#include "golgi/models/registry.h"
#include "golgi/train/trainer.h"

namespace golgi::cli {

namespace {
struct TrainArgs {
  std::string model_options = "{}";
  bool resume = false;
};
}  // namespace

Command add_train(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  auto* sub = app.add_subcommand(
      "train",
      "Train a model and write OUT/model.safetensors, OUT/model.json (its card), OUT/metrics.json and\n"
      "OUT/checkpoint.safetensors. Ctrl-C saves a checkpoint; --resume continues a stopped or killed run to\n"
      "the same final weights (same seed; use --threads 1 for bit-identical results).\n"
      "Example: golgi train --model cnn --dataset fashion-mnist");
  auto flags = std::make_shared<SchemaFlags<train::TrainOptions>>(sub, train::TrainOptions::schema(),
                                                                  train::TrainOptions(), std::vector<std::string>{"threads"});
  sub->add_option("--model-options", args->model_options,
                  "architecture options as JSON, e.g. '{\"channels\": [16, 32]}' (see `golgi info`)");
  sub->add_flag("--resume", args->resume, "continue from OUT/checkpoint.safetensors if it exists");
  return {sub, [args, flags] {
            train::TrainOptions options;
            flags->apply(options);
            options.threads(threads());
            Json model_options = Json::parse(args->model_options, nullptr, false);
            GOLGI_CHECK(!model_options.is_discarded() && model_options.is_object(),
                        "--model-options must be a JSON object, got '", args->model_options, "'");
            auto result = train::train(options, model_options, command_line(), args->resume);
            if (result.interrupted) {
              std::fprintf(stderr, "interrupted at step %lld; checkpoint saved in %s (continue with --resume)\n",
                           static_cast<long long>(result.steps), result.out_dir.c_str());
              return kExitInterrupted;
            }
            if (!result.finished) {
              std::printf("stopped at step %lld (--max-steps); checkpoint in %s/checkpoint.safetensors\n",
                          static_cast<long long>(result.steps), result.out_dir.c_str());
              return kExitOk;
            }
            if (!result.lm_test.is_null()) {
              std::string per;
              for (const auto& [lang, m] : result.metrics["val"]["per_language"].items())
                per += fmt::format(" {} {:.3f}", lang, m["bits_per_byte"].get<double>());
              std::printf("val %.3f bits/byte, test %.3f bits/byte after %lld steps in %.0f s\nval per language:%s\n",
                          result.metrics["val"]["bits_per_byte"].get<double>(), result.lm_test["bits_per_byte"].get<double>(),
                          static_cast<long long>(result.steps), result.metrics["seconds"].get<double>(), per.c_str());
            } else {
              std::printf("test accuracy %.2f%% (loss %.4f) after %lld steps in %.0f s\n", 100 * result.test.accuracy,
                          result.test.loss, static_cast<long long>(result.steps),
                          result.metrics["seconds"].get<double>());
            }
            std::printf("model:   %s/model.safetensors (card: %s/model.json)\nmetrics: %s/metrics.json\n",
                        result.out_dir.c_str(), result.out_dir.c_str(), result.out_dir.c_str());
            return kExitOk;
          }};
}

}  // namespace golgi::cli
