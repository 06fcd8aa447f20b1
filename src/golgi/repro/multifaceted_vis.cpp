// Reproduction of paper id `multifaceted-vis` (Nguyen, Yosinski & Clune 2016, "Multifaceted Feature
// Visualization: Uncovering the Different Types of Features Learned By Each Neuron in Deep Neural
// Networks", arXiv:1602.03616; methods/feature_vis/facets.h); docs/methods/multifaceted-vis.md.
//
// On the bundled Fashion-MNIST CNN (assets/models/fashion-cnn, penultimate layer fc1.hook_post,
// 128-d), for each class c run (quick: T-shirt/top, Sandal, Bag; full: all 10):
// 1. facets: c's training images that the model classifies as c (a seeded subset of at most 2,000,
//    quick 1,000) -> penultimate codes -> PCA 50 -> exact t-SNE 2-D -> k-means, k = 5, in the t-SNE
//    plane -> per cluster the mean of the 15 members nearest its centroid in the t-SNE plane;
// 2. activation maximisation of c's logit (methods/feature_vis/activation_max.h: jitter, TV-Bregman
//    denoising, clipping to the pixel range) from each of the 5 mean images ("facet results") and,
//    with the very same settings, from 5 uniform-noise images ("random results");
// 3. the results' penultimate codes, compared with each cluster's mean code (code space).
//
// Claims (aggregated over the classes run as the strictest reading: each must hold for every class):
//   min_facet_probability        the lowest softmax probability of c over all facet results  >= 0.99
//   min_diversity_ratio          min over classes of  mean pairwise L2 between the 5 facet results
//                                / mean pairwise L2 between the 5 random results             >= 1.5
//   min_own_centroid_facets      min over classes of the number of facets (of 5) whose result's
//                                code is nearest its own cluster's mean code                 >= 4
#include <chrono>
#include <cmath>
#include <cstdio>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/runtime.h"
#include "golgi/core/seed.h"
#include "golgi/core/stopwatch.h"
#include "golgi/data/registry.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/image_compose.h"
#include "golgi/io/json_file.h"
#include "golgi/methods/feature_vis/activation_max.h"
#include "golgi/methods/feature_vis/facets.h"
#include "golgi/models/registry.h"
#include "golgi/repro/assets.h"
#include "golgi/repro/repro.h"

namespace golgi::repro {

namespace {

namespace fv = golgi::methods;

constexpr double kProbability = 0.99, kDiversityRatio = 1.5;
constexpr int64_t kOwnCentroidFacets = 4;
// Fashion-MNIST as golgi normalises it: x = (pixel − mean) / std.
constexpr double kPixelMean = 0.2860, kPixelStd = 0.3530;
const std::vector<std::string> kClassNames = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

struct Config {
  std::vector<int64_t> classes = {0, 5, 8};
  fv::FacetOptions facets = fv::FacetOptions().hook("fc1.hook_post").facets(5).pca_components(50).nearest(15).max_images(
      1000);
  fv::ActivationMaxOptions act = fv::ActivationMaxOptions()
                                     .objective("logit")
                                     .steps(200)
                                     .lr(0.01)
                                     .jitter(1)
                                     .tv_weight(20)
                                     .stop_probability(0.999)
                                     .lo((0 - kPixelMean) / kPixelStd)
                                     .hi((1 - kPixelMean) / kPixelStd);

