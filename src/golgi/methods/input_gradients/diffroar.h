// DiffROAR: does an attribution method rank the discriminative pixels first? (paper id
// `input-gradients`)
//
// Shah, Jain & Netrapalli 2021, "Do Input Gradients Highlight Discriminative Features?", NeurIPS
// (arXiv:2102.12781), section 3. Built on ROAR, "remove and retrain" (Hooker, Erhan, Kindermans &
// Kim 2019, "A benchmark for interpretability methods in deep neural networks"): for a fraction k
// of each image's pixels,
//   top-k masked     every train and test image has its k·P highest-scored pixels replaced by the
//                    fill value (the training set's per-channel mean, as ROAR: not zero, which is a
//                    meaningful value for normalised data);
//   bottom-k masked  the same with its k·P lowest-scored pixels;
// a fresh model of the same architecture is trained on each masked training set and tested on the
// equally masked test set, and
//   DiffROAR(k) = acc(bottom-k masked) − acc(top-k masked)     (accuracy points, 100 × fraction).
// An attribution that ranks discriminative pixels first gives DiffROAR > 0 (removing its top
// pixels hurts more than removing its bottom ones); a random ranking gives ≈ 0; a ranking that
// puts the discriminative pixels last gives < 0.
//
// Scores: a pixel's score is |a| summed over channels for an attribution a [N, C, H, W] (or |a|
// for [N, H, W] or [N, P]). Ranking: P = H · W pixels per image, k·P rounded to the nearest
// integer; ties are broken by the pixel's flat index (row-major), the lower index ranking first
// both among the top and among the bottom pixels, so the selection is deterministic.
//
// Retraining: train::train_classifier (standard training) with the same initial weights and data
// order for the top-k and bottom-k runs of each k, so their difference is not blurred by seed
// noise.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"
#include "golgi/train/adversarial.h"

namespace golgi::models {
class Model;
}

namespace golgi::methods {

// Per-pixel scores [N, P] from an attribution [N, C, H, W], [N, H, W] or [N, P] (see above).
at::Tensor pixel_scores(const at::Tensor& attribution);

// The k·P highest ("top") or lowest ("bottom") scored pixels of each row of scores [N, P]:
// bool [N, P] with exactly round(fraction · P) true per row. fraction in [0, 1].
at::Tensor select_pixels(const at::Tensor& scores, double fraction, const std::string& which);

// inputs [N, C, H, W] with the selected pixels [N, H·W] (all channels) set to fill [C]; a copy.
at::Tensor mask_pixels(const at::Tensor& inputs, const at::Tensor& selected, const at::Tensor& fill);

// Per-channel mean [C] of inputs [N, C, ...].
at::Tensor channel_mean(const at::Tensor& inputs);

// Mean over images of the share of the top round(fraction · P) pixels (by scores [N, P]) that lie
// inside `region` (bool [N, P] or any shape with N · P elements): 1 when every top pixel of every
// image is inside.
double top_share_in_region(const at::Tensor& scores, const at::Tensor& region, double fraction);

struct DiffRoarOptions {
  GOLGI_ARG(std::vector<double>, fractions) = {0.1, 0.2, 0.4};  // not in the schema (a float list)
  // Standard training of each retrained model; its seed is replaced per k (see init_seed).
  GOLGI_ARG(train::ClassifierTrainOptions, train) = {};
  // Seeds the retrained models: the model of fraction index i is built by make_model(
  // derive_seed(seed, "diffroar/init", i)) and trained with data-order seed derive_seed(seed,
  // "diffroar/order", i), identical for its top-k and bottom-k runs.
  GOLGI_ARG(int64_t, seed) = 0;
  GOLGI_ARG(std::string, label) = "diffroar";  // progress and log prefix
  Json to_json() const;
};

struct DiffRoarPoint {
  double fraction = 0;
  int64_t pixels = 0;              // round(fraction · P)
  double accuracy_top_masked = 0;  // points
  double accuracy_bottom_masked = 0;
  double diffroar() const { return accuracy_bottom_masked - accuracy_top_masked; }
  Json to_json() const;
};

struct DiffRoarResult {
  std::vector<DiffRoarPoint> points;
  double mean_diffroar() const;  // mean of DiffROAR(k) over the fractions
  Json to_json() const;
};

// Builds a fresh, untrained model from an initial-weights seed.
using ModelFactory = std::function<std::shared_ptr<models::Model>(uint64_t init_seed)>;

// train_inputs [N, C, H, W] float, train_targets [N] int64, train_scores: an attribution or
// scores for the training images (any shape pixel_scores accepts with N rows); the same for the
// test set. The fill value is channel_mean(train_inputs). Throws golgi::Error on mismatched shapes
// or fractions outside [0, 1].
DiffRoarResult diffroar(const ModelFactory& make_model, const at::Tensor& train_inputs, const at::Tensor& train_targets,
                        const at::Tensor& train_scores, const at::Tensor& test_inputs, const at::Tensor& test_targets,
                        const at::Tensor& test_scores, const DiffRoarOptions& options = {});

}  // namespace golgi::methods
