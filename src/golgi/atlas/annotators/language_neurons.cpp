// language-neurons: the language-specific and language-related MLP neurons of a multilingual model.
//
// Zhang et al. 2025, "How does Alignment Enhance LLMs' Multilingual Capabilities? A Language
// Neurons Perspective": activation probability per language of each gated unit (SiLU(gate) > 0,
// i.e. mlp.hook_pre > 0), entropy-based selection of the top_rate share with AutoSweep for λ, and
// membership where p > τ (methods/language_neurons). Counted over the atlas's streamed windows
// with their language labels. Each (neuron, language) pair is one `language` annotation; the
// per-layer counts go to the overview as a model annotation.
#include <torch/torch.h>

#include "golgi/analysis/neuron_stats.h"
#include "golgi/atlas/annotator.h"
#include "golgi/atlas/builder.h"
#include "golgi/data/dataset.h"
#include "golgi/methods/language_neurons/language_neurons.h"
#include "golgi/models/transformer.h"

namespace golgi::atlas {

namespace {

class LanguageNeuronsAnnotator : public Annotator {
 public:
  bool applies(const AtlasContext& context) const override {
    if (!context.language_model || context.labels.size() < 2) return false;
    auto* lm = dynamic_cast<models::TransformerLM*>(context.model);
    return lm && lm->has_hook("blocks.0.mlp.hook_pre");
  }

  Json annotate(const AtlasContext& context, AtlasWriter& writer) override {
    auto* lm = dynamic_cast<models::TransformerLM*>(context.model);
    // The streamed windows, padding (-1) dropped; the input is the window minus its last token.
    const at::Tensor windows = context.data->inputs();
    const at::Tensor targets = context.data->targets().to(torch::kLong);
    std::vector<analysis::TextExample> examples;
    examples.reserve(static_cast<size_t>(windows.size(0)));
    for (int64_t i = 0; i < windows.size(0); ++i) {
      at::Tensor row = windows[i].narrow(0, 0, windows.size(1) - 1).contiguous();
      const int64_t* t = row.data_ptr<int64_t>();
      int64_t n = 0;
      while (n < row.size(0) && t[n] >= 0) ++n;
      if (n == 0) continue;
      analysis::TextExample e;
      e.tokens.assign(t, t + n);
      e.label = targets[i].item<int64_t>();
      examples.push_back(std::move(e));
    }
    auto stats = analysis::neuron_statistics(
        *lm, examples, context.labels,
        analysis::NeuronStatsOptions().hooks({"blocks.*.mlp.hook_pre"}).progress(context.options->progress()));
    auto counts = methods::counts_from_stats(stats);
    at::Tensor p = counts.probabilities();  // [K, L, H]
    auto selection = methods::select_language_neurons(p, counts.languages, methods::LanguageNeuronOptions().autosweep(true));
    auto p_a = p.accessor<float, 3>();
    // How many languages each neuron belongs to (1: specific, 2..K-1: related, K: general).
    std::map<std::pair<int64_t, int64_t>, int64_t> memberships;
    for (const auto& language_masks : selection.masks)
      for (size_t l = 0; l < language_masks.size(); ++l)
        for (int64_t j : language_masks[l]) memberships[{static_cast<int64_t>(l), j}]++;
    int64_t written = 0;
    for (size_t k = 0; k < selection.masks.size(); ++k)
      for (size_t l = 0; l < selection.masks[k].size(); ++l) {
        const AtlasHook* hook = context.find_hook("blocks." + std::to_string(l) + ".mlp.hook_post");
        if (!hook) continue;
        for (int64_t j : selection.masks[k][l]) {
          const int64_t n_languages = memberships[{static_cast<int64_t>(l), j}];
          const double pk = p_a[static_cast<int64_t>(k)][static_cast<int64_t>(l)][j];
          writer.annotate(context.neuron_id(*hook, j), "language", selection.languages[k], pk,
                          Json{{"language", selection.languages[k]},
                               {"p", pk},
                               {"languages", n_languages},
                               {"role", n_languages == 1 ? "specific" : n_languages == static_cast<int64_t>(selection.languages.size()) ? "general" : "related"},
                               {"tau", selection.tau}});
          ++written;
        }
      }
    writer.annotate_model("language_neurons", Json{{"summary", selection.summary_json()},
                                                   {"lambda", selection.lambda},
                                                   {"tau", selection.tau},
                                                   {"top_rate", selection.top_rate},
                                                   {"layer_counts", selection.layer_counts},
                                                   {"per_language", selection.per_language},
                                                   {"languages", selection.languages}});
    return Json{{"pairs", written}, {"kept", selection.top_k}, {"lambda", selection.lambda}, {"tau", selection.tau},
                {"specific", selection.specific}, {"related", selection.related}, {"general", selection.general}};
  }
};

}  // namespace

std::unique_ptr<Annotator> make_language_neurons_annotator() { return std::make_unique<LanguageNeuronsAnnotator>(); }

}  // namespace golgi::atlas
