#include "golgi/data/block_fmnist.h"

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/data/registry.h"

namespace golgi::data {

const OptionSchema<BlockFmnistOptions>& BlockFmnistOptions::schema() {
  static const auto schema =
      OptionSchema<BlockFmnistOptions>("block_fmnist")
          .add("classes", &BlockFmnistOptions::classes_, "the two Fashion-MNIST classes (labels 0 and 1)",
               between<int64_t>(0, 9))
          .add("seed", &BlockFmnistOptions::seed_, "seed of the signal positions", at_least<int64_t>(0));
  return schema;
}

at::Tensor block_null_block() {
  // A hollow square, 2 pixels wide, on rows and columns 6..21: one fixed pattern with the
  // brightness of a garment's pixels, so a model cannot tell the blocks apart by mean intensity
  // alone and must learn where the garment is.
  at::Tensor pixels = torch::zeros({1, kBlockSide, kBlockSide});
  const int64_t first = 6, last = 21, width = 2;
  using torch::indexing::Slice;
  pixels.index_put_({0, Slice(first, last + 1), Slice(first, first + width)}, 1.0);
  pixels.index_put_({0, Slice(first, last + 1), Slice(last + 1 - width, last + 1)}, 1.0);
  pixels.index_put_({0, Slice(first, first + width), Slice(first, last + 1)}, 1.0);
  pixels.index_put_({0, Slice(last + 1 - width, last + 1), Slice(first, last + 1)}, 1.0);
  return (pixels - kFmnistMean) / kFmnistStd;
}

at::Tensor block_signal_top(uint64_t seed, const std::string& split, int64_t n) {
  GOLGI_CHECK(n >= 0, "block-fashion-mnist: sample count must be >= 0, got ", n);
  SplitMix64 rng(derive_seed(seed, "block-fmnist/" + split));
  at::Tensor top = torch::empty({n}, torch::kBool);
  auto* out = top.data_ptr<bool>();
  for (int64_t i = 0; i < n; ++i) out[i] = rng.uniform() < 0.5;
  return top;
}

BlockImages make_block_fmnist(const Dataset& fashion_mnist, const BlockFmnistOptions& options) {
  BlockFmnistOptions::schema().validate(options);
  GOLGI_CHECK(options.classes().size() == 2 && options.classes()[0] != options.classes()[1],
              "block-fashion-mnist: classes must be two distinct Fashion-MNIST classes, got ",
              options.classes().size(), " entries");
  const at::Tensor& x = fashion_mnist.inputs();
  const at::Tensor& labels = fashion_mnist.targets();
  GOLGI_CHECK(x.dim() == 4 && x.size(1) == 1 && x.size(2) == kBlockSide && x.size(3) == kBlockSide,
              "block-fashion-mnist: the source must hold [N, 1, 28, 28] images, got ", x.sizes());
  const int64_t a = options.classes()[0], b = options.classes()[1];
  const at::Tensor keep = (labels == a).logical_or(labels == b).nonzero().flatten();  // ascending
  const int64_t n = keep.size(0);
  GOLGI_CHECK((labels == a).any().item<bool>() && (labels == b).any().item<bool>(),
              "block-fashion-mnist: the source '", fashion_mnist.name(), "' (", fashion_mnist.split(),
              ") has no samples of class ", ((labels == a).any().item<bool>() ? b : a));

  BlockImages out;
  out.source_index = keep;
  out.targets = (labels.index_select(0, keep) == b).to(torch::kLong);
  out.signal_top = block_signal_top(static_cast<uint64_t>(options.seed()), fashion_mnist.split(), n);
  const at::Tensor signal = x.index_select(0, keep).to(torch::kFloat);       // [n, 1, 28, 28]
  const at::Tensor null = block_null_block().unsqueeze(0).expand_as(signal);  // [n, 1, 28, 28]
  const at::Tensor top = out.signal_top.view({n, 1, 1, 1});
  out.inputs = torch::cat({torch::where(top, signal, null), torch::where(top, null, signal)}, /*dim=*/2).contiguous();
  return out;
}

at::Tensor block_signal_mask(const at::Tensor& signal_top) {
  GOLGI_CHECK(signal_top.defined() && signal_top.dim() == 1, "block_signal_mask: signal_top must be [N], got ",
              signal_top.defined() ? signal_top.sizes() : at::IntArrayRef{});
  const int64_t n = signal_top.size(0);
  const at::Tensor top = signal_top.to(torch::kBool).view({n, 1, 1, 1}).expand({n, 1, kBlockSide, kBlockWidth});
  return torch::cat({top, top.logical_not()}, /*dim=*/2).contiguous();
}

std::shared_ptr<Dataset> block_dataset(const BlockImages& images, const std::string& split,
                                       const BlockFmnistOptions& options) {
  const int64_t on_top = images.signal_top.sum().item<int64_t>();
  Json card = {{"source", "fashion-mnist"},
               {"citation", "BlockMNIST of Shah, Jain & Netrapalli (2021), arXiv:2102.12781, built from Fashion-MNIST"},
               {"classes", options.classes()},
               {"image", "[1, 56, 28]: a 28x28 signal block (the garment) and a 28x28 null block (hollow square)"},
               {"preprocessing", "pixels / 255, then (x - 0.2860) / 0.3530"},
               {"seed", options.seed()},
               {"signal_position", "signal on top for sample i iff the i-th uniform() of SplitMix64(derive_seed(seed, "
                                   "'block-fmnist/<split>')) is < 0.5 (data::block_signal_top)"},
               {"signal_on_top", on_top},
               {"samples", images.inputs.size(0)}};
  return std::make_shared<Dataset>("block-fashion-mnist", split, images.inputs, images.targets, card);
}

std::shared_ptr<Dataset> load_block_fashion_mnist(const DataOptions& options) {
  BlockFmnistOptions block;
  block.seed(static_cast<int64_t>(options.seed));  // a seed above 2^63 fails validation, loudly
  const auto source = load_fashion_mnist(options);
  return block_dataset(make_block_fmnist(*source, block), options.split, block);
}

}  // namespace golgi::data
