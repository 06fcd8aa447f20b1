// Language neurons (paper id `language-neurons`): see language_neurons.h for the equations.
#include "golgi/methods/language_neurons/language_neurons.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <torch/torch.h>

#include "golgi/analysis/neuron_stats.h"
#include "golgi/core/strings.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"

namespace golgi::methods {

const OptionSchema<LanguageNeuronOptions>& LanguageNeuronOptions::schema() {
  static const auto schema =
      OptionSchema<LanguageNeuronOptions>("language_neurons")
          .add("top_rate", &LanguageNeuronOptions::top_rate_,
               "share of all layers x neurons kept (the lowest scores, over all layers at once)",
               Range<double>{0.0, 1.0, false, true})
          .add("activation_bar", &LanguageNeuronOptions::activation_bar_,
               "quantile of all activation probabilities that sets the threshold tau", between(0.0, 1.0))
          .add("lambda", &LanguageNeuronOptions::lambda_,
               "weight of the max-activation term in the score (ignored with autosweep)", at_least(0.0))
          .add("autosweep", &LanguageNeuronOptions::autosweep_,
               "choose lambda by bisection: the largest one at which no kept neuron belongs to every language")
          .add("sweep_low", &LanguageNeuronOptions::sweep_low_, "AutoSweep: lower end of the lambda interval",
               at_least(0.0))
          .add("sweep_high", &LanguageNeuronOptions::sweep_high_, "AutoSweep: upper end of the lambda interval",
               at_least(0.0, /*inclusive=*/false))
          .add("sweep_eps", &LanguageNeuronOptions::sweep_eps_,
               "AutoSweep: stop when the interval is at most this wide", at_least(0.0, /*inclusive=*/false));
  return schema;
}

namespace {

void validate_options(const LanguageNeuronOptions& options) {
  LanguageNeuronOptions::schema().validate(options);
  GOLGI_CHECK(options.sweep_low() < options.sweep_high(), "option 'language_neurons.sweep_low' (",
              options.sweep_low(), ") must be below 'sweep_high' (", options.sweep_high(), ")");
}

// Checks p [K, L, H] float32: finite, non-negative, K >= 2.
void validate_p(const at::Tensor& p) {
  GOLGI_CHECK(p.defined(), "language neurons: the activation probabilities are an undefined tensor");
  GOLGI_CHECK(p.dim() == 3, "language neurons: activation probabilities must be [languages, layers, neurons], got ",
              p.sizes());
  GOLGI_CHECK(p.scalar_type() == at::kFloat, "language neurons: activation probabilities must be float32 (as ",
              "ActivationCounts::probabilities() makes them), got ", p.scalar_type());
  GOLGI_CHECK(p.size(0) >= 2, "language neurons: need at least 2 languages to tell them apart, got ", p.size(0));
  GOLGI_CHECK(p.size(1) >= 1 && p.size(2) >= 1, "language neurons: no neurons in p of shape ", p.sizes());
  GOLGI_CHECK(!p.isnan().any().item<bool>(), "language neurons: activation probabilities contain NaN; check ",
              "the counts and token totals they came from");
  GOLGI_CHECK(!p.isinf().any().item<bool>(), "language neurons: activation probabilities contain infinity");
  GOLGI_CHECK(p.min().item<float>() >= 0.0f, "language neurons: activation probabilities must be >= 0, got ",
              p.min().item<float>());
}

// Python's round(): nearest, ties to even (the official code's convention).
int64_t round_half_even(double x) { return static_cast<int64_t>(std::nearbyint(x)); }

int64_t top_k_of(const LanguageNeuronOptions& options, int64_t layers, int64_t neurons) {
  const double n = options.top_rate() * static_cast<double>(layers) * static_cast<double>(neurons);
  const int64_t k = round_half_even(n);
  GOLGI_CHECK(k >= 1, "language neurons: top_rate ", options.top_rate(), " keeps round(", n, ") = ", k,
              " of ", layers * neurons, " neurons; raise --top-rate");
  return std::min<int64_t>(k, layers * neurons);
}

// What does not depend on λ: the entropy term, max_k p, norm_max, τ and each neuron's language count.
struct Precomputed {
  at::Tensor entropy;    // [L*H] float32: H(p~) / ln K
  at::Tensor max_p;      // [L*H] float32
  float norm_max = 0;
  double tau = 0;
  at::Tensor languages;  // [L*H] int64: number of k with p[k] > τ
  int64_t top_k = 0;
};

Precomputed precompute(const at::Tensor& p, const LanguageNeuronOptions& options) {
  const int64_t K = p.size(0);
  Precomputed out;
  const at::Tensor flat = p.reshape({K, -1}).contiguous();
  const at::Tensor sum = flat.sum(0);
  const at::Tensor positive = sum > 0;
  at::Tensor normed = torch::where(positive, flat / torch::where(positive, sum, torch::ones_like(sum)),
                                   torch::full_like(flat, static_cast<float>(1.0 / static_cast<double>(K))));
  normed = normed.clamp_min(1e-12f);
  normed = normed / normed.sum(0);
  out.entropy = -(normed * normed.log()).sum(0) / static_cast<float>(std::log(static_cast<double>(K)));
  out.max_p = std::get<0>(flat.max(0));
  double harmonic = 0;
  for (int64_t m = 1; m <= K; ++m) harmonic += 1.0 / static_cast<double>(m);
  out.norm_max = static_cast<float>(harmonic / static_cast<double>(K));
  out.tau = activation_threshold(p, options.activation_bar());
  out.languages = (flat > static_cast<float>(out.tau)).sum(0);
  out.top_k = top_k_of(options, p.size(1), p.size(2));
  return out;
}

at::Tensor scores_of(const Precomputed& pre, double lambda) {
  return pre.entropy - pre.max_p * static_cast<float>(lambda) / pre.norm_max;
}

// The top_k lowest scores, lowest first; ties to the lower flat index.
at::Tensor lowest(const at::Tensor& scores, int64_t k) {
  auto sorted = scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/false);
  return std::get<1>(sorted).narrow(0, 0, k);
}

bool has_general(const Precomputed& pre, double lambda, int64_t K) {
  const at::Tensor kept = lowest(scores_of(pre, lambda), pre.top_k);
  return (pre.languages.index_select(0, kept) == K).any().item<bool>();
}

double bisect(const Precomputed& pre, const LanguageNeuronOptions& options, int64_t K) {
  double lo = options.sweep_low(), hi = options.sweep_high();
  while (hi - lo > options.sweep_eps()) {
    const double mid = (lo + hi) / 2;
    if (!has_general(pre, mid, K)) lo = mid;
    else hi = mid;
  }
  return lo;
}

std::vector<int64_t> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  const int64_t* d = c.data_ptr<int64_t>();
  return std::vector<int64_t>(d, d + c.numel());
}

}  // namespace

