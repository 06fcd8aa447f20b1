#include "golgi/spiking/readout.h"

#include <torch/torch.h>

#include "golgi/core/error.h"

namespace golgi::spiking {

namespace {

void check_time_major(const at::Tensor& v, const char* what) {
  GOLGI_CHECK(v.defined() && v.dim() >= 2 && v.size(0) >= 1, what, ": expects time-major [T, batch, ...] with T >= 1, got ",
              v.defined() ? v.sizes() : at::IntArrayRef{});
}

}  // namespace

at::Tensor last_step(const at::Tensor& v) {
  check_time_major(v, "last_step");
  return v[v.size(0) - 1];
}

at::Tensor mean_over_time(const at::Tensor& v) {
  check_time_major(v, "mean_over_time");
  return v.mean(0);
}

at::Tensor sum_softmax(const at::Tensor& v) {
  check_time_major(v, "sum_softmax");
  return torch::softmax(v, -1).sum(0);
}

at::Tensor cumulative_mean(const at::Tensor& v) {
  check_time_major(v, "cumulative_mean");
  std::vector<int64_t> shape(static_cast<size_t>(v.dim()), 1);
  shape[0] = v.size(0);
  at::Tensor counts = torch::arange(1, v.size(0) + 1, v.options()).view(shape);
  return v.cumsum(0) / counts;
}

at::Tensor spike_counts(const at::Tensor& spikes) {
  check_time_major(spikes, "spike_counts");
  return spikes.sum(0);
}

at::Tensor spike_rates(const at::Tensor& spikes) {
  check_time_major(spikes, "spike_rates");
  return spikes.mean(0);
}

}  // namespace golgi::spiking
