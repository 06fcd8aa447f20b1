// Reproduction of paper id `relation-neurons` (Liu et al. 2025, "On Relation-Specific Neurons in
// Large Language Models") on a small byte-level Llama-style model that golgi trains here, from
// scratch, on facts-kb (docs/methods/relation-neurons.md, section "Reproduction").
//
// 1. Facts. Four facts-kb relations with short answers (country_currency, country_calling_code,
//    country_language, language_code); per relation a seeded sample (--quick: 40) of facts-kb's
//    training split (subject-disjoint from its eval split). Every fact is written with every
//    template of its relation: "<|eos|>" + prompt + target + "<|eos|>" (bytes as tokens).
// 2. Training: AdamW on the answer tokens only (target and the closing <|eos|>), until every
//    relation's training prompts are answered with >= 97% exact match or the step budget ends.
// 3. The facts of each relation are split in two halves (seeded): the selection half gives the
//    neuron responses (mean over the prompt's tokens, the leading <|eos|> excluded) of every output
//    unit of gate_proj, up_proj and down_proj in all layers, and the correctness of each prompt;
//    relation neurons are the top N by average precision (methods/relation_neurons), equal AP
//    broken by the standardised mean response difference (see ranked_neurons). The measurement
//    half, which the selection never saw, gives every accuracy below.
// 4. Accuracy = exact match of the greedy continuation with target + "<|eos|>" (the text up to the
//    first separator equals the target; analysis/exact_match.h), measured under deactivation:
//    the chosen units are zeroed at every position, prompt and answer alike.
//
// Why the measurement prompts are training facts: a model this small trained from scratch cannot
// answer facts about subjects it never saw (the paper's held-out prompts probe a pretrained LLM's
// knowledge). It is still measured on facts-kb's subject-disjoint eval split and reported
// (metrics.unseen_subjects_accuracy) to show that.
//
// Claims, per relation r (drops in accuracy points, 100 × (acc_orig − acc_deact)):
//   own_minus_random/r  drop from r's top 0.4% neurons − mean drop from 10 random same-size sets ≥ 25
//   spearman/r          Spearman ρ of r's accuracy vs N ∈ {0.05, 0.1, 0.2, 0.4, 1, 2}% ≤ −0.9
//   others_vs_own/r     mean drop of the other relations at 0.4% − own drop / 3 < 0 (others < ⅓ own;
//                       strict, so that no drop at all is not a pass)
// and facts_learned: the lowest per-relation training-prompt accuracy ≥ 0.9 (the experiment is
// only meaningful on learned facts). Reported: interference (other relations whose accuracy rises
// when r's neurons are off), the overlap of the relations' neuron sets, their hook histogram.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>

#include <torch/torch.h>

#include "golgi/analysis/exact_match.h"
#include "golgi/analysis/neuron_stats.h"
#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/core/stopwatch.h"
#include "golgi/data/facts_kb.h"
#include "golgi/hooks/intervention_set.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/methods/relation_neurons/relation_neurons.h"
#include "golgi/models/registry.h"
#include "golgi/models/transformer.h"
#include "golgi/repro/repro.h"
#include "golgi/tokenize/tokenizer.h"

namespace golgi::repro {

namespace {

constexpr double kOwnMinusRandom = 25.0;  // points
constexpr double kSpearman = -0.9;
constexpr double kLearned = 0.9;
constexpr int64_t kRandomSets = 10;
constexpr double kMainRate = 0.004;
const std::vector<double> kRates = {0.0005, 0.001, 0.002, 0.004, 0.01, 0.02};
const std::vector<double> kWideRates = {0.05, 0.1, 0.2};

struct Config {
  std::vector<std::string> relations = {"country_currency", "country_calling_code", "country_language",
                                        "language_code"};
  int64_t facts_per_relation = 40;  // sampled from facts-kb's training split; 0: all
  int64_t unseen_per_relation = 40;  // facts of the subject-disjoint eval split, for the report
  int64_t d_model = 96, n_layers = 2, n_heads = 4, n_kv_heads = 2, d_mlp = 256;
  int64_t batch_size = 16;
  int64_t max_steps = 800;
  int64_t warmup_steps = 30;
  int64_t check_every = 50;
  double lr = 5e-3;
  double stop_accuracy = 0.97;