  Json to_json() const {
    return {{"model", "bundled fashion-cnn"},
            {"dataset", "fashion-mnist train split, images the model classifies as their class"},
            {"classes", classes},
            {"facets", fv::FacetOptions::schema().to_json(facets)},
            {"activation_max", fv::ActivationMaxOptions::schema().to_json(act)},
            {"random_init", "uniform pixel noise in [0, 1] (input units [lo, hi])"},
            {"distance", "L2 over the 784 pixels, in model input units (pixel / 0.3530)"},
            {"nearest_selection", "15 members nearest the k-means centroid in the t-SNE plane"},
            {"own_centroid", "result's fc1.hook_post code vs each cluster's mean member code (code space)"}};
  }
};

Config config_for(bool quick) {
  Config c;
  if (!quick) {
    c.classes = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    c.facets.max_images(2000);
  }
  return c;
}

// Mean over the k(k−1)/2 pairs of rows of ‖a_i − a_j‖₂ (images flattened).
double mean_pairwise_distance(const at::Tensor& images) {
  const at::Tensor x = images.flatten(1).to(torch::kFloat64);
  const int64_t n = x.size(0);
  double sum = 0;
  int64_t pairs = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j, ++pairs) sum += (x[i] - x[j]).norm().item<double>();
  return pairs > 0 ? sum / pairs : 0.0;
}

std::vector<double> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// Input units back to pixels in [0, 1], for figures.
at::Tensor to_pixels(const at::Tensor& x) { return (x * kPixelStd + kPixelMean).clamp(0, 1); }

}  // namespace

