// Reproduction of paper id `snmf` (Shafran, Geiger & Geva 2025, "Decomposing MLP Activations into
// Interpretable Features via Semi-Nonnegative Matrix Factorization") on golgi's bundled byte-level
// 12-language model (docs/methods/snmf.md, section "Reproduction").
//
// 1. A = blocks.2.mlp.hook_post (the third of 4 layers; d_mlp 512) over every token of training
//    documents of every language (the document separator excluded), one column per token.
// 2. Semi-NMF with K = 50, sparsity 0.01 (6 of 512 neurons per feature), seeded random init.
// 3. Each feature's top-100 tokens (largest G) and the share of their documents' most common
//    language.
// 4. Steering, for the 8 languages with the most training documents: the feature whose top-100
//    tokens hold the largest share of that language, added at every position as α·F_k/‖F_k‖ with
//    α set by bisection (20 steps on [1, 2000]) to a mean last-token KL(base ‖ steered) of 0.25 on
//    the prompts; baseline: the difference of the language's mean activation and the other
//    languages' (difference-in-means) at the same KL. Prompts: the first 16 bytes of test
//    documents, 2 per language (24), each continued by 48 sampled bytes (temperature 0.7, top-p
//    0.95, seeded); the continuation's language by a byte-trigram identifier trained on the
//    corpus's training split (its accuracy on test documents is reported).
//
// Claims:
//   language_features        features with >= 80% of their top-100 tokens from one language  >= 20 (of 50)
//   steering_languages       languages (of 8) where the SNMF feature raises the share of
//                            continuations in that language by >= 30 points and by at least as
//                            much as difference-in-means                                      >= 5
//   relative_error           ‖A − F Gᵀ‖_F / ‖A‖_F at the best iterate                          <= 0.5
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

#include <torch/torch.h>

#include "golgi/analysis/corpus_examples.h"
#include "golgi/analysis/language_id.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/seed.h"
#include "golgi/data/text_corpus.h"
#include "golgi/hooks/activation_cache.h"
#include "golgi/methods/snmf/snmf.h"
#include "golgi/methods/snmf/steering.h"
#include "golgi/models/generate.h"
#include "golgi/models/registry.h"
#include "golgi/models/transformer.h"
#include "golgi/repro/assets.h"
#include "golgi/repro/repro.h"
#include "golgi/tokenize/tokenizer.h"
#include "golgi/train/language_model.h"