void ActivationCounts::validate() const {
  GOLGI_CHECK(counts.defined(), "activation counts: the counts tensor is undefined");
  GOLGI_CHECK(counts.dim() == 4 && counts.size(1) == 2, "activation counts must be [languages, 2, layers, ",
              "neurons] (index 1: 0 = instruction+response tokens, 1 = instruction-only tokens), got ",
              counts.sizes());
  GOLGI_CHECK(at::isIntegralType(counts.scalar_type(), /*includeBool=*/false),
              "activation counts must be integers (token counts), got ", counts.scalar_type());
  const int64_t K = counts.size(0);
  GOLGI_CHECK(K >= 2, "activation counts: need at least 2 languages to tell them apart, got ", K);
  GOLGI_CHECK(counts.size(2) >= 1 && counts.size(3) >= 1, "activation counts have no neurons: ", counts.sizes());
  GOLGI_CHECK(static_cast<int64_t>(languages.size()) == K, "activation counts: ", K,
              " languages in the counts but ", languages.size(), " language names");
  std::set<std::string> unique(languages.begin(), languages.end());
  GOLGI_CHECK(unique.size() == languages.size(), "activation counts: language names must be distinct");
  for (const auto& l : languages) GOLGI_CHECK(!l.empty(), "activation counts: a language name is empty");
  GOLGI_CHECK(static_cast<int64_t>(full_tokens.size()) == K && static_cast<int64_t>(prefix_tokens.size()) == K,
              "activation counts: need one full_tokens and one prefix_tokens total per language (", K, "), got ",
              full_tokens.size(), " and ", prefix_tokens.size());
  for (int64_t k = 0; k < K; ++k)
    GOLGI_CHECK(full_tokens[k] >= 0 && prefix_tokens[k] >= 0, "activation counts: token totals of '", languages[k],
                "' must be >= 0, got full_tokens ", full_tokens[k], ", prefix_tokens ", prefix_tokens[k]);
  const int64_t min_count = counts.min().item<int64_t>();
  GOLGI_CHECK(min_count >= 0, "activation counts must be >= 0 (they count tokens), got ", min_count);
}