ReproResult run_multifaceted_vis(const ReproOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  seed_everything(options.seed);
  Config config = config_for(options.quick);
  config.facets.seed(static_cast<int64_t>(derive_seed(options.seed, "multifaceted-vis/facets") >> 1));
  config.act.seed(static_cast<int64_t>(derive_seed(options.seed, "multifaceted-vis/actmax") >> 1));
  if (!options.out.empty()) io::make_dirs(options.out);

  auto loaded = models::load_model(bundled_model("fashion-cnn"));
  models::Model& model = *loaded.model;
  model.eval();
  data::DataOptions data_options;
  data_options.seed = options.seed;
  const auto train = data::load_dataset("fashion-mnist", data_options);

  Json per_class = Json::array();
  std::vector<at::Tensor> figure_rows;
  double min_probability = 1.0, min_ratio = INFINITY;
  int64_t min_own = 5, own_total = 0, facets_total = 0;
  for (int64_t c : config.classes) {
    const std::string name = kClassNames.at(c);
    const at::Tensor rows = (train->targets() == c).nonzero().flatten();
    const at::Tensor images = train->inputs().index_select(0, rows);
    std::fprintf(stderr, "multifaceted-vis: class %lld (%s): %lld training images [%.0f s]\n",
                 static_cast<long long>(c), name.c_str(), static_cast<long long>(images.size(0)), seconds_since(start));
    const fv::Facets facets = fv::find_facets(model, images, fv::FacetOptions(config.facets).target_class(c));
    const int64_t k = facets.clusters.centroids.size(0);

    // The facet starts and the random starts in one call: rows are optimised independently, each
    // with its own jitter stream, so this is the same as two calls with the same settings.
    auto gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(options.seed, "multifaceted-vis/noise", c));
    const at::Tensor noise =
        torch::rand({k, 1, 28, 28}, gen) * (config.act.hi() - config.act.lo()) + config.act.lo();
    const at::Tensor init = torch::cat({facets.mean_images, noise});
    const at::Tensor targets = torch::full({2 * k}, c, torch::kInt64);
    const fv::ActivationMaxResult vis = fv::maximize_activation(model, init, targets, config.act);
    const at::Tensor facet_results = vis.images.slice(0, 0, k), random_results = vis.images.slice(0, k, 2 * k);

    // Which facet each result looks like to the network.
    const at::Tensor result_codes = fv::hook_codes(model, facet_results, config.facets.hook(), 64);
    const auto assigned = fv::nearest_centroid(result_codes, facets.clusters.code_centroids);
    const at::Tensor init_codes = fv::hook_codes(model, facets.mean_images, config.facets.hook(), 64);
    const auto init_assigned = fv::nearest_centroid(init_codes, facets.clusters.code_centroids);
    int64_t own = 0, own_init = 0;
    for (int64_t f = 0; f < k; ++f) {
      own += assigned[f] == f ? 1 : 0;
      own_init += init_assigned[f] == f ? 1 : 0;
    }
    at::Tensor init_logits;
    fv::hook_codes(model, init, config.facets.hook(), 64, &init_logits);
    const at::Tensor init_probability = init_logits.softmax(1).select(1, c);

    const double facet_distance = mean_pairwise_distance(facet_results);
    const double random_distance = mean_pairwise_distance(random_results);
    const double ratio = facet_distance / random_distance;
    const double class_min_probability = vis.probability.slice(0, 0, k).min().item<double>();
    min_probability = std::min(min_probability, class_min_probability);
    min_ratio = std::min(min_ratio, ratio);
    min_own = std::min(min_own, own);
    own_total += own;
    facets_total += k;
    std::fprintf(stderr,
                 "multifaceted-vis: class %lld: facet sizes %s; min facet probability %.4f (random %.4f); pairwise "
                 "L2 facet %.3f / random %.3f = %.2fx; own-centroid facets %lld/%lld (mean images %lld) [%.0f s]\n",
                 static_cast<long long>(c), Json(facets.clusters.sizes).dump().c_str(), class_min_probability,
                 vis.probability.slice(0, k, 2 * k).min().item<double>(), facet_distance, random_distance, ratio,
                 static_cast<long long>(own), static_cast<long long>(k), static_cast<long long>(own_init),
                 seconds_since(start));

    per_class.push_back({{"class", c},
                         {"name", name},
                         {"facets", facets.to_json()},
                         {"facet_probability", to_vector(vis.probability.slice(0, 0, k))},
                         {"random_probability", to_vector(vis.probability.slice(0, k, 2 * k))},
                         {"initial_probability", to_vector(init_probability)},
                         {"steps_taken", to_vector(vis.steps_taken)},
                         {"facet_pairwise_l2", facet_distance},
                         {"random_pairwise_l2", random_distance},
                         {"diversity_ratio", ratio},
                         {"mean_image_pairwise_l2", mean_pairwise_distance(facets.mean_images)},
                         {"noise_pairwise_l2", mean_pairwise_distance(noise)},
                         {"result_nearest_facet", assigned},
                         {"mean_image_nearest_facet", init_assigned},
                         {"own_centroid_facets", own},
                         {"own_centroid_mean_images", own_init}});

    // Figure: one row of 15 cells per class: the 5 mean images, the 5 facet results, the 5 random
    // results, all on the same [0, 1] pixel scale.
    const at::Tensor row = to_pixels(torch::cat({facets.mean_images, facet_results, random_results}));
    figure_rows.push_back(row);
    if (!options.out.empty())
      io::image_grid(row, io::GridOptions().columns(5).scaling("unit").upscale(4))
          .save_png(options.out + "/facets_class" + std::to_string(c) + ".png");
  }
  if (!options.out.empty())
    io::image_grid(torch::cat(figure_rows), io::GridOptions().columns(15).scaling("unit").upscale(3))
        .save_png(options.out + "/facets_all.png");

  ReproResult result;
  result.claims.push_back({"min_facet_probability", min_probability, ">=", kProbability, "probability",
                           "every facet visualisation (5 per class, every class run) reaches softmax probability "
                           ">= 0.99 for its class"});
  result.claims.push_back({"min_diversity_ratio", min_ratio, ">=", kDiversityRatio, "ratio",
                           "in every class run, the mean pairwise L2 distance between the 5 facet results is >= 1.5x "
                           "that between 5 random-initialisation results"});
  result.claims.push_back({"min_own_centroid_facets", static_cast<double>(min_own), ">=",
                           static_cast<double>(kOwnCentroidFacets), "facets",
                           "in every class run, >= 4 of the 5 facet results have a penultimate code nearest their "
                           "own cluster's mean code"});
  result.metrics = {{"config", config.to_json()},
                    {"classes", per_class},
                    {"own_centroid_fraction", static_cast<double>(own_total) / std::max<int64_t>(facets_total, 1)},
                    {"threads", threads()},
                    {"seconds", seconds_since(start)}};
  return result;
}

}  // namespace golgi::repro
