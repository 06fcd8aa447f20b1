// variance-explained: per neuron, the share of its variance the class label explains.
//
// Lampinen, Chan & Hermann 2024, "Learned feature representations are biased by complexity,
// learning order, position, and more" (TMLR), measure a feature's share of a representation as
// the R² of a least-squares map from the feature to the representation. For one neuron and the
// class label (one-hot, with an intercept), fitted and evaluated on the same examples, that R² is
// the correlation ratio
//   η²_j = Σ_k n_k (m_kj − m_j)² / Σ_i (h_ij − m_j)²
// (methods/repr_bias/variance_explained.h). Observations are the neuron's activations at every
// position (conv maps: every pixel; dense layers: one per example), each with its example's label,
// the same units the atlas's per-label means use. The atlas context has per-label means but neither
// per-label counts nor total variances, so this annotator streams the atlas's examples through the
// model once more (read hooks, float64 sums in methods::GroupVariance).
//
// Writes one `variance_explained` annotation per neuron with a defined η² (a constant neuron has
// none): label "class", score η², value {"feature", "eta2", "variance", "top_label"}. Per hook, the
// pooled η² (Σ_j between / Σ_j total: the layer's R² for the class, the paper's measure) and the
// mean per-neuron η² go to the overview as a model annotation.
#include <cmath>
#include <optional>

#include <torch/torch.h>

#include "golgi/atlas/annotator.h"
#include "golgi/atlas/builder.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/data/dataset.h"
#include "golgi/hooks/scoped_hooks.h"
#include "golgi/methods/repr_bias/variance_explained.h"
#include "golgi/models/model.h"

namespace golgi::atlas {

namespace {

// [batch, ...] -> [batch * positions, neurons]: the channel of 4-D maps and the last dimension
// otherwise is the neuron (the atlas's layout, docs/hooks.md).
at::Tensor observations(const at::Tensor& act) {
  at::Tensor a = act.detach().to(torch::kFloat64);
  if (a.dim() == 2) return a;
  if (a.dim() == 3) return a.reshape({-1, a.size(2)});
  if (a.dim() == 4) return a.permute({0, 2, 3, 1}).reshape({-1, a.size(1)});
  GOLGI_FAIL("variance-explained: hook activations must be [batch, neurons], [batch, pos, neurons] or "
             "[batch, C, H, W], got ", a.sizes());
}

class VarianceExplainedAnnotator : public Annotator {
 public:
  bool applies(const AtlasContext& context) const override {
    return !context.language_model && context.labels.size() >= 2 && !context.hooks.empty() && context.model &&
           context.data;
  }

  Json annotate(const AtlasContext& context, AtlasWriter& writer) override {
    const int64_t K = static_cast<int64_t>(context.labels.size());
    const size_t H = context.hooks.size();
    std::vector<methods::GroupVariance> stats;
    for (const auto& hook : context.hooks) stats.emplace_back(K, hook.neurons);

    const int64_t n = context.data->size();
    const int64_t batch_size = context.options ? context.options->batch_size() : 32;
    const bool show = context.options == nullptr || context.options->progress();
    {
      std::vector<at::Tensor> acts(H);
      std::vector<hooks::HookGuard> guards;
      for (size_t h = 0; h < H; ++h)
        guards.push_back(hooks::read_hook(*context.model, context.hooks[h].name,
                                          [&acts, h](const at::Tensor& a) { acts[h] = a; }));
      torch::NoGradGuard no_grad;
      context.model->eval();
      std::optional<Progress> progress;
      if (show) progress.emplace("variance-explained", n, "img");
      for (int64_t begin = 0; begin < n; begin += batch_size) {
        const int64_t end = std::min(n, begin + batch_size);
        const auto batch = context.data->range(begin, end);
        for (auto& a : acts) a = at::Tensor();
        context.model->forward(batch.inputs);
        const at::Tensor labels = batch.targets.to(torch::kLong);
        for (size_t h = 0; h < H; ++h) {
          GOLGI_CHECK(acts[h].defined(), "variance-explained: hook point '", context.hooks[h].name,
                      "' did not fire during the forward pass");
          at::Tensor obs = observations(acts[h]);
          GOLGI_CHECK(obs.size(1) == context.hooks[h].neurons, "variance-explained: hook '", context.hooks[h].name,
                      "' has ", obs.size(1), " neurons but the atlas recorded ", context.hooks[h].neurons);
          const int64_t positions = obs.size(0) / (end - begin);
          stats[h].update(obs, labels.repeat_interleave(positions));
        }
        if (progress) progress->set(end);
      }
      if (progress) progress->finish();
    }

    Json per_hook = Json::array();
    int64_t written = 0;
    for (size_t h = 0; h < H; ++h) {
      const AtlasHook& hook = context.hooks[h];
      const at::Tensor eta = stats[h].eta_squared().contiguous();
      const at::Tensor variance = stats[h].variance().contiguous();
      const at::Tensor means = context.label_means[h];  // [K, N]
      const at::Tensor top = means.argmax(0).contiguous();
      const double* e = eta.data_ptr<double>();
      const double* v = variance.data_ptr<double>();
      const int64_t* t = top.data_ptr<int64_t>();
      double sum = 0;
      int64_t defined = 0;
      for (int64_t j = 0; j < hook.neurons; ++j) {
        if (std::isnan(e[j])) continue;  // a constant neuron: nothing to explain
        writer.annotate(context.neuron_id(hook, j), "variance_explained", "class", e[j],
                        Json{{"feature", "class"}, {"eta2", e[j]}, {"variance", v[j]},
                             {"top_label", context.labels[static_cast<size_t>(t[j])]}});
        sum += e[j];
        ++defined;
        ++written;
      }
      const double pooled = stats[h].pooled_eta_squared();
      per_hook.push_back({{"hook", hook.name},
                          {"layer", hook.layer},
                          {"neurons", hook.neurons},
                          {"constant_neurons", hook.neurons - defined},
                          {"mean_eta2", defined > 0 ? Json(sum / static_cast<double>(defined)) : Json(nullptr)},
                          {"pooled_r2", std::isnan(pooled) ? Json(nullptr) : Json(pooled)},
                          {"observations", stats[h].count()}});
    }
    writer.annotate_model("variance_explained", Json{{"feature", "class"}, {"hooks", per_hook}});
    return Json{{"neurons", written}, {"hooks", per_hook}};
  }
};

}  // namespace

std::unique_ptr<Annotator> make_variance_explained_annotator() { return std::make_unique<VarianceExplainedAnnotator>(); }

}  // namespace golgi::atlas
