// golgi sae: sparse autoencoders on the rows of an activation store (methods/sae/sae.h, paper id
// `sae-select`): `train` one within a memory budget, with checkpoints and resume; `eval` a saved
// one (FVU, L0, dead fraction). With --annotate MODEL_DIR either also writes MODEL_DIR/sae.json,
// each live latent's top-activating examples, for the atlas annotator "sae".
#include <algorithm>
#include <filesystem>
#include <cctype>
#include <cmath>
#include <cstdio>

#include <fmt/core.h>
#include <torch/torch.h>

#include "cli.h"
#include "golgi/core/byte_size.h"
#include "golgi/core/stop_signal.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/strings.h"
#include "golgi/hooks/activation_store.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/methods/sae/sae.h"
#include "golgi/methods/snmf/snmf_features.h"

namespace golgi::cli {

namespace {

using methods::SaeMetrics;
using methods::SaeOptions;
using methods::SparseAutoencoder;

// The store's rows of one hook, checked to be vectors.
struct StoreRows {
  std::shared_ptr<hooks::ActivationStoreReader> reader;
  int64_t rows = 0, d_in = 0;
  methods::SaeRows fetch;
};

StoreRows open_store(const std::string& store, const std::string& hook) {
  GOLGI_CHECK(hooks::is_activation_store(store), "golgi sae: '", store,
              "' is not an activation store (no index.json); record one with: golgi record");
  StoreRows s;
  s.reader = std::make_shared<hooks::ActivationStoreReader>(store);
  const auto shape = s.reader->hook_shape(hook);
  std::vector<std::string> dims;
  for (auto d : shape) dims.push_back(std::to_string(d));
  GOLGI_CHECK(shape.size() == 1, "golgi sae: hook '", hook, "' of store '", store, "' has rows of shape [",
              join(dims, ", "), "]; an SAE needs 1-D rows [d]: record a hook with vector rows (e.g. an MLP's "
              "hook_post, or a language model's token rows)");
  s.rows = s.reader->rows();
  s.d_in = shape[0];
  GOLGI_CHECK(s.rows > 0, "golgi sae: store '", store, "' has no committed rows");
  // Read a run shard by shard into one tensor: the reader concatenates whole shards, so reading a
  // large range at once would briefly hold the run twice; this way the extra is one shard.
  auto reader = s.reader;
  const int64_t shard_rows = std::max<int64_t>(1, reader->index().value("shard_rows", int64_t{4096}));
  const int64_t d_in = s.d_in;
  s.fetch = [reader, hook, shard_rows, d_in](int64_t begin, int64_t end) {
    at::Tensor out = torch::empty({end - begin, d_in}, torch::kFloat);
    for (int64_t lo = begin; lo < end;) {
      const int64_t hi = std::min(end, (lo / shard_rows + 1) * shard_rows);
      out.slice(0, lo - begin, hi - begin).copy_(reader->read(hook, lo, hi));
      lo = hi;
    }
    return out;
  };
  return s;
}

std::string percent(double x) { return fmt::format("{:.1f}%", 100 * x); }

// --annotate MODEL_DIR: the latents' top-activating examples for the atlas (sae_latent_summaries).
struct AnnotateArgs {
  std::string model_dir;
  int64_t rows = 0, top = 20;
};

void add_annotate_options(CLI::App* sub, AnnotateArgs& a) {
  sub->add_option("--annotate", a.model_dir,
                  "also write MODEL_DIR/sae.json (each live latent's top-activating examples) for the atlas annotator "
                  "'sae'; MODEL_DIR is the model the store was recorded from");
  sub->add_option("--annotate-rows", a.rows, "--annotate scans the first N rows of the store (0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--top", a.top, "--annotate keeps the N top-activating rows per latent")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

// Checked before the long part, so a wrong folder or a moved corpus fails early. The windows are
// null for a per-sample store (examples without text).
std::unique_ptr<methods::StoreWindows> prepare_annotation(const AnnotateArgs& a, const StoreRows& store) {
  if (a.model_dir.empty()) return nullptr;
  GOLGI_CHECK(std::filesystem::is_directory(a.model_dir), "--annotate '", a.model_dir,
              "' is not a folder; pass the model folder the store was recorded from");
  if (!store.reader->token_rows()) return nullptr;
  return std::make_unique<methods::StoreWindows>(methods::load_store_windows(*store.reader));
}

std::string absolute_path(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

// Scans the store and writes MODEL_DIR/sae.json (format "golgi-sae-features", docs/methods/sae.md).
void write_annotation(const AnnotateArgs& a, const SparseAutoencoder& sae, const StoreRows& store,
                      const methods::StoreWindows* windows, const std::string& sae_dir, const std::string& store_dir,
                      const std::string& hook, const SaeMetrics& metrics, int64_t metrics_rows) {
  methods::SaeLatentSummaryOptions options;
  options.top = a.top;
  options.rows = a.rows;
  const int64_t n = a.rows > 0 ? std::min(a.rows, store.rows) : store.rows;
  Progress progress("sae annotate", n, "row");
  options.on_rows = [&progress](int64_t done) { progress.set(done); };
  Json doc = methods::sae_latent_summaries(sae, store.fetch, *store.reader, windows, options);
  progress.finish();
  Json out = {{"format", "golgi-sae-features"},
              {"version", 1},
              {"sae", absolute_path(sae_dir)},
              {"store", absolute_path(store_dir)},
              {"hook", hook},
              {"kind", sae.options().kind()},
              {"d_in", sae.d_in()},
              {"latents", sae.latents()},
              {"k", sae.options().k()},
              {"metrics", metrics.to_json()},
              {"metrics_rows", metrics_rows},
              {"token_rows", store.reader->token_rows()},
              {"top", a.top},
              {"dataset", store.reader->index().value("dataset", Json::object())},
              {"command", command_line()}};
  for (auto& [key, value] : doc.items()) out[key] = value;
  const std::string path = a.model_dir + "/sae.json";
  io::write_json_file(path, out);
  if (!progress_quiet())
    fmt::print(stderr, "sae: {} of {} latents live on {} rows; wrote {}\n", out["live_latents"].get<int64_t>(),
               sae.latents(), n, path);
}

Command add_sae_train(CLI::App& group) {
  struct Args {
    std::string store, hook, out, max_memory = "1GB";
    int64_t checkpoint_every = 500, eval_rows = 8192;
    bool resume = false;
    AnnotateArgs annotate;
  };
  auto args = std::make_shared<Args>();
  auto* sub = group.add_subcommand(
      "train",
      "Train a sparse autoencoder on the rows of one hook of an activation store: TopK (Gao et al. 2024, with the\n"
      "AuxK loss on dead latents) or ReLU + L1 (Bricken et al. 2023). Rows are read in buffer-sized runs that fit\n"
      "--max-memory, next to the SAE and its Adam state. Writes OUT/checkpoint.safetensors every\n"
      "--checkpoint-every steps (continue an interrupted run with --resume) and, at the end, the SAE to OUT\n"
      "(sae.safetensors + sae.json with the store, hook and metrics). With --annotate MODEL_DIR, also writes\n"
      "MODEL_DIR/sae.json: each live latent's top-activating examples, for the atlas annotator 'sae'.\n"
      "docs/methods/sae.md.\n"
      "Example: golgi sae train --store runs/acts --hook blocks.2.mlp.hook_post --out runs/sae --latents 2048 --k 32");
  sub->add_option("--store", args->store, "activation store folder (golgi record)")->required();
  sub->add_option("--hook", args->hook, "hook whose rows to train on (1-D rows [d])")->required();
  sub->add_option("--out", args->out, "output folder for the SAE and its checkpoint")->required();
  auto flags = std::make_shared<SchemaFlags<SaeOptions>>(sub, SaeOptions::schema(), SaeOptions());
  sub->add_option("--max-memory", args->max_memory,
                  "memory budget for the SAE, its Adam state, one batch and the row buffer (e.g. 64MB, 1GB)")
      ->capture_default_str();
  sub->add_option("--checkpoint-every", args->checkpoint_every, "steps between checkpoints")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_flag("--resume", args->resume, "continue from OUT/checkpoint.safetensors");
  sub->add_option("--eval-rows", args->eval_rows, "final metrics on the first N rows of the store (0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  add_annotate_options(sub, args->annotate);
  return {sub, [args, flags] {
            SaeOptions options;
            flags->apply(options);
            const int64_t budget = parse_byte_size(args->max_memory, "--max-memory");
            StoreRows store = open_store(args->store, args->hook);
            const auto windows = prepare_annotation(args->annotate, store);
            methods::SaeTrainOptions train;
            train.buffer_rows = methods::sae_buffer_rows_for_budget(store.d_in, options, budget);
            const int64_t buffer = std::min(train.buffer_rows, store.rows);
            io::make_dirs(args->out);
            train.checkpoint = args->out + "/checkpoint.safetensors";
            train.checkpoint_every = args->checkpoint_every;
            train.resume = args->resume;
            if (io::file_exists(train.checkpoint) && !args->resume)
              GOLGI_FAIL("golgi sae train: '", train.checkpoint, "' exists from an earlier run; pass --resume to ",
                         "continue it, or delete it to start over");
            if (!progress_quiet())
              fmt::print(stderr, "sae: {} rows of width {} from {} ({}), buffer {} rows ({} runs), {} {} latents\n",
                         store.rows, store.d_in, args->store, args->hook, buffer,
                         (store.rows + buffer - 1) / buffer, options.kind(), options.latents());
            auto progress = std::make_shared<Progress>("sae train", options.steps(), "step");
            train.on_step = [progress](int64_t step, double loss, const SaeMetrics& m) {
              progress->set(step);
              progress->set_postfix(fmt::format("loss {:.4g} fvu {:.3f} L0 {:.1f} dead {}", loss, m.fvu, m.l0,
                                                percent(m.dead_fraction)));
            };
            train.stop = [] { return stop_requested() != 0; };
            methods::SaeTrainResult result;
            {
              StopSignalScope signals;  // Ctrl-C: finish the step, checkpoint, exit 130
              result = methods::train_sae(store.fetch, store.rows, store.d_in, options, train);
            }
            progress->finish();
            if (result.interrupted) {
              fmt::print(stderr, "sae: interrupted at step {} of {}; checkpoint {} saved: run the same command with "
                         "--resume to continue\n", result.steps, options.steps(), train.checkpoint);
              return kExitInterrupted;
            }

            const int64_t eval_rows = args->eval_rows > 0 ? std::min(args->eval_rows, store.rows) : store.rows;
            // Chunks of one batch: within the working set the budget already holds for training.
            const SaeMetrics metrics =
                methods::evaluate_sae(result.sae, store.fetch, eval_rows, options.batch_size());
            Json info = {{"store", args->store},
                         {"hook", args->hook},
                         {"rows", store.rows},
                         {"buffer_rows", buffer},
                         {"max_memory_bytes", budget},
                         {"metrics", metrics.to_json()},
                         {"metrics_rows", "the first " + std::to_string(eval_rows) + " rows of the store"},
                         {"training", result.to_json()},
                         {"command", command_line()}};
            info["training"].erase("loss_history");
            if (!result.loss_history.empty()) info["training"]["final_loss"] = result.loss_history.back();
            result.sae.save(args->out, info);
            if (!args->annotate.model_dir.empty())
              write_annotation(args->annotate, result.sae, store, windows.get(), args->out, args->store, args->hook,
                               metrics, eval_rows);
            Json summary = {{"out", args->out},
                            {"steps", result.steps},
                            {"resumed", result.resumed},
                            {"buffer_rows", buffer},
                            {"fvu", metrics.fvu},
                            {"l0", metrics.l0},
                            {"dead_fraction", metrics.dead_fraction},
                            {"eval_rows", eval_rows}};
            std::printf("%s\n", summary.dump(2).c_str());
            return kExitOk;
          }};
}

Command add_sae_eval(CLI::App& group) {
  struct Args {
    std::string sae, store, hook, out;
    int64_t rows = 0;
    AnnotateArgs annotate;
  };
  auto args = std::make_shared<Args>();
  auto* sub = group.add_subcommand(
      "eval",
      "Metrics of a saved SAE on the rows of an activation store: FVU (unexplained variance), L0 (nonzero latents\n"
      "per row), dead fraction (latents that never fire), MSE. JSON to stdout, or --out. --annotate MODEL_DIR\n"
      "also writes MODEL_DIR/sae.json (each live latent's top-activating examples) for the atlas annotator 'sae'.\n"
      "Example: golgi sae eval --sae runs/sae --store runs/acts_test");
  sub->add_option("--sae", args->sae, "SAE folder (golgi sae train --out)")->required();
  sub->add_option("--store", args->store, "activation store folder")->required();
  sub->add_option("--hook", args->hook, "hook (default: the one the SAE was trained on)");
  sub->add_option("--rows", args->rows, "evaluate the first N rows (0: all)")->check(CLI::NonNegativeNumber);
  sub->add_option("--out", args->out, "write the JSON here (default: stdout)");
  add_annotate_options(sub, args->annotate);
  return {sub, [args] {
            Json info;
            SparseAutoencoder sae = SparseAutoencoder::load(args->sae, &info);
            std::string hook = args->hook;
            if (hook.empty()) {
              GOLGI_CHECK(info.contains("hook") && info["hook"].is_string(), "golgi sae eval: '", args->sae,
                          "' does not record its hook; pass --hook");
              hook = info["hook"].get<std::string>();
            }
            StoreRows store = open_store(args->store, hook);
            GOLGI_CHECK(store.d_in == sae.d_in(), "golgi sae eval: the SAE '", args->sae, "' takes rows of width ",
                        sae.d_in(), ", but hook '", hook, "' of '", args->store, "' has width ", store.d_in);
            const auto windows = prepare_annotation(args->annotate, store);
            const int64_t n = args->rows > 0 ? std::min(args->rows, store.rows) : store.rows;
            // 1024-row chunks: [1024, latents] codes stay small even for large dictionaries.
            const SaeMetrics metrics = methods::evaluate_sae(sae, store.fetch, n, 1024);
            Json doc = {{"sae", args->sae},  {"store", args->store}, {"hook", hook},
                        {"metrics", metrics.to_json()}, {"options", SaeOptions::schema().to_json(sae.options())}};
            if (args->out.empty()) {
              std::printf("%s\n", doc.dump(2).c_str());
            } else {
              io::write_json_file(args->out, doc);
              if (!progress_quiet()) fmt::print(stderr, "wrote {}\n", args->out);
            }
            if (!args->annotate.model_dir.empty())
              write_annotation(args->annotate, sae, store, windows.get(), args->sae, args->store, hook, metrics, n);
            return kExitOk;
          }};
}

}  // namespace

Command add_sae(CLI::App& app) {
  auto* group = app.add_subcommand(
      "sae",
      "Sparse autoencoders on activation-store rows: train (TopK or ReLU + L1) and eval (Gao et al. 2024; "
      "docs/methods/sae.md).");
  group->require_subcommand(1);
  auto commands =
      std::make_shared<std::vector<Command>>(std::vector<Command>{add_sae_train(*group), add_sae_eval(*group)});
  return {group, [commands] {
            for (const auto& c : *commands)
              if (c.app->parsed()) return c.run();
            return kExitError;
          }};
}

}  // namespace golgi::cli