namespace golgi::repro {

namespace {

constexpr int64_t kFeatures = 50;
constexpr int64_t kTopTokens = 100;
constexpr double kLanguageShare = 0.8;
constexpr int64_t kLanguageFeatures = 20;
constexpr int64_t kSteeredLanguages = 8;
constexpr double kTargetKl = 0.25;
constexpr double kShareRise = 0.30;
constexpr int64_t kSteeringLanguagesNeeded = 5;
constexpr double kRelativeError = 0.5;
constexpr int64_t kPromptBytes = 16, kContinuationBytes = 48, kPromptsPerLanguage = 2;

const char* kHook = "blocks.2.mlp.hook_post";

// The continuation's bytes (special tokens dropped) as text.
std::string continuation_text(const at::Tensor& row, int64_t prompt_length) {
  std::string text;
  for (int64_t j = prompt_length; j < row.size(0); ++j) {
    const int64_t id = row[j].item<int64_t>();
    if (id >= 0 && id < 256) text.push_back(static_cast<char>(id));
  }
  return text;
}

// `text` for a JSON report: valid UTF-8 runs kept, every byte that starts no valid sequence written
// as U+FFFD (a byte model may stop mid-character or emit stray bytes).
std::string printable(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const auto byte = static_cast<uint8_t>(text[i]);
    const size_t length = byte < 0x80 ? 1 : (byte >> 5) == 0x6 ? 2 : (byte >> 4) == 0xE ? 3 : (byte >> 3) == 0x1E ? 4 : 0;
    if (length > 0 && i + length <= text.size() && data::is_valid_utf8(std::string_view(text).substr(i, length))) {
      out.append(text, i, length);
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

// Share of continuations of `generated` [P, pos + new] that `lid` assigns to `language`.
double language_share(const at::Tensor& generated, int64_t prompt_length, const analysis::ByteTrigramLanguageId& lid,
                      const std::string& language) {
  int64_t hits = 0;
  for (int64_t p = 0; p < generated.size(0); ++p)
    hits += lid.classify(continuation_text(generated[p], prompt_length)) == language;
  return static_cast<double>(hits) / static_cast<double>(generated.size(0));
}

}  // namespace

ReproResult run_snmf(const ReproOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  seed_everything(options.seed);
  const std::string model_dir = bundled_model("tiny-multilingual");
  auto loaded = models::load_model(model_dir);
  auto* lm = dynamic_cast<models::TransformerLM*>(loaded.model.get());
  GOLGI_ASSERT(lm, "the bundled tiny-multilingual model is not a transformer");
  lm->eval();
  const auto data_options = train::lm_data_options_from_card(loaded.card, model_dir);
  auto tokenizer = train::make_lm_tokenizer(data_options.tokenizer);
  const auto separator = train::document_separator(*tokenizer);
  GOLGI_CHECK(separator.has_value(), "the bundled model's tokenizer has no document separator");

  // 1. Activations of every counted token of training documents.
  analysis::CorpusExampleOptions ce;
  ce.corpus = data_options.corpus;
  ce.seed = data_options.seed;
  ce.split = "train";
  ce.per_label = options.quick ? 40 : 120;
  ce.prefix_bytes = 0;
  ce.max_tokens = 128;
  const analysis::CorpusExamples examples = analysis::corpus_examples(*tokenizer, ce);
  std::vector<at::Tensor> columns;
  std::vector<int64_t> column_language;
  {
    torch::NoGradGuard no_grad;
    hooks::ActivationCache cache(*lm, {kHook}, hooks::CacheOptions().stop_after_last(true));
    Progress bar("snmf: recording " + std::string(kHook), static_cast<int64_t>(examples.examples.size()), "doc");
    for (const auto& ex : examples.examples) {
      at::Tensor tokens = torch::tensor(ex.tokens, torch::kLong).unsqueeze(0);
      cache.run([&] { return lm->forward(tokens); });
      const at::Tensor act = cache[kHook][0];  // [pos, d_mlp]
      const int64_t end = ex.count_end < 0 ? act.size(0) : ex.count_end;
      const int64_t begin = std::max<int64_t>(ex.count_begin, 1);  // never the separator
      if (end > begin) {
        columns.push_back(act.slice(0, begin, end));
        column_language.insert(column_language.end(), static_cast<size_t>(end - begin), ex.label);
      }
      bar.advance();
    }
  }
  const at::Tensor A = torch::cat(columns, 0).t().contiguous();  // [d_mlp, n]
  const at::Tensor language_of = torch::tensor(column_language, torch::kLong);
  const auto& labels = examples.labels;
  const int64_t n_languages = static_cast<int64_t>(labels.size());
  std::fprintf(stderr, "snmf: A is %lld x %lld (%zu documents, %lld languages)\n", static_cast<long long>(A.size(0)),
               static_cast<long long>(A.size(1)), examples.examples.size(), static_cast<long long>(n_languages));

  // 2. Semi-NMF.
  methods::SnmfOptions so;
  so.features(kFeatures).sparsity(0.01).max_iter(options.quick ? 100 : 300).patience(20).seed(static_cast<int64_t>(options.seed));
  methods::SnmfResult factors;
  {
    Progress bar("snmf: factorising", so.max_iter(), "it");
    factors = methods::semi_nmf(A, so, {}, {}, [&](int64_t, double loss) {
      bar.advance();
      bar.set_postfix("loss " + std::to_string(loss));
    });
  }
  std::fprintf(stderr, "snmf: %lld iterations, best at %lld, relative error %.4f\n",
               static_cast<long long>(factors.iterations), static_cast<long long>(factors.best_iteration),
               factors.relative_error);

  // 3. Language purity of each feature's top tokens.
  const at::Tensor top = std::get<1>(factors.G.topk(std::min<int64_t>(kTopTokens, A.size(1)), /*dim=*/0));  // [100, K]
  at::Tensor share = torch::zeros({kFeatures, n_languages}, torch::kDouble);  // [K, languages]
  for (int64_t k = 0; k < kFeatures; ++k) {
    at::Tensor langs = language_of.index_select(0, top.select(1, k));
    share[k] = torch::bincount(langs, {}, n_languages).to(torch::kDouble) / static_cast<double>(langs.size(0));
  }
  const auto [majority_share, majority_language] = share.max(1);
  const int64_t language_features = majority_share.ge(kLanguageShare).sum().item<int64_t>();
  Json features = Json::array();
  for (int64_t k = 0; k < kFeatures; ++k) {
    features.push_back({{"feature", k},
                        {"majority_language", labels[static_cast<size_t>(majority_language[k].item<int64_t>())]},
                        {"share", majority_share[k].item<double>()},
                        {"neurons", factors.F.select(1, k).ne(0).sum().item<int64_t>()}});
  }

  // 4. Steering.
  data::TextCorpusOptions to;
  to.seed = data_options.seed;
  const data::TextCorpus corpus = data::load_text_corpus(data_options.corpus, to);
  analysis::ByteTrigramLanguageId lid;
  std::map<std::string, int64_t> train_documents;
  for (const auto& doc : corpus.train) {
    lid.add(doc.language, doc.text);
    ++train_documents[doc.language];
  }
  int64_t lid_correct = 0, lid_total = 0;
  std::vector<at::Tensor> prompt_rows;
  std::map<std::string, int64_t> prompts_taken;
  for (const auto& doc : corpus.test) {
    const std::string head = doc.text.substr(0, static_cast<size_t>(kContinuationBytes));
    lid_correct += lid.classify(head) == doc.language;
    ++lid_total;
    if (static_cast<int64_t>(doc.text.size()) >= kPromptBytes && prompts_taken[doc.language] < kPromptsPerLanguage) {
      std::vector<int64_t> ids = {*separator};
      for (int64_t b = 0; b < kPromptBytes; ++b) ids.push_back(static_cast<uint8_t>(doc.text[static_cast<size_t>(b)]));
      prompt_rows.push_back(torch::tensor(ids, torch::kLong));
      ++prompts_taken[doc.language];
    }
  }
  const at::Tensor prompts = torch::stack(prompt_rows);
  const int64_t prompt_length = prompts.size(1);
  const double lid_accuracy = lid_total == 0 ? 0.0 : static_cast<double>(lid_correct) / static_cast<double>(lid_total);
  models::GenerateOptions gen;
  gen.max_new_tokens(kContinuationBytes).temperature(0.7).top_p(0.95).seed(static_cast<int64_t>(options.seed));
  at::Tensor base;
  {
    torch::NoGradGuard no_grad;
    base = models::generate(*lm, prompts, gen);  // the unsteered continuations
  }

  std::vector<std::pair<int64_t, std::string>> by_size;
  for (const auto& l : labels) by_size.emplace_back(-train_documents[l], l);
  std::sort(by_size.begin(), by_size.end());
  Json steering = Json::array();
  int64_t steering_languages = 0;
  Progress bar("snmf: steering", kSteeredLanguages, "lang");
  for (int64_t i = 0; i < std::min<int64_t>(kSteeredLanguages, static_cast<int64_t>(by_size.size())); ++i) {
    const std::string& language = by_size[static_cast<size_t>(i)].second;
    const int64_t li = std::find(labels.begin(), labels.end(), language) - labels.begin();
    const int64_t feature = share.select(1, li).argmax().item<int64_t>();
    const at::Tensor snmf_direction = factors.F.select(1, feature).contiguous();
    const at::Tensor in = language_of.eq(li);
    const at::Tensor dim_direction =
        (A.index({torch::indexing::Slice(), in}).mean(1) - A.index({torch::indexing::Slice(), in.logical_not()}).mean(1)).contiguous();
    const double base_share = language_share(base, prompt_length, lid, language);
    Json row = {{"language", language}, {"feature", feature}, {"feature_share", share[feature][li].item<double>()},
                {"base_share", base_share}};
    double rise[2] = {0, 0};
    const char* names[2] = {"snmf", "diff_in_means"};
    const at::Tensor directions[2] = {snmf_direction, dim_direction};
    for (int m = 0; m < 2; ++m) {
      const methods::AlphaSearch search = methods::alpha_for_kl(*lm, kHook, directions[m], prompts, kTargetKl);
      const at::Tensor steered = methods::steered_generate(*lm, kHook, directions[m], search.alpha, prompts, gen);
      const double s = language_share(steered, prompt_length, lid, language);
      rise[m] = s - base_share;
      row[names[m]] = {{"alpha", search.alpha}, {"kl", search.kl}, {"share", s}, {"rise", rise[m]},
                       {"example", printable(continuation_text(steered[0], prompt_length))}};
    }
    const bool holds = rise[0] >= kShareRise && rise[0] >= rise[1];
    steering_languages += holds;
    row["holds"] = holds;
    std::fprintf(stderr, "snmf: steering %s with feature %lld: share %.2f -> %.2f (diff-in-means %.2f)%s\n",
                 language.c_str(), static_cast<long long>(feature), base_share, base_share + rise[0],
                 base_share + rise[1], holds ? "" : "  [fails]");
    steering.push_back(row);
    bar.advance();
  }
  bar.finish();

  ReproResult result;
  result.claims.push_back({"language_features", static_cast<double>(language_features), ">=",
                           static_cast<double>(kLanguageFeatures), "features",
                           "features (of 50) with >= 80% of their top-100 tokens from one language"});
  result.claims.push_back({"steering_languages", static_cast<double>(steering_languages), ">=",
                           static_cast<double>(kSteeringLanguagesNeeded), "languages",
                           "languages (of 8) whose best SNMF feature at KL 0.25 raises the share of continuations in "
                           "that language by >= 30 points and at least as much as difference-in-means"});
  result.claims.push_back({"relative_error", factors.relative_error, "<=", kRelativeError, "ratio",
                           "relative reconstruction error ||A - F G^T||_F / ||A||_F"});
  result.metrics = {{"hook", kHook},
                    {"A_shape", {A.size(0), A.size(1)}},
                    {"documents", examples.examples.size()},
                    {"factorisation", factors.to_json()},
                    {"features", features},
                    {"language_id_accuracy", lid_accuracy},
                    {"prompts", prompts.size(0)},
                    {"steering", steering},
                    {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}};
  return result;
}

}  // namespace golgi::repro
