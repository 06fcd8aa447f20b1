// label-selectivity: which dataset label (class, language) a neuron prefers, and how strongly.
//
// Morcos, Barrett, Rabinowitz & Botvinick 2018, "On the importance of single directions for
// generalization" (ICLR): class selectivity index = (μ_max − μ_−max) / (μ_max + μ_−max), with
// μ_max the largest per-class mean activation and μ_−max the mean over the other classes. Means are
// shifted up by the most negative one when any is negative (gated and pre-activation hooks), so
// the index stays in [0, 1]. The atlas stores the index of every neuron in `neurons.selectivity`;
// this annotator labels the neurons with index >= kSelective, so the label is searchable and
// counted per layer on the overview.
#include <algorithm>

#include <torch/torch.h>

#include "golgi/atlas/annotator.h"

namespace golgi::atlas {

namespace {

constexpr double kSelective = 0.5;

class LabelSelectivity : public Annotator {
 public:
  bool applies(const AtlasContext& context) const override { return context.labels.size() >= 2; }

  Json annotate(const AtlasContext& context, AtlasWriter& writer) override {
    const int64_t K = static_cast<int64_t>(context.labels.size());
    Json per_label = Json::object();
    int64_t selective = 0;
    for (size_t h = 0; h < context.hooks.size(); ++h) {
      const AtlasHook& hook = context.hooks[h];
      at::Tensor means = context.label_means[h].contiguous();  // [K, N]
      auto m = means.accessor<float, 2>();
      for (int64_t j = 0; j < hook.neurons; ++j) {
        double low = m[0][j], best = m[0][j];
        int64_t top = 0;
        for (int64_t k = 1; k < K; ++k) {
          low = std::min<double>(low, m[k][j]);
          if (m[k][j] > best) {
            best = m[k][j];
            top = k;
          }
        }
        const double shift = low < 0 ? -low : 0.0;
        double rest = 0;
        for (int64_t k = 0; k < K; ++k)
          if (k != top) rest += m[k][j] + shift;
        rest /= static_cast<double>(K - 1);
        const double index = best + shift + rest > 0 ? (best + shift - rest) / (best + shift + rest) : 0.0;
        if (index < kSelective) continue;
        Json means_json = Json::array();
        for (int64_t k = 0; k < K; ++k) means_json.push_back(m[k][j]);
        writer.annotate(context.neuron_id(hook, j), "label_selectivity", context.labels[static_cast<size_t>(top)], index,
                        Json{{"label", context.labels[static_cast<size_t>(top)]}, {"selectivity", index}, {"means", means_json}});
        ++selective;
        per_label[context.labels[static_cast<size_t>(top)]] = per_label.value(context.labels[static_cast<size_t>(top)], 0) + 1;
      }
    }
    return Json{{"threshold", kSelective}, {"selective_neurons", selective}, {"per_label", per_label}};
  }
};

}  // namespace

std::unique_ptr<Annotator> make_label_selectivity_annotator() { return std::make_unique<LabelSelectivity>(); }

}  // namespace golgi::atlas
