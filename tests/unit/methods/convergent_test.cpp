// convergent (Li et al. 2016): correlations (dead units -> 0), mutual information known values,
// the lasso on a planted sparse problem, spectral clustering of planted blocks, the comparison of
// two permuted copies of one layer, recording from a real model and option validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/data/dataset.h"
#include "golgi/methods/convergent/convergent.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/models/registry.h"
#include "test_support.h"

namespace {

namespace m = golgi::methods;

TEST(Convergent, UnitSamplesPutChannelsLast) {
  at::Tensor x = torch::arange(2 * 3 * 2 * 2, torch::kFloat).reshape({2, 3, 2, 2});
  at::Tensor s = m::unit_samples(x);
  ASSERT_EQ(s.sizes(), (std::vector<int64_t>{8, 3}));
  // Row 5 = image 1, position (0, 1); column c = channel c.
  for (int64_t c = 0; c < 3; ++c) EXPECT_EQ(s[5][c].item<float>(), x[1][c][0][1].item<float>());
  EXPECT_EQ(m::unit_samples(torch::zeros({4, 5, 6})).sizes(), (std::vector<int64_t>{20, 6}));
  EXPECT_THROW(m::unit_samples(torch::zeros({4})), golgi::Error);
}

TEST(Convergent, CorrelationsMatchTheFormulaAndDeadUnitsAreZero) {
  torch::manual_seed(1);
  at::Tensor x = torch::randn({200, 3}, torch::kDouble);
  x.select(1, 2).fill_(3.5);  // a dead unit: constant
  at::Tensor y = torch::cat({x.select(1, 0).unsqueeze(1) * 2 + 1, -x.select(1, 1).unsqueeze(1),
                             torch::randn({200, 1}, torch::kDouble)}, 1);
  at::Tensor c = m::cross_correlation(x, y);
  EXPECT_FALSE(torch::isnan(c).any().item<bool>());
  EXPECT_NEAR(c[0][0].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(c[1][1].item<double>(), -1.0, 1e-12);
  for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(c[2][j].item<double>(), 0.0);
  // One entry by the textbook formula.
  at::Tensor a = x.select(1, 0) - x.select(1, 0).mean(), b = y.select(1, 2) - y.select(1, 2).mean();
  EXPECT_NEAR(c[0][2].item<double>(), ((a * b).sum() / (a.norm() * b.norm())).item<double>(), 1e-12);
  at::Tensor r = m::correlation_matrix(x);
  EXPECT_EQ(r[0][0].item<double>(), 1.0);
  EXPECT_EQ(r[2][2].item<double>(), 0.0);
  EXPECT_TRUE(r.allclose(r.t()));
  at::Tensor dead = m::dead_units(x);
  EXPECT_EQ(dead.to(torch::kLong).sum().item<int64_t>(), 1);
  EXPECT_TRUE(dead[2].item<bool>());
  EXPECT_THROW(m::cross_correlation(x, torch::zeros({10, 2})), golgi::Error);
  EXPECT_THROW(m::cross_correlation(torch::zeros({1, 2}), torch::zeros({1, 2})), golgi::Error);
}

TEST(Convergent, MutualInformationKnownValues) {
  torch::manual_seed(2);
  const int64_t n = 20000, bins = 8;
  at::Tensor x = torch::randn({n}, torch::kDouble), y = torch::randn({n}, torch::kDouble);
  // Independent: the plug-in estimate's bias ((b-1)^2 / (2 N ln 2) = 0.0018 bits) is removed.
  const double independent = m::mutual_information(x, y, bins);
  EXPECT_NEAR(independent, 0.0, 1e-3);
  // Identical (and any strictly increasing function of it): log2(bins) bits.
  EXPECT_NEAR(m::mutual_information(x, x, bins), 3.0, 1e-3);
  EXPECT_NEAR(m::mutual_information(x, torch::exp(x), bins), 3.0, 1e-3);
  // A bivariate normal with correlation rho has I = -1/2 log2(1 - rho^2) = 0.737 bits at rho = 0.8;
  // 8 percentile bins lose some of it, so the estimate lies below, but well above zero.
  at::Tensor z = 0.8 * x + 0.6 * y;
  const double partial = m::mutual_information(x, z, bins);
  EXPECT_GT(partial, 0.5);
  EXPECT_LT(partial, 0.737);
  // Ties (ReLU zeros) go into one bin. relu(x + 0.2533) is 0 for 40% of the samples: the edges at
  // 1/8, 2/8 and 3/8 are 0, so the zeros and the positives below the median share one bin of mass
  // 1/2 and the upper half fills 4 bins of 1/8: H = 1/2 + 4 * 3/8 = 2 bits = I(relu, relu).
  at::Tensor relu = torch::relu(x + 0.2533);
  EXPECT_NEAR(m::mutual_information(relu, relu, bins), 2.0, 0.01);
  EXPECT_THROW(m::mutual_information(x, y, 1), golgi::Error);
  EXPECT_THROW(m::mutual_information(x, y.narrow(0, 0, 10), 4), golgi::Error);
}

TEST(Convergent, LassoRecoversAPlantedSparseProblem) {
  // y = 0.6 x1 - 0.5 x4 + noise over 12 standardised, correlated inputs.
  torch::manual_seed(3);
  const int64_t n = 12, s = 5000;
  at::Tensor base = torch::randn({s, n}, torch::kDouble);
  at::Tensor x = base + 0.3 * base.roll(1, 1);  // neighbouring inputs correlate
  at::Tensor y = 0.6 * x.select(1, 1) - 0.5 * x.select(1, 4) + 0.2 * torch::randn({s}, torch::kDouble);
  at::Tensor rxx = m::correlation_matrix(x), rxy = m::cross_correlation(x, y.unsqueeze(1));
  std::vector<double> gram(rxx.data_ptr<double>(), rxx.data_ptr<double>() + n * n);
  std::vector<double> c(rxy.data_ptr<double>(), rxy.data_ptr<double>() + n);
  std::vector<double> w(n, 0.0);
  m::lasso_gram(gram, c, n, 0.05, w, 2000, 1e-12);
  std::set<int64_t> support;
  for (int64_t i = 0; i < n; ++i)
    if (w[i] != 0) support.insert(i);
  EXPECT_EQ(support, (std::set<int64_t>{1, 4}));
  EXPECT_GT(w[1], 0);
  EXPECT_LT(w[4], 0);
  // KKT: |c - R w| <= lambda everywhere, with equality and the weight's sign on the support.
  for (int64_t i = 0; i < n; ++i) {
    double g = c[i];
    for (int64_t k = 0; k < n; ++k) g -= gram[i * n + k] * w[k];
    if (w[i] != 0)
      EXPECT_NEAR(g, w[i] > 0 ? 0.05 : -0.05, 1e-8);
    else
      EXPECT_LE(std::abs(g), 0.05 + 1e-8);
  }
  // The sweep: the budget of 2 weights predicts almost all of y (its R^2 is about 0.85).
  at::Tensor dead = torch::zeros({1}, torch::kBool);
  auto sweep = m::sparse_prediction(rxx, rxy, m::ConvergentOptions().max_nonzero(2), dead);
  EXPECT_EQ(sweep.live_targets, 1);
  EXPECT_EQ(sweep.nonzero_at_budget[0], 2);
  const double r2 = 1 - 0.04 / (y.var(0, false).item<double>());
  EXPECT_NEAR(sweep.refit_nmse_at_budget[0], 1 - r2, 0.02);
  EXPECT_GT(sweep.nmse_at_budget[0], sweep.refit_nmse_at_budget[0]);  // lasso shrinkage costs a little
  EXPECT_LT(sweep.nmse_at_budget[0], 0.3);
  EXPECT_DOUBLE_EQ(sweep.mean_nonzero.front(), 0.0);  // lambda = 1: no weight
  EXPECT_NEAR(sweep.mean_nmse.front(), 1.0, 1e-12);
  EXPECT_GT(sweep.mean_nonzero.back(), 2.0);
  // A dead target is skipped, not NaN in the means.
  auto skipped = m::sparse_prediction(rxx, rxy, m::ConvergentOptions(), torch::ones({1}, torch::kBool));
  EXPECT_EQ(skipped.live_targets, 0);
  EXPECT_TRUE(std::isnan(skipped.nmse_at_budget[0]));
}

TEST(Convergent, SpectralClusteringSeparatesPlantedBlocks) {
  // Three blocks of 5, 4 and 6 units, interleaved: within 0.7-0.9, between 0-0.1; node 15 isolated.
  const std::vector<int64_t> block = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 2, 2, -1};
  const int64_t n = static_cast<int64_t>(block.size());
  torch::manual_seed(4);
  at::Tensor w = torch::zeros({n, n}, torch::kDouble);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) {
      if (block[i] < 0 || block[j] < 0) continue;
      const double v = block[i] == block[j] ? 0.7 + 0.2 * torch::rand({1}).item<double>()
                                            : 0.1 * torch::rand({1}).item<double>();
      w[i][j] = v;
      w[j][i] = v;
    }
  const auto labels = m::spectral_clustering(w, 3, 0);
  EXPECT_EQ(labels[15], -1);
  // Same block <=> same label.
  for (int64_t i = 0; i < 15; ++i)
    for (int64_t j = 0; j < 15; ++j) EXPECT_EQ(block[i] == block[j], labels[i] == labels[j]) << i << ", " << j;
  EXPECT_THROW(m::spectral_clustering(w, 16, 0), golgi::Error);
  EXPECT_THROW(m::spectral_clustering(-w, 2, 0), golgi::Error);
}

