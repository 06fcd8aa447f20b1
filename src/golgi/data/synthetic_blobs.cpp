// Gaussian blobs: a generated dataset for tiny tests that must not depend on installed data.
#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/data/registry.h"

namespace golgi::data {

std::shared_ptr<Dataset> load_synthetic_blobs(const DataOptions& options) {
  GOLGI_CHECK(options.split == "train" || options.split == "test", "synthetic-blobs has splits 'train' and 'test', got '",
              options.split, "'");
  const int64_t classes = 4, dims = 2;
  const int64_t n = options.split == "train" ? 2000 : 500;
  // Own generator, so the data does not depend on how much of the global stream was consumed.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(options.seed, "blobs-" + options.split));
  at::Tensor centers = torch::tensor({{2.0f, 2.0f}, {-2.0f, 2.0f}, {-2.0f, -2.0f}, {2.0f, -2.0f}});
  at::Tensor y = at::randint(classes, {n}, gen, torch::kLong);
  at::Tensor x = centers.index_select(0, y) + at::normal(0.0, 0.8, {n, dims}, gen);
  Json card = {{"source", "generated"}, {"classes", classes}, {"noise_std", 0.8}, {"samples", n}};
  return std::make_shared<Dataset>("synthetic-blobs", options.split, x, y, card);
}

}  // namespace golgi::data