  Json to_json() const {
    return {{"relations", relations}, {"facts_per_relation", facts_per_relation},
            {"unseen_per_relation", unseen_per_relation},
            {"model", {{"architecture", "llama"}, {"d_model", d_model}, {"n_layers", n_layers}, {"n_heads", n_heads},
                       {"n_kv_heads", n_kv_heads}, {"d_mlp", d_mlp}, {"tokenizer", "byte"}}},
            {"training", {{"optimizer", "adamw"}, {"lr", lr}, {"schedule", "linear warmup, cosine to lr/10"},
                          {"warmup_steps", warmup_steps}, {"batch_size", batch_size}, {"max_steps", max_steps},
                          {"check_every", check_every}, {"stop_accuracy", stop_accuracy},
                          {"loss", "answer tokens only (target + <|eos|>)"}}}};
  }
};

Config config_for(bool quick) {
  Config c;
  if (!quick) {
    c.facts_per_relation = 0;
    c.unseen_per_relation = 0;
    c.d_model = 192;
    c.n_layers = 4;
    c.n_heads = 6;
    c.d_mlp = 768;
    c.batch_size = 32;
    c.max_steps = 6000;
    c.check_every = 200;
  }
  return c;
}

struct FactPrompt {
  int64_t relation = 0;
  std::string subject, text, target;
  int64_t template_index = 0;
  analysis::AnswerExample example;  // prompt: <|eos|> + text; answer: target + <|eos|>
};

// A seeded sample of at most n of `facts` (all when n <= 0 or n >= size), in their sorted order.
std::vector<data::Fact> sample(const std::vector<data::Fact>& facts, int64_t n, uint64_t seed) {
  if (n <= 0 || n >= static_cast<int64_t>(facts.size())) return facts;
  auto perm = permutation(static_cast<int64_t>(facts.size()), seed);
  perm.resize(static_cast<size_t>(n));
  std::sort(perm.begin(), perm.end());
  std::vector<data::Fact> out;
  for (int64_t i : perm) out.push_back(facts[static_cast<size_t>(i)]);
  return out;
}

std::vector<FactPrompt> prompts_of(const std::vector<data::Fact>& facts, const std::vector<std::string>& relations,
                                   const tokenize::Tokenizer& tokenizer, int64_t eos) {
  std::vector<FactPrompt> out;
  for (const auto& f : facts) {
    const auto rel = std::find(relations.begin(), relations.end(), f.relation);
    GOLGI_ASSERT(rel != relations.end(), "fact of an unexpected relation ", f.relation);
    const auto& specs = data::facts_kb_relations();
    const auto spec = std::find_if(specs.begin(), specs.end(), [&](const auto& s) { return s.name == f.relation; });
    GOLGI_ASSERT(spec != specs.end(), "unknown relation ", f.relation);
    for (size_t t = 0; t < spec->templates.size(); ++t) {
      const auto p = data::prompt(f, t);
      FactPrompt fp;
      fp.relation = rel - relations.begin();
      fp.subject = f.subject;
      fp.text = p.text;
      fp.target = p.target;
      fp.template_index = static_cast<int64_t>(t);
      fp.example.prompt.push_back(eos);
      for (int64_t id : tokenizer.encode(p.text)) fp.example.prompt.push_back(id);
      fp.example.answer = tokenizer.encode(p.target);
      fp.example.answer.push_back(eos);
      out.push_back(std::move(fp));
    }
  }
  return out;
}

std::vector<analysis::AnswerExample> examples_of(const std::vector<FactPrompt>& prompts, int64_t relation = -1) {
  std::vector<analysis::AnswerExample> out;
  for (const auto& p : prompts)
    if (relation < 0 || p.relation == relation) out.push_back(p.example);
  return out;
}

std::vector<int64_t> relations_of(const std::vector<FactPrompt>& prompts) {
  std::vector<int64_t> out;
  for (const auto& p : prompts) out.push_back(p.relation);
  return out;
}

// Trains on the answer tokens of `prompts`; returns the training log.
Json train_facts_model(models::TransformerLM& model, const std::vector<FactPrompt>& prompts, int64_t relations,
                       const Config& config, uint64_t seed) {
  const auto start = std::chrono::steady_clock::now();
  torch::optim::AdamW optimizer(model.parameters(),
                                torch::optim::AdamWOptions(config.lr).betas({0.9, 0.98}).weight_decay(0.0));
  const auto all = examples_of(prompts);
  const auto groups = relations_of(prompts);
  const int64_t n = static_cast<int64_t>(prompts.size());
  std::vector<int64_t> order;
  size_t cursor = 0;
  int64_t epoch = 0;
  Json history = Json::array();
  double running = 0;
  int64_t running_n = 0, step = 0;
  std::vector<double> accuracy;
  bool reached = false;
  model.train();
  while (step < config.max_steps) {
    // The step's batch: the next batch_size examples of a seeded per-epoch order.
    std::vector<int64_t> batch;
    while (static_cast<int64_t>(batch.size()) < std::min(config.batch_size, n)) {
      if (cursor >= order.size()) {
        order = permutation(n, derive_seed(seed, "relation-neurons/order", static_cast<uint64_t>(epoch++)));
        cursor = 0;
      }
      batch.push_back(order[cursor++]);
    }
    size_t width = 0;
    for (int64_t i : batch)
      width = std::max(width, all[static_cast<size_t>(i)].prompt.size() + all[static_cast<size_t>(i)].answer.size() - 1);
    const int64_t rows = static_cast<int64_t>(batch.size());
    at::Tensor inputs = torch::zeros({rows, static_cast<int64_t>(width)}, torch::kInt64);
    at::Tensor targets = torch::full({rows, static_cast<int64_t>(width)}, -1, torch::kInt64);
    auto in = inputs.accessor<int64_t, 2>();
    auto tg = targets.accessor<int64_t, 2>();
    for (int64_t r = 0; r < rows; ++r) {
      const auto& ex = all[static_cast<size_t>(batch[static_cast<size_t>(r)])];
      int64_t p = 0;
      for (int64_t t : ex.prompt) in[r][p++] = t;
      for (size_t t = 0; t + 1 < ex.answer.size(); ++t) in[r][p++] = ex.answer[t];
      const int64_t first = static_cast<int64_t>(ex.prompt.size()) - 1;
      for (size_t t = 0; t < ex.answer.size(); ++t) tg[r][first + static_cast<int64_t>(t)] = ex.answer[t];
    }
    // Linear warmup, then cosine from lr to lr / 10 at max_steps.
    double lr = config.lr;
    if (step < config.warmup_steps) {
      lr *= static_cast<double>(step + 1) / static_cast<double>(config.warmup_steps);
    } else {
      const double progress = static_cast<double>(step - config.warmup_steps) /
                              static_cast<double>(std::max<int64_t>(1, config.max_steps - config.warmup_steps));
      lr *= 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * progress));
    }
    for (auto& group : optimizer.param_groups())
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    at::Tensor logits = model.forward(inputs);
    at::Tensor loss = torch::nn::functional::cross_entropy(
        logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}),
        torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-1));
    optimizer.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(model.parameters(), 1.0);
    optimizer.step();
    running += loss.item<double>();
    ++running_n;
    ++step;
    if (step % config.check_every == 0 || step == config.max_steps) {
      auto r = analysis::exact_match(model, all);
      accuracy = r.accuracy_by(groups, relations);
      const double lowest = *std::min_element(accuracy.begin(), accuracy.end());
      history.push_back({{"step", step}, {"loss", running / static_cast<double>(running_n)}, {"accuracy", accuracy},
                         {"seconds", seconds_since(start)}});
      std::fprintf(stderr, "train step %lld: loss %.4f, lowest relation accuracy %.3f (%.0f s)\n",
                   static_cast<long long>(step), running / static_cast<double>(running_n), lowest, seconds_since(start));
      running = 0;
      running_n = 0;
      model.train();
      if (lowest >= config.stop_accuracy) {
        reached = true;
        break;
      }
    }
  }
  model.eval();
  return {{"steps", step}, {"epochs_started", epoch}, {"reached_stop_accuracy", reached},
          {"final_accuracy", accuracy}, {"history", history}, {"seconds", seconds_since(start)}};
}

