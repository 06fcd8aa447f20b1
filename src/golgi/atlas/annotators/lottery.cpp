// lottery: how much of each neuron's input survived iterative magnitude pruning.
//
// Frankle, Dziugaite, Roy & Carbin 2019, "Stabilizing the Lottery Ticket Hypothesis"
// (arXiv:1903.01611); methods/lottery. Applies to a model folder written by `golgi prune`, which
// holds masks.safetensors (one 0/1 tensor per pruned weight, named like the weight). For a pruned
// weight "P.weight" ([out, in] linear or [out, in, k, k] conv), neuron j of every recorded hook
// "P.hook_*" with `out` neurons (hook_pre/hook_post/hook_out/hook_pool: the same units) gets the
// fraction of its incoming weights (row j) that survived, as score. Global magnitude pruning keeps
// unevenly: neurons whose inputs were pruned away entirely (fraction 0) are dead in the ticket.
#include <cstdio>

#include <torch/torch.h>

#include "golgi/atlas/annotator.h"
#include "golgi/io/atomic_file.h"
#include "golgi/methods/lottery/lottery.h"

namespace golgi::atlas {

namespace {

class Lottery : public Annotator {
 public:
  bool applies(const AtlasContext& context) const override {
    return !context.model_dir.empty() && io::file_exists(masks_path(context));
  }

  Json annotate(const AtlasContext& context, AtlasWriter& writer) override {
    const auto masks = methods::load_masks(masks_path(context));
    Json layers = Json::array();
    int64_t annotated = 0, dead = 0;
    for (const auto& [name, mask] : masks) {
      GOLGI_CHECK(mask.dim() >= 2, "lottery annotator: mask '", name, "' in ", masks_path(context),
                  " is not a linear or conv weight mask (", mask.dim(), " dimensions)");
      const std::string suffix = ".weight";
      if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
        continue;
      const std::string prefix = name.substr(0, name.size() - suffix.size()) + ".hook_";
      const int64_t out = mask.size(0), incoming = mask.numel() / out;
      const at::Tensor kept = mask.reshape({out, -1}).to(torch::kLong).sum(1).contiguous();  // [out]
      auto k = kept.accessor<int64_t, 1>();
      int64_t layer_dead = 0;
      for (int64_t j = 0; j < out; ++j) layer_dead += k[j] == 0 ? 1 : 0;
      std::vector<std::string> hooks;
      for (const auto& hook : context.hooks) {
        if (hook.name.rfind(prefix, 0) != 0 || hook.neurons != out) continue;
        hooks.push_back(hook.name);
        for (int64_t j = 0; j < out; ++j) {
          const double fraction = static_cast<double>(k[j]) / static_cast<double>(incoming);
          char label[32];
          std::snprintf(label, sizeof label, "%.0f%% inputs kept", 100 * fraction);
          writer.annotate(context.neuron_id(hook, j), "weight_survival", label, fraction,
                          Json{{"weight", name}, {"kept", k[j]}, {"incoming", incoming}, {"fraction", fraction}});
          ++annotated;
          dead += k[j] == 0 ? 1 : 0;
        }
      }
      const int64_t total_kept = mask.sum().item<int64_t>();
      layers.push_back({{"weight", name},
                        {"hooks", hooks},
                        {"neurons", out},
                        {"kept", total_kept},
                        {"total", mask.numel()},
                        {"sparsity", 1.0 - static_cast<double>(total_kept) / static_cast<double>(mask.numel())},
                        {"neurons_without_inputs", layer_dead}});
    }
    // golgi prune records the level in the model card (model.json "card" -> "lottery").
    Json level = nullptr;
    if (context.card.contains("card") && context.card["card"].is_object() && context.card["card"].contains("lottery"))
      level = context.card["card"]["lottery"].value("level", Json(nullptr));
    const Json summary = {{"masks", methods::kMasksFile}, {"level", level}, {"layers", layers}};
    writer.annotate_model("weight_survival", summary);
    return Json{{"annotated", annotated}, {"neurons_without_inputs", dead}, {"layers", layers.size()}};
  }

 private:
  static std::string masks_path(const AtlasContext& context) {
    return context.model_dir + "/" + methods::kMasksFile;
  }
};

}  // namespace

std::unique_ptr<Annotator> make_lottery_annotator() { return std::make_unique<Lottery>(); }

}  // namespace golgi::atlas
