// The spike-sparse linear layer equals torch's dense linear (values and every gradient) on 0/1
// inputs of several densities, falls back to it for other inputs, and refuses bad shapes.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "golgi/spiking/spike_linear.h"
#include "test_support.h"

namespace {

struct Outcome {
  at::Tensor y, grad_input, grad_weight, grad_bias;
};

Outcome run(bool sparse, const at::Tensor& input0, const at::Tensor& weight0, const at::Tensor& bias0,
            const at::Tensor& upstream) {
  at::Tensor input = input0.clone().requires_grad_(true);
  at::Tensor weight = weight0.clone().requires_grad_(true);
  at::Tensor bias = bias0.clone().requires_grad_(true);
  at::Tensor y = sparse ? golgi::spiking::spike_linear(input, weight, bias)
                        : torch::nn::functional::linear(input, weight, bias);
  (y * upstream).sum().backward();
  return {y.detach(), input.grad(), weight.grad(), bias.grad()};
}

void expect_close(const at::Tensor& a, const at::Tensor& b, const std::string& what) {
  ASSERT_TRUE(a.defined() && b.defined()) << what;
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  const double diff = (a - b).abs().max().item<double>();
  EXPECT_LE(diff, 1e-5 * (1 + b.abs().max().item<double>())) << what << ": max |diff| " << diff;
}

TEST(SpikingSpikeLinear, EqualsDenseLinearWithGradientsAtEveryDensity) {
  torch::manual_seed(20);
  const at::Tensor weight = torch::randn({37, 29}), bias = torch::randn({37});
  for (double density : {0.0, 0.02, 0.15, 0.3, 0.6}) {
    const at::Tensor input = (torch::rand({6, 11, 29}) < density).to(torch::kFloat);
    const at::Tensor upstream = torch::randn({6, 11, 37});
    const auto sparse = run(true, input, weight, bias, upstream), dense = run(false, input, weight, bias, upstream);
    const std::string what = "density " + std::to_string(density);
    expect_close(sparse.y, dense.y, what + " output");
    expect_close(sparse.grad_input, dense.grad_input, what + " dL/dinput");
    expect_close(sparse.grad_weight, dense.grad_weight, what + " dL/dweight");
    expect_close(sparse.grad_bias, dense.grad_bias, what + " dL/dbias");
  }
}

TEST(SpikingSpikeLinear, NonBinaryOrDoubleInputsFallBackToTheDenseProduct) {
  torch::manual_seed(21);
  const at::Tensor weight = torch::randn({5, 8}), bias = torch::randn({5});
  const at::Tensor analog = torch::rand({4, 8});
  const at::Tensor upstream = torch::randn({4, 5});
  const auto sparse = run(true, analog, weight, bias, upstream), dense = run(false, analog, weight, bias, upstream);
  expect_close(sparse.y, dense.y, "analog output");
  expect_close(sparse.grad_weight, dense.grad_weight, "analog dL/dweight");
  const at::Tensor binary64 = (torch::rand({4, 8}) < 0.2).to(torch::kDouble);
  EXPECT_TRUE(torch::allclose(golgi::spiking::spike_linear(binary64, weight.to(torch::kDouble)),
                              torch::nn::functional::linear(binary64, weight.to(torch::kDouble))));
}

TEST(SpikingSpikeLinear, WrongShapesGetOneClearError) {
  using golgi::testing::error_of;
  EXPECT_NE(error_of([] { golgi::spiking::spike_linear(torch::zeros({3, 4}), torch::zeros({2, 5})); }).find("[N, K]"),
            std::string::npos);
  EXPECT_NE(error_of([] { golgi::spiking::spike_linear(torch::zeros({3, 4}), torch::zeros({2, 4}), torch::zeros({3})); })
                .find("bias must be [N]"),
            std::string::npos);
}

}  // namespace
