// Reproduction of paper id `sae-select` (Ma et al. 2025, "Task-Specific Data Selection for
// Instruction Tuning via Monosemantic Neuronal Activations", MONA) on golgi's bundled byte-level
// 12-language model (docs/methods/sae_select.md, section "Reproduction").
//
// 1. Domains: every language of multilingual-fortunes except English, and every English fortune
//    file (the document's `source`) with at least kMinDomainDocs training documents. Only the
//    corpus's TRAIN split feeds the pool and the targets; each target domain's val + test documents
//    are its held-out evaluation text (the bundled model never trained on them).
// 2. Targets: for each of the 5 target domains (kTargetDomains), 20 training documents drawn with a
//    seeded permutation; they are not in the pool. Pool: the other training documents of every
//    domain, at most `cap` per domain (a seeded choice).
// 3. SAE: TopK on blocks.2.hook_resid_post (d_model 192) over the token activations of
//    `sae_passages` random pool passages (separator excluded), trained with methods/sae train_sae;
//    FVU, L0 and dead fraction on the target passages' tokens (never trained on).
// 4. Embeddings of every passage's first `max_bytes` bytes (methods/sae_select embed_passages);
//    per target domain the top 5% of the pool by generalised Jaccard to the prototype, by cosine of
//    SAE codes, by cosine of raw activations, and at random; domain precision of each.
// 5. Fine-tuning: a fresh copy of the model trained 200 AdamW steps on windows cut from each target
//    domain's selected 5% (Jaccard), and one copy trained the same way (same seed, same schedule) on
//    one random 5% of the pool, shared by all domains; held-out target bits per byte before and
//    after.
//
// Claims (over the 5 target domains):
//   jaccard_precision            mean domain precision of the Jaccard selection          >= 0.8
//   jaccard_minus_best_cosine    mean precision, Jaccard − max(cosine-sae, cosine-raw)   >= 0
//   domains_finetune_gain        domains where fine-tuning on the selection lowers held-out bits
//                                per byte (drop > 0) and (drop after selected) − (drop after
//                                random) >= 0.05                                         >= 4 (of 5)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/runtime.h"
#include "golgi/core/seed.h"
#include "golgi/core/stopwatch.h"
#include "golgi/data/text_corpus.h"
#include "golgi/hooks/activation_cache.h"
#include "golgi/methods/sae/sae.h"
#include "golgi/methods/sae_select/data_selection.h"
#include "golgi/models/registry.h"
#include "golgi/models/transformer.h"
#include "golgi/repro/assets.h"
#include "golgi/repro/repro.h"
#include "golgi/train/language_model.h"
#include "golgi/train/optimizer.h"

namespace golgi::repro {

namespace {

constexpr double kPrecision = 0.8;
constexpr double kGainBits = 0.05;
constexpr int64_t kDomainsNeeded = 4;
constexpr int64_t kMinDomainDocs = 150;   // training documents an English fortune file needs to be a domain
constexpr int64_t kTargetsPerDomain = 20;
constexpr double kFraction = 0.05;
const char* kHook = "blocks.2.hook_resid_post";
// A fixed mix of languages and English fortune files; the English ones are the largest files, so
// that a perfect selection (5% of the pool) can be nearly all in-domain.
const std::vector<std::string> kTargetDomains = {"de", "eo", "pl", "en/definitions", "en/people"};

// --quick is sized for ~6 min on an idle 2-core machine: the pool (>= 20k passages) is embedded
// from each passage's first 48 bytes, the SAE is small and briefly trained, and each of the 6
// fine-tuning runs (5 selections, 1 random) takes 200 steps of 8 windows of 32 tokens. The full run
// embeds 128 bytes, trains a larger SAE longer and fine-tunes on 16 windows of 64 tokens.
struct Config {
  int64_t cap = 1200;           // pool passages per domain at most
  int64_t max_bytes = 48;       // bytes of each passage embedded
  int64_t batch_size = 128;     // passages per embedding forward pass
  int64_t sae_passages = 1000;  // pool passages whose tokens train the SAE
  int64_t latents = 512, k = 16, sae_steps = 400, sae_batch = 256;
  int64_t ft_steps = 200, ft_batch = 8, ft_seq = 32, ft_warmup = 20;
  double ft_lr = 3e-4;
  int64_t eval_docs = 40;       // held-out documents per target domain at most
  int64_t eval_seq = 128;

