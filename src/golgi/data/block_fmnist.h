// BlockFMNIST: a two-class dataset whose discriminative pixels are known by construction.
//
// Shah, Jain & Netrapalli 2021, "Do Input Gradients Highlight Discriminative Features?", NeurIPS
// (arXiv:2102.12781), section 4, built BlockMNIST: each 56 x 28 image stacks two 28 x 28 blocks
// vertically, a "signal" block holding an MNIST digit (0 or 1, the class) and a "null" block that
// is the same for every image of both classes; which of the two positions (top or bottom) holds
// the signal is drawn at random per image. Only the signal block carries information about the
// label, so an attribution that highlights discriminative features must fall inside it.
//
// MNIST is not available offline, so golgi uses two Fashion-MNIST classes (class a -> label 0,
// class b -> label 1; default T-shirt/top vs Trouser, the analogue of MNIST 0 vs 1). The null
// block is a fixed hollow square: pixels of value 1 on a 2-pixel-wide outline of rows and columns
// 6..21, 0 elsewhere. All pixels are normalised as Fashion-MNIST's, (p − 0.2860) / 0.3530, so
// inputs lie in [−0.8102, 2.0227].
//
// Signal position: sample i of split s (after filtering to the two classes, in Fashion-MNIST
// order) has its signal on top iff SplitMix64(derive_seed(seed, "block-fmnist/" + s)) draws
// uniform() < 0.5 as its i-th number, so a dataset loaded through the registry and one built here
// with the same seed agree; block_signal_top() recomputes the positions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/options.h"
#include "golgi/data/dataset.h"

namespace golgi::data {

struct DataOptions;

// Fashion-MNIST's pixel normalisation: input = (pixel − kFmnistMean) / kFmnistStd, pixel in [0, 1].
constexpr double kFmnistMean = 0.2860, kFmnistStd = 0.3530;
// A pixel value (or a pixel-space distance when `offset` is false) in input units.
inline double fmnist_pixel_to_input(double pixel, bool offset = true) {
  return (pixel - (offset ? kFmnistMean : 0.0)) / kFmnistStd;
}

// Image geometry: two 28 x 28 blocks stacked vertically.
constexpr int64_t kBlockSide = 28, kBlockHeight = 2 * kBlockSide, kBlockWidth = kBlockSide;

struct BlockFmnistOptions {
  // The Fashion-MNIST classes that become labels 0 and 1 (two distinct classes in 0..9).
  GOLGI_ARG(std::vector<int64_t>, classes) = {0, 1};
  GOLGI_ARG(int64_t, seed) = 0;  // signal positions
  static const OptionSchema<BlockFmnistOptions>& schema();
};

struct BlockImages {
  at::Tensor inputs;        // [N, 1, 56, 28] float, normalised
  at::Tensor targets;       // [N] int64 in {0, 1}
  at::Tensor signal_top;    // [N] bool: the signal block is rows 0..27 (else rows 28..55)
  at::Tensor source_index;  // [N] int64: the sample's index in the Fashion-MNIST split
};

// The null block [1, 28, 28] in input units.
at::Tensor block_null_block();
// The positions described above for the first n samples of `split`.
at::Tensor block_signal_top(uint64_t seed, const std::string& split, int64_t n);
// Builds BlockFMNIST from a Fashion-MNIST split (inputs [N, 1, 28, 28] normalised, labels 0..9):
// keeps the two classes, in order. Throws golgi::Error for bad options or a source that is not
// Fashion-MNIST-shaped, or when a class has no samples.
BlockImages make_block_fmnist(const Dataset& fashion_mnist, const BlockFmnistOptions& options = {});
// Where the signal is: [N, 1, 56, 28] bool, true on the 28 x 28 signal block of each image.
at::Tensor block_signal_mask(const at::Tensor& signal_top);
// As a Dataset named "block-fashion-mnist" (its card records the classes, seed and position rule).
std::shared_ptr<Dataset> block_dataset(const BlockImages& images, const std::string& split,
                                       const BlockFmnistOptions& options);

// The registry loader ("block-fashion-mnist"): default classes, DataOptions::seed for positions.
std::shared_ptr<Dataset> load_block_fashion_mnist(const DataOptions& options);

}  // namespace golgi::data
