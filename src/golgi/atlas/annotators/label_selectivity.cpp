// label-selectivity: which dataset label (class, language) a neuron prefers, and how strongly.
//
// Morcos, Barrett, Rabinowitz & Botvinick 2018, "On the importance of single directions for
// generalization" (ICLR): class selectivity index = (μ_max − μ_−max) / (μ_max + μ_−max), with
// μ_max the largest per-class mean activation and μ_−max the mean over the other classes. Means are
// shifted up by the most negative one when any is negative (gated and pre-activation hooks), so
// the index stays in [0, 1]. The build computes the index of every neuron once (over the labels
// the stream saw) and stores it in `neurons.selectivity`; this annotator labels the neurons with
// index >= kSelective, so the label is searchable and counted per layer on the overview.
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
      auto top = context.top_label[h].accessor<int64_t, 1>();
      auto index = context.selectivity[h].accessor<float, 1>();
      for (int64_t j = 0; j < hook.neurons; ++j) {
        // NaN (fewer than two labels seen) fails the comparison and is skipped.
        if (top[j] < 0 || !(index[j] >= kSelective)) continue;
        const std::string& label = context.labels[static_cast<size_t>(top[j])];
        Json means_json = Json::array();
        for (int64_t k = 0; k < K; ++k) means_json.push_back(m[k][j]);
        writer.annotate(context.neuron_id(hook, j), "label_selectivity", label, index[j],
                        Json{{"label", label}, {"selectivity", index[j]}, {"means", means_json}});
        ++selective;
        per_label[label] = per_label.value(label, 0) + 1;
      }
    }
    return Json{{"threshold", kSelective}, {"selective_neurons", selective}, {"per_label", per_label}};
  }
};

}  // namespace

std::unique_ptr<Annotator> make_label_selectivity_annotator() { return std::make_unique<LabelSelectivity>(); }

}  // namespace golgi::atlas
