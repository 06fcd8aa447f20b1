#include "golgi/models/generate.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "golgi/core/error.h"

namespace golgi::models {

const OptionSchema<GenerateOptions>& GenerateOptions::schema() {
  static const auto schema = OptionSchema<GenerateOptions>("generate")
      .add("max_new_tokens", &GenerateOptions::max_new_tokens_, "tokens to generate", at_least<int64_t>(0))
      .add("temperature", &GenerateOptions::temperature_, "sampling temperature (0: greedy)", at_least(0.0))
      .add("top_k", &GenerateOptions::top_k_, "sample among the k most likely tokens (0: all)", at_least<int64_t>(0))
      .add("top_p", &GenerateOptions::top_p_, "nucleus sampling mass (1: off)", Range<double>{0.0, 1.0, false, true})
      .add("seed", &GenerateOptions::seed_, "sampling seed", at_least<int64_t>(0))
      .add("stop_token", &GenerateOptions::stop_token_, "token id that ends a sequence (-1: none)",
           at_least<int64_t>(-1));
  return schema;
}

at::Tensor choose_next_tokens(const at::Tensor& logits_in, const GenerateOptions& o, at::Generator& generator) {
  at::Tensor logits = logits_in.to(at::kFloat);
  if (o.temperature() == 0) return logits.argmax(-1);
  logits = logits / o.temperature();
  const int64_t vocab = logits.size(-1);
  if (o.top_k() > 0 && o.top_k() < vocab) {
    at::Tensor kth = std::get<0>(logits.topk(o.top_k(), -1)).narrow(-1, o.top_k() - 1, 1);
    logits = logits.masked_fill(logits < kth, -std::numeric_limits<float>::infinity());
  }
  if (o.top_p() < 1.0) {
    auto [sorted, order] = logits.sort(-1, /*descending=*/true);
    at::Tensor cumulative = sorted.softmax(-1).cumsum(-1);
    // Drop a token when the tokens before it already reach top_p (the first always stays).
    at::Tensor drop_sorted = (cumulative - sorted.softmax(-1)) >= o.top_p();
    at::Tensor drop = at::zeros_like(drop_sorted).scatter(-1, order, drop_sorted);
    logits = logits.masked_fill(drop, -std::numeric_limits<float>::infinity());
  }
  return at::multinomial(logits.softmax(-1), 1, /*replacement=*/false, generator).squeeze(-1);
}

at::Tensor generate(TransformerLM& model, const at::Tensor& prompt, const GenerateOptions& options,
                    const std::function<void(const at::Tensor&)>& on_step) {
  GenerateOptions::schema().validate(options);
  GOLGI_CHECK(prompt.defined() && prompt.dim() == 2 && prompt.size(1) > 0, "generate needs a prompt of token ids ",
              "[batch, pos] with pos >= 1, got ", prompt.defined() ? prompt.sizes() : at::IntArrayRef{});
  const int64_t n_ctx = model.config().n_ctx;
  GOLGI_CHECK(prompt.size(1) + options.max_new_tokens() <= n_ctx, "the prompt (", prompt.size(1), " tokens) plus ",
              options.max_new_tokens(), " new tokens exceed the model's context of ", n_ctx,
              " tokens; shorten the prompt or lower --max-new-tokens");
  GOLGI_CHECK(options.stop_token() < model.config().vocab_size, "stop_token ", options.stop_token(),
              " is outside the vocabulary (", model.config().vocab_size, " tokens)");
  torch::NoGradGuard no_grad;
  bool was_training = model.is_training();
  model.eval();
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(options.seed()));
  at::Tensor tokens = prompt.to(at::kLong);
  const int64_t batch = tokens.size(0);
  std::vector<at::Tensor> pieces{tokens};
  at::Tensor finished = at::zeros({batch}, at::kBool);
  KVCache cache;
  at::Tensor next_input = tokens;
  for (int64_t step = 0; step < options.max_new_tokens(); ++step) {
    at::Tensor logits = model.run(next_input, &cache).select(1, -1);  // [batch, vocab]
    at::Tensor next = choose_next_tokens(logits, options, generator);
    if (options.stop_token() >= 0) {
      next = next.masked_fill(finished, options.stop_token());
      finished = finished | next.eq(options.stop_token());
    }
    pieces.push_back(next.unsqueeze(1));
    if (on_step) on_step(next);
    if (options.stop_token() >= 0 && finished.all().item<bool>()) break;
    next_input = next.unsqueeze(1);
  }
  if (was_training) model.train();
  return at::cat(pieces, 1);
}

}  // namespace golgi::models