TEST(Convergent, PermutedNoisyCopyIsMatchedBack) {
  // B's units are a permutation of A's plus noise: the matching undoes the permutation.
  torch::manual_seed(5);
  const int64_t s = 3000, n = 10;
  at::Tensor a = torch::relu(torch::randn({s, n}, torch::kDouble) + 0.3);
  const std::vector<int64_t> perm = {3, 0, 1, 2, 5, 4, 6, 9, 7, 8};  // B's unit j copies A's unit perm[j]
  at::Tensor b = a.index_select(1, torch::tensor(perm, torch::kLong)) + 0.3 * torch::randn({s, n}, torch::kDouble);
  const auto r = m::compare_units(a, b, m::ConvergentOptions().clusters(-1));
  for (int64_t j = 0; j < n; ++j) EXPECT_EQ(r.matching.row_to_col[perm[j]], j);
  EXPECT_GT(r.mean_matched_corr, 0.8);
  EXPECT_EQ(r.semi_match, r.matching.row_to_col);  // every unit's best partner is unique here
  // The matching A -> B is the inverse of perm: cycles (0 1 2 3) (4 5) (6) (7 8 9).
  ASSERT_EQ(r.cycles.size(), 4u);
  EXPECT_EQ(r.cycles[0].size(), 4u);
  EXPECT_GT(r.mean_matched_mi, 0.5);
  ASSERT_TRUE(r.has_sparse);
  EXPECT_LT(r.sparse.mean_refit_nmse_at_budget, 0.5);
  const auto j = r.to_json();
  EXPECT_EQ(j["units_a"], n);
  EXPECT_EQ(j["cycle_lengths"].size(), 4u);
  EXPECT_THROW(m::compare_units(a, b.narrow(0, 0, 100)), golgi::Error);
  EXPECT_THROW(m::compare_units(a, b, m::ConvergentOptions().bins(1)), golgi::Error);
}

