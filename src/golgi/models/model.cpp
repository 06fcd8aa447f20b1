#include "golgi/models/model.h"

#include <torch/torch.h>

#include "golgi/core/error.h"

namespace golgi::models {

int64_t Model::parameter_count() const {
  int64_t total = 0;
  for (const auto& p : parameters()) total += p.numel();
  return total;
}

at::Tensor Model::example_input(int64_t batch) const {
  std::vector<int64_t> shape = input_shape();
  shape.insert(shape.begin(), batch);
  return torch::randn(shape);
}

void Model::check_input(const at::Tensor& input) const {
  auto expected = input_shape();
  auto got = input.sizes().vec();
  bool ok = got.size() == expected.size() + 1 && std::equal(expected.begin(), expected.end(), got.begin() + 1);
  if (!ok) {
    std::vector<int64_t> want{-1};
    want.insert(want.end(), expected.begin(), expected.end());
    GOLGI_FAIL("model '", architecture_, "' expects input [batch, ", c10::IntArrayRef(expected), "] (", want,
               " with -1 = any batch), got ", input.sizes());
  }
  GOLGI_CHECK(input.is_floating_point(), "model '", architecture_, "' expects a floating-point input, got ",
              input.scalar_type());
}

}  // namespace golgi::models
