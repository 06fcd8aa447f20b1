// nap: per hidden ReLU neuron, the classes whose neural activation pattern (NAP) fixes it "on" or
// "off" (paper id `nap-spec`; Geng, Leng, Zhang, Yang, Xu, Wang & Si 2023, "Towards Reliable Neural
// Specifications", ICML; methods/nap_spec/nap.h).
//
// With delta = 0.95, neuron n is "on" in class c's NAP when it is active in >= 95% of the class's
// samples and "off" when inactive in >= 95% of them. The build already streams P(active) per label
// and neuron (label_probability, activation > 0), so P(active) >= delta gives "on" and
// 1 - P(active) >= delta gives "off". Difference from the paper (and from `golgi nap mine`): the
// atlas counts every streamed sample of the class, not only the correctly classified ones.
//
// Applies to image classifiers with ReLU hidden layers ("mlp" with activation relu, or "cnn", whose
// dense layers are ReLU), on their dense hooks layers.{i}.hook_pre/hook_post or fc{j}.hook_pre/
// hook_post (one position per example; pre > 0 iff post > 0, so both give the same states).
// Writes kind "nap" per neuron fixed by at least one class NAP, and a model-level "nap" summary
// (fixed neurons per class, mutually exclusive class pairs).
#include <algorithm>

#include <torch/torch.h>

#include "golgi/atlas/annotator.h"
#include "golgi/models/model.h"

namespace golgi::atlas {

namespace {

constexpr double kDelta = 0.95, kTolerance = 1e-6;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool relu_model(const AtlasContext& context) {
  if (context.model == nullptr || context.language_model) return false;
  const std::string& arch = context.model->architecture();
  if (arch == "cnn") return true;
  return arch == "mlp" && context.model->options().value("activation", std::string("relu")) == "relu";
}

bool dense_relu_hook(const AtlasContext& context, const AtlasHook& hook) {
  const std::string& arch = context.model->architecture();
  const bool dense = arch == "mlp" ? hook.name.rfind("layers.", 0) == 0 : hook.name.rfind("fc", 0) == 0;
  return dense && hook.positions == 1 && (ends_with(hook.name, ".hook_pre") || ends_with(hook.name, ".hook_post"));
}

class Nap : public Annotator {
 public:
  bool applies(const AtlasContext& context) const override {
    if (!relu_model(context) || context.labels.size() < 2) return false;
    for (const auto& hook : context.hooks)
      if (dense_relu_hook(context, hook)) return true;
    return false;
  }

  Json annotate(const AtlasContext& context, AtlasWriter& writer) override {
    const int64_t K = static_cast<int64_t>(context.labels.size());
    // states[c] over all annotated neurons, for mutual exclusivity (per hook name: the pre and
    // post hooks of one layer carry the same states, so only one of each layer is compared).
    std::vector<std::vector<int8_t>> states(static_cast<size_t>(K));
    std::vector<int64_t> on_per_class(static_cast<size_t>(K), 0), off_per_class(static_cast<size_t>(K), 0);
    int64_t annotated = 0;
    Json hooks_json = Json::array();
    std::vector<std::string> seen_layers;
    for (size_t h = 0; h < context.hooks.size(); ++h) {
      const AtlasHook& hook = context.hooks[h];
      if (!dense_relu_hook(context, hook)) continue;
      const std::string layer = hook.name.substr(0, hook.name.rfind(".hook_"));
      const bool first_of_layer = std::find(seen_layers.begin(), seen_layers.end(), layer) == seen_layers.end();
      if (first_of_layer) seen_layers.push_back(layer);
      const at::Tensor p = context.label_probability[h].to(torch::kFloat64).contiguous();  // [K, neurons]
      auto pa = p.accessor<double, 2>();
      int64_t hook_annotated = 0;
      for (int64_t j = 0; j < hook.neurons; ++j) {
        Json on = Json::array(), off = Json::array(), on_ids = Json::array(), off_ids = Json::array();
        for (int64_t c = 0; c < K; ++c) {
          int8_t s = 0;
          // The probabilities arrive as float32: a share of exactly delta (19 of 20) reads as
          // 0.94999999; kTolerance (far below 1 / samples) keeps it, as the integer rule does.
          if (pa[c][j] >= kDelta - kTolerance) s = 1;
          else if (1.0 - pa[c][j] >= kDelta - kTolerance) s = -1;
          if (s > 0) {
            on.push_back(context.labels[static_cast<size_t>(c)]);
            on_ids.push_back(c);
          } else if (s < 0) {
            off.push_back(context.labels[static_cast<size_t>(c)]);
            off_ids.push_back(c);
          }
          if (first_of_layer) {
            states[static_cast<size_t>(c)].push_back(s);
            on_per_class[static_cast<size_t>(c)] += s > 0;
            off_per_class[static_cast<size_t>(c)] += s < 0;
          }
        }
        if (on.empty() && off.empty()) continue;
        std::string label;
        for (const auto& name : on) label += (label.empty() ? "on: " : ", ") + name.get<std::string>();
        if (label.empty()) label = "off in " + std::to_string(off.size()) + " classes";
        writer.annotate(context.neuron_id(hook, j), "nap", label, static_cast<double>(on.size()),
                        Json{{"delta", kDelta}, {"on", on}, {"off", off}, {"on_ids", on_ids}, {"off_ids", off_ids},
                             {"basis", "all streamed samples of each class"}});
        ++annotated;
        ++hook_annotated;
      }
      hooks_json.push_back({{"hook", hook.name}, {"annotated", hook_annotated}});
    }
    // Two class NAPs are mutually exclusive when some neuron is on in one and off in the other.
    int64_t exclusive = 0, pairs = 0;
    for (int64_t a = 0; a < K; ++a)
      for (int64_t b = a + 1; b < K; ++b) {
        ++pairs;
        const auto& sa = states[static_cast<size_t>(a)];
        const auto& sb = states[static_cast<size_t>(b)];
        bool conflict = false;
        for (size_t n = 0; n < sa.size() && !conflict; ++n) conflict = sa[n] * sb[n] < 0;
        exclusive += conflict;
      }
    Json per_class = Json::array();
    for (int64_t c = 0; c < K; ++c)
      per_class.push_back({{"label", context.labels[static_cast<size_t>(c)]},
                           {"on", on_per_class[static_cast<size_t>(c)]},
                           {"off", off_per_class[static_cast<size_t>(c)]}});
    const Json summary = {{"delta", kDelta}, {"classes", per_class}, {"exclusive_pairs", exclusive}, {"pairs", pairs},
                          {"layers", seen_layers}};
    writer.annotate_model("nap", summary);
    return Json{{"delta", kDelta}, {"annotated", annotated}, {"hooks", hooks_json}, {"exclusive_pairs", exclusive},
                {"pairs", pairs}};
  }
};

}  // namespace

std::unique_ptr<Annotator> make_nap_annotator() { return std::make_unique<Nap>(); }

}  // namespace golgi::atlas
