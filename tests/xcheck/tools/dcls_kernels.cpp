// Helper for tests/xcheck/dcls_delays_numpy.sh: golgi's side of the dcls-delays cross-check.
//
//   golgi_xcheck_dcls_kernels DIR OUT IN K T BATCH SEED
//
// writes, all float64 .npy (C order), with seeded random values:
//   DIR/weight.npy [OUT, IN], DIR/position.npy [OUT, IN] (in the kernel range, some exactly on half
//   steps to exercise round-half-to-even), DIR/sigma.npy [OUT, IN] (some 0, some negative),
//   DIR/input.npy [T, BATCH, IN] (0/1 spikes mixed with real values),
// and golgi's results:
//   DIR/kernel.npy [OUT, IN, K]           dcls_kernel(weight, position, sigma, K)
//   DIR/rounded_kernel.npy [OUT, IN, K]   dcls_rounded_kernel(weight, position, K)
//   DIR/output.npy [T, BATCH, OUT]        dcls_delay_conv(input, kernel)
//   DIR/rounded_output.npy [T, BATCH, OUT] dcls_delay_conv(input, rounded_kernel)
// Exit status 0 on success, 2 with a one-line message on golgi::Error or bad arguments.
#include <cstdint>
#include <iostream>
#include <string>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/io/npy.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/methods/dcls_delays/dcls_delays.h"

int main(int argc, char** argv) {
  try {
    GOLGI_CHECK(argc == 8, "usage: golgi_xcheck_dcls_kernels DIR OUT IN K T BATCH SEED");
    const std::string dir = argv[1];
    const int64_t out = std::stoll(argv[2]), in = std::stoll(argv[3]), k = std::stoll(argv[4]);
    const int64_t steps = std::stoll(argv[5]), batch = std::stoll(argv[6]);
    torch::manual_seed(std::stoull(argv[7]));
    const auto f64 = torch::kDouble;
    using golgi::methods::dcls_position_max;
    using golgi::methods::dcls_position_min;
    at::Tensor weight = torch::randn({out, in}, f64);
    at::Tensor position = torch::rand({out, in}, f64) * (dcls_position_max(k) - dcls_position_min(k)) + dcls_position_min(k);
    // Every fifth position sits exactly on a half step (inside the range), where rounding is to even.
    at::Tensor half = (torch::floor(position) + 0.5).clamp(dcls_position_min(k), dcls_position_max(k));
    at::Tensor pick = torch::arange(out * in).reshape({out, in}).remainder(5).eq(0);
    position = torch::where(pick, half, position);
    at::Tensor sigma = torch::rand({out, in}, f64) * 4 - 1;
    sigma = torch::where(torch::arange(out * in).reshape({out, in}).remainder(7).eq(0), torch::zeros_like(sigma), sigma);
    at::Tensor input = torch::bernoulli(torch::full({steps, batch, in}, 0.3, f64));
    input = torch::where(torch::rand({steps, batch, in}, f64) < 0.2, torch::randn({steps, batch, in}, f64), input);

    at::Tensor kernel = golgi::methods::dcls_kernel(weight, position, sigma, k);
    at::Tensor rounded = golgi::methods::dcls_rounded_kernel(weight, position, k);
    at::Tensor output = golgi::methods::dcls_delay_conv(input, kernel);
    at::Tensor rounded_output = golgi::methods::dcls_delay_conv(input, rounded);
    const std::vector<std::pair<std::string, at::Tensor>> files = {
        {"weight", weight}, {"position", position}, {"sigma", sigma}, {"input", input}, {"kernel", kernel},
        {"rounded_kernel", rounded}, {"output", output}, {"rounded_output", rounded_output}};
    for (const auto& [name, t] : files) {
      at::Tensor c = t.contiguous();
      golgi::io::write_npy(dir + "/" + name + ".npy", golgi::io::view_of(c));
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "golgi_xcheck_dcls_kernels: " << e.what() << "\n";
    return 2;
  }
}
