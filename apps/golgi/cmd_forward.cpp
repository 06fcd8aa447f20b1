// golgi forward: one forward pass over token ids (or classifier inputs) from an .npy file, logits
// to an .npy file. A plain entry point that outside tools can check golgi against.
#include <cstdio>

#include <fmt/core.h>
#include <fmt/ostream.h>
#include <torch/torch.h>

#include "cli.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/models/registry.h"

namespace golgi::cli {

namespace {
struct ForwardArgs {
  std::string model, input_ids, out;
  int64_t batch_size = 16;
};
}  // namespace

Command add_forward(CLI::App& app) {
  auto args = std::make_shared<ForwardArgs>();
  auto* sub = app.add_subcommand(
      "forward",
      "Run a model on inputs from an .npy file and write its outputs as float32 .npy.\n"
      "Language models (gpt2, llama; golgi or Hugging Face folders) take int64 token ids [batch, pos] and write\n"
      "logits [batch, pos, vocab]; classifiers take float inputs [batch, ...] and write logits [batch, classes].\n"
      "Example: golgi forward --model assets/models/tiny-multilingual --input-ids ids.npy --out logits.npy");
  sub->add_option("--model", args->model, "model folder (model.json, or a Hugging Face config.json + safetensors)")
      ->required();
  sub->add_option("--input-ids,--input", args->input_ids, "input .npy (int64 [batch, pos] for language models)")
      ->required();
  sub->add_option("--out", args->out, "output .npy (float32)")->required();
  sub->add_option("--batch-size", args->batch_size, "rows per forward pass")->check(CLI::PositiveNumber)->capture_default_str();
  return {sub, [args] {
            auto loaded = models::load_model(args->model);
            at::Tensor input = io::load_npy(args->input_ids);
            auto& model = *loaded.model;
            if (model.task() == "language-model") {
              GOLGI_CHECK(input.dim() == 2 && !input.is_floating_point(), "'", args->input_ids,
                          "' must hold integer token ids [batch, pos], got ", input.scalar_type(), " ", input.sizes());
            } else {
              input = input.to(at::kFloat);
            }
            torch::NoGradGuard no_grad;
            std::vector<at::Tensor> outputs;
            const int64_t n = input.size(0);
            Progress progress("forward", n, "row");
            for (int64_t begin = 0; begin < n; begin += args->batch_size) {
              int64_t end = std::min(n, begin + args->batch_size);
              outputs.push_back(model.forward(input.slice(0, begin, end)).to(at::kFloat));
              progress.set(end);
            }
            progress.finish();
            at::Tensor out = at::cat(outputs, 0).contiguous();
            io::save_npy(args->out, out);
            if (!progress_quiet()) fmt::print(stderr, "wrote {} {}\n", args->out, c10::str(out.sizes()));
            return kExitOk;
          }};
}

}  // namespace golgi::cli
