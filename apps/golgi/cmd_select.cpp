// golgi select: task-specific data selection with a sparse autoencoder's codes (methods/sae_select;
// Ma et al. 2025, MONA). Embeds every pool and target passage as the mean SAE code of its tokens at
// one hook, builds the task prototype from the targets, and writes the top ⌈q · pool⌉ pool passages.
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <torch/torch.h>

#include "cli.h"
#include "golgi/core/error.h"
#include "golgi/io/atomic_file.h"
#include "golgi/methods/sae/sae.h"
#include "golgi/methods/sae_select/data_selection.h"
#include "golgi/models/registry.h"
#include "golgi/models/transformer.h"
#include "golgi/train/language_model.h"

namespace golgi::cli {

namespace {

struct SelectArgs {
  std::string model, sae, pool, target, hook, out;
};

}  // namespace

Command add_select(CLI::App& app) {
  auto args = std::make_shared<SelectArgs>();
  auto* sub = app.add_subcommand(
      "select",
      "Task-specific data selection (Ma et al. 2025, MONA): every passage becomes the mean sparse-autoencoder code\n"
      "of its tokens at one hook (padding and the document separator excluded); the task prototype is the mean\n"
      "of the target passages' codes; the pool passages most similar to it (generalised Jaccard\n"
      "sum(min)/sum(max) by default) are selected, the top ceil(fraction * pool).\n"
      "Pool and target files: .jsonl (one {\"text\": ...} object per line, other fields kept) or plain text (one\n"
      "passage per non-empty line). Writes the selection as JSON Lines (each record plus index, rank and score)\n"
      "and prints a summary.\n"
      "Example: golgi sae train ... --out runs/sae &&\n"
      "         golgi select --model assets/models/tiny-multilingual --sae runs/sae --pool pool.jsonl \\\n"
      "                      --target task.txt --fraction 0.05 --out selected.jsonl");
  sub->add_option("--model", args->model, "language model folder")->required();
  sub->add_option("--sae", args->sae, "SAE folder (sae.safetensors + sae.json, from `golgi sae train`)")->required();
  sub->add_option("--pool", args->pool, "passages to select from (.jsonl or text)")->required();
  sub->add_option("--target", args->target, "a few passages of the task (.jsonl or text)")->required();
  sub->add_option("--hook", args->hook,
                  "hook point whose activations the SAE encodes (default: the hook recorded in sae.json)");
  sub->add_option("--out", args->out, "output file of the selection (.jsonl; written atomically)")->required();
  auto flags = std::make_shared<SchemaFlags<methods::SelectionOptions>>(sub, methods::SelectionOptions::schema(),
                                                                        methods::SelectionOptions());
  return {sub, [args, flags] {
            methods::SelectionOptions options;
            flags->apply(options);
            GOLGI_CHECK(std::filesystem::is_directory(args->sae), "--sae '", args->sae,
                        "' is not a folder; train one with `golgi sae train`");
            // Files first: a typo should not cost a model load.
            const auto pool = methods::read_passages(args->pool, "--pool");
            const auto targets = methods::read_passages(args->target, "--target");
            Json info;
            const methods::SparseAutoencoder sae = methods::SparseAutoencoder::load(args->sae, &info);
            std::string hook = args->hook;
            if (hook.empty() && info.is_object() && info.contains("hook") && info["hook"].is_string())
              hook = info["hook"].get<std::string>();
            GOLGI_CHECK(!hook.empty(), "--hook is required: the SAE's sae.json records no hook it was trained on");

            auto loaded = models::load_model(args->model);
            const std::string model_dir = models::model_folder(args->model);
            const auto data_options = train::lm_data_options_from_card(loaded.card, model_dir);
            const auto tokenizer = train::make_lm_tokenizer(data_options.tokenizer);
            const auto separator = train::document_separator(*tokenizer);
            int64_t max_tokens = 0;
            if (const auto* lm = dynamic_cast<const models::TransformerLM*>(loaded.model.get())) max_tokens = lm->config().n_ctx;

            std::vector<std::string> pool_texts, target_texts;
            for (const auto& p : pool) pool_texts.push_back(p.text);
            for (const auto& p : targets) target_texts.push_back(p.text);
            const auto target_embeddings = methods::embed_passages(*loaded.model, hook, sae, *tokenizer, separator,
                                                                   target_texts, options, max_tokens, "select: targets");
            const auto pool_embeddings = methods::embed_passages(*loaded.model, hook, sae, *tokenizer, separator,
                                                                 pool_texts, options, max_tokens, "select: pool");
            const auto prototype = methods::task_prototype(target_embeddings);
            const at::Tensor scores = methods::score_pool(pool_embeddings, prototype, options.method(), options.seed());
            const auto selected = methods::select_top(scores, options.fraction());

            std::string body;
            for (size_t r = 0; r < selected.size(); ++r) {
              const int64_t i = selected[r];
              Json record = pool[static_cast<size_t>(i)].record;
              record["index"] = i;
              record["rank"] = static_cast<int64_t>(r);
              record["score"] = scores[i].item<double>();
              body += record.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
            }
            io::write_file_atomic(args->out, body);
            std::printf("select: %zu of %zu pool passages (fraction %g, method %s, hook %s, SAE %lld latents); "
                        "%zu target passages\n",
                        selected.size(), pool.size(), options.fraction(), options.method().c_str(), hook.c_str(),
                        static_cast<long long>(sae.latents()), targets.size());
            std::printf("scores: selected %.4f to %.4f, pool mean %.4f\n", scores[selected.back()].item<double>(),
                        scores[selected.front()].item<double>(), scores.mean().item<double>());
            for (size_t r = 0; r < selected.size() && r < 3; ++r) {
              std::string text = pool[static_cast<size_t>(selected[r])].text.substr(0, 60);
              for (auto& c : text)
                if (c == '\n' || c == '\t') c = ' ';
              std::printf("  #%zu [%lld] %.4f  %s\n", r + 1, static_cast<long long>(selected[r]),
                          scores[selected[r]].item<double>(), text.c_str());
            }
            std::printf("wrote %s\n", args->out.c_str());
            return kExitOk;
          }};
}

}  // namespace golgi::cli