  Json to_json() const {
    return {{"cap_per_domain", cap}, {"max_bytes", max_bytes}, {"hook", kHook}, {"sae_passages", sae_passages},
            {"sae", {{"kind", "topk"}, {"latents", latents}, {"k", k}, {"steps", sae_steps}, {"batch_size", sae_batch}}},
            {"fraction", kFraction}, {"targets_per_domain", kTargetsPerDomain}, {"target_domains", kTargetDomains},
            {"min_domain_docs", kMinDomainDocs},
            {"finetune", {{"steps", ft_steps}, {"batch_size", ft_batch}, {"seq_len", ft_seq}, {"lr", ft_lr},
                          {"warmup_steps", ft_warmup},
                          {"optimizer", "adamw, weight decay 0, grad clip 1.0, linear warmup then constant lr"}}},
            {"eval", {{"docs_per_domain", eval_docs}, {"seq_len", eval_seq}}}};
  }
};

Config config_for(bool quick) {
  Config c;
  if (!quick) {
    c.max_bytes = 128;
    c.sae_passages = 4000;
    c.latents = 2048;
    c.k = 32;
    c.sae_steps = 3000;
    c.sae_batch = 1024;
    c.ft_batch = 16;
    c.ft_seq = 64;
    c.eval_docs = 200;
  }
  return c;
}

std::string domain_of(const data::TextDocument& doc) {
  return doc.language == "en" ? "en/" + doc.source : doc.language;
}

// Token activations [rows, d] at `hook` of every counted token (separator excluded) of `texts`.
at::Tensor token_rows(models::Model& model, const tokenize::Tokenizer& tokenizer, std::optional<int64_t> separator,
                      const std::vector<std::string>& texts, const Config& c, int64_t max_tokens, const std::string& label) {
  torch::NoGradGuard no_grad;
  hooks::ActivationCache cache(model, {kHook}, hooks::CacheOptions().stop_after_last(true));
  std::vector<at::Tensor> parts;
  Progress bar(label, static_cast<int64_t>(texts.size()), "passage");
  for (size_t begin = 0; begin < texts.size(); begin += static_cast<size_t>(c.batch_size)) {
    const size_t end = std::min(texts.size(), begin + static_cast<size_t>(c.batch_size));
    std::vector<std::vector<int64_t>> ids;
    int64_t longest = 1;
    for (size_t i = begin; i < end; ++i) {
      ids.push_back(methods::passage_tokens(tokenizer, separator, texts[i], c.max_bytes, max_tokens));
      longest = std::max<int64_t>(longest, static_cast<int64_t>(ids.back().size()));
    }
    at::Tensor tokens = torch::zeros({static_cast<int64_t>(ids.size()), longest}, torch::kLong);
    at::Tensor mask = torch::zeros({static_cast<int64_t>(ids.size()), longest}, torch::kBool);
    auto tok = tokens.accessor<int64_t, 2>();
    auto msk = mask.accessor<bool, 2>();
    for (size_t r = 0; r < ids.size(); ++r)
      for (size_t j = 0; j < ids[r].size(); ++j) {
        tok[static_cast<int64_t>(r)][static_cast<int64_t>(j)] = ids[r][j];
        msk[static_cast<int64_t>(r)][static_cast<int64_t>(j)] = j >= (separator ? 1u : 0u);
      }
    cache.run([&] { return model.forward(tokens); });
    const at::Tensor act = cache[kHook];
    parts.push_back(act.reshape({-1, act.size(2)}).index({mask.reshape({-1})}).contiguous());
    bar.advance(static_cast<int64_t>(end - begin));
  }
  return torch::cat(parts, 0);
}

// The documents as one token stream (separator before each document), cut into windows of
// seq + 1 tokens that overlap by one; the last partial window is padded with -1 when keep_partial.
at::Tensor windows_of(const std::vector<const std::string*>& docs, const tokenize::Tokenizer& tokenizer,
                      std::optional<int64_t> separator, int64_t seq, bool keep_partial) {
  std::vector<int64_t> stream;
  for (const auto* d : docs) {
    if (separator) stream.push_back(*separator);
    const auto ids = tokenizer.encode(*d);
    stream.insert(stream.end(), ids.begin(), ids.end());
  }
  std::vector<at::Tensor> rows;
  for (size_t start = 0; start + 1 < stream.size(); start += static_cast<size_t>(seq)) {
    const size_t end = std::min(stream.size(), start + static_cast<size_t>(seq) + 1);
    if (end - start < static_cast<size_t>(seq) + 1 && !keep_partial) break;
    std::vector<int64_t> row(static_cast<size_t>(seq) + 1, -1);
    std::copy(stream.begin() + static_cast<std::ptrdiff_t>(start), stream.begin() + static_cast<std::ptrdiff_t>(end), row.begin());
    rows.push_back(torch::tensor(row, torch::kLong));
  }
  GOLGI_ASSERT(!rows.empty(), "sae-select: no windows from ", docs.size(), " documents");
  return torch::stack(rows);
}

// Bits per byte of `windows` (byte tokenizer: one byte per target token, separators count one).
double bits_per_byte(models::Model& model, const at::Tensor& windows) {
  torch::NoGradGuard no_grad;
  model.eval();
  double nats = 0;
  int64_t count = 0;
  for (int64_t b = 0; b < windows.size(0); b += 32) {
    const at::Tensor w = windows.slice(0, b, std::min(windows.size(0), b + 32));
    const int64_t n = w.slice(1, 1).ge(0).sum().item<int64_t>();
    if (n == 0) continue;
    nats += train::lm_loss(model, w).item<double>() * static_cast<double>(n);
    count += n;
  }
  return nats / static_cast<double>(std::max<int64_t>(count, 1)) / std::log(2.0);
}

// A fresh copy of the bundled model fine-tuned on `train_windows` (eval mode on return).
std::shared_ptr<models::Model> finetune(const std::string& model_dir, const at::Tensor& train_windows, const Config& c,
                                        uint64_t seed, std::vector<double>* losses) {
  auto loaded = models::load_model(model_dir);
  models::Model& model = *loaded.model;
  model.train();
  std::vector<std::pair<std::string, at::Tensor>> params;
  for (const auto& p : model.named_parameters()) params.emplace_back(p.key(), p.value());
  train::Optimizer optimizer(params, train::OptimizerOptions().name("adamw").weight_decay(0.0));
  std::vector<at::Tensor> tensors;
  for (const auto& p : params) tensors.push_back(p.second);
  SplitMix64 rng(seed);
  const auto n = static_cast<uint64_t>(train_windows.size(0));
  for (int64_t step = 0; step < c.ft_steps; ++step) {
    std::vector<int64_t> pick;
    for (int64_t i = 0; i < c.ft_batch; ++i) pick.push_back(static_cast<int64_t>(rng.below(n)));
    const at::Tensor batch = train_windows.index_select(0, torch::tensor(pick, torch::kLong));
    optimizer.zero_grad();
    at::Tensor loss = train::lm_loss(model, batch);
    loss.backward();
    train::clip_grad_norm(tensors, 1.0);
    const double warm = step < c.ft_warmup ? static_cast<double>(step + 1) / static_cast<double>(c.ft_warmup) : 1.0;
    optimizer.step(c.ft_lr * warm);
    if (losses) losses->push_back(loss.item<double>());
  }
  model.eval();
  return loaded.model;
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

}  // namespace

ReproResult run_sae_select(const ReproOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  seed_everything(options.seed);
  // One thread (LibTorch and OpenBLAS): the matrices are small ([128 x 49 tokens, 192] x [192, 512]),
  // and on the busy 2-core machine two threads embedded ~45 passages/s where one thread did ~80
  // and trained the SAE several times faster (measured).
  const ScopedThreads one_thread(1);
  const Config config = config_for(options.quick);
  const std::string model_dir = bundled_model("tiny-multilingual");
  auto loaded = models::load_model(model_dir);
  auto* lm = dynamic_cast<models::TransformerLM*>(loaded.model.get());
  GOLGI_ASSERT(lm, "the bundled tiny-multilingual model is not a transformer");
  lm->eval();
  const int64_t max_tokens = lm->config().n_ctx;
  const auto data_options = train::lm_data_options_from_card(loaded.card, model_dir);
  const auto tokenizer = train::make_lm_tokenizer(data_options.tokenizer);
  const auto separator = train::document_separator(*tokenizer);
  GOLGI_CHECK(separator.has_value(), "the bundled model's tokenizer has no document separator");

  // 1. Domains, targets, pool, held-out text.
  data::TextCorpusOptions to;
  to.seed = data_options.seed;  // the model's own split: its val/test documents are unseen
  const data::TextCorpus corpus = data::load_text_corpus(data_options.corpus, to);
  std::map<std::string, std::vector<const data::TextDocument*>> train_docs, heldout_docs;
  for (const auto& d : corpus.train) train_docs[domain_of(d)].push_back(&d);
  for (const auto* split : {&corpus.val, &corpus.test})
    for (const auto& d : *split) heldout_docs[domain_of(d)].push_back(&d);
  std::vector<std::string> domains;
  for (const auto& [name, docs] : train_docs)
    if (name.rfind("en/", 0) != 0 || static_cast<int64_t>(docs.size()) >= kMinDomainDocs) domains.push_back(name);
  for (const auto& t : kTargetDomains)
    GOLGI_CHECK(std::find(domains.begin(), domains.end(), t) != domains.end(), "sae-select: target domain '", t,
                "' is missing from the corpus (is Debian's fortunes package installed?)");

  std::vector<std::string> pool_texts, pool_domain;
  std::map<std::string, std::vector<std::string>> targets;
  Json domain_sizes = Json::object();
  for (const auto& name : domains) {
    const auto& docs = train_docs[name];
    const auto order = permutation(static_cast<int64_t>(docs.size()), derive_seed(options.seed, "sae-select/domain/" + name));
    size_t next = 0;
    if (std::find(kTargetDomains.begin(), kTargetDomains.end(), name) != kTargetDomains.end())
      for (; next < static_cast<size_t>(kTargetsPerDomain); ++next) targets[name].push_back(docs[static_cast<size_t>(order[next])]->text);
    int64_t taken = 0;
    for (; next < order.size() && taken < config.cap; ++next, ++taken) {
      pool_texts.push_back(docs[static_cast<size_t>(order[next])]->text);
      pool_domain.push_back(name);
    }
    domain_sizes[name] = taken;
  }
  const int64_t pool_size = static_cast<int64_t>(pool_texts.size());
  std::fprintf(stderr, "sae-select: pool of %lld passages from %zu domains; %zu target domains x %lld passages\n",
               static_cast<long long>(pool_size), domains.size(), kTargetDomains.size(),
               static_cast<long long>(kTargetsPerDomain));

  // 2. The SAE, trained on token activations of random pool passages.
  std::vector<std::string> sae_texts;
  {
    const auto order = permutation(pool_size, derive_seed(options.seed, "sae-select/sae-passages"));
    for (int64_t i = 0; i < std::min(config.sae_passages, pool_size); ++i) sae_texts.push_back(pool_texts[static_cast<size_t>(order[i])]);
  }
  const at::Tensor sae_rows = token_rows(*lm, *tokenizer, separator, sae_texts, config, max_tokens, "sae-select: SAE rows");
  std::vector<std::string> all_targets;
  for (const auto& t : kTargetDomains) all_targets.insert(all_targets.end(), targets[t].begin(), targets[t].end());
  const at::Tensor heldout_rows = token_rows(*lm, *tokenizer, separator, all_targets, config, max_tokens, "sae-select: eval rows");
  methods::SaeOptions so;
  so.kind("topk").latents(config.latents).k(config.k).steps(config.sae_steps).batch_size(config.sae_batch)
      .seed(static_cast<int64_t>(derive_seed(options.seed, "sae-select/sae") >> 1));
  const auto rows_of = [](const at::Tensor& m) {
    return methods::SaeRows([m](int64_t b, int64_t e) { return m.slice(0, b, e); });
  };
  methods::SaeTrainResult trained;
  {
    Progress bar("sae-select: training SAE", config.sae_steps, "step");
    methods::SaeTrainOptions tr;
    tr.on_step = [&](int64_t, double loss, const methods::SaeMetrics&) {
      bar.advance();
      bar.set_postfix("loss " + std::to_string(loss));
    };
    trained = methods::train_sae(rows_of(sae_rows), sae_rows.size(0), sae_rows.size(1), so, tr);
  }
  const methods::SparseAutoencoder& sae = trained.sae;
  const methods::SaeMetrics sae_metrics = methods::evaluate_sae(sae, rows_of(heldout_rows), heldout_rows.size(0));
  std::fprintf(stderr, "sae-select: SAE on %lld rows; held-out FVU %.4f, L0 %.1f, dead %.3f [%.0f s]\n",
               static_cast<long long>(sae_rows.size(0)), sae_metrics.fvu, sae_metrics.l0, sae_metrics.dead_fraction,
               seconds_since(start));

  // 3. Embeddings and selections.
  methods::SelectionOptions sel;
  sel.fraction(kFraction).max_bytes(config.max_bytes).batch_size(config.batch_size).seed(static_cast<int64_t>(options.seed));
  const methods::PassageEmbeddings pool =
      methods::embed_passages(*lm, kHook, sae, *tokenizer, separator, pool_texts, sel, max_tokens, "sae-select: pool");
  std::map<std::string, std::vector<double>> precision;  // method -> per target domain
  std::map<std::string, std::vector<int64_t>> jaccard_selection;
  Json per_domain = Json::array();
  for (size_t t = 0; t < kTargetDomains.size(); ++t) {
    const std::string& name = kTargetDomains[t];
    const auto target_embeddings = methods::embed_passages(*lm, kHook, sae, *tokenizer, separator, targets[name], sel,
                                                           max_tokens, "sae-select: targets " + name);
    const auto prototype = methods::task_prototype(target_embeddings);
    Json row = {{"domain", name}, {"pool_in_domain", domain_sizes[name]}};
    for (const auto& method : methods::selection_methods()) {
      const int64_t seed = static_cast<int64_t>(derive_seed(options.seed, "sae-select/random/" + name) >> 1);
      const auto selected = methods::select_top(methods::score_pool(pool, prototype, method, seed), kFraction);
      const double p = methods::domain_precision(selected, pool_domain, name);
      precision[method].push_back(p);
      row["precision"][method] = p;
      if (method == "jaccard") jaccard_selection[name] = selected;
    }
    row["selected"] = jaccard_selection[name].size();
    row["max_precision"] = std::min(1.0, domain_sizes[name].get<double>() / static_cast<double>(jaccard_selection[name].size()));
    std::fprintf(stderr, "sae-select: %-16s precision jaccard %.3f cosine-sae %.3f cosine-raw %.3f random %.3f\n",
                 name.c_str(), precision["jaccard"].back(), precision["cosine-sae"].back(),
                 precision["cosine-raw"].back(), precision["random"].back());
    per_domain.push_back(row);
  }

  // 4. Fine-tuning on the selected vs a random 5%. The random 5% is one seeded draw from the pool,
  // shared by every domain (one run, evaluated on each domain's held-out text).
  std::vector<double> gains;
  int64_t domains_gain = 0;
  {
    Progress bar("sae-select: fine-tuning", static_cast<int64_t>(kTargetDomains.size()) + 1, "run");
    std::map<std::string, at::Tensor> eval_windows;
    std::map<std::string, double> before;
    for (const auto& name : kTargetDomains) {
      std::vector<const std::string*> heldout;
      for (const auto* d : heldout_docs[name]) {
        if (static_cast<int64_t>(heldout.size()) >= config.eval_docs) break;
        heldout.push_back(&d->text);
      }
      eval_windows[name] = windows_of(heldout, *tokenizer, separator, config.eval_seq, true);
      before[name] = bits_per_byte(*lm, eval_windows[name]);
    }
    const auto train_on = [&](const std::vector<int64_t>& selection, const std::string& label) {
      std::vector<const std::string*> docs;
      for (int64_t i : selection) docs.push_back(&pool_texts[static_cast<size_t>(i)]);
      const at::Tensor train_windows = windows_of(docs, *tokenizer, separator, config.ft_seq, false);
      std::vector<double> history;
      // The same seed for every run: identical batch positions, only the data differs.
      auto model = finetune(model_dir, train_windows, config, derive_seed(options.seed, "sae-select/finetune"), &history);
      bar.advance();
      bar.message("sae-select: fine-tuned on " + label + ": train loss " + std::to_string(history.front()) + " -> " +
                  std::to_string(history.back()));
      return model;
    };
    const auto random_pick = methods::select_top(
        methods::score_pool(pool, methods::TaskPrototype{}, "random",
                            static_cast<int64_t>(derive_seed(options.seed, "sae-select/random-finetune") >> 1)),
        kFraction);
    const auto random_model = train_on(random_pick, "a random 5%");
    std::map<std::string, double> after_random;
    for (const auto& name : kTargetDomains) after_random[name] = bits_per_byte(*random_model, eval_windows[name]);
    for (size_t t = 0; t < kTargetDomains.size(); ++t) {
      const std::string& name = kTargetDomains[t];
      const auto model = train_on(jaccard_selection[name], "the selection for " + name);
      const double after = bits_per_byte(*model, eval_windows[name]);
      const double drop_selected = before[name] - after, drop_random = before[name] - after_random[name];
      const double gain = drop_selected - drop_random;
      gains.push_back(gain);
      domains_gain += drop_selected > 0 && gain >= kGainBits;
      per_domain[t]["finetune"] = {{"heldout_windows", eval_windows[name].size(0)},
                                   {"bits_per_byte_before", before[name]}, {"bits_per_byte_after_selected", after},
                                   {"bits_per_byte_after_random", after_random[name]},
                                   {"drop_selected", drop_selected}, {"drop_random", drop_random}, {"gain", gain}};
      bar.message("sae-select: " + name + ": bits/byte " + std::to_string(before[name]) + " -> selected " +
                  std::to_string(after) + ", random " + std::to_string(after_random[name]));
    }
  }

  const double p_jaccard = mean_of(precision["jaccard"]);
  const double best_cosine = std::max(mean_of(precision["cosine-sae"]), mean_of(precision["cosine-raw"]));
  ReproResult result;
  result.claims.push_back({"jaccard_precision", p_jaccard, ">=", kPrecision, "fraction",
                           "mean over 5 target domains of the share of the Jaccard-selected 5% from the target's domain"});
  result.claims.push_back({"jaccard_minus_best_cosine", p_jaccard - best_cosine, ">=", 0.0, "fraction",
                           "mean precision of Jaccard minus the better of cosine (SAE codes) and cosine (raw activations)"});
  result.claims.push_back({"domains_finetune_gain", static_cast<double>(domains_gain), ">=",
                           static_cast<double>(kDomainsNeeded), "domains of 5",
                           "200 fine-tuning steps on the selected 5% lower held-out bits/byte, by >= 0.05 more than on a random 5%"});
  Json mean_precision = Json::object();
  for (const auto& [method, values] : precision) mean_precision[method] = mean_of(values);
  result.metrics = {{"config", config.to_json()},
                    {"pool_size", pool_size},
                    {"domains", domains.size()},
                    {"domain_sizes", domain_sizes},
                    {"sae_training_rows", sae_rows.size(0)},
                    {"sae_heldout", sae_metrics.to_json()},
                    {"sae_final_batch", trained.final_batch.to_json()},
                    {"mean_precision", mean_precision},
                    {"finetune_gain_bits_per_byte", gains},
                    {"per_domain", per_domain},
                    {"seconds", seconds_since(start)}};
  return result;
}

}  // namespace golgi::repro
