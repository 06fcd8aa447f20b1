// Reproduction of paper id `lmhead-decode` (Davies 2025, "Decoding specialised feature neurons in
// LLMs with the final projection layer") on a small English model golgi trains here.
//
// 1. Train a BPE tokenizer with a 4,096-token vocabulary and a Llama-style model (4 layers,
//    d 128, d_mlp 512) on animal-fortunes: the English fortunes plus ~5% templated sentences
//    about 28 animals ("my favourite animal is the dog.").
// 2. Decode every up-projection neuron through the unembedding (methods/lmhead_decode).
// Claims: (1) some neuron decodes to an animal token with a top-1 probability >= 10x the median
//    neuron's top-1 probability; (2) clamping that neuron (at blocks.{l}.mlp.hook_post) to 4x its
//    largest activation seen on training text raises P(its animal | "my favourite animal is the")
//    by >= 5x, while 20 random neurons clamped the same way give a median rise <= 1.5x.
// 3. Fine-tune 300 steps on animal-fortunes-qa (the same sentences as questions and answers) and
//    report the share of neurons whose top token is unchanged (the paper: 75%).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include <torch/torch.h>

#include "golgi/analysis/corpus_examples.h"
#include "golgi/analysis/neuron_stats.h"
#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/data/text_corpus.h"
#include "golgi/hooks/intervention_set.h"
#include "golgi/io/atomic_file.h"
#include "golgi/methods/lmhead_decode/lmhead_decode.h"
#include "golgi/models/registry.h"
#include "golgi/models/transformer.h"
#include "golgi/repro/repro.h"
#include "golgi/tokenize/bpe.h"
#include "golgi/train/language_model.h"
#include "golgi/train/trainer.h"

