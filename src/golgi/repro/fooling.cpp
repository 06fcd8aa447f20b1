// Reproduction of paper id `fooling` (Nguyen, Yosinski & Clune 2015, "Deep Neural Networks are
// Easily Fooled: High Confidence Predictions for Unrecognizable Images", CVPR, arXiv:1412.1897;
// methods/fooling); docs/methods/fooling.md, section "Reproduction".
//
// On the bundled Fashion-MNIST CNN (assets/models/fashion-cnn, test accuracy 0.916):
// 1. MAP-Elites over the 10 class cells with the direct encoding (one gene per pixel, SBX eta_c 10,
//    polynomial mutation rate 0.1 eta_m 15): 200 generations of 200 children after a random start
//    of 200 (map_elites.h).
// 2. The same with the CPPN encoding (cppn.h).
// 3. Gradient ascent from uniform pixel noise: methods::maximize_activation with the
//    log-probability objective, no jitter, no TV, at most 200 steps, stopping a class at p >= 0.9999.
// 4. Off-manifold distance: for the 30 best fooling images (the 10 elites of each encoding and the
//    10 gradient-ascent images) and for the first 200 test images, the L2 distance (pixel units,
//    784 pixels in [0, 1]) to the nearest of the 60,000 training images.
// Quick mode runs the same budget: it fits in the 10-minute limit (docs/methods/fooling.md).
//
// Claims:
//   direct_classes_p099      classes whose direct-encoding elite reaches p >= 0.99      >= 9
//   cppn_classes_p099        classes whose CPPN elite reaches p >= 0.99                  >= 7
//   gradient_classes_p09999  classes gradient ascent takes to p >= 0.9999 in <= 200 steps >= 10
//   nn_distance_ratio        mean NN distance of fooling images / that of test images   >= 1.5
#include <chrono>
#include <cmath>
#include <cstdio>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/runtime.h"
#include "golgi/core/seed.h"
#include "golgi/core/stopwatch.h"
#include "golgi/data/registry.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/image_compose.h"
#include "golgi/methods/feature_vis/activation_max.h"
#include "golgi/methods/fooling/map_elites.h"
#include "golgi/models/registry.h"
#include "golgi/repro/assets.h"
#include "golgi/repro/repro.h"

namespace golgi::repro {

namespace {

namespace gm = golgi::methods;

constexpr double kPixelMean = 0.2860, kPixelStd = 0.3530;  // golgi's Fashion-MNIST normalisation
constexpr double kElite = 0.99, kGradient = 0.9999, kRatio = 1.5;
constexpr int64_t kDirectClasses = 9, kCppnClasses = 7, kGradientClasses = 10;

struct Config {
  int64_t generations = 200, population = 200;
  int64_t gradient_steps = 200;
  int64_t test_images = 200;
  gm::RealVariationOptions variation;  // paper defaults: rate 0.1, eta_m 15, eta_c 10, cross 0.5
  gm::CppnOptions cppn;