at::Tensor ActivationCounts::probabilities() const {
  validate();
  const int64_t K = counts.size(0);
  const at::Tensor c = counts.to(at::kLong);
  const at::Tensor diff = (c.select(1, 0) - c.select(1, 1)).clamp_min(0).to(at::kFloat);
  std::vector<float> denom(static_cast<size_t>(K));
  for (int64_t k = 0; k < K; ++k)
    denom[static_cast<size_t>(k)] = static_cast<float>(std::max<int64_t>(1, full_tokens[k] - prefix_tokens[k]));
  const at::Tensor d = torch::tensor(denom, torch::kFloat).view({K, 1, 1});
  return (diff / d).contiguous();
}

ActivationCounts load_activation_counts(const std::string& counts_npy, const std::string& meta_json) {
  ActivationCounts out;
  out.counts = io::load_npy(counts_npy);
  const Json meta = io::read_json_file(meta_json);
  const std::string what = "'" + meta_json + "'";
  const Json& langs = json_member(meta, "languages", what);
  GOLGI_CHECK(langs.is_array(), what, ": 'languages' must be a list of language codes");
  for (const auto& l : langs) {
    GOLGI_CHECK(l.is_string(), what, ": 'languages' must be a list of strings, got ", l.dump());
    out.languages.push_back(l.get<std::string>());
  }
  auto read_int = [&](const Json& v, const std::string& where) {
    GOLGI_CHECK(v.is_number_integer(), what, ": ", where, " must be an integer, got ", v.dump());
    return v.get<int64_t>();
  };
  if (meta.contains("totals")) {
    const Json& totals = meta["totals"];
    GOLGI_CHECK(totals.is_object(), what, ": 'totals' must be an object {language: {full_tokens, prefix_tokens}}");
    for (const auto& l : out.languages) {
      const Json& t = json_member(totals, l, what + " 'totals'");
      out.full_tokens.push_back(read_int(json_member(t, "full_tokens", what + " totals." + l), "totals." + l + ".full_tokens"));
      out.prefix_tokens.push_back(
          read_int(json_member(t, "prefix_tokens", what + " totals." + l), "totals." + l + ".prefix_tokens"));
    }
  } else {
    GOLGI_CHECK(meta.contains("full_tokens") && meta.contains("prefix_tokens"), what,
                " needs token totals: 'full_tokens' and 'prefix_tokens' lists (one per language) or 'totals': ",
                "{language: {full_tokens, prefix_tokens}}");
    for (const std::string key : {"full_tokens", "prefix_tokens"}) {
      const Json& list = meta[key];
      GOLGI_CHECK(list.is_array(), what, ": '", key, "' must be a list of integers");
      auto& dst = key == "full_tokens" ? out.full_tokens : out.prefix_tokens;
      for (const auto& v : list) dst.push_back(read_int(v, key));
    }
  }
  GOLGI_CHECK(out.counts.dim() >= 1 && out.counts.size(0) == static_cast<int64_t>(out.languages.size()), "'",
              counts_npy, "' has shape ", out.counts.sizes(), " but ", what, " names ", out.languages.size(),
              " languages; the first dimension must be the language");
  out.validate();
  return out;
}

at::Tensor language_neuron_scores(const at::Tensor& p, double lambda) {
  validate_p(p);
  LanguageNeuronOptions options;
  const Precomputed pre = precompute(p, options.top_rate(1.0));
  return scores_of(pre, lambda).view({p.size(1), p.size(2)});
}