namespace golgi::repro {

namespace {

constexpr const char* kPrompt = "my favourite animal is the";
constexpr double kTopRatio = 10.0;      // animal neuron's top-1 probability / median top-1
constexpr double kClampRise = 5.0;      // P(animal | prompt) rise when clamped
constexpr double kRandomMedian = 1.5;   // median rise under random clamped neurons
constexpr double kClampFactor = 4.0;    // clamp value = factor x largest observed activation
constexpr int64_t kRandomNeurons = 20;

// P(token | [separator] + prompt) of the model under its current hooks.
double next_token_probability(models::TransformerLM& model, const std::vector<int64_t>& prompt, int64_t token) {
  torch::NoGradGuard no_grad;
  auto logits = model.forward(torch::tensor(prompt, torch::kLong).unsqueeze(0));
  return torch::softmax(logits[0][-1].to(torch::kFloat64), 0)[token].item<double>();
}

std::string mlp_post(int64_t layer) { return "blocks." + std::to_string(layer) + ".mlp.hook_post"; }

}  // namespace

ReproResult run_lmhead_decode(const ReproOptions& options) {
  seed_everything(options.seed);
  const std::string out = options.out;
  io::make_dirs(out);

  // 1. Tokenizer and model.
  auto corpus = data::load_text_corpus("animal-fortunes", data::TextCorpusOptions().with_seed(options.seed));
  std::vector<std::string> texts;
  for (const auto& d : corpus.train) texts.push_back(d.text);
  auto bpe = tokenize::train_bpe(texts, 4096);
  const std::string tokenizer_dir = out + "/tokenizer";
  bpe->save(tokenizer_dir);
  std::fprintf(stderr, "BPE tokenizer: %lld tokens, %lld merges\n", static_cast<long long>(bpe->vocab_size()),
               static_cast<long long>(bpe->n_merges()));

  const int64_t steps = options.quick ? 300 : 1500;
  const Json model_options = {{"n_layers", 4}, {"d_model", 128}, {"d_mlp", 512}, {"n_heads", 4}, {"n_kv_heads", 4},
                              {"n_ctx", 128}};
  auto base_options = train::TrainOptions()
                          .model("llama")
                          .dataset("animal-fortunes")
                          .tokenizer(tokenizer_dir)
                          .steps(steps)
                          .batch_size(16)
                          .seq_len(128)
                          .lr(3e-3)
                          .min_lr(3e-4)
                          .warmup_steps(30)
                          .weight_decay(0.01)
                          .grad_clip(1.0)
                          .checkpoint_every(0)
                          // One thread: a model this small spends more time in OpenMP hand-offs than
                          // in arithmetic on two (measured: 11.2 min for --quick on 2 threads).
                          .threads(1)
                          .seed(static_cast<int64_t>(options.seed))
                          .out(out + "/model");
  auto base_run = train::train(base_options, model_options, "golgi repro lmhead-decode (pretraining)");
  auto loaded = models::load_model(out + "/model");
  auto* lm = dynamic_cast<models::TransformerLM*>(loaded.model.get());
  GOLGI_ASSERT(lm, "the trained model is not a transformer");
  lm->eval();

  // 2. Decode every up-projection neuron.
  auto decoded = methods::decode_neurons(*lm, methods::LmheadDecodeOptions().top_k(5));
  const int64_t d_mlp = decoded.d_mlp;
  auto top1_prob = decoded.decoded.probs.select(1, 0).contiguous();  // [N]
  auto top1_id = decoded.decoded.ids.select(1, 0).contiguous();      // [N]
  const int64_t N = top1_prob.size(0);
  const double median_top1 = top1_prob.median().item<double>();

  // Animal tokens: the single token of " dog", " cat", ... (animals that are not one token are
  // left out and listed).
  std::map<int64_t, std::string> animal_token;
  Json split_animals = Json::array();
  for (const auto& animal : data::animal_names()) {
    auto ids = bpe->encode(" " + animal);
    if (ids.size() == 1)
      animal_token[ids[0]] = animal;
    else
      split_animals.push_back(animal);
  }
  int64_t best = -1;
  int64_t animal_neurons = 0;
  for (int64_t r = 0; r < N; ++r) {
    if (!animal_token.count(top1_id[r].item<int64_t>())) continue;
    ++animal_neurons;
    if (best < 0 || top1_prob[r].item<double>() > top1_prob[best].item<double>()) best = r;
  }
  ReproResult result;
  const double top_ratio = best >= 0 ? top1_prob[best].item<double>() / median_top1 : 0.0;
  result.claims.push_back({"animal_neuron_top1_ratio", top_ratio, ">=", kTopRatio, "x median top-1",
                           "some up-projection neuron decodes to an animal token with a top-1 probability >= 10x the "
                           "median neuron's"});

  // Largest activation of every neuron at hook_post over training documents.
  auto tokenizer = train::make_lm_tokenizer(tokenizer_dir);
  analysis::CorpusExampleOptions examples_options;
  examples_options.corpus = "animal-fortunes";
  examples_options.seed = options.seed;
  examples_options.per_label = options.quick ? 300 : 1500;
  examples_options.prefix_bytes = 0;
  examples_options.max_tokens = 128;
  auto examples = analysis::corpus_examples(*tokenizer, examples_options);
  auto stats = analysis::neuron_statistics(*lm, examples.examples, examples.labels,
                                           analysis::NeuronStatsOptions().hooks({"blocks.*.mlp.hook_post"}));
  auto max_activation = std::get<0>(stats.max.max(0));  // [N], over both labels

  const auto separator = train::document_separator(*tokenizer);
  std::vector<int64_t> prompt;
  if (separator) prompt.push_back(*separator);
  for (int64_t id : tokenizer->encode(kPrompt)) prompt.push_back(id);

  double clamp_rise = 0.0, random_median = 0.0;
  Json steering = Json::object();
  if (best >= 0) {
    const int64_t layer = decoded.layers[static_cast<size_t>(best / d_mlp)];
    const int64_t neuron = best % d_mlp;
    const int64_t animal = top1_id[best].item<int64_t>();
    const double base_p = next_token_probability(*lm, prompt, animal);
    auto clamp_to = [&](int64_t flat) {
      // stats' neurons are the hook_post of layers 0..L-1 in order, d_mlp each.
      return kClampFactor * std::max(0.0, static_cast<double>(max_activation[flat].item<float>()));
    };
    hooks::InterventionSet set;
    hooks::NeuronRef ref{mlp_post(layer), neuron, {}};
    set.set(ref, clamp_to(layer * d_mlp + neuron));
    double clamped_p = 0;
    {
      auto guards = set.apply(*lm);
      clamped_p = next_token_probability(*lm, prompt, animal);
    }
    clamp_rise = clamped_p / base_p;
    // Control: random neurons (other than the animal neuron), each clamped to 4x its own maximum.
    SplitMix64 rng(derive_seed(options.seed, "lmhead-decode/random-neurons"));
    std::vector<double> rises;
    Json random = Json::array();
    while (static_cast<int64_t>(rises.size()) < kRandomNeurons) {
      const int64_t flat = static_cast<int64_t>(rng.below(static_cast<uint64_t>(stats.neurons())));
      if (flat == layer * d_mlp + neuron) continue;
      hooks::InterventionSet control;
      control.set(hooks::NeuronRef{mlp_post(flat / d_mlp), flat % d_mlp, {}}, clamp_to(flat));
      auto guards = control.apply(*lm);
      const double p = next_token_probability(*lm, prompt, animal);
      rises.push_back(p / base_p);
      random.push_back({{"neuron", stats.neuron_name(flat)}, {"clamp", clamp_to(flat)}, {"rise", p / base_p}});
    }
    std::vector<double> sorted = rises;
    std::sort(sorted.begin(), sorted.end());
    random_median = 0.5 * (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]);
    steering = {{"neuron", ref.str()},
                {"animal", animal_token[animal]},
                {"top1_probability", top1_prob[best].item<double>()},
                {"max_activation", max_activation[layer * d_mlp + neuron].item<float>()},
                {"clamp_value", clamp_to(layer * d_mlp + neuron)},
                {"p_base", base_p},
                {"p_clamped", clamped_p},
                {"random_neurons", random}};
    std::fprintf(stderr, "animal neuron %s -> '%s' (top-1 p %.4f, median %.4f); P(%s | prompt) %.4g -> %.4g (x%.2f), "
                 "random median x%.2f\n", ref.str().c_str(), animal_token[animal].c_str(), top1_prob[best].item<double>(),
                 median_top1, animal_token[animal].c_str(), base_p, clamped_p, clamp_rise, random_median);
  }
  result.claims.push_back({"clamp_probability_rise", clamp_rise, ">=", kClampRise, "x",
                           "clamping the animal neuron to 4x its largest activation raises P(animal | \"my favourite "
                           "animal is the\") by >= 5x"});
  result.claims.push_back({"random_clamp_median_rise", random_median, "<=", kRandomMedian, "x",
                           "20 random neurons clamped the same way: median rise of the same probability"});

