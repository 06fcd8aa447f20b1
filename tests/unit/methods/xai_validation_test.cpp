// Unit tests for paper id `xai-validation`: the synthetic-brains generator (data/synthetic_brains.h)
// and relevance-mass accuracy (methods/xai_validation/relevance_mass.h). The numpy/scipy
// cross-check of RMA on many random maps is tests/xcheck/relevance_mass_numpy.sh.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/data/synthetic_brains.h"
#include "golgi/methods/xai_validation/relevance_mass.h"

namespace {

using golgi::data::generate_synthetic_brains;
using golgi::data::SyntheticBrainsOptions;
namespace m = golgi::methods;

double correlation(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor x = a - a.mean(), y = b - b.mean();
  return (x * y).sum().item<double>() / std::sqrt((x * x).sum().item<double>() * (y * y).sum().item<double>());
}

TEST(XaiValidationBrains, ShapesRangesAndRoi) {
  const auto b = generate_synthetic_brains(SyntheticBrainsOptions().count(20).seed(3));
  EXPECT_EQ(b.images.sizes(), (std::vector<int64_t>{20, 1, 64, 64}));
  EXPECT_EQ(b.images.scalar_type(), torch::kFloat);
  EXPECT_EQ(b.sizes.sizes(), (std::vector<int64_t>{20, 8}));
  EXPECT_EQ(b.centers.sizes(), (std::vector<int64_t>{20, 8, 2}));
  EXPECT_EQ(b.rois.sizes(), (std::vector<int64_t>{20, 64, 64}));
  EXPECT_EQ(b.rois.scalar_type(), torch::kBool);
  EXPECT_EQ(b.target.sizes(), (std::vector<int64_t>{20}));
  EXPECT_TRUE(torch::isfinite(b.images).all().item<bool>());
  // Sizes stay in their clamp range; the ROI is the 2-sigma disc, so its area is ~ pi (2 s)^2.
  EXPECT_GE(b.sizes.min().item<double>(), 0.5 * 3.2 - 1e-9);
  EXPECT_LE(b.sizes.max().item<double>(), 1.6 * 3.2 + 1e-9);
  for (int64_t i = 0; i < 20; ++i) {
    const double s = b.sizes[i][3].item<double>();
    const double area = b.rois[i].sum().item<double>(), expected = M_PI * 4 * s * s;
    EXPECT_NEAR(area, expected, 0.25 * expected + 6) << "subject " << i;
    // The ROI holds the region's centre pixel, and that pixel is brighter than the head.
    const auto cx = static_cast<int64_t>(std::lround(b.centers[i][3][0].item<double>()));
    const auto cy = static_cast<int64_t>(std::lround(b.centers[i][3][1].item<double>()));
    EXPECT_TRUE(b.rois[i][cy][cx].item<bool>());
    EXPECT_GT(b.images[i][0][cy][cx].item<float>(), b.images[i][0][32][32].item<float>());
  }
  // Background outside the head is noise only.
  EXPECT_LT(b.images.select(3, 0).abs().max().item<float>(), 0.4f);
}

TEST(XaiValidationBrains, DeterministicPerSubject) {
  const auto a = generate_synthetic_brains(SyntheticBrainsOptions().count(12).seed(5));
  const auto b = generate_synthetic_brains(SyntheticBrainsOptions().count(12).seed(5));
  const auto c = generate_synthetic_brains(SyntheticBrainsOptions().count(30).seed(5));
  const auto d = generate_synthetic_brains(SyntheticBrainsOptions().count(12).seed(6));
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_TRUE(torch::equal(a.target, b.target));
  // Subject i is the same image whatever the count (its own stream); the residualised target is
  // fitted over the sample, so it may differ.
  EXPECT_TRUE(torch::equal(a.images, c.images.narrow(0, 0, 12)));
  EXPECT_TRUE(torch::equal(a.sizes, c.sizes.narrow(0, 0, 12)));
  EXPECT_FALSE(torch::equal(a.images, d.images));
}

TEST(XaiValidationBrains, TargetIsResidualisedOnTheOtherSizes) {
  const auto b = generate_synthetic_brains(SyntheticBrainsOptions().count(400).seed(1));
  // Before: the raw size correlates with the others through the shared factor.
  double raw_max = 0;
  for (int64_t r = 0; r < 8; ++r) {
    if (r == 3) continue;
    const double after = correlation(b.target, b.sizes.select(1, r));
    EXPECT_LT(std::abs(after), 0.05) << "region " << r;
    raw_max = std::max(raw_max, std::abs(correlation(b.raw_target, b.sizes.select(1, r))));
  }
  EXPECT_GT(raw_max, 0.05);
  EXPECT_LT(std::abs(correlation(b.target, b.global_intensity)), 0.05);
  EXPECT_NEAR(b.target.mean().item<double>(), 0.0, 1e-9);
  // Most of the target is still region 3's own size.
  EXPECT_GT(correlation(b.target, b.raw_target), 0.8);
}

TEST(XaiValidationBrains, RejectsBadOptions) {
  EXPECT_THROW(generate_synthetic_brains(SyntheticBrainsOptions().count(10).target_region(8)), golgi::Error);
  EXPECT_THROW(generate_synthetic_brains(SyntheticBrainsOptions().count(10).components(8)), golgi::Error);
  EXPECT_THROW(generate_synthetic_brains(SyntheticBrainsOptions().count(2)), golgi::Error);
  EXPECT_THROW(generate_synthetic_brains(SyntheticBrainsOptions().count(10).noise(-1)), golgi::Error);
}

TEST(XaiValidationRma, FwhmToSigma) {
  EXPECT_NEAR(m::fwhm_to_sigma(2.0), 0.8493218002880191, 1e-12);
  EXPECT_NEAR(m::fwhm_to_sigma(2.355), 1.0, 2e-4);
  EXPECT_EQ(m::fwhm_to_sigma(0.0), 0.0);
  EXPECT_THROW(m::fwhm_to_sigma(-1.0), golgi::Error);
}

TEST(XaiValidationRma, GaussianFilterKnownValues) {
  // A unit impulse far from the border: the kernel itself, summing to 1, with scipy's radius
  // floor(4 sigma + 0.5) = 3 for sigma 0.8493.
  const double sigma = m::fwhm_to_sigma(2.0);
  auto x = torch::zeros({15, 15}, torch::kDouble);
  x[7][7] = 1.0;
  const auto y = m::gaussian_filter2d(x, sigma);
  EXPECT_NEAR(y.sum().item<double>(), 1.0, 1e-12);
  double w0 = 0;
  for (int k = -3; k <= 3; ++k) w0 += std::exp(-0.5 * k * k / (sigma * sigma));
  EXPECT_NEAR(y[7][7].item<double>(), 1.0 / (w0 * w0), 1e-12);
  EXPECT_EQ(y[7][11].item<double>(), 0.0);  // beyond the radius
  EXPECT_GT(y[7][10].item<double>(), 0.0);
  // 'reflect' mode: a constant image stays constant; an impulse at the corner keeps its mass.
  auto c = m::gaussian_filter2d(torch::full({5, 6}, 2.5, torch::kDouble), sigma);
  EXPECT_TRUE(torch::allclose(c, torch::full({5, 6}, 2.5, torch::kDouble), 0, 1e-12));
  auto corner = torch::zeros({6, 6}, torch::kDouble);
  corner[0][0] = 1.0;
  EXPECT_NEAR(m::gaussian_filter2d(corner, sigma).sum().item<double>(), 1.0, 1e-12);
}

TEST(XaiValidationRma, PercentileAndDilation) {
  EXPECT_NEAR(m::percentile_linear(torch::arange(1, 101, torch::kDouble), 99.0), 99.01, 1e-12);
  EXPECT_NEAR(m::percentile_linear(torch::tensor({3.0, 1.0, 2.0}), 50.0), 2.0, 1e-12);
  EXPECT_NEAR(m::percentile_linear(torch::tensor({0.0, 10.0}), 25.0), 2.5, 1e-12);
  auto mask = torch::zeros({7, 7}, torch::kBool);
  mask[3][3] = true;
  EXPECT_EQ(m::dilate_cross(mask, 1).sum().item<int64_t>(), 5);
  EXPECT_EQ(m::dilate_cross(mask, 2).sum().item<int64_t>(), 13);  // a diamond of radius 2
  auto corner = torch::zeros({7, 7}, torch::kBool);
  corner[0][0] = true;
  EXPECT_EQ(m::dilate_cross(corner, 2).sum().item<int64_t>(), 6);  // i + j <= 2 inside the image
  EXPECT_FALSE(m::dilate_cross(corner, 2)[1][2].item<bool>());
}

TEST(XaiValidationRma, KnownValues) {
  const int64_t S = 32;
  auto map = torch::zeros({S, S});
  map[10][10] = -3.0;  // the sign does not matter
  auto roi_in = torch::zeros({S, S}, torch::kBool), roi_out = torch::zeros({S, S}, torch::kBool);
  roi_in.narrow(0, 8, 5).narrow(1, 8, 5).fill_(true);
  roi_out.narrow(0, 25, 4).narrow(1, 25, 4).fill_(true);
  EXPECT_NEAR(m::relevance_mass_accuracy(map, roi_in)[0].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(m::relevance_mass_accuracy(map, roi_out)[0].item<double>(), 0.0, 1e-12);
  EXPECT_EQ(m::relevance_mass_accuracy(torch::zeros({S, S}), roi_in)[0].item<double>(), 0.0);
  // A uniform map keeps every pixel (all equal the percentile) and scores the chance level.
  const double chance = m::relevance_chance(roi_in)[0].item<double>();
  EXPECT_NEAR(chance, 69.0 / (S * S), 1e-12);  // 5x5 square dilated twice
  EXPECT_NEAR(m::relevance_mass_accuracy(torch::ones({S, S}), roi_in, m::RelevanceMassOptions().fwhm(0))[0].item<double>(), chance, 1e-12);
  // Batches: [B, H, W] and [B, 1, H, W] agree with the single maps.
  auto batch = torch::stack({map, torch::zeros({S, S}), map});
  auto rois = torch::stack({roi_in, roi_in, roi_out});
  auto r = m::relevance_mass_accuracy(batch.unsqueeze(1), rois);
  EXPECT_TRUE(torch::allclose(r, torch::tensor({1.0, 0.0, 0.0}, torch::kDouble)));
}

TEST(XaiValidationRma, HandComputedCase) {
  // No smoothing, the 50th percentile, one dilation, so every step can be followed by hand:
  // |map| sorted 0..11, p = 5 + 0.5 (index 5.5) -> kept 6..11, sum 51; the ROI pixel (2, 0)
  // dilated once covers (1, 0) = 4 (dropped), (2, 0) = 8 and (2, 1) = 9 -> RMA 17 / 51.
  auto map = torch::tensor({0.0, 1.0, 2.0, 3.0, 4.0, -5.0, 6.0, 7.0, -8.0, -9.0, 10.0, 11.0}).view({3, 4});
  auto roi = torch::zeros({3, 4}, torch::kBool);
  roi[2][0] = true;
  const auto o = m::RelevanceMassOptions().fwhm(0).percentile(50).dilations(1);
  EXPECT_NEAR(m::relevance_mass_accuracy(map, roi, o)[0].item<double>(), 17.0 / 51.0, 1e-12);
  auto kept = m::relevance_mass_map(map, o);
  EXPECT_EQ(kept[1][1].item<double>(), 0.0);
  EXPECT_EQ(kept[2][1].item<double>(), 9.0);
}

TEST(XaiValidationRma, FalsePositives) {
  const int64_t S = 32;
  auto roi = torch::zeros({S, S}, torch::kBool);
  roi.narrow(0, 8, 5).narrow(1, 8, 5).fill_(true);
  auto inside = torch::zeros({S, S});
  inside[10][10] = 1.0;
  auto outside = inside.clone();
  outside[25][25] = 2.0;  // a stronger peak outside the ROI
  auto fp = m::relevance_false_positives(torch::stack({inside, outside}), torch::stack({roi, roi}));
  EXPECT_FALSE(fp[0].item<bool>());
  EXPECT_TRUE(fp[1].item<bool>());
}

TEST(XaiValidationRma, RejectsBadInput) {
  auto roi = torch::zeros({8, 8}, torch::kBool);
  EXPECT_THROW(m::relevance_mass_accuracy(torch::zeros({8, 9}), roi), golgi::Error);
  EXPECT_THROW(m::relevance_mass_accuracy(torch::zeros({8}), torch::zeros({8})), golgi::Error);
  auto nan_map = torch::zeros({8, 8});
  nan_map[1][1] = NAN;
  EXPECT_THROW(m::relevance_mass_accuracy(nan_map, roi), golgi::Error);
  EXPECT_THROW(m::relevance_mass_accuracy(torch::zeros({8, 8}), roi, m::RelevanceMassOptions().percentile(101)),
               golgi::Error);
  EXPECT_THROW(m::relevance_mass_accuracy(torch::zeros({8, 8}), roi, m::RelevanceMassOptions().fwhm(-1)), golgi::Error);
}

}  // namespace
