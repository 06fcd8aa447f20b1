// TV-Bregman denoising: fixed points, noise reduction, the direction of `weight`, channels, dtype
// and bad input. Agreement with scikit-image is tests/xcheck/image_ops_sklearn.sh.
#include <gtest/gtest.h>

#include <cmath>

#include <torch/torch.h>

#include "golgi/analysis/tv_bregman.h"
#include "golgi/core/error.h"
#include "test_support.h"

namespace {

namespace a = golgi::analysis;
using golgi::testing::error_of;

// A piecewise-constant 32 × 32 image (a bright square on a dark ground) and a noisy copy.
std::pair<at::Tensor, at::Tensor> square_and_noise(double sigma, uint64_t seed) {
  at::Tensor clean = torch::full({32, 32}, 0.2, torch::kDouble);
  clean.narrow(0, 8, 16).narrow(1, 8, 16).fill_(0.8);
  torch::manual_seed(seed);
  return {clean, clean + sigma * torch::randn({32, 32}, torch::kDouble)};
}

double mse(const at::Tensor& a, const at::Tensor& b) { return (a - b).square().mean().item<double>(); }

TEST(TvBregman, LeavesAConstantImageUnchanged) {
  const at::Tensor flat = torch::full({7, 9}, 0.37, torch::kDouble);
  int64_t sweeps = 0;
  const at::Tensor out = a::denoise_tv_bregman(flat, a::TvBregmanOptions().weight(0.5), &sweeps);
  EXPECT_TRUE(torch::allclose(out, flat, 0, 1e-14));
  EXPECT_EQ(sweeps, 1);  // nothing moves, so the first sweep already meets eps
}

TEST(TvBregman, MatchesScikitImageOnASmallImage) {
  // Known values from scikit-image 0.19.3 (Debian python3-skimage):
  //   im = (np.arange(20).reshape(4, 5) * 7 % 11) / 10.0
  //   denoise_tv_bregman(im, weight=2.0, isotropic=True / False)   (max_num_iter=100, eps=1e-3)
  // The frame rule (mirror top/left, replicate bottom/right) shows in the asymmetric corners.
  const at::Tensor image = (torch::arange(20, torch::kDouble).view({4, 5}) * 7).remainder(11) / 10.0;
  const std::vector<double> isotropic = {
      0.4394721507472483,  0.6355703862096097,  0.5075507159636774, 0.5019928090420043, 0.6411572620455102,
      0.5422397318004782,  0.5828298748163303,  0.51328779934271,   0.49795740539004707, 0.674525932399935,
      0.32471464288175694, 0.37190555539954545, 0.5261053602689973, 0.5114695702032378, 0.6762642179585918,
      0.37423892327454067, 0.3543185276084335,  0.6007814344342268, 0.4653350894408792, 0.2481654423016922};
  const std::vector<double> anisotropic = {
      0.5093168353109966,  0.5086589260077921,  0.507674509768958,  0.5068581621100937, 0.6037288037317468,
      0.5090488123959283,  0.5080538140275734,  0.5066226526996099, 0.5056738682394406, 0.6071842849144601,
      0.44947327105929247, 0.44989674296980264, 0.5050665113486336, 0.5043474541131234, 0.6091889076976365,
      0.44914680822025843, 0.4493777675390741,  0.5041939505568055, 0.50285340979849,   0.12087925933923177};
  for (bool iso : {true, false}) {
    const at::Tensor out = a::denoise_tv_bregman(image, a::TvBregmanOptions().weight(2).isotropic(iso)).contiguous();
    const auto& expected = iso ? isotropic : anisotropic;
    for (int64_t i = 0; i < 20; ++i) EXPECT_NEAR(out.data_ptr<double>()[i], expected[i], 1e-12) << iso << " " << i;
  }
}

TEST(TvBregman, RemovesNoiseAndKeepsEdges) {
  const auto [clean, noisy] = square_and_noise(0.1, 1);
  const at::Tensor out = a::denoise_tv_bregman(noisy, a::TvBregmanOptions().weight(5));
  EXPECT_LT(mse(out, clean), 0.3 * mse(noisy, clean));
  // The flat interior of the square is much less variable than the noisy input there.
  const auto inner = [](const at::Tensor& t) { return t.narrow(0, 11, 10).narrow(1, 11, 10); };
  EXPECT_LT(inner(out).var().item<double>(), 0.2 * inner(noisy).var().item<double>());
  // The edge survives: inside minus outside stays close to the true 0.6.
  const double step = out.narrow(0, 12, 8).narrow(1, 12, 8).mean().item<double>() -
                      out.narrow(0, 0, 4).mean().item<double>();
  EXPECT_NEAR(step, 0.6, 0.1);
  // Anisotropic TV denoises too.
  const at::Tensor aniso = a::denoise_tv_bregman(noisy, a::TvBregmanOptions().weight(5).isotropic(false));
  EXPECT_LT(mse(aniso, clean), 0.5 * mse(noisy, clean));
  EXPECT_GT((aniso - out).abs().max().item<double>(), 1e-4);
}

TEST(TvBregman, LargerWeightMeansLessSmoothing) {
  // scikit-image's convention: weight weighs fidelity, so the result approaches the input as it grows.
  const auto [clean, noisy] = square_and_noise(0.1, 2);
  double previous = 1e9;
  for (double weight : {0.5, 2.0, 8.0, 32.0, 500.0}) {
    const double distance = mse(a::denoise_tv_bregman(noisy, a::TvBregmanOptions().weight(weight)), noisy);
    EXPECT_LT(distance, previous) << weight;
    previous = distance;
  }
  EXPECT_LT(previous, 0.1 * mse(noisy, clean));  // weight 500 keeps the result within a tenth of the noise
}

TEST(TvBregman, ChannelsAreDenoisedIndependently) {
  const auto [clean, noisy] = square_and_noise(0.1, 3);
  const at::Tensor rgb = torch::stack({noisy, noisy.flip(0), 1 - noisy});
  const auto options = a::TvBregmanOptions().weight(4);
  const at::Tensor out = a::denoise_tv_bregman(rgb, options);
  ASSERT_EQ(out.sizes(), rgb.sizes());
  for (int64_t c = 0; c < 3; ++c)
    EXPECT_TRUE(torch::equal(out[c], a::denoise_tv_bregman(rgb[c].contiguous(), options))) << c;
  // Joint stopping can only run longer per channel, never change the update rule.
  const at::Tensor joint = a::denoise_tv_bregman(rgb, a::TvBregmanOptions(options).per_channel(false));
  EXPECT_LT((joint - out).abs().max().item<double>(), 0.05);
  // float32 in, float32 out.
  EXPECT_EQ(a::denoise_tv_bregman(rgb.to(torch::kFloat), options).scalar_type(), torch::kFloat);
}

TEST(TvBregman, StopsAtMaxIter) {
  const auto [clean, noisy] = square_and_noise(0.1, 4);
  int64_t sweeps = 0;
  a::denoise_tv_bregman(noisy, a::TvBregmanOptions().weight(1).max_iter(3).eps(0), &sweeps);
  EXPECT_EQ(sweeps, 3);
}

TEST(TvBregman, RejectsBadInput) {
  EXPECT_NE(error_of([] { a::denoise_tv_bregman(torch::ones({1, 5})); }).find(">= 2"), std::string::npos);
  EXPECT_NE(error_of([] { a::denoise_tv_bregman(torch::ones({1, 2, 4, 4})); }).find("[C, H, W]"), std::string::npos);
  EXPECT_NE(error_of([] { a::denoise_tv_bregman(torch::ones({4, 4}), a::TvBregmanOptions().weight(0)); }).find("weight"),
            std::string::npos);
  at::Tensor nan = torch::ones({4, 4});
  nan[2][2] = NAN;
  EXPECT_NE(error_of([&] { a::denoise_tv_bregman(nan); }).find("NaN"), std::string::npos);
}

}  // namespace
