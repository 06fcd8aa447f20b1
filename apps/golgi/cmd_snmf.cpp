// golgi snmf: semi-NMF of one hook's activations in an on-disk activation store (methods/snmf).
//
// A (d × n) is the store's rows of the hook, transposed: one column per row (a token for a language
// model, a sample for an image model). It is read in column chunks sized for --max-memory and never
// held whole (semi_nmf_streaming), so the store may be far larger than memory.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <torch/torch.h>

#include "cli.h"
#include "golgi/core/byte_size.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/hooks/activation_store.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/methods/snmf/snmf.h"
#include "golgi/methods/snmf/snmf_features.h"
#include "golgi/methods/snmf/snmf_init.h"
#include "golgi/methods/snmf/snmf_streaming.h"

namespace golgi::cli {

namespace {

struct SnmfArgs {
  std::string store, hook, out, init = "random", max_memory = "2GB", annotate;
  int64_t checkpoint_every = 1, top = 20, kmeans_sample = 10000;
  bool resume = false;
};

std::string mib(double bytes) { return fmt::format("{:.1f} MiB", bytes / (1024.0 * 1024.0)); }

}  // namespace

Command add_snmf(CLI::App& app) {
  auto args = std::make_shared<SnmfArgs>();
  auto* sub = app.add_subcommand(
      "snmf",
      "Semi-NMF of one hook's activations in an activation store (Shafran, Geiger & Geva 2025): A ≈ F Gᵀ with\n"
      "F [d, K] sparse signed neuron weights and G [rows, K] >= 0. The store is read in chunks that fit\n"
      "--max-memory, with a checkpoint every --checkpoint-every iterations (OUT/checkpoint.safetensors;\n"
      "continue with --resume). Writes OUT/snmf.safetensors (F, G) and OUT/snmf.json (loss, and per feature its\n"
      "neurons and top rows, with their text for a language model's token store).\n"
      "Example: golgi record --model M --hooks blocks.2.mlp.hook_post --out acts &&\n"
      "         golgi snmf --store acts --hook blocks.2.mlp.hook_post --features 50 --out runs/snmf --annotate M");
  sub->add_option("--store", args->store, "activation store folder (golgi record)")->required();
  sub->add_option("--hook", args->hook, "hook point in the store, with per-row shape [d]")->required();
  sub->add_option("--out", args->out, "output folder (created)")->required();
  sub->add_option("--init", args->init, "initial factors: random (the paper's), svd (NNDSVD-like) or kmeans (Ding et al. 2010)")
      ->capture_default_str();
  sub->add_option("--max-memory", args->max_memory,
                  "memory budget for the factors and one chunk of the store (e.g. 64MB, 1GB)")
      ->capture_default_str();
  sub->add_option("--checkpoint-every", args->checkpoint_every, "iterations between checkpoints")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_flag("--resume", args->resume, "continue from OUT/checkpoint.safetensors");
  sub->add_option("--top", args->top, "top-activating rows kept per feature")->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--kmeans-sample", args->kmeans_sample, "columns sampled for the k-means++ seeding of --init kmeans")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--annotate", args->annotate,
                  "also write MODEL_DIR/snmf.json for the atlas annotator 'snmf' (the model the store was recorded from)");
  auto flags = std::make_shared<SchemaFlags<methods::SnmfOptions>>(sub, methods::SnmfOptions::schema(),
                                                                   methods::SnmfOptions());
  return {sub, [args, flags] {
            methods::SnmfOptions options;
            flags->apply(options);
            const int64_t budget = parse_byte_size(args->max_memory, "--max-memory");
            const auto& known_inits = methods::snmf_init_methods();
            GOLGI_CHECK(std::find(known_inits.begin(), known_inits.end(), args->init) != known_inits.end(), "--init '",
                        args->init, "' is not an initialisation; use random, svd or kmeans");
            GOLGI_CHECK(std::filesystem::is_directory(args->store), "--store '", args->store,
                        "' does not exist; record one with `golgi record --model M --hooks H --out DIR`");
            hooks::ActivationStoreReader store(args->store);
            GOLGI_CHECK(store.complete(), "activation store '", args->store,
                        "' is incomplete (its recording was interrupted); run the same `golgi record` again to finish it");
            const std::vector<int64_t> shape = store.hook_shape(args->hook);
            GOLGI_CHECK(shape.size() == 1, "hook '", args->hook, "' has per-row shape ", Json(shape).dump(),
                        "; semi-NMF needs one vector [d] per row (a language model's token store, or a dense layer)");
            const int64_t d = shape[0], n = store.rows(), K = options.features();
            GOLGI_CHECK(n > 0, "activation store '", args->store, "' has no rows");
            GOLGI_CHECK(K <= std::min(d, n), "--features ", K, " is more than min(d, rows) = min(", d, ", ", n,
                        ") of hook '", args->hook, "'; use at most ", std::min(d, n), " features");
            if (!args->annotate.empty())
              GOLGI_CHECK(std::filesystem::is_directory(args->annotate), "--annotate '", args->annotate,
                          "' is not a folder; pass the model folder the store was recorded from");
            // F, G, best G and A·G, plus one column of A and its residual: the least that can run.
            const int64_t minimum = (2 * d * K + 2 * n * K + 2 * d) * 4;
            GOLGI_CHECK(budget >= minimum, "--max-memory ", args->max_memory, " (", mib(budget),
                        ") is too small: the factors of ", d, " x ", n, " with K = ", K, " need at least ", mib(minimum),
                        "; raise --max-memory or lower --features");
            methods::SnmfStreamOptions stream;
            stream.chunk_columns = methods::snmf_chunk_columns_for_budget(d, n, K, 4, budget);
            stream.checkpoint = args->out + "/checkpoint.safetensors";
            stream.checkpoint_every = args->checkpoint_every;
            stream.resume = args->resume;
            const bool has_checkpoint = io::file_exists(stream.checkpoint);
            GOLGI_CHECK(args->resume || !has_checkpoint, "'", stream.checkpoint, "' exists from an earlier run; pass ",
                        "--resume to continue it (same store, hook and options; --max-iter may grow) or delete it");
            // The text of a token store's windows, rebuilt before the long part so a moved corpus fails early.
            std::unique_ptr<methods::StoreWindows> windows;
            if (store.token_rows()) windows = std::make_unique<methods::StoreWindows>(methods::load_store_windows(store));
            io::make_dirs(args->out);
            const std::string hook = args->hook;
            methods::SnmfColumns columns = [&store, hook](int64_t b, int64_t e) {
              return store.read(hook, b, e).t().contiguous();
            };
            at::Tensor F0, G0;
            methods::SnmfInitOptions init;
            init.method = args->init;
            init.sample_columns = args->kmeans_sample;
            // A resumed run starts from the checkpoint; the initialisation only matters for a new one.
            if (!(args->resume && has_checkpoint) && args->init != "random") {
              Progress reading("snmf init", 0, "pass");
              std::tie(F0, G0) = methods::snmf_initialize(columns, d, n, options, init, stream.chunk_columns);
              reading.finish();
            }
            if (args->resume && has_checkpoint && !progress_quiet())
              std::fprintf(stderr, "resuming from %s\n", stream.checkpoint.c_str());
            Progress progress("snmf", options.max_iter(), "iter");
            const auto result = methods::semi_nmf_streaming(
                columns, d, n, options, stream, F0, G0, [&progress](int64_t iteration, double loss) {
                  progress.set(iteration + 1);
                  progress.set_postfix(fmt::format("loss {:.6g}", loss));
                });
            progress.finish();

            io::save_tensors(args->out + "/snmf.safetensors", {{"F", result.F.contiguous()}, {"G", result.G.contiguous()}},
                             {{"format", "golgi-snmf"}, {"hook", args->hook}});
            methods::SnmfFeatureOptions feature_options;
            feature_options.top = args->top;
            Json options_json = methods::SnmfOptions::schema().to_json(options);
            options_json["init"] = args->init;
            options_json["max_memory_bytes"] = budget;
            options_json["chunk_columns"] = stream.chunk_columns;
            options_json["top"] = args->top;
            Json doc = {{"format", "golgi-snmf"},
                        {"version", 1},
                        {"store", std::filesystem::absolute(args->store).lexically_normal().string()},
                        {"hook", args->hook},
                        {"d", d},
                        {"rows", n},
                        {"token_rows", store.token_rows()},
                        {"dataset", store.index().value("dataset", Json::object())},
                        {"model", store.index().value("model", Json::object())},
                        {"options", options_json},
                        {"result", result.to_json()},
                        {"relative_error", result.relative_error},
                        {"loss_history", result.loss_history},
                        {"features", methods::snmf_feature_summaries(result.F, result.G, store, windows.get(), feature_options)},
                        {"files", {{"factors", "snmf.safetensors"}}},
                        {"command", command_line()}};
            io::write_json_file(args->out + "/snmf.json", doc);
            if (!args->annotate.empty()) io::write_json_file(args->annotate + "/snmf.json", doc);
            std::printf("snmf: %lld features of %s over %lld rows: relative error %.4f after %lld iterations (best %lld); "
                        "wrote %s/snmf.json%s\n",
                        static_cast<long long>(K), args->hook.c_str(), static_cast<long long>(n), result.relative_error,
                        static_cast<long long>(result.iterations), static_cast<long long>(result.best_iteration + 1),
                        args->out.c_str(), args->annotate.empty() ? "" : (" and " + args->annotate + "/snmf.json").c_str());
            return kExitOk;
          }};
}

}  // namespace golgi::cli
