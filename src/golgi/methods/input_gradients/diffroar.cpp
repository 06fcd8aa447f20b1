#include "golgi/methods/input_gradients/diffroar.h"

#include <cmath>
#include <cstdio>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/models/model.h"

namespace golgi::methods {

at::Tensor pixel_scores(const at::Tensor& attribution) {
  GOLGI_CHECK(attribution.defined() && attribution.dim() >= 2 && attribution.dim() <= 4,
              "pixel_scores: the attribution must be [N, C, H, W], [N, H, W] or [N, P], got ",
              attribution.defined() ? attribution.sizes() : at::IntArrayRef{});
  GOLGI_CHECK(attribution.is_floating_point(), "pixel_scores: the attribution must be floating point, got ",
              attribution.scalar_type());
  at::Tensor a = attribution.detach().abs().to(torch::kFloat);
  if (a.dim() == 4) a = a.sum(1);
  at::Tensor scores = a.reshape({a.size(0), -1});
  GOLGI_CHECK(torch::isfinite(scores).all().item<bool>(), "pixel_scores: the attribution has NaN or infinite values");
  return scores.contiguous();
}

namespace {

int64_t pixel_count(double fraction, int64_t pixels) {
  GOLGI_CHECK(fraction >= 0 && fraction <= 1, "DiffROAR: the masked fraction must be in [0, 1], got ", fraction);
  return static_cast<int64_t>(std::llround(fraction * static_cast<double>(pixels)));
}

}  // namespace

at::Tensor select_pixels(const at::Tensor& scores, double fraction, const std::string& which) {
  GOLGI_CHECK(which == "top" || which == "bottom", "select_pixels: which must be 'top' or 'bottom', got '", which,
              "'");
  GOLGI_CHECK(scores.defined() && scores.dim() == 2, "select_pixels: scores must be [N, P], got ",
              scores.defined() ? scores.sizes() : at::IntArrayRef{});
  const int64_t k = pixel_count(fraction, scores.size(1));
  at::Tensor selected = torch::zeros(scores.sizes(), torch::kBool);
  if (k == 0 || scores.size(0) == 0) return selected;
  // A stable sort keeps equal scores in index order in both directions, which is the documented
  // tie rule: the lower flat index ranks first among the top and among the bottom pixels.
  const auto sorted = torch::sort(scores.to(torch::kFloat), /*stable=*/true, /*dim=*/1,
                                  /*descending=*/which == "top");
  const at::Tensor chosen = std::get<1>(sorted).narrow(1, 0, k);
  selected.scatter_(1, chosen, true);
  return selected;
}

at::Tensor mask_pixels(const at::Tensor& inputs, const at::Tensor& selected, const at::Tensor& fill) {
  GOLGI_CHECK(inputs.defined() && inputs.dim() == 4, "mask_pixels: inputs must be [N, C, H, W], got ",
              inputs.defined() ? inputs.sizes() : at::IntArrayRef{});
  const int64_t n = inputs.size(0), c = inputs.size(1), h = inputs.size(2), w = inputs.size(3);
  GOLGI_CHECK(selected.defined() && selected.scalar_type() == torch::kBool && selected.numel() == n * h * w,
              "mask_pixels: the selection must be bool with N x H x W = ", n * h * w, " elements, got ",
              selected.defined() ? selected.sizes() : at::IntArrayRef{});
  GOLGI_CHECK(fill.defined() && fill.numel() == c, "mask_pixels: fill must hold one value per channel (", c, "), got ",
              fill.defined() ? fill.numel() : 0);
  const at::Tensor where = selected.reshape({n, 1, h, w});
  return torch::where(where, fill.to(inputs.dtype()).reshape({1, c, 1, 1}), inputs);
}

at::Tensor channel_mean(const at::Tensor& inputs) {
  GOLGI_CHECK(inputs.defined() && inputs.dim() >= 2 && inputs.size(0) > 0,
              "channel_mean: inputs must be [N, C, ...] with N > 0");
  return inputs.detach().transpose(0, 1).reshape({inputs.size(1), -1}).mean(1);
}

double top_share_in_region(const at::Tensor& scores, const at::Tensor& region, double fraction) {
  GOLGI_CHECK(scores.defined() && scores.dim() == 2 && scores.size(0) > 0,
              "top_share_in_region: scores must be [N, P] with N > 0");
  GOLGI_CHECK(region.defined() && region.numel() == scores.numel(), "top_share_in_region: the region must have ",
              scores.numel(), " elements (N x P), got ", region.defined() ? region.numel() : 0);
  const int64_t k = pixel_count(fraction, scores.size(1));
  GOLGI_CHECK(k > 0, "top_share_in_region: fraction ", fraction, " of ", scores.size(1), " pixels selects none");
  const at::Tensor top = select_pixels(scores, fraction, "top");
  const at::Tensor inside = top.logical_and(region.reshape(scores.sizes()).to(torch::kBool));
  return inside.sum().item<double>() / static_cast<double>(k * scores.size(0));
}

Json DiffRoarOptions::to_json() const {
  return {{"fractions", fractions()}, {"train", train().to_json()}, {"seed", seed()}};
}

Json DiffRoarPoint::to_json() const {
  return {{"fraction", fraction},
          {"pixels", pixels},
          {"accuracy_top_masked", accuracy_top_masked},
          {"accuracy_bottom_masked", accuracy_bottom_masked},
          {"diffroar", diffroar()}};
}

double DiffRoarResult::mean_diffroar() const {
  GOLGI_CHECK(!points.empty(), "DiffROAR: no fractions were evaluated");
  double sum = 0;
  for (const auto& p : points) sum += p.diffroar();
  return sum / static_cast<double>(points.size());
}

Json DiffRoarResult::to_json() const {
  Json list = Json::array();
  for (const auto& p : points) list.push_back(p.to_json());
  return {{"points", list}, {"mean_diffroar", points.empty() ? Json(nullptr) : Json(mean_diffroar())}};
}

DiffRoarResult diffroar(const ModelFactory& make_model, const at::Tensor& train_inputs, const at::Tensor& train_targets,
                        const at::Tensor& train_scores, const at::Tensor& test_inputs, const at::Tensor& test_targets,
                        const at::Tensor& test_scores, const DiffRoarOptions& options) {
  GOLGI_CHECK(static_cast<bool>(make_model), "DiffROAR: no model factory given");
  GOLGI_CHECK(!options.fractions().empty(), "DiffROAR: give at least one fraction");
  GOLGI_CHECK(options.seed() >= 0, "DiffROAR: seed must be >= 0, got ", options.seed());
  for (const auto& [name, x] : {std::pair<const char*, const at::Tensor&>{"train", train_inputs}, {"test", test_inputs}})
    GOLGI_CHECK(x.defined() && x.dim() == 4, "DiffROAR: ", name, " inputs must be [N, C, H, W], got ",
                x.defined() ? x.sizes() : at::IntArrayRef{});
  GOLGI_CHECK(train_inputs.sizes().slice(1) == test_inputs.sizes().slice(1), "DiffROAR: train images ",
              train_inputs.sizes(), " and test images ", test_inputs.sizes(), " differ in shape");
  const at::Tensor train_pixels = pixel_scores(train_scores), test_pixels = pixel_scores(test_scores);
  const int64_t pixels = train_inputs.size(2) * train_inputs.size(3);
  GOLGI_CHECK(train_pixels.size(0) == train_inputs.size(0) && train_pixels.size(1) == pixels,
              "DiffROAR: the train scores give ", train_pixels.sizes(), " pixel scores for ", train_inputs.size(0),
              " images of ", pixels, " pixels");
  GOLGI_CHECK(test_pixels.size(0) == test_inputs.size(0) && test_pixels.size(1) == pixels,
              "DiffROAR: the test scores give ", test_pixels.sizes(), " pixel scores for ", test_inputs.size(0),
              " images of ", pixels, " pixels");
  const at::Tensor fill = channel_mean(train_inputs);

  DiffRoarResult result;
  const uint64_t seed = static_cast<uint64_t>(options.seed());
  for (size_t i = 0; i < options.fractions().size(); ++i) {
    DiffRoarPoint point;
    point.fraction = options.fractions()[i];
    point.pixels = pixel_count(point.fraction, pixels);
    for (const std::string which : {"top", "bottom"}) {
      const at::Tensor train_x = mask_pixels(train_inputs, select_pixels(train_pixels, point.fraction, which), fill);
      const at::Tensor test_x = mask_pixels(test_inputs, select_pixels(test_pixels, point.fraction, which), fill);
      auto model = make_model(derive_seed(seed, "diffroar/init", i));
      GOLGI_CHECK(model != nullptr, "DiffROAR: the model factory returned no model");
      train::ClassifierTrainOptions train = options.train();
      train.adversarial(false)
          .seed(static_cast<int64_t>(derive_seed(seed, "diffroar/order", i) >> 1))
          .label(options.label() + " k=" + std::to_string(static_cast<int>(std::lround(100 * point.fraction))) + "% " +
                 which);
      train::train_classifier(*model, train_x, train_targets, train);
      const double accuracy = 100.0 * train::classifier_accuracy(*model, test_x, test_targets);
      (which == "top" ? point.accuracy_top_masked : point.accuracy_bottom_masked) = accuracy;
    }
    std::fprintf(stderr, "%s: k = %.0f%%: accuracy top-masked %.2f, bottom-masked %.2f, DiffROAR %+.2f points\n",
                 options.label().c_str(), 100 * point.fraction, point.accuracy_top_masked,
                 point.accuracy_bottom_masked, point.diffroar());
    result.points.push_back(point);
  }
  return result;
}

}  // namespace golgi::methods
