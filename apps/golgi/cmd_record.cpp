// golgi record: run a dataset through a model and store the activations of chosen hook points.
#include <cstdio>

#include <torch/torch.h>

#include "cli.h"
#include "golgi/core/progress.h"
#include "golgi/core/seed.h"
#include "golgi/data/registry.h"
#include "golgi/hooks/activation_cache.h"
#include "golgi/hooks/activation_store.h"
#include "golgi/models/registry.h"

namespace golgi::cli {

namespace {
struct RecordArgs {
  std::string model, dataset, split = "test", data_dir, out, dtype = "float32";
  std::vector<std::string> hooks;
  int64_t batch_size = 256, limit = 0, shard_rows = 4096, seed = 0;
};
}  // namespace

Command add_record(CLI::App& app) {
  auto args = std::make_shared<RecordArgs>();
  auto* sub = app.add_subcommand(
      "record",
      "Record hook-point activations over a dataset into an on-disk activation store: OUT/index.json plus\n"
      "numpy-readable .npy shards per hook. A killed recording resumes when run again with the same arguments.\n"
      "Example: golgi record --model runs/cnn-fashion-mnist --hooks 'conv*.hook_post' --out runs/acts");
  sub->add_option("--model", args->model, "model folder")->required();
  sub->add_option("--hooks", args->hooks, "hook names or globs ('*' within a dot-level, '**' across); default all")
      ->delimiter(',');
  sub->add_option("--out", args->out, "store folder")->required();
  sub->add_option("--dataset", args->dataset, "dataset (default: the one in the model card)");
  sub->add_option("--split", args->split, "dataset split")->capture_default_str();
  sub->add_option("--data-dir", args->data_dir, "dataset folder");
  sub->add_option("--limit", args->limit, "only the first N samples (0: all)")->check(CLI::NonNegativeNumber);
  sub->add_option("--batch-size", args->batch_size, "samples per forward pass")->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--shard-rows", args->shard_rows, "rows per .npy shard")->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--dtype", args->dtype, "stored dtype")->check(CLI::IsMember({"float32", "float16"}))->capture_default_str();
  sub->add_option("--seed", args->seed, "seed recorded in the store")->check(CLI::NonNegativeNumber);
  return {sub, [args] {
            seed_everything(static_cast<uint64_t>(args->seed));
            auto loaded = load_model_and_data(args->model, args->dataset, args->split, args->data_dir, args->limit);
            auto& model = *loaded.model;
            const std::string& dataset = loaded.dataset;
            const auto& data = loaded.data;
            std::vector<std::string> patterns = args->hooks.empty() ? std::vector<std::string>{"**"} : args->hooks;

            hooks::ActivationCache cache(model, patterns, hooks::CacheOptions().stop_after_last(true));
            // One sample through the model tells every hook's per-row shape.
            torch::NoGradGuard no_grad;
            cache.run([&] { return model.forward(data->range(0, 1).inputs); });
            hooks::StoreConfig config;
            for (const auto& name : cache.names()) {
              auto shape = cache[name].sizes().vec();
              config.hooks.push_back({name, {shape.begin() + 1, shape.end()}});
            }
            config.shard_rows = args->shard_rows;
            config.dtype = args->dtype;
            config.seed = static_cast<uint64_t>(args->seed);
            config.dataset = {{"name", dataset}, {"split", args->split}, {"samples", data->size()}};
            config.model = {{"path", args->model}, {"architecture", model.architecture()}, {"options", model.options()}};
            hooks::ActivationStoreWriter store(args->out, config);
            int64_t start = store.rows_committed();
            if (store.resumed())
              std::fprintf(stderr, "resuming %s at sample %lld of %lld\n", args->out.c_str(),
                           static_cast<long long>(start), static_cast<long long>(data->size()));
            Progress progress("record", data->size(), "sample");
            progress.set(start);
            for (int64_t begin = start; begin < data->size(); begin += args->batch_size) {
              auto batch = data->range(begin, std::min(data->size(), begin + args->batch_size));
              cache.run([&] { return model.forward(batch.inputs); });
              store.append(cache.tensors(), batch.ids);
              progress.set(begin + batch.ids.size(0));
            }
            store.finish();
            progress.finish();
            std::printf("recorded %zu hook(s) x %lld samples into %s (index: %s/index.json)\n", config.hooks.size(),
                        static_cast<long long>(data->size()), args->out.c_str(), args->out.c_str());
            return kExitOk;
          }};
}

}  // namespace golgi::cli
