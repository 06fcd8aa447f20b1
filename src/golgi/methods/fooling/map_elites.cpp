#include "golgi/methods/fooling/map_elites.h"

#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <optional>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/seed.h"
#include "golgi/models/model.h"

namespace golgi::methods {

namespace {

// Eval mode for the duration of a run; the caller's mode comes back on exit.
class ScopedEval {
 public:
  explicit ScopedEval(models::Model& model) : model_(model), was_training_(model.is_training()) { model_.eval(); }
  ~ScopedEval() { model_.train(was_training_); }
  ScopedEval(const ScopedEval&) = delete;
  ScopedEval& operator=(const ScopedEval&) = delete;

 private:
  models::Model& model_;
  bool was_training_;
};

void check_options(const MapElitesOptions& o) {
  GOLGI_CHECK(o.generations() >= 0, "map_elites.generations must be >= 0, got ", o.generations());
  GOLGI_CHECK(o.population() >= 1, "map_elites.population must be >= 1, got ", o.population());
  GOLGI_CHECK(o.batch_size() >= 1, "map_elites.batch_size must be >= 1, got ", o.batch_size());
  GOLGI_CHECK(std::isfinite(o.input_mean()), "map_elites.input_mean must be finite");
  GOLGI_CHECK(std::isfinite(o.input_std()) && o.input_std() > 0, "map_elites.input_std must be > 0, got ",
              o.input_std());
  GOLGI_CHECK(o.seed() >= 0, "map_elites.seed must be >= 0, got ", o.seed());
}

std::vector<int64_t> checked_image_shape(const models::Model& model) {
  GOLGI_CHECK(model.task() == "classify", "MAP-Elites fooling needs a classifier; model '", model.architecture(),
              "' is a ", model.task(), " model");
  std::vector<int64_t> shape = model.input_shape();
  for (int64_t d : shape)
    GOLGI_CHECK(d >= 1, "MAP-Elites fooling needs a fixed input shape; model '", model.architecture(),
                "' has a dimension of any length");
  return shape;
}

// The generic loop over one encoding. `make_random` makes one starting genome; `breed` makes the
// generation's children from the elites of the filled cells; `render` turns genomes into pixel
// images [N, ...input_shape].
template <typename Genome>
MapElitesResult run_map_elites(models::Model& model, const MapElitesOptions& options, const std::string& encoding,
                               const std::function<Genome(SplitMix64&)>& make_random,
                               const std::function<std::vector<Genome>(const std::vector<const Genome*>&, int64_t,
                                                                       SplitMix64&)>& breed,
                               const std::function<at::Tensor(const std::vector<Genome>&)>& render,
                               const std::function<Json(const Genome&)>& genome_json) {
  check_options(options);
  const std::vector<int64_t> shape = checked_image_shape(model);
  SplitMix64 rng(derive_seed(static_cast<uint64_t>(options.seed()), "fooling/map-elites/" + encoding));
  const ScopedEval eval(model);

  std::vector<Genome> start;
  start.reserve(options.population());
  for (int64_t i = 0; i < options.population(); ++i) start.push_back(make_random(rng));

  MapElitesResult result;
  result.encoding = encoding;
  std::vector<Genome> elites;
  std::vector<bool> has_elite;
  std::unique_ptr<EliteArchive> archive;
  at::Tensor elite_images;

  auto absorb = [&](const std::vector<Genome>& children) {
    const at::Tensor images = render(children);
    const at::Tensor probabilities = fooling_probabilities(model, images, options.input_mean(), options.input_std(),
                                                           options.batch_size());
    result.evaluations += static_cast<int64_t>(children.size());
    if (!archive) {
      const int64_t cells = probabilities.size(1);
      archive = std::make_unique<EliteArchive>(cells);
      elites.resize(cells, children.front());
      has_elite.assign(cells, false);
      std::vector<int64_t> full{cells};
      full.insert(full.end(), shape.begin(), shape.end());
      elite_images = torch::zeros(full, torch::kFloat32);
    }
    const std::vector<int64_t> winners = archive->offer(probabilities);
    for (size_t cell = 0; cell < winners.size(); ++cell) {
      if (winners[cell] < 0) continue;
      elites[cell] = children[winners[cell]];
      has_elite[cell] = true;
      elite_images[static_cast<int64_t>(cell)].copy_(images[winners[cell]]);
    }
    result.history.push_back(archive->fitness());
  };

  absorb(start);
  std::optional<Progress> progress;
  if (options.progress()) progress.emplace("map-elites " + encoding, options.generations(), "gen");
  for (int64_t generation = 1; generation <= options.generations(); ++generation) {
    std::vector<const Genome*> parents;
    for (int64_t cell : archive->filled_cells()) parents.push_back(&elites[cell]);
    GOLGI_ASSERT(!parents.empty(), "MAP-Elites has no filled cell after the random start");
    absorb(breed(parents, options.population(), rng));
    if (options.progress()) {
      double best = 0, worst = 1;
      for (double f : archive->fitness()) {
        best = std::max(best, f);
        worst = std::min(worst, f);
      }
      progress->set_postfix("elite p min " + std::to_string(worst).substr(0, 6) + " max " +
                           std::to_string(best).substr(0, 6));
      progress->advance();
    }
  }
  if (progress) progress->finish();

  result.images = elite_images;
  result.probability.assign(archive->cells(), std::numeric_limits<double>::quiet_NaN());
  result.genomes.assign(archive->cells(), Json(nullptr));
  for (int64_t cell = 0; cell < archive->cells(); ++cell) {
    if (!has_elite[cell]) continue;
    result.probability[cell] = archive->fitness(cell);
    result.genomes[cell] = genome_json(elites[cell]);
  }
  return result;
}

}  // namespace

const OptionSchema<MapElitesOptions>& MapElitesOptions::schema() {
  static const auto schema =
      OptionSchema<MapElitesOptions>("map_elites")
          .add("generations", &MapElitesOptions::generations_, "generations after the random start",
               at_least<int64_t>(0))
          .add("population", &MapElitesOptions::population_, "children per generation and random starting genomes",
               at_least<int64_t>(1))
          .add("batch_size", &MapElitesOptions::batch_size_, "images per forward pass", at_least<int64_t>(1))
          .add("input_mean", &MapElitesOptions::input_mean_, "model input = (pixel - input_mean) / input_std",
               any_value<double>())
          .add("input_std", &MapElitesOptions::input_std_, "model input = (pixel - input_mean) / input_std",
               at_least(0.0, /*inclusive=*/false))
          .add("seed", &MapElitesOptions::seed_, "seed of every random draw", at_least<int64_t>(0))
          .add("progress", &MapElitesOptions::progress_, "show a progress bar");
  return schema;
}

EliteArchive::EliteArchive(int64_t cells) {
  GOLGI_CHECK(cells >= 1, "EliteArchive needs at least one cell, got ", cells);
  fitness_.assign(cells, -1.0);
}

std::vector<int64_t> EliteArchive::offer(const at::Tensor& probabilities) {
  GOLGI_CHECK(probabilities.defined() && probabilities.dim() == 2 && probabilities.size(1) == cells(),
              "EliteArchive::offer expects probabilities [N, ", cells(), "], got ",
              probabilities.defined() ? probabilities.sizes() : at::IntArrayRef{});
  const at::Tensor p = probabilities.to(torch::kFloat64).contiguous();
  GOLGI_CHECK(torch::isfinite(p).all().item<bool>(), "EliteArchive::offer: the probabilities contain NaN or inf");
  const double* data = p.data_ptr<double>();
  const int64_t n = p.size(0), k = cells();
  std::vector<int64_t> winners(k, -1);
  for (int64_t c = 0; c < k; ++c) {
    double best = fitness_[c];
    for (int64_t i = 0; i < n; ++i) {
      if (data[i * k + c] > best) {
        best = data[i * k + c];
        winners[c] = i;
      }
    }
    fitness_[c] = best;
  }
  return winners;
}

std::vector<int64_t> EliteArchive::filled_cells() const {
  std::vector<int64_t> out;
  for (int64_t c = 0; c < cells(); ++c)
    if (filled(c)) out.push_back(c);
  return out;
}

std::vector<int64_t> MapElitesResult::first_generation(double threshold) const {
  const size_t cells = history.empty() ? 0 : history.front().size();
  std::vector<int64_t> out(cells, -1);
  for (size_t g = 0; g < history.size(); ++g)
    for (size_t c = 0; c < cells; ++c)
      if (out[c] < 0 && history[g][c] >= threshold) out[c] = static_cast<int64_t>(g);
  return out;
}

int64_t MapElitesResult::cells_reaching(double threshold) const {
  int64_t count = 0;
  for (double p : probability) count += (!std::isnan(p) && p >= threshold) ? 1 : 0;
  return count;
}

Json MapElitesResult::to_json() const {
  Json probabilities = Json::array();
  for (double p : probability) probabilities.push_back(std::isnan(p) ? Json(nullptr) : Json(p));
  Json best_per_generation = Json::array();
  for (const auto& row : history) {
    double best = 0;
    for (double f : row) best = std::max(best, f);
    best_per_generation.push_back(best);
  }
  Json out = {{"encoding", encoding},
              {"generations", static_cast<int64_t>(history.size()) - 1},
              {"evaluations", evaluations},
              {"probability", probabilities},
              {"first_generation_p099", first_generation(0.99)},
              {"first_generation_p09999", first_generation(0.9999)},
              {"cells_p099", cells_reaching(0.99)}};
  bool any_genome = false;
  for (const Json& g : genomes) any_genome = any_genome || !g.is_null();
  if (any_genome) out["genomes"] = genomes;
  return out;
}

at::Tensor fooling_probabilities(models::Model& model, const at::Tensor& pixel_images, double input_mean,
                                 double input_std, int64_t batch_size) {
  GOLGI_CHECK(pixel_images.defined() && pixel_images.dim() >= 1 && pixel_images.size(0) >= 1,
              "fooling_probabilities needs a non-empty batch of images");
  GOLGI_CHECK(input_std > 0 && std::isfinite(input_std), "fooling_probabilities: input_std must be > 0, got ",
              input_std);
  GOLGI_CHECK(batch_size >= 1, "fooling_probabilities: batch_size must be >= 1, got ", batch_size);
  torch::NoGradGuard no_grad;
  const ScopedEval eval(model);
  const at::Tensor inputs = (pixel_images.to(torch::kFloat32) - input_mean) / input_std;
  std::vector<at::Tensor> parts;
  for (int64_t begin = 0; begin < inputs.size(0); begin += batch_size) {
    const int64_t end = std::min(begin + batch_size, inputs.size(0));
    parts.push_back(torch::softmax(model.forward(inputs.slice(0, begin, end)).to(torch::kFloat32), 1));
  }
  return torch::cat(parts, 0);
}

MapElitesResult map_elites_direct(models::Model& model, const MapElitesOptions& options,
                                  const RealVariationOptions& variation) {
  GOLGI_CHECK(variation.lo() == 0.0 && variation.hi() == 1.0,
              "map_elites_direct: the direct encoding's genes are pixels in [0, 1]; leave the variation bounds at "
              "lo 0, hi 1 (got [", variation.lo(), ", ", variation.hi(), "])");
  const std::vector<int64_t> shape = checked_image_shape(model);
  int64_t genes = 1;
  for (int64_t d : shape) genes *= d;
  using Genome = std::vector<float>;
  auto make_random = [genes](SplitMix64& rng) {
    Genome g(static_cast<size_t>(genes));
    for (float& v : g) v = static_cast<float>(rng.uniform());
    return g;
  };
  auto breed = [&variation](const std::vector<const Genome*>& parents, int64_t count, SplitMix64& rng) {
    std::vector<Genome> children;
    children.reserve(count);
    while (static_cast<int64_t>(children.size()) < count) {
      Genome a = *parents[rng.below(parents.size())];
      Genome b = *parents[rng.below(parents.size())];
      crossover_genomes(a, b, variation, rng);
      mutate_genome(a, variation, rng);
      mutate_genome(b, variation, rng);
      children.push_back(std::move(a));
      if (static_cast<int64_t>(children.size()) < count) children.push_back(std::move(b));
    }
    return children;
  };
  auto render = [shape](const std::vector<Genome>& genomes) {
    std::vector<int64_t> full{static_cast<int64_t>(genomes.size())};
    full.insert(full.end(), shape.begin(), shape.end());
    at::Tensor images = torch::empty(full, torch::kFloat32);
    float* data = images.data_ptr<float>();
    for (const Genome& g : genomes) data = std::copy(g.begin(), g.end(), data);
    return images;
  };
  auto genome_json = [](const Genome&) { return Json(nullptr); };  // the image is the genome
  return run_map_elites<Genome>(model, options, "direct", make_random, breed, render, genome_json);
}

MapElitesResult map_elites_cppn(models::Model& model, const MapElitesOptions& options, const CppnOptions& cppn) {
  const std::vector<int64_t> shape = checked_image_shape(model);
  GOLGI_CHECK(shape.size() == 3 && shape[0] == 1,
              "map_elites_cppn renders one grey channel; the model's input must be [1, H, W], got ", shape.size(),
              " dimensions", shape.empty() ? "" : (" with " + std::to_string(shape[0]) + " leading"));
  const int64_t height = shape[1], width = shape[2];
  auto make_random = [&cppn](SplitMix64& rng) { return Cppn::random(cppn, rng); };
  auto breed = [&cppn](const std::vector<const Cppn*>& parents, int64_t count, SplitMix64& rng) {
    std::vector<Cppn> children;
    children.reserve(count);
    for (int64_t i = 0; i < count; ++i) {
      Cppn child = *parents[rng.below(parents.size())];
      child.mutate(cppn, rng);
      children.push_back(std::move(child));
    }
    return children;
  };
  auto render = [height, width](const std::vector<Cppn>& genomes) { return render_cppns(genomes, height, width); };
  auto genome_json = [](const Cppn& g) { return g.to_json(); };
  return run_map_elites<Cppn>(model, options, "cppn", make_random, breed, render, genome_json);
}

}  // namespace golgi::methods