TEST(Convergent, RecordsPairedSamplesFromAModel) {
  auto model = golgi::models::make_model("cnn", {{"channels", {4, 6}}, {"hidden", {8}}});
  golgi::data::Dataset data("noise", "test", torch::rand({5, 1, 28, 28}), torch::zeros({5}, torch::kLong));
  const auto opts = m::RecordOptions().batch_size(2).max_samples(50).seed(3);
  const auto rec = m::record_unit_samples(*model, data, {"conv1.hook_post", "conv2.hook_post"}, opts);
  // 50 / 5 images = 10 positions per image.
  EXPECT_EQ(rec.at("conv1.hook_post").sizes(), (std::vector<int64_t>{50, 4}));
  EXPECT_EQ(rec.at("conv2.hook_post").sizes(), (std::vector<int64_t>{50, 6}));
  // Same options, same rows; a model compared with itself matches each unit to itself.
  const auto again = m::record_unit_samples(*model, data, {"conv1.hook_post"}, opts);
  EXPECT_TRUE(again.at("conv1.hook_post").equal(rec.at("conv1.hook_post")));
  const auto all = m::record_unit_samples(*model, data, {"conv1.hook_post"}, m::RecordOptions().max_samples(0));
  EXPECT_EQ(all.at("conv1.hook_post").size(0), 5 * 28 * 28);
  EXPECT_THROW(m::record_unit_samples(*model, data, {"conv9.hook_post"}), golgi::Error);
  EXPECT_THROW(m::record_unit_samples(*model, data, {"conv*.hook_post"}), golgi::Error);
  EXPECT_THROW(m::record_unit_samples(*model, data, {}), golgi::Error);
}

