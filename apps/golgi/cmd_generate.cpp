// golgi generate: continue a text prompt (or token ids) with a language model.
#include <cmath>
#include <cstdio>

#include <fmt/core.h>
#include <torch/torch.h>

#include "cli.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/io/atomic_file.h"
#include "golgi/hooks/intervention_set.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/models/generate.h"
#include "golgi/models/registry.h"
#include "golgi/tokenize/tokenizer.h"
#include "golgi/train/language_model.h"

namespace golgi::cli {

namespace {
struct GenerateArgs {
  std::string model, prompt, input_ids, tokenizer, out;
  bool doc_start = true;
  std::vector<std::string> clamp, scale, zero, add;
};
}  // namespace

Command add_generate(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  auto options = std::make_shared<models::GenerateOptions>();
  auto* sub = app.add_subcommand(
      "generate",
      "Continue a prompt with a language model (KV cache; temperature 0 is greedy).\n"
      "With --prompt the text is tokenized with the model folder's tokenizer (or --tokenizer) and the\n"
      "continuation is printed as it is generated. With --input-ids (int64 [batch, pos] .npy) no tokenizer is\n"
      "needed; --out writes prompt + continuation ids as int64 .npy.\n"
      "Example: golgi generate --model assets/models/tiny-multilingual --prompt \"Der \" --max-new-tokens 120");
  sub->add_option("--model", args->model, "model folder (golgi or Hugging Face layout)")->required();
  auto* prompt = sub->add_option("--prompt", args->prompt, "prompt text");
  auto* ids = sub->add_option("--input-ids", args->input_ids, "prompt token ids, int64 [batch, pos] .npy");
  prompt->excludes(ids);
  sub->add_option("--tokenizer", args->tokenizer, "tokenizer folder (default: the model folder)");
  sub->add_option("--out", args->out, "write prompt + continuation ids to this .npy");
  sub->add_option("--doc-start", args->doc_start,
                  "start a text prompt with the end-of-document token (<|endoftext|> or <|eos|>), which precedes "
                  "every document in golgi's language-model training [default true]");
  sub->add_option("--clamp", args->clamp,
                  "set a neuron to VALUE at every position of every pass (steering), e.g. "
                  "blocks.2.mlp.hook_post:17=4.0; repeatable")
      ->type_name("REF=VALUE");
  sub->add_option("--scale", args->scale, "multiply a neuron by FACTOR; repeatable")->type_name("REF=FACTOR");
  sub->add_option("--zero", args->zero, "zero a neuron (ablation); repeatable")->type_name("REF");
  sub->add_option("--add", args->add, "add a vector (.npy, e.g. a steering direction) to a hook point; repeatable")
      ->type_name("HOOK=FILE.npy");
  auto flags = std::make_shared<SchemaFlags<models::GenerateOptions>>(sub, models::GenerateOptions::schema(), *options);
  return {sub, [args, options, flags] {
            flags->apply(*options);
            GOLGI_CHECK(!args->prompt.empty() || !args->input_ids.empty(), "give --prompt TEXT or --input-ids IDS.npy");
            auto loaded = models::load_model(args->model);
            auto* lm = dynamic_cast<models::TransformerLM*>(loaded.model.get());
            GOLGI_CHECK(lm, "'", args->model, "' is a ", loaded.model->architecture(),
                        " model, not a language model; generate needs gpt2 or llama");
            std::unique_ptr<tokenize::Tokenizer> tokenizer;
            at::Tensor prompt_ids;
            if (!args->prompt.empty()) {
              const std::string dir = args->tokenizer.empty() ? models::model_folder(args->model) : args->tokenizer;
              try {
                tokenizer = tokenize::load_tokenizer(dir);
              } catch (const Error& e) {
                GOLGI_FAIL("cannot tokenize --prompt: ", e.what(), "; pass --tokenizer DIR or --input-ids IDS.npy");
              }
              const auto separator = train::document_separator(*tokenizer);
              std::vector<int64_t> ids;
              if (args->doc_start && separator) ids.push_back(*separator);
              auto text_ids = tokenizer->encode(args->prompt);
              ids.insert(ids.end(), text_ids.begin(), text_ids.end());
              prompt_ids = torch::tensor(ids, torch::kLong).unsqueeze(0);
              if (options->stop_token() < 0 && separator) options->stop_token(*separator);
            } else {
              prompt_ids = io::load_npy(args->input_ids);
              GOLGI_CHECK(prompt_ids.dim() == 2 && !prompt_ids.is_floating_point(), "'", args->input_ids,
                          "' must hold integer token ids [batch, pos], got ", prompt_ids.scalar_type(), " ",
                          prompt_ids.sizes());
            }
            // Interventions stay attached for the whole generation (the guards die with this scope).
            hooks::InterventionSet set;
            for (const auto& text : args->clamp) set.add_text("clamp", text);
            for (const auto& text : args->scale) set.add_text("scale", text);
            for (const auto& text : args->zero) set.add_text("zero", text);
            for (const auto& text : args->add) set.add_text("add", text);
            for (const auto& item : set.items())
              GOLGI_CHECK(item.ref.position.empty(), "'", item.ref.str(), "': generate applies interventions at every ",
                          "position (each decoding step is a one-position pass); drop the @position");
            hooks::HookGuards interventions = set.apply(*lm);
            std::function<void(const at::Tensor&)> stream;
            if (tokenizer) {
              std::fwrite(args->prompt.data(), 1, args->prompt.size(), stdout);
              std::fflush(stdout);
              stream = [&tokenizer, &options](const at::Tensor& next) {
                int64_t id = next[0].item<int64_t>();
                if (id == options->stop_token() || tokenizer->is_special(id)) return;
                std::string text = tokenizer->decode({id});
                std::fwrite(text.data(), 1, text.size(), stdout);
                std::fflush(stdout);
              };
            }
            at::Tensor out = models::generate(*lm, prompt_ids, *options, stream);
            if (tokenizer) std::fputc('\n', stdout);
            if (!args->out.empty()) io::save_npy(args->out, out.contiguous());
            if (!tokenizer && args->out.empty()) {
              // No tokenizer and no file: print the ids, one JSON array per sequence.
              for (int64_t b = 0; b < out.size(0); ++b) {
                at::Tensor row = out[b].contiguous();
                std::vector<int64_t> v(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
                std::printf("%s\n", Json(v).dump().c_str());
              }
            }
            return kExitOk;
          }};
}

}  // namespace golgi::cli