double activation_threshold(const at::Tensor& p, double activation_bar) {
  GOLGI_CHECK(activation_bar >= 0 && activation_bar <= 1, "language neurons: activation_bar must be in [0, 1], got ",
              activation_bar);
  const int64_t n = p.numel();
  GOLGI_CHECK(n >= 1, "language neurons: no activation probabilities to take a threshold from");
  // Same order of products as the official code: activation_bar * L * H * K.
  const double at = activation_bar * static_cast<double>(p.size(1)) * static_cast<double>(p.size(2)) *
                    static_cast<double>(p.size(0));
  const int64_t rank = std::clamp<int64_t>(round_half_even(at), 1, n);
  const at::Tensor flat = p.reshape({-1});
  return static_cast<double>(std::get<0>(flat.kthvalue(rank)).item<float>());
}

double autosweep_lambda(const at::Tensor& p, const LanguageNeuronOptions& options) {
  validate_options(options);
  validate_p(p);
  return bisect(precompute(p, options), options, p.size(0));
}

LanguageNeuronSelection select_language_neurons(const at::Tensor& p, const std::vector<std::string>& languages,
                                                const LanguageNeuronOptions& options) {
  validate_options(options);
  validate_p(p);
  const int64_t K = p.size(0), L = p.size(1), H = p.size(2);
  GOLGI_CHECK(static_cast<int64_t>(languages.size()) == K, "language neurons: p has ", K, " languages but ",
              languages.size(), " language names were given");
  torch::NoGradGuard no_grad;
  const Precomputed pre = precompute(p, options);

  LanguageNeuronSelection r;
  r.languages = languages;
  r.layers = L;
  r.neurons_per_layer = H;
  r.top_rate = options.top_rate();
  r.activation_bar = options.activation_bar();
  r.autosweep = options.autosweep();
  r.lambda = options.autosweep() ? bisect(pre, options, K) : options.lambda();
  r.tau = pre.tau;
  r.top_k = pre.top_k;

  const at::Tensor kept = lowest(scores_of(pre, r.lambda), pre.top_k);
  r.kept = to_vector(kept);
  r.kept_languages = to_vector(pre.languages.index_select(0, kept));
  const at::Tensor flat = p.reshape({K, -1}).contiguous();
  const at::Tensor kept_p = flat.index_select(1, kept).contiguous();  // [K, top_k]
  const float* kp = kept_p.data_ptr<float>();
  const float tau = static_cast<float>(r.tau);

  r.masks.assign(static_cast<size_t>(K), std::vector<std::vector<int64_t>>(static_cast<size_t>(L)));
  r.language_histogram.assign(static_cast<size_t>(K + 1), 0);
  r.per_language.assign(static_cast<size_t>(K), 0);
  r.layer_counts.assign(static_cast<size_t>(L), std::vector<int64_t>(4, 0));
  for (size_t i = 0; i < r.kept.size(); ++i) {
    const int64_t neuron = r.kept[i], layer = neuron / H, index = neuron % H;
    int64_t n = 0;
    for (int64_t k = 0; k < K; ++k)
      if (kp[k * pre.top_k + static_cast<int64_t>(i)] > tau) {
        r.masks[static_cast<size_t>(k)][static_cast<size_t>(layer)].push_back(index);
        ++r.per_language[static_cast<size_t>(k)];
        ++n;
      }
    GOLGI_ASSERT(n == r.kept_languages[i], "language count mismatch for neuron ", neuron);
    ++r.language_histogram[static_cast<size_t>(n)];
    r.pairs += n;
    const int kind = n == 0 ? 0 : n == 1 ? 1 : n == K ? 3 : 2;
    ++r.layer_counts[static_cast<size_t>(layer)][static_cast<size_t>(kind)];
    (n == 0 ? r.unassigned : n == 1 ? r.specific : n == K ? r.general : r.related)++;
  }
  for (auto& language : r.masks)
    for (auto& layer : language) std::sort(layer.begin(), layer.end());
  return r;
}