TEST(Convergent, CompareCliWritesTheMatchingAndTheAtlasUsesIt) {
  const std::string dir = golgi::testing::scratch_dir("convergent_cli");
  const golgi::Json tiny = {{"channels", {4, 6}}, {"hidden", {8}}};
  torch::manual_seed(1);
  golgi::models::save_model(dir + "/a", *golgi::models::make_model("cnn", tiny), golgi::Json::object());
  torch::manual_seed(2);
  golgi::models::save_model(dir + "/b", *golgi::models::make_model("cnn", tiny), golgi::Json::object());
  const std::string models = " --model-a " + dir + "/a --model-b " + dir + "/b --dataset fashion-mnist --limit 16";
  auto ok = golgi::testing::run_cli("--quiet compare" + models +
                                    " --hook conv1.hook_post --hook conv2.hook_post --max-samples 2000 --annotate --out " +
                                    dir + "/cmp");
  ASSERT_EQ(ok.exit_code, 0) << ok.out;
  // The matching is optimal for the written correlations: no other permutation of the 4 x 4
  // conv1 matrix has a larger total (brute force, independent of the solver).
  at::Tensor corr = golgi::io::load_npy(dir + "/cmp/conv1.hook_post/corr_ab.npy");
  at::Tensor matching = golgi::io::load_npy(dir + "/cmp/conv1.hook_post/matching.npy");
  ASSERT_EQ(corr.sizes(), (std::vector<int64_t>{4, 4}));
  double total = 0;
  for (int64_t i = 0; i < 4; ++i) total += corr[i][matching[i].item<int64_t>()].item<double>();
  std::vector<int64_t> perm = {0, 1, 2, 3};
  do {
    double t = 0;
    for (int64_t i = 0; i < 4; ++i) t += corr[i][perm[i]].item<double>();
    EXPECT_LE(t, total + 1e-12);
  } while (std::next_permutation(perm.begin(), perm.end()));
  const auto summary = golgi::io::read_json_file(dir + "/cmp/compare.json");
  EXPECT_NEAR(summary["hooks"]["conv1.hook_post"]["matching_total"].get<double>(), total, 1e-9);
  const auto annotation = golgi::io::read_json_file(dir + "/a/convergent.json");
  ASSERT_EQ(annotation["hooks"].size(), 2u);
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(annotation["hooks"][0]["matching"][i].get<int64_t>(), matching[i].item<int64_t>());
  // The atlas annotator writes one `match` annotation per neuron of each compared hook it records.
  auto atlas = golgi::testing::run_cli("--quiet atlas build --model " + dir + "/a --dataset fashion-mnist --limit 8" +
                                       " --hooks conv1.hook_post --annotators convergent --out " + dir + "/atlas.db");
  ASSERT_EQ(atlas.exit_code, 0) << atlas.out;
  EXPECT_NE(atlas.out.find("\"annotations\": 4"), std::string::npos) << atlas.out;
  // Bad input: one clear error, exit 2.
  auto unknown = golgi::testing::run_cli("--quiet compare" + models + " --hook conv9.hook_post --out " + dir + "/bad");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.out;
  EXPECT_NE(unknown.out.find("conv9"), std::string::npos) << unknown.out;
  EXPECT_EQ(golgi::testing::run_cli("--quiet compare" + models + " --out " + dir + "/bad").exit_code, 2);
  auto bins = golgi::testing::run_cli("--quiet compare" + models + " --hook conv1.hook_post --bins 1 --out " + dir + "/bad");
  EXPECT_EQ(bins.exit_code, 2) << bins.out;
  EXPECT_NE(bins.out.find("bins"), std::string::npos) << bins.out;
}

}  // namespace
