// feature-vis: per neuron of an image model, the input that activation maximisation makes it
// fire for most (methods/feature_vis/activation_max.h; Erhan et al. 2009; regularised as in
// Nguyen, Yosinski & Clune 2016, "Multifaceted feature visualization": jitter, TV, clipping).
//
// For every atlas hook of an image classifier (input [C, H, W]), up to kMaxNeuronsPerHook neurons
// (indices 0, 1, ...): gradient ascent on the neuron's activation (conv channels: summed over the
// map) from a flat grey start at the data mean, kSteps steps of 5% of the data range, jitter 1 px,
// a TV-Bregman step (fidelity weight 10) every 4 steps, clipped to the streamed data's [min, max].
// Each neuron gets one `feature_vis` annotation: label "max <objective>" (logits: "p(<label>)
// 0.97"), score = the objective at the final image, value {"image_id", "objective", "steps",
// "probability" (logits only), "start"}; its PNG (upscaled to >= 112 px) is in `images`.
// Deterministic: the start is not random and the jitter draws are seeded by the build's seed.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include <torch/torch.h>

#include "golgi/atlas/annotator.h"
#include "golgi/atlas/builder.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/data/dataset.h"
#include "golgi/io/image_compose.h"
#include "golgi/methods/feature_vis/activation_max.h"
#include "golgi/models/model.h"

namespace golgi::atlas {

namespace {

constexpr int64_t kMaxNeuronsPerHook = 256;
constexpr int64_t kSteps = 96;
constexpr int64_t kRowsPerRun = 64;

class FeatureVisAnnotator : public Annotator {
 public:
  bool applies(const AtlasContext& context) const override {
    if (context.language_model || !context.model || !context.data || context.hooks.empty()) return false;
    auto shape = context.model->input_shape();
    return shape.size() == 3 && shape[1] >= 2 && shape[2] >= 2 && context.data->size() > 0;
  }

  Json annotate(const AtlasContext& context, AtlasWriter& writer) override {
    models::Model& model = *context.model;
    const at::Tensor& inputs = context.data->inputs();
    const double lo = inputs.min().item<double>(), hi = inputs.max().item<double>();
    GOLGI_CHECK(hi > lo, "feature-vis: the streamed inputs are constant, so there is no data range to optimise in");
    const double mean = inputs.mean().item<double>();
    auto shape = model.input_shape();
    const int64_t side = std::max(shape[1], shape[2]);
    const int64_t upscale = std::max<int64_t>(1, (112 + side - 1) / side);

    int64_t total = 0;
    for (const auto& hook : context.hooks) total += std::min(hook.neurons, kMaxNeuronsPerHook);
    const bool show = context.options == nullptr || context.options->progress();
    const int64_t seed = context.options ? context.options->seed() : 0;
    std::optional<Progress> progress;
    if (show) progress.emplace("feature-vis", total, "neuron");

    Json per_hook = Json::array();
    int64_t written = 0;
    for (const auto& hook : context.hooks) {
      const int64_t count = std::min(hook.neurons, kMaxNeuronsPerHook);
      const bool logits = hook.kind == "logits";
      double objective_sum = 0, probability_sum = 0;
      for (int64_t begin = 0; begin < count; begin += kRowsPerRun) {
        const int64_t end = std::min(count, begin + kRowsPerRun);
        // One batched run: row r maximises neuron begin + r (class logits through targets, other
        // hooks through a bare-hook neuron objective).
        std::vector<int64_t> start_shape = {end - begin};
        start_shape.insert(start_shape.end(), shape.begin(), shape.end());
        at::Tensor start = torch::full(start_shape, mean, torch::kFloat);
        at::Tensor targets = torch::arange(begin, end, torch::kLong);
        auto options = methods::ActivationMaxOptions()
                           .steps(kSteps)
                           .lr(0.05)
                           .jitter(1)
                           .tv_weight(10.0)
                           .tv_every(4)
                           .lo(lo)
                           .hi(hi)
                           .seed(seed)
                           .progress(false);
        if (logits) {
          options.objective("logit");
        } else {
          options.neuron(hook.name);
        }
        auto result = methods::maximize_activation(model, start, targets, options);
        for (int64_t index = begin; index < end; ++index) {
          const int64_t r = index - begin;
          io::Image8 image = io::upscale(io::to_image8(result.images[r], lo, hi), upscale);
          int64_t image_id = writer.add_image("feature_vis", image.png(), image.width, image.height);
          double objective = result.objective[r].item<double>();
          Json value = {{"image_id", image_id}, {"objective", objective}, {"steps", kSteps}, {"start", "data mean"}};
          char label[160];
          if (logits) {
            double p = result.probability[r].item<double>();
            value["probability"] = p;
            probability_sum += p;
            std::string name = index < static_cast<int64_t>(context.labels.size()) ? context.labels[index]
                                                                                     : std::to_string(index);
            std::snprintf(label, sizeof label, "p(%s) %.2f", name.c_str(), p);
          } else {
            std::snprintf(label, sizeof label, "max %.3g", objective);
          }
          objective_sum += objective;
          writer.annotate(context.neuron_id(hook, index), "feature_vis", label, objective, value);
          ++written;
          if (progress) progress->advance();
        }
      }
      Json summary = {{"hook", hook.name}, {"neurons", count}, {"of", hook.neurons},
                      {"mean_objective", count ? objective_sum / count : 0.0}};
      if (logits && count) summary["mean_probability"] = probability_sum / count;
      per_hook.push_back(summary);
    }
    if (progress) progress->finish();
    Json model_value = {{"steps", kSteps}, {"lr", 0.05}, {"jitter", 1}, {"tv_weight", 10.0}, {"tv_every", 4},
                        {"lo", lo}, {"hi", hi}, {"hooks", per_hook}};
    writer.annotate_model("feature_vis", model_value);
    return {{"annotations", written}, {"hooks", per_hook}};
  }
};

}  // namespace

std::unique_ptr<Annotator> make_feature_vis_annotator() { return std::make_unique<FeatureVisAnnotator>(); }

}  // namespace golgi::atlas