// Zeroes flat neurons `neurons` (indices into the statistics' concatenated hook points).
hooks::InterventionSet deactivation(const analysis::NeuronStats& stats, const std::vector<int64_t>& neurons) {
  std::map<int64_t, std::vector<int64_t>> by_hook;
  for (int64_t n : neurons) {
    const auto [hook, index] = stats.locate(n);
    by_hook[hook].push_back(index);
  }
  hooks::InterventionSet set;
  for (auto& [hook, indices] : by_hook) {
    std::sort(indices.begin(), indices.end());
    set.zero_all(stats.hooks[static_cast<size_t>(hook)], indices);
  }
  return set;
}

int64_t resolved_count(double rate, int64_t neurons) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::nearbyint(rate * static_cast<double>(neurons))));
}

// All neurons ranked for relation set `set`: by AP (highest first), then, among equal AP, by the
// standardised mean difference of the responses, (mean over positives - mean over negatives) /
// sqrt((var_pos + var_neg) / 2) (largest first), then by lower index. In a small model many units
// detect a relation's template perfectly (AP = 1); the method's own tie rule (lower index) would
// then pick the first layer's first perfect detectors whatever their size of effect.
std::vector<int64_t> ranked_neurons(const at::Tensor& responses, const at::Tensor& ap_row,
                                    const methods::RelationNeuronSet& set) {
  const at::Tensor x = responses.to(torch::kFloat64);
  const at::Tensor pos = x.index_select(0, torch::tensor(set.positive_examples, torch::kInt64));
  const at::Tensor neg = x.index_select(0, torch::tensor(set.negative_examples, torch::kInt64));
  const at::Tensor var = (pos.var(0, /*unbiased=*/false) + neg.var(0, /*unbiased=*/false)) / 2;
  const at::Tensor d = ((pos.mean(0) - neg.mean(0)) / (var + 1e-12).sqrt()).contiguous();
  const at::Tensor ap = ap_row.to(torch::kFloat64).contiguous();
  const int64_t N = ap.size(0);
  const double* a = ap.data_ptr<double>();
  const double* e = d.data_ptr<double>();
  std::vector<int64_t> order(static_cast<size_t>(N));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) {
    if (a[i] != a[j]) return a[i] > a[j];
    if (e[i] != e[j]) return e[i] > e[j];
    return i < j;
  });
  return order;
}

