// golgi eval: loss and accuracy of a saved model on a dataset split.
#include <cstdio>

#include "cli.h"
#include "golgi/core/json.h"
#include "golgi/data/registry.h"
#include "golgi/io/json_file.h"
#include "golgi/models/registry.h"
#include "golgi/train/trainer.h"

namespace golgi::cli {

namespace {
struct EvalArgs {
  std::string model, dataset, split = "test", data_dir, out;
  int64_t batch_size = 256, limit = 0;
};
}  // namespace

Command add_eval(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  auto* sub = app.add_subcommand("eval", "Evaluate a saved model (a folder with model.json) on a dataset split and "
                                         "print loss, accuracy and per-class accuracy as JSON.");
  sub->add_option("--model", args->model, "model folder")->required();
  sub->add_option("--dataset", args->dataset, "dataset (default: the one in the model card)");
  sub->add_option("--split", args->split, "dataset split")->capture_default_str();
  sub->add_option("--data-dir", args->data_dir, "dataset folder (default: the dataset's own)");
  sub->add_option("--batch-size", args->batch_size, "samples per forward pass")->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--limit", args->limit, "only the first N samples (0: all)")->check(CLI::NonNegativeNumber);
  sub->add_option("--out", args->out, "also write the JSON to this file");
  return {sub, [args] {
            auto loaded = load_model_and_data(args->model, args->dataset, args->split, args->data_dir, args->limit);
            auto r = train::evaluate(*loaded.model, *loaded.data, args->batch_size);
            Json out = r.to_json();
            out["model"] = args->model;
            out["dataset"] = loaded.dataset;
            out["split"] = args->split;
            if (!args->out.empty()) io::write_json_file(args->out, out);
            std::printf("%s\n", out.dump(2).c_str());
            return kExitOk;
          }};
}

}  // namespace golgi::cli
