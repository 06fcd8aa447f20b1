// MAP-Elites over class cells: evolving images that a classifier labels with high confidence
// (Nguyen, Yosinski & Clune 2015, "Deep Neural Networks are Easily Fooled: High Confidence
// Predictions for Unrecognizable Images", CVPR, arXiv:1412.1897, sec. 2.2 and 3; paper id
// `fooling`). MAP-Elites: Mouret & Clune 2015, "Illuminating search spaces by mapping elites".
//
// The map has one cell per class c of the model; a cell's fitness is the softmax probability
// p_c(image) of its class, and it holds the best image (its "elite") found so far. The run:
//   0. `population` random genomes are evaluated; each takes every cell it wins.
//   1. Each generation, the parents are drawn uniformly (with replacement) from the cells filled at
//      its start, `population` children are made from them (below), rendered and evaluated in
//      batched forward passes, and each child replaces the elite of EVERY cell where its probability
//      is strictly higher (the paper's change to MAP-Elites: one image competes in all cells). When
//      several children beat a cell in the same generation, the best one takes it (ties: the first).
// Encodings (genomes in pixel units [0, 1], rendered to the model's input shape):
//   direct  one gene per pixel, initialised uniform in [0, 1]; children in pairs: SBX crossover of
//           two parents (with probability cross_rate, eta_c 10) then per-gene polynomial mutation
//           (rate 0.1, eta_m 15) of both children (variation.h), as Sferes2's evo_float;
//   cppn    a CPPN per image (cppn.h), initialised with the inputs wired to the output; a child is a
//           mutated copy of one parent (CPPNs have no crossover in the paper). The model's input
//           must have one channel.
// Images enter the model normalised: (pixel − input_mean) / input_std, golgi's Fashion-MNIST
// preprocessing by default.
//
// Determinism: every draw comes from one SplitMix64 seeded from `seed` (golgi/core/seed.h); the
// model runs in eval mode without gradients, so a run is reproducible for a given thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"
#include "golgi/methods/fooling/cppn.h"
#include "golgi/methods/fooling/variation.h"

namespace golgi::models {
class Model;
}

namespace golgi::methods {

struct MapElitesOptions {
  GOLGI_ARG(int64_t, generations) = 200;
  GOLGI_ARG(int64_t, population) = 200;    // children per generation (and the random start)
  GOLGI_ARG(int64_t, batch_size) = 200;    // images per forward pass
  GOLGI_ARG(double, input_mean) = 0.2860;  // model input = (pixel − input_mean) / input_std
  GOLGI_ARG(double, input_std) = 0.3530;
  GOLGI_ARG(int64_t, seed) = 0;
  GOLGI_ARG(bool, progress) = true;
  static const OptionSchema<MapElitesOptions>& schema();
};

// The map's bookkeeping, apart from the genomes: one fitness per cell, −1 while empty.
class EliteArchive {
 public:
  explicit EliteArchive(int64_t cells);
  // probabilities [N, cells] (finite, any floating dtype): the candidates of one generation. Returns,
  // per cell, the index of the candidate that takes it (the best candidate whose probability is
  // strictly above the elite's; ties go to the lowest index), or −1 when the elite stays.
  std::vector<int64_t> offer(const at::Tensor& probabilities);
  int64_t cells() const { return static_cast<int64_t>(fitness_.size()); }
  bool filled(int64_t cell) const { return fitness_.at(cell) >= 0; }
  double fitness(int64_t cell) const { return fitness_.at(cell); }
  const std::vector<double>& fitness() const { return fitness_; }
  std::vector<int64_t> filled_cells() const;

 private:
  std::vector<double> fitness_;
};

struct MapElitesResult {
  std::string encoding;                 // "direct" or "cppn"
  at::Tensor images;                    // [cells, ...input_shape] pixel units; zeros where empty
  std::vector<double> probability;      // [cells] the elite's p_c; NaN where empty
  // [generations + 1][cells] the elites' fitness after the random start (row 0) and after each
  // generation (−1 while empty). Non-decreasing down each column.
  std::vector<std::vector<double>> history;
  std::vector<Json> genomes;            // [cells] CPPN genomes (cppn encoding; null where empty)
  int64_t evaluations = 0;              // images evaluated
  // Per cell, the first generation (0: the random start) whose elite reached p >= threshold, or −1.
  std::vector<int64_t> first_generation(double threshold) const;
  // Cells whose elite reached p >= threshold.
  int64_t cells_reaching(double threshold) const;
  Json to_json() const;                 // without the images
};

MapElitesResult map_elites_direct(models::Model& model, const MapElitesOptions& options = {},
                                  const RealVariationOptions& variation = {});
MapElitesResult map_elites_cppn(models::Model& model, const MapElitesOptions& options = {},
                                const CppnOptions& cppn = {});

// Softmax probabilities [N, classes] (float32) of images [N, ...input_shape] in pixel units,
// normalised as above; batched forward passes in eval mode without gradients.
at::Tensor fooling_probabilities(models::Model& model, const at::Tensor& pixel_images, double input_mean = 0.2860,
                                 double input_std = 0.3530, int64_t batch_size = 200);

}  // namespace golgi::methods