  // 3. Fine-tune on the question/answer variant and compare top tokens.
  auto tune_options = base_options;
  tune_options.dataset("animal-fortunes-qa")
      .init_from(out + "/model")
      .steps(300)
      .batch_size(8)
      .seq_len(64)
      .lr(1e-3)
      .min_lr(1e-4)
      .warmup_steps(10)
      .out(out + "/model-qa");
  train::train(tune_options, Json::object(), "golgi repro lmhead-decode (question/answer fine-tuning)");
  auto tuned_loaded = models::load_model(out + "/model-qa");
  auto* tuned = dynamic_cast<models::TransformerLM*>(tuned_loaded.model.get());
  GOLGI_ASSERT(tuned, "the fine-tuned model is not a transformer");
  auto tuned_decoded = methods::decode_neurons(*tuned, methods::LmheadDecodeOptions().top_k(5));
  const double unchanged =
      tuned_decoded.decoded.ids.select(1, 0).eq(top1_id).to(torch::kFloat64).mean().item<double>();
  std::fprintf(stderr, "after 300 fine-tuning steps, %.1f%% of neurons keep their top token (paper: 75%%)\n",
               100 * unchanged);

  Json top_neurons = Json::array();
  auto order = std::get<1>(top1_prob.sort(0, /*descending=*/true));
  for (int64_t i = 0; i < std::min<int64_t>(20, N); ++i) {
    const int64_t r = order[i].item<int64_t>();
    top_neurons.push_back({{"neuron", decoded.ref(r)},
                           {"token", methods::token_display(tokenizer->decode({top1_id[r].item<int64_t>()}))},
                           {"probability", top1_prob[r].item<double>()}});
  }
  result.metrics = {{"tokenizer_vocab", bpe->vocab_size()},
                    {"pretraining_steps", steps},
                    {"pretraining_val", base_run.metrics.value("val", Json::object())},
                    {"neurons", N},
                    {"median_top1_probability", median_top1},
                    {"animal_neurons", animal_neurons},
                    {"animals_not_one_token", split_animals},
                    {"most_specialised_neurons", top_neurons},
                    {"steering", steering},
                    {"decode_gflops", decoded.seconds > 0 ? decoded.gflop / decoded.seconds : 0.0},
                    {"finetune_steps", 300},
                    {"top_token_unchanged_after_finetune", unchanged},
                    {"paper_top_token_unchanged", 0.75}};
  return result;
}

}  // namespace golgi::repro