std::vector<int64_t> first(const std::vector<int64_t>& ranked, int64_t n) {
  return std::vector<int64_t>(ranked.begin(), ranked.begin() + std::min<int64_t>(n, static_cast<int64_t>(ranked.size())));
}

double mean_of(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

}  // namespace

ReproResult run_relation_neurons(const ReproOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  seed_everything(options.seed);
  const Config config = config_for(options.quick);
  const int64_t R = static_cast<int64_t>(config.relations.size());
  tokenize::ByteTokenizer tokenizer;
  const auto eos_id = tokenizer.special_id("<|eos|>");
  GOLGI_ASSERT(eos_id.has_value(), "the byte tokenizer has no <|eos|>");
  const int64_t eos = *eos_id;

  // 1. Facts.
  const auto kb = data::load_facts_kb(data::FactsKbOptions().with_seed(options.seed).with_relations(config.relations));
  std::vector<data::Fact> train_facts, unseen_facts;
  Json fact_counts = Json::object();
  // The two halves of each relation's facts: 0 selection, 1 measurement.
  std::vector<FactPrompt> selection_prompts, measurement_prompts;
  for (int64_t r = 0; r < R; ++r) {
    const auto& name = config.relations[static_cast<size_t>(r)];
    std::vector<data::Fact> of_train, of_eval;
    for (const auto& f : kb.train)
      if (f.relation == name) of_train.push_back(f);
    for (const auto& f : kb.eval)
      if (f.relation == name) of_eval.push_back(f);
    auto chosen = sample(of_train, config.facts_per_relation, derive_seed(options.seed, "relation-neurons/facts", r));
    auto unseen = sample(of_eval, config.unseen_per_relation, derive_seed(options.seed, "relation-neurons/unseen", r));
    GOLGI_CHECK(chosen.size() >= 8, "facts-kb has only ", chosen.size(), " training facts of ", name);
    auto halves = permutation(static_cast<int64_t>(chosen.size()), derive_seed(options.seed, "relation-neurons/halves", r));
    std::vector<data::Fact> select_half, measure_half;
    for (size_t i = 0; i < halves.size(); ++i)
      (i < halves.size() / 2 ? select_half : measure_half).push_back(chosen[static_cast<size_t>(halves[i])]);
    std::sort(select_half.begin(), select_half.end());
    std::sort(measure_half.begin(), measure_half.end());
    for (auto& p : prompts_of(select_half, config.relations, tokenizer, eos)) selection_prompts.push_back(std::move(p));
    for (auto& p : prompts_of(measure_half, config.relations, tokenizer, eos)) measurement_prompts.push_back(std::move(p));
    train_facts.insert(train_facts.end(), chosen.begin(), chosen.end());
    unseen_facts.insert(unseen_facts.end(), unseen.begin(), unseen.end());
    fact_counts[name] = {{"facts_kb_train", of_train.size()}, {"facts_kb_eval", of_eval.size()},
                         {"trained", chosen.size()}, {"selection_half", select_half.size()},
                         {"measurement_half", measure_half.size()}, {"unseen_measured", unseen.size()}};
  }
  std::vector<FactPrompt> train_prompts = selection_prompts;
  train_prompts.insert(train_prompts.end(), measurement_prompts.begin(), measurement_prompts.end());
  auto unseen_prompts = prompts_of(unseen_facts, config.relations, tokenizer, eos);
  size_t longest = 0;
  for (const auto* set : {&train_prompts, &unseen_prompts})
    for (const auto& p : *set) longest = std::max(longest, p.example.prompt.size() + p.example.answer.size());
  std::fprintf(stderr, "relation neurons: %zu facts, %zu training prompts, longest %zu tokens\n", train_facts.size(),
               train_prompts.size(), longest);

  // 2. The facts model.
  const Json model_options = {{"vocab_size", tokenizer.vocab_size()}, {"n_ctx", static_cast<int64_t>(longest) + 8},
                              {"d_model", config.d_model},          {"n_layers", config.n_layers},
                              {"n_heads", config.n_heads},          {"n_kv_heads", config.n_kv_heads},
                              {"d_mlp", config.d_mlp}};
  auto model_ptr = std::dynamic_pointer_cast<models::TransformerLM>(models::make_model("llama", model_options));
  GOLGI_ASSERT(model_ptr, "llama is not a TransformerLM");
  auto& model = *model_ptr;
  Json training = train_facts_model(model, train_prompts, R, config, options.seed);
  const auto train_groups = relations_of(train_prompts);
  const auto learned = analysis::exact_match(model, examples_of(train_prompts)).accuracy_by(train_groups, R);
  const auto unseen_acc = analysis::exact_match(model, examples_of(unseen_prompts)).accuracy_by(relations_of(unseen_prompts), R);
  if (!options.out.empty()) {
    io::make_dirs(options.out);
    models::save_model(options.out + "/facts-model", model,
                       {{"command", "golgi repro relation-neurons" + std::string(options.quick ? " --quick" : "") +
                                        " --seed " + std::to_string(options.seed)},
                        {"seed", options.seed},
                        {"dataset", {{"name", "facts-kb"}, {"relations", config.relations}}},
                        {"metrics", {{"training_accuracy", learned}}}});
  }

  // 3. Responses and selection on the selection half.
  std::vector<analysis::TextExample> texts;
  for (const auto& p : selection_prompts) {
    analysis::TextExample ex;
    ex.tokens = p.example.prompt;
    ex.label = p.relation;
    ex.count_begin = 1;  // the leading <|eos|> is the same for every prompt
    texts.push_back(std::move(ex));
  }
  const auto stats = analysis::neuron_statistics(
      model, texts, config.relations,
      analysis::NeuronStatsOptions()
          .hooks({"blocks.*.mlp.hook_pre", "blocks.*.mlp.hook_pre_linear", "blocks.*.hook_mlp_out"})
          .per_example(true)
          .batch_size(64)
          .progress(false));
  const int64_t N = stats.neurons();
  const auto selection_correct = analysis::exact_match(model, examples_of(selection_prompts));
  const auto selection = methods::select_relation_neurons(
      stats.responses, stats.example_labels, selection_correct.correct_tensor(), config.relations,
      methods::RelationNeuronOptions().top_rate(kMainRate).seed(static_cast<int64_t>(options.seed)));
  std::vector<std::string> names;
  for (int64_t n = 0; n < N; ++n) names.push_back(stats.neuron_name(n));
  if (!options.out.empty()) io::write_json_file(options.out + "/relation_neurons.json", selection.to_json(names));

  // 4. Deactivation on the measurement half.
  std::vector<std::vector<analysis::AnswerExample>> measure(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; ++r) measure[static_cast<size_t>(r)] = examples_of(measurement_prompts, r);
  auto accuracy_under = [&](const hooks::InterventionSet& set, int64_t relation) {
    auto guards = set.apply(model);
    return analysis::exact_match(model, measure[static_cast<size_t>(relation)]).accuracy();
  };
  std::vector<double> acc_orig(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; ++r) acc_orig[static_cast<size_t>(r)] = accuracy_under(hooks::InterventionSet(), r);

  ReproResult result;
  std::vector<std::vector<double>> acc_deact(static_cast<size_t>(R), std::vector<double>(static_cast<size_t>(R)));
  Json per_relation = Json::object();
  Json interference = Json::array();
  std::vector<Claim> own_claims, spearman_claims, others_claims;
  std::vector<int64_t> counts;
  std::vector<std::vector<int64_t>> main_sets(static_cast<size_t>(R));
  for (double rate : kRates) counts.push_back(resolved_count(rate, N));
  for (int64_t r = 0; r < R; ++r) {
    const auto& name = config.relations[static_cast<size_t>(r)];
    const auto& set = selection.sets[static_cast<size_t>(r)];
    Json entry = {{"status", set.status}, {"accuracy", acc_orig[static_cast<size_t>(r)]}};
    if (set.status != "ok") {
      std::fprintf(stderr, "%s: no relation neurons (%s)\n", name.c_str(), set.status.c_str());
      entry["claims"] = "not measured: no neurons";
      per_relation[name] = entry;
      own_claims.push_back({"own_minus_random/" + name, 0.0, ">=", kOwnMinusRandom, "points", "no relation neurons"});
      spearman_claims.push_back({"spearman/" + name, 0.0, "<=", kSpearman, "rho", "no relation neurons"});
      others_claims.push_back({"others_vs_own/" + name, 0.0, "<", 0.0, "points", "no relation neurons"});
      continue;
    }
    const at::Tensor ap_row = selection.ap[r];
    const auto ranked = ranked_neurons(stats.responses, ap_row, set);
    const auto main_neurons = first(ranked, selection.top_n);
    const int64_t perfect = (ap_row == 1.0).sum().item<int64_t>();
    // Cumulativity: accuracy as N grows.
    std::vector<double> sweep_acc, sweep_rate;
    Json sweep = Json::array();
    for (size_t k = 0; k < kRates.size(); ++k) {
      const auto neurons = first(ranked, counts[k]);
      const double acc = accuracy_under(deactivation(stats, neurons), r);
      sweep_acc.push_back(acc);
      sweep_rate.push_back(kRates[k]);
      sweep.push_back({{"rate", kRates[k]}, {"neurons", counts[k]}, {"accuracy", acc}});
    }
    double rho = methods::spearman(sweep_rate, sweep_acc);
    const bool rho_defined = !std::isnan(rho);
    if (!rho_defined) rho = 0.0;  // constant accuracy: no trend at all

    // Versatility and interference: r's 0.4% set on every relation.
    const auto main_set = deactivation(stats, main_neurons);
    for (int64_t j = 0; j < R; ++j) acc_deact[static_cast<size_t>(r)][static_cast<size_t>(j)] = accuracy_under(main_set, j);
    const double own_drop = 100 * (acc_orig[static_cast<size_t>(r)] - acc_deact[static_cast<size_t>(r)][static_cast<size_t>(r)]);
    double others_drop = 0;
    Json others = Json::object();
    for (int64_t j = 0; j < R; ++j) {
      if (j == r) continue;
      const double d = 100 * (acc_orig[static_cast<size_t>(j)] - acc_deact[static_cast<size_t>(r)][static_cast<size_t>(j)]);
      others_drop += d / static_cast<double>(R - 1);
      others[config.relations[static_cast<size_t>(j)]] = d;
      if (d < 0)
        interference.push_back({{"deactivated", name}, {"improved", config.relations[static_cast<size_t>(j)]},
                                {"points", -d}});
    }

    // The control: random sets of the same size, uniform over all neurons.
    SplitMix64 rng(derive_seed(options.seed, "relation-neurons/random-sets", static_cast<uint64_t>(r)));
    const int64_t size = static_cast<int64_t>(main_neurons.size());
    std::vector<double> random_drops;
    for (int64_t s = 0; s < kRandomSets; ++s) {
      std::vector<int64_t> all(static_cast<size_t>(N));
      std::iota(all.begin(), all.end(), 0);
      for (int64_t i = 0; i < size; ++i)
        std::swap(all[static_cast<size_t>(i)], all[static_cast<size_t>(i + static_cast<int64_t>(rng.below(static_cast<uint64_t>(N - i))))]);
      all.resize(static_cast<size_t>(size));
      random_drops.push_back(100 * (acc_orig[static_cast<size_t>(r)] - accuracy_under(deactivation(stats, all), r)));
    }
    const double random_mean = mean_of(random_drops);

    // Context, not claims: the method's own tie rule (lower index) at 0.4%, and how many neurons
    // it takes to hurt the relation at all (larger sets, each with one random set of the same size).
    const double index_tie_drop =
        100 * (acc_orig[static_cast<size_t>(r)] - accuracy_under(deactivation(stats, set.neurons), r));
    Json wide = Json::array();
    for (double rate : kWideRates) {
      const int64_t n = resolved_count(rate, N);
      std::vector<int64_t> all(static_cast<size_t>(N));
      std::iota(all.begin(), all.end(), 0);
      for (int64_t i = 0; i < n; ++i)
        std::swap(all[static_cast<size_t>(i)], all[static_cast<size_t>(i + static_cast<int64_t>(rng.below(static_cast<uint64_t>(N - i))))]);
      all.resize(static_cast<size_t>(n));
      wide.push_back({{"rate", rate}, {"neurons", n}, {"accuracy", accuracy_under(deactivation(stats, first(ranked, n)), r)},
                      {"random_accuracy", accuracy_under(deactivation(stats, all), r)}});
    }
    main_sets[static_cast<size_t>(r)] = main_neurons;
    double ap_sum = 0;
    for (int64_t n : main_neurons) ap_sum += ap_row[n].item<double>();

    std::map<std::string, int64_t> hook_histogram;
    for (int64_t n : main_neurons) ++hook_histogram[stats.hooks[static_cast<size_t>(stats.locate(n).first)]];
    std::vector<std::string> set_names;
    for (int64_t n : main_neurons) set_names.push_back(names[static_cast<size_t>(n)]);
    entry.update({{"neurons", size},
                  {"neuron_names", set_names},
                  {"hook_histogram", hook_histogram},
                  {"ap_mean", ap_sum / static_cast<double>(std::max<int64_t>(1, size))},
                  {"perfect_ap_neurons", perfect},
                  {"own_drop_points_index_ties", index_tie_drop},
                  {"wide_sweep", wide},
                  {"accuracy_deactivated", acc_deact[static_cast<size_t>(r)][static_cast<size_t>(r)]},
                  {"own_drop_points", own_drop},
                  {"random_drop_points", random_drops},
                  {"random_drop_mean_points", random_mean},
                  {"others_drop_points", others},
                  {"others_mean_drop_points", others_drop},
                  {"others_over_own", own_drop > 0 ? Json(others_drop / own_drop) : Json(nullptr)},
                  {"sweep", sweep},
                  {"spearman", rho_defined ? Json(rho) : Json(nullptr)}});
    per_relation[name] = entry;
    std::fprintf(stderr,
                 "%s: acc %.3f, top %lld off: own drop %.1f pts, random %.1f pts, others %.1f pts; rho %.3f%s\n",
                 name.c_str(), acc_orig[static_cast<size_t>(r)], static_cast<long long>(size), own_drop, random_mean,
                 others_drop, rho, rho_defined ? "" : " (undefined: constant accuracy)");
    own_claims.push_back({"own_minus_random/" + name, own_drop - random_mean, ">=", kOwnMinusRandom, "points",
                          "deactivating the relation's top 0.4% neurons drops its accuracy >= 25 points more than "
                          "the mean of 10 random same-size sets"});
    spearman_claims.push_back({"spearman/" + name, rho, "<=", kSpearman, "rho",
                               "accuracy falls monotonically as N grows over 0.05..2% of neurons (Spearman; 0 when "
                               "accuracy is constant)"});
    // Strict: with no own drop and no other drop (0 - 0) the claim says nothing, so it fails.
    others_claims.push_back({"others_vs_own/" + name, others_drop - own_drop / 3, "<", 0.0, "points",
                             "the mean drop on the other relations is below a third of the own drop (value: "
                             "others_mean_drop - own_drop / 3)"});
  }

  result.claims.push_back({"facts_learned", *std::min_element(learned.begin(), learned.end()), ">=", kLearned,
                           "accuracy", "every relation's training prompts are answered with >= 90% exact match"});
  for (const auto* claims : {&own_claims, &spearman_claims, &others_claims})
    result.claims.insert(result.claims.end(), claims->begin(), claims->end());

  Json learned_json = Json::object(), unseen_json = Json::object(), orig_json = Json::object();
  for (int64_t r = 0; r < R; ++r) {
    const auto& name = config.relations[static_cast<size_t>(r)];
    learned_json[name] = learned[static_cast<size_t>(r)];
    unseen_json[name] = std::isnan(unseen_acc[static_cast<size_t>(r)]) ? Json(nullptr) : Json(unseen_acc[static_cast<size_t>(r)]);
    orig_json[name] = acc_orig[static_cast<size_t>(r)];
  }
  const auto relative = methods::accuracy_drop(acc_orig, acc_deact);
  Json relative_json = Json::array();
  for (const auto& row : relative) {
    Json j = Json::array();
    for (double v : row) j.push_back(std::isnan(v) ? Json(nullptr) : Json(v));
    relative_json.push_back(j);
  }
  Json intersection = Json::array(), jaccard = Json::array();
  for (int64_t i = 0; i < R; ++i) {
    Json a = Json::array(), b = Json::array();
    for (int64_t j = 0; j < R; ++j) {
      a.push_back(methods::intersection_size(main_sets[static_cast<size_t>(i)], main_sets[static_cast<size_t>(j)]));
      b.push_back(methods::jaccard(main_sets[static_cast<size_t>(i)], main_sets[static_cast<size_t>(j)]));
    }
    intersection.push_back(a);
    jaccard.push_back(b);
  }
  const Json overlap = {{"relations", config.relations}, {"intersection", intersection}, {"jaccard", jaccard},
                        {"method_tie_rule", selection.to_json()["overlap"]}};
  result.metrics = {
      {"config", config.to_json()},
      {"accuracy_definition",
       "exact match: the first len(target)+1 greedy tokens after '<|eos|>' + prompt equal target + '<|eos|>' "
       "(bytes as tokens), i.e. the generated text up to the first separator equals the target"},
      {"evaluation",
       "measurement half of the trained facts (all templates), disjoint from the selection half whose responses "
       "chose the neurons; unseen_subjects_accuracy is facts-kb's subject-disjoint eval split"},
      {"facts", fact_counts},
      {"training", training},
      {"training_accuracy", learned_json},
      {"unseen_subjects_accuracy", unseen_json},
      {"measurement_accuracy", orig_json},
      {"neurons", N},
      {"hooks", stats.hooks},
      {"rates", kRates},
      {"neurons_per_rate", counts},
      {"top_n", selection.top_n},
      {"per_relation", per_relation},
      {"relative_drop_matrix", relative_json},
      {"relative_drop_rows", "deactivated relation i (row) on relation j (column): (acc_orig - acc_deact) / acc_orig"},
      {"interference", interference},
      {"overlap", overlap},
      {"ranking", "AP (highest first), ties by the standardised mean difference of the responses (positives minus "
                  "negatives), then lower index; own_drop_points_index_ties uses the method's rule (lower index)"},
      {"selection_examples", selection_prompts.size()},
      {"measurement_examples", measurement_prompts.size()},
      {"phase_seconds_total", seconds_since(start)}};
  return result;
}

}  // namespace golgi::repro
