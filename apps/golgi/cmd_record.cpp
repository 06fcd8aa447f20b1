// golgi record: run a dataset through a model and store the activations of chosen hook points.
#include <cstdio>
#include <filesystem>

#include <torch/torch.h>

#include "cli.h"
#include "golgi/core/progress.h"
#include "golgi/core/seed.h"
#include "golgi/data/registry.h"
#include "golgi/hooks/activation_cache.h"
#include "golgi/hooks/activation_store.h"
#include "golgi/models/registry.h"
#include "golgi/train/language_model.h"

namespace golgi::cli {

namespace {
struct RecordArgs {
  std::string model, dataset, split = "test", data_dir, out, dtype = "float32";
  std::vector<std::string> hooks;
  int64_t batch_size = 256, limit = 0, shard_rows = 4096, seed = 0;
  bool batch_size_given = false;
};

// Windows per forward pass when --batch-size is not given: a window is seq_len positions, each
// holding every recorded hook, so far fewer fit than images.
constexpr int64_t kDefaultWindowBatch = 16;

// Language models: one store row per counted token (padding and document separators excluded),
// with the window index as the sample id and the token's position in its window. The windows are
// those the atlas builder streams (the card's corpus, `limit` / languages windows per language), and
// index.json's "dataset" records everything needed to rebuild them (methods/snmf/snmf_features.h).
int record_tokens(const RecordArgs& args, models::LoadedModel loaded) {
  auto& model = *loaded.model;
  const std::string model_dir = models::model_folder(args.model);
  auto lm_options = train::lm_data_options_from_card(loaded.card, model_dir);
  if (!args.dataset.empty()) lm_options.corpus = args.dataset;
  if (!args.data_dir.empty()) lm_options.data_dir = args.data_dir;
  GOLGI_CHECK(!lm_options.corpus.empty(), "the card of '", model_dir,
              "' names no training corpus; pass --dataset with a text corpus (see `golgi info`)");
  GOLGI_CHECK(train::is_text_corpus(lm_options.corpus), "'", lm_options.corpus, "' is not a text corpus; ",
              "a language model records text (see `golgi info` for the corpora)");
  GOLGI_CHECK(args.split == "train" || args.split == "val" || args.split == "test",
              "record: split must be train, val or test, got '", args.split, "'");
  auto lm = train::load_lm_data(lm_options);
  auto data = args.split == "train" ? lm.train : args.split == "val" ? lm.val : lm.test;
  const int64_t languages = std::max<int64_t>(1, static_cast<int64_t>(lm.languages.size()));
  const int64_t per_language = args.limit > 0 ? std::max<int64_t>(1, args.limit / languages) : 0;
  if (per_language > 0) data = train::per_language_subset(data, per_language);
  GOLGI_CHECK(data->size() > 0, "record: the ", lm_options.corpus, " ", args.split, " split is empty");
  const std::optional<int64_t> separator = train::document_separator(*lm.tokenizer);

  const bool all_hooks = args.hooks.empty();
  std::vector<std::string> patterns = all_hooks ? std::vector<std::string>{"**"} : args.hooks;
  torch::NoGradGuard no_grad;
  const int64_t seq_len = data->inputs().size(1) - 1;
  auto tokens_of = [&](const data::Batch& batch) { return batch.inputs.narrow(1, 0, seq_len); };
  // Token rows need [batch, pos, d] activations; with every hook selected the others (attention
  // patterns, ...) are left out, a hook asked for by name must have that layout.
  std::vector<std::string> names;
  {
    hooks::ActivationCache probe(model, patterns);
    probe.run([&] { return model.forward(tokens_of(data->range(0, 1)).clamp_min(0)); });
    for (const auto& name : probe.names()) {
      const at::Tensor& t = probe[name];
      const bool per_token = t.dim() == 3 && t.size(1) == seq_len;
      if (per_token) {
        names.push_back(name);
        continue;
      }
      GOLGI_CHECK(all_hooks, "hook point '", name, "' has shape ", t.sizes(), "; token rows need [batch, pos, d] ",
                  "activations (e.g. blocks.*.mlp.hook_post, blocks.*.hook_resid_post)");
    }
    GOLGI_CHECK(!names.empty(), "no hook point of '", model_dir, "' gives [batch, pos, d] activations to record");
  }
  hooks::ActivationCache cache(model, names, hooks::CacheOptions().stop_after_last(true));
  cache.run([&] { return model.forward(tokens_of(data->range(0, 1)).clamp_min(0)); });
  hooks::StoreConfig config;
  for (const auto& name : cache.names()) config.hooks.push_back({name, {cache[name].size(2)}});
  config.shard_rows = args.shard_rows;
  config.dtype = args.dtype;
  config.seed = static_cast<uint64_t>(args.seed);
  config.token_rows = true;
  // Folders as absolute paths, so tools run from elsewhere rebuild the same windows.
  auto absolute = [](const std::string& path) {
    return path.empty() || !std::filesystem::exists(path) ? path
                                                           : std::filesystem::absolute(path).lexically_normal().string();
  };
  config.dataset = {{"name", lm_options.corpus},
                    {"corpus", lm_options.corpus},
                    {"data_dir", absolute(lm_options.data_dir)},
                    {"split", args.split},
                    {"seed", lm_options.seed},
                    {"seq_len", lm_options.seq_len},
                    {"balance", lm_options.balance},
                    {"tokenizer", lm_options.tokenizer == "byte" ? lm_options.tokenizer : absolute(lm_options.tokenizer)},
                    {"languages", lm.languages},
                    {"limit", args.limit},
                    {"per_language", per_language},
                    {"windows", data->size()},
                    {"separator", separator ? Json(*separator) : Json(nullptr)}};
  config.model = {{"path", absolute(args.model)}, {"architecture", model.architecture()}, {"options", model.options()},
                  {"task", model.task()}};
  hooks::ActivationStoreWriter store(args.out, config);
  // Rows are ordered by (window, position), so the last committed row says where to go on: the
  // rest of its window, then the windows after it. Shards are cut by row count, so the resumed
  // store is the one an uninterrupted run writes.
  int64_t start_window = 0, skip_through = -1;
  if (store.rows_committed() > 0) {
    hooks::ActivationStoreReader committed(args.out);
    const int64_t last = store.rows_committed() - 1;
    start_window = committed.sample_ids(last, last + 1).item<int64_t>();
    skip_through = committed.positions(last, last + 1).item<int64_t>();
    std::fprintf(stderr, "resuming %s at window %lld of %lld (%lld token rows kept)\n", args.out.c_str(),
                 static_cast<long long>(start_window), static_cast<long long>(data->size()),
                 static_cast<long long>(store.rows_committed()));
  }
  Progress progress("record", data->size(), "window");
  progress.set(start_window);
  int64_t rows = store.rows_committed();
  const int64_t batch_size = args.batch_size_given ? args.batch_size : kDefaultWindowBatch;
  // Batches keep the boundaries of an uninterrupted run (so the activations are bit-identical);
  // the rows already committed are masked out of the first one.
  for (int64_t begin = start_window / batch_size * batch_size; begin < data->size(); begin += batch_size) {
    auto batch = data->range(begin, std::min(data->size(), begin + batch_size));
    const at::Tensor tokens = tokens_of(batch);
    at::Tensor counted = tokens.ge(0);
    if (separator) counted = counted & tokens.ne(*separator);
    if (begin <= start_window && start_window < begin + batch.ids.size(0)) {
      counted.narrow(0, 0, start_window - begin).fill_(false);
      if (skip_through >= 0) counted[start_window - begin].narrow(0, 0, skip_through + 1).fill_(false);
    }
    const at::Tensor flat = counted.reshape({-1}).nonzero().squeeze(1);  // row-major: (window, position)
    cache.run([&] { return model.forward(tokens.clamp_min(0)); });
    std::map<std::string, at::Tensor> per_token;
    for (const auto& name : cache.names()) {
      const at::Tensor& t = cache[name];
      per_token[name] = t.reshape({-1, t.size(2)}).index_select(0, flat);
    }
    const at::Tensor window = batch.ids.index_select(0, flat.div(seq_len, "floor"));
    const at::Tensor position = flat.remainder(seq_len);
    store.append(per_token, window, position);
    rows += flat.size(0);
    progress.set(begin + batch.ids.size(0));
    progress.set_postfix(std::to_string(rows) + " tokens");
  }
  store.finish();
  progress.finish();
  std::printf("recorded %zu hook(s) x %lld token rows of %lld windows into %s (index: %s/index.json)\n",
              config.hooks.size(), static_cast<long long>(rows), static_cast<long long>(data->size()),
              args.out.c_str(), args.out.c_str());
  return kExitOk;
}
}  // namespace

Command add_record(CLI::App& app) {
  auto args = std::make_shared<RecordArgs>();
  auto* sub = app.add_subcommand(
      "record",
      "Record hook-point activations over a dataset into an on-disk activation store: OUT/index.json plus\n"
      "numpy-readable .npy shards per hook. A killed recording resumes when run again with the same arguments.\n"
      "Language models store one row per token (padding and document separators left out) with its window\n"
      "and position; --dataset then names a text corpus (default: the card's).\n"
      "Example: golgi record --model runs/cnn-fashion-mnist --hooks 'conv*.hook_post' --out runs/acts");
  sub->add_option("--model", args->model, "model folder")->required();
  sub->add_option("--hooks", args->hooks, "hook names or globs ('*' within a dot-level, '**' across); default all")
      ->delimiter(',');
  sub->add_option("--out", args->out, "store folder")->required();
  sub->add_option("--dataset", args->dataset, "dataset (default: the one in the model card)");
  sub->add_option("--split", args->split, "dataset split")->capture_default_str();
  sub->add_option("--data-dir", args->data_dir, "dataset folder");
  sub->add_option("--limit", args->limit,
                  "only the first N samples (0: all); language models: N / languages windows per language")->check(CLI::NonNegativeNumber);
  auto* batch_option = sub->add_option("--batch-size", args->batch_size,
                                       "samples per forward pass (language models: windows, default 16)")
                           ->check(CLI::PositiveNumber)
                           ->capture_default_str();
  sub->add_option("--shard-rows", args->shard_rows, "rows per .npy shard")->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--dtype", args->dtype, "stored dtype")->check(CLI::IsMember({"float32", "float16"}))->capture_default_str();
  sub->add_option("--seed", args->seed, "seed recorded in the store")->check(CLI::NonNegativeNumber);
  return {sub, [args, batch_option] {
            seed_everything(static_cast<uint64_t>(args->seed));
            args->batch_size_given = batch_option->count() > 0;
            {
              auto lm = models::load_model(args->model);
              if (lm.model->task() == "language-model") return record_tokens(*args, std::move(lm));
            }
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