  Json to_json() const {
    return {{"model", "bundled fashion-cnn"},
            {"generations", generations},
            {"population", population},
            {"variation", gm::RealVariationOptions::schema().to_json(variation)},
            {"cppn", gm::CppnOptions::schema().to_json(cppn)},
            {"gradient", "maximize_activation: log_probability, lr 0.05, no jitter, no TV, stop at p >= 0.9999"},
            {"gradient_steps", gradient_steps},
            {"test_images", test_images},
            {"distance", "L2 over the 784 pixels in pixel units [0, 1], to the nearest of the 60,000 training images"}};
  }
};

at::Tensor to_pixels(const at::Tensor& inputs) { return inputs * kPixelStd + kPixelMean; }

std::vector<double> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// For each query row, the L2 distance to its nearest reference row: ‖q‖² + ‖r‖² − 2 q·r in float64,
// over chunks of the references so that the distance matrix stays small.
at::Tensor nearest_distance(const at::Tensor& queries, const at::Tensor& references) {
  const at::Tensor q = queries.reshape({queries.size(0), -1}).to(torch::kFloat64);
  const at::Tensor q2 = q.pow(2).sum(1, /*keepdim=*/true);
  at::Tensor best = torch::full({q.size(0)}, INFINITY, torch::kFloat64);
  const int64_t chunk = 10000;
  for (int64_t begin = 0; begin < references.size(0); begin += chunk) {
    const int64_t end = std::min(begin + chunk, references.size(0));
    const at::Tensor r = references.slice(0, begin, end).reshape({end - begin, -1}).to(torch::kFloat64);
    const at::Tensor d2 = q2 + r.pow(2).sum(1).unsqueeze(0) - 2.0 * q.matmul(r.t());
    best = torch::minimum(best, std::get<0>(d2.min(1)));
  }
  return best.clamp_min(0).sqrt();
}

void save_row(const at::Tensor& pixel_images, const std::string& path) {
  io::image_grid(pixel_images, io::GridOptions().columns(pixel_images.size(0)).scaling("unit").upscale(4))
      .save_png(path);
}

}  // namespace

ReproResult run_fooling(const ReproOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  seed_everything(options.seed);
  const Config config;
  if (!options.out.empty()) io::make_dirs(options.out);

  auto loaded = models::load_model(bundled_model("fashion-cnn"));
  models::Model& model = *loaded.model;
  model.eval();
  const int64_t seed = static_cast<int64_t>(derive_seed(options.seed, "fooling/search") >> 1);

  // 1-2. MAP-Elites with both encodings.
  const auto me = gm::MapElitesOptions().generations(config.generations).population(config.population).seed(seed);
  const gm::MapElitesResult direct = gm::map_elites_direct(model, me, config.variation);
  std::fprintf(stderr, "fooling: direct encoding: %lld/10 classes at p >= 0.99 (%.0f s)\n",
               static_cast<long long>(direct.cells_reaching(kElite)), seconds_since(start));
  const gm::MapElitesResult cppn = gm::map_elites_cppn(model, me, config.cppn);
  std::fprintf(stderr, "fooling: CPPN encoding: %lld/10 classes at p >= 0.99 (%.0f s)\n",
               static_cast<long long>(cppn.cells_reaching(kElite)), seconds_since(start));
  const int64_t classes = static_cast<int64_t>(direct.probability.size());

  // 3. Gradient ascent from uniform noise over the data range, one row per class.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(options.seed, "fooling/noise"));
  const auto act = gm::ActivationMaxOptions()
                       .objective("log_probability")
                       .steps(config.gradient_steps)
                       .jitter(0)
                       .tv_weight(0.0)
                       .stop_probability(kGradient)
                       .seed(seed)
                       .progress(true);
  const at::Tensor noise = torch::rand({classes, 1, 28, 28}, gen) * (act.hi() - act.lo()) + act.lo();
  const gm::ActivationMaxResult ascent =
      gm::maximize_activation(model, noise, torch::arange(classes, torch::kInt64), act);
  const at::Tensor gradient_pixels = to_pixels(ascent.images).clamp(0, 1);
  // The probability of the recorded image, recomputed on the path every other image takes.
  const at::Tensor gradient_p = gm::fooling_probabilities(model, gradient_pixels, kPixelMean, kPixelStd)
                                    .gather(1, torch::arange(classes, torch::kInt64).unsqueeze(1))
                                    .squeeze(1);
  int64_t gradient_classes = 0;
  for (int64_t c = 0; c < classes; ++c)
    gradient_classes += (gradient_p[c].item<double>() >= kGradient &&
                         ascent.steps_taken[c].item<int64_t>() <= config.gradient_steps)
                            ? 1
                            : 0;
  std::fprintf(stderr, "fooling: gradient ascent: %lld/10 classes at p >= 0.9999, steps %s (%.0f s)\n",
               static_cast<long long>(gradient_classes), Json(to_vector(ascent.steps_taken)).dump().c_str(),
               seconds_since(start));

  // 4. Nearest-neighbour distances to the training set, in pixel units.
  data::DataOptions data_options;
  data_options.seed = options.seed;
  const auto train = data::load_dataset("fashion-mnist", data_options);
  data_options.split = "test";
  const auto test = data::load_dataset("fashion-mnist", data_options)->head(config.test_images);
  const at::Tensor train_pixels = to_pixels(train->inputs()).to(torch::kFloat32);
  const at::Tensor fooling = torch::cat({direct.images, cppn.images, gradient_pixels});
  const at::Tensor fooling_nn = nearest_distance(fooling, train_pixels);
  const at::Tensor test_nn = nearest_distance(to_pixels(test->inputs()), train_pixels);
  const double test_mean = test_nn.mean().item<double>();
  const double fooling_mean = fooling_nn.mean().item<double>();
  auto part_mean = [&](int64_t part) { return fooling_nn.slice(0, part * classes, (part + 1) * classes).mean().item<double>(); };
  std::fprintf(stderr,
               "fooling: NN distance to the training set: fooling %.3f (direct %.3f, cppn %.3f, gradient %.3f), test "
               "%.3f (%.0f s)\n",
               fooling_mean, part_mean(0), part_mean(1), part_mean(2), test_mean, seconds_since(start));

  // Figures: one row per method, and all three stacked.
  if (!options.out.empty()) {
    save_row(direct.images, options.out + "/fooling_direct.png");
    save_row(cppn.images, options.out + "/fooling_cppn.png");
    save_row(gradient_pixels, options.out + "/fooling_gradient.png");
    io::image_grid(fooling, io::GridOptions().columns(classes).scaling("unit").upscale(4))
        .save_png(options.out + "/fooling_all.png");
  }

  Json class_names = Json::array();
  const Json& card = loaded.card;
  if (card.contains("card") && card["card"].contains("dataset") && card["card"]["dataset"].contains("card") &&
      card["card"]["dataset"]["card"].contains("classes"))
    class_names = card["card"]["dataset"]["card"]["classes"];

  ReproResult result;
  result.claims.push_back({"direct_classes_p099", static_cast<double>(direct.cells_reaching(kElite)), ">=",
                           static_cast<double>(kDirectClasses), "classes",
                           "direct encoding: classes whose MAP-Elites elite reaches p >= 0.99 within 200 generations "
                           "of 200"});
  result.claims.push_back({"cppn_classes_p099", static_cast<double>(cppn.cells_reaching(kElite)), ">=",
                           static_cast<double>(kCppnClasses), "classes",
                           "CPPN encoding: classes whose MAP-Elites elite reaches p >= 0.99 within 200 generations of "
                           "200"});
  result.claims.push_back({"gradient_classes_p09999", static_cast<double>(gradient_classes), ">=",
                           static_cast<double>(kGradientClasses), "classes",
                           "gradient ascent from uniform noise reaches p >= 0.9999 within 200 steps"});
  result.claims.push_back({"nn_distance_ratio", fooling_mean / test_mean, ">=", kRatio, "x",
                           "mean nearest-neighbour L2 distance to the 60,000 training images: the 30 fooling images "
                           "over 200 test images"});
  result.metrics = {{"config", config.to_json()},
                    {"class_names", class_names},
                    {"direct", direct.to_json()},
                    {"cppn", cppn.to_json()},
                    {"gradient",
                     {{"probability", to_vector(gradient_p)},
                      {"probability_reported", to_vector(ascent.probability)},
                      {"steps_taken", to_vector(ascent.steps_taken)},
                      {"classes_p09999", gradient_classes}}},
                    {"nn_distance",
                     {{"fooling_mean", fooling_mean},
                      {"direct_mean", part_mean(0)},
                      {"cppn_mean", part_mean(1)},
                      {"gradient_mean", part_mean(2)},
                      {"test_mean", test_mean},
                      {"fooling", to_vector(fooling_nn)},
                      {"test_min", test_nn.min().item<double>()},
                      {"test_max", test_nn.max().item<double>()}}},
                    {"threads", threads()},
                    {"seconds", seconds_since(start)}};
  return result;
}

}  // namespace golgi::repro
