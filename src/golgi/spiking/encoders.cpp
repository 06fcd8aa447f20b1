#include "golgi/spiking/encoders.h"

#include <torch/torch.h>

#include "golgi/core/error.h"

namespace golgi::spiking {

namespace {

void check_unit_interval(const at::Tensor& x, const char* what) {
  GOLGI_CHECK(x.defined() && x.is_floating_point(), what, ": input must be a floating-point tensor [batch, ...]");
  GOLGI_CHECK(x.numel() == 0 || (x.min().item<double>() >= 0 && x.max().item<double>() <= 1), what,
              ": inputs must lie in [0, 1] (scale them first), got [", x.min().item<double>(), ", ",
              x.max().item<double>(), "]");
}

void check_steps(int64_t steps, const char* what) { GOLGI_CHECK(steps >= 1, what, ": steps must be >= 1, got ", steps); }

}  // namespace

at::Tensor rate_encode(const at::Tensor& x, int64_t steps, uint64_t seed) {
  check_steps(steps, "rate_encode");
  check_unit_interval(x, "rate_encode");
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<int64_t> shape{steps};
  for (auto d : x.sizes()) shape.push_back(d);
  at::Tensor uniform = at::empty(shape, x.options()).uniform_(0, 1, generator);
  return uniform.lt(x.unsqueeze(0)).to(x.scalar_type());
}

at::Tensor direct_encode(const at::Tensor& x, int64_t steps) {
  check_steps(steps, "direct_encode");
  GOLGI_CHECK(x.defined(), "direct_encode: input is undefined");
  std::vector<int64_t> repeat(static_cast<size_t>(x.dim() + 1), 1);
  repeat[0] = steps;
  return x.unsqueeze(0).repeat(repeat);
}

at::Tensor latency_encode(const at::Tensor& x, int64_t steps, double threshold) {
  check_steps(steps, "latency_encode");
  check_unit_interval(x, "latency_encode");
  at::Tensor time = ((1 - x) * static_cast<double>(steps - 1)).round().to(torch::kLong);  // [batch, ...]
  at::Tensor fires = x.gt(threshold);
  std::vector<int64_t> shape{steps};
  for (auto d : x.sizes()) shape.push_back(d);
  at::Tensor out = torch::zeros(shape, x.options());
  at::Tensor index = time.clamp(0, steps - 1).unsqueeze(0);
  out.scatter_(0, index, fires.unsqueeze(0).to(x.scalar_type()));
  return out;
}

}  // namespace golgi::spiking