Json LanguageNeuronSelection::summary_json() const {
  Json per_lang = Json::object();
  for (size_t k = 0; k < languages.size(); ++k) per_lang[languages[k]] = per_language[k];
  Json layers_json = Json::array();
  for (const auto& c : layer_counts)
    layers_json.push_back({{"kept", c[0] + c[1] + c[2] + c[3]}, {"unassigned", c[0]}, {"specific", c[1]},
                           {"related", c[2]}, {"general", c[3]}});
  return {{"kept", static_cast<int64_t>(kept.size())},
          {"specific", specific},
          {"related", related},
          {"general", general},
          {"unassigned", unassigned},
          {"pairs", pairs},
          {"language_histogram", language_histogram},
          {"per_language", per_lang},
          {"per_layer", layers_json}};
}

Json LanguageNeuronSelection::to_json() const {
  Json masks_json = Json::object();
  for (size_t k = 0; k < languages.size(); ++k) masks_json[languages[k]] = masks[k];
  return {{"method", "language-neurons"},
          {"languages", languages},
          {"layers", layers},
          {"neurons_per_layer", neurons_per_layer},
          {"top_rate", top_rate},
          {"activation_bar", activation_bar},
          {"autosweep", autosweep},
          {"lambda", lambda},
          {"tau", tau},
          {"top_k", top_k},
          {"masks", masks_json},
          {"summary", summary_json()}};
}

ActivationCounts counts_from_stats(const analysis::NeuronStats& stats) {
  GOLGI_CHECK(stats.labels.size() >= 2, "language neurons need at least 2 languages, the statistics have ",
              stats.labels.size());
  const int64_t L = static_cast<int64_t>(stats.hooks.size());
  GOLGI_CHECK(L >= 1, "the statistics have no hook points");
  const int64_t H = stats.hook_neurons[0];
  for (size_t h = 0; h < stats.hooks.size(); ++h)
    GOLGI_CHECK(stats.hook_neurons[h] == H, "language neurons need the same number of neurons in every layer; '",
                stats.hooks[h], "' has ", stats.hook_neurons[h], ", '", stats.hooks[0], "' has ", H);
  const int64_t K = static_cast<int64_t>(stats.labels.size());
  ActivationCounts counts;
  counts.languages = stats.labels;
  counts.counts = torch::zeros({K, 2, L, H}, torch::kInt64);
  counts.counts.select(1, 0).copy_(stats.active.view({K, L, H}));
  for (int64_t k = 0; k < K; ++k) {
    counts.full_tokens.push_back(stats.tokens[k].item<int64_t>());
    counts.prefix_tokens.push_back(0);
  }
  counts.validate();
  return counts;
}

namespace {

std::string layer_hook(const std::string& format, int64_t layer) {
  const size_t at = format.find("{l}");
  GOLGI_CHECK(at != std::string::npos, "the hook format '", format, "' needs a {l} where the layer goes");
  return format.substr(0, at) + std::to_string(layer) + format.substr(at + 3);
}

}  // namespace

hooks::InterventionSet deactivate_language(const LanguageNeuronSelection& selection, const std::string& language,
                                           const std::string& hook_format) {
  return deactivate_language(selection.to_json(), language, hook_format);
}

hooks::InterventionSet deactivate_language(const Json& selection, const std::string& language,
                                           const std::string& hook_format) {
  GOLGI_CHECK(selection.contains("masks") && selection["masks"].is_object(),
              "a language-neuron selection needs \"masks\": {language: [[layer 0 neurons], ...]}");
  const auto& masks = selection["masks"];
  if (!masks.contains(language)) {
    std::vector<std::string> names;
    for (auto it = masks.begin(); it != masks.end(); ++it) names.push_back(it.key());
    GOLGI_FAIL("the selection has no language '", language, "'", did_you_mean(language, names));
  }
  hooks::InterventionSet set;
  const auto& layers = masks[language];
  GOLGI_CHECK(layers.is_array(), "the mask of '", language, "' must be a list of per-layer neuron lists");
  for (size_t l = 0; l < layers.size(); ++l) {
    GOLGI_CHECK(layers[l].is_array(), "the mask of '", language, "', layer ", l, ", must be a list of neuron indices");
    set.zero_all(layer_hook(hook_format, static_cast<int64_t>(l)), layers[l].get<std::vector<int64_t>>());
  }
  return set;
}

}  // namespace golgi::methods
