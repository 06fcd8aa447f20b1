// PCA, k-means (k-means++ seeding, Lloyd, the adjusted Rand index) and exact t-SNE: known values,
// invariants and bad input. The cross-checks against scikit-learn are tests/xcheck/image_ops_sklearn.sh.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include <torch/torch.h>

#include "golgi/analysis/kmeans.h"
#include "golgi/analysis/pca.h"
#include "golgi/analysis/tsne.h"
#include "golgi/core/error.h"
#include "golgi/core/runtime.h"
#include "test_support.h"

namespace {

namespace a = golgi::analysis;
using golgi::testing::error_of;

// A rotation of R^3 (orthonormal columns) built from two Givens rotations.
at::Tensor rotation3() {
  const double c1 = std::cos(0.4), s1 = std::sin(0.4), c2 = std::cos(1.1), s2 = std::sin(1.1);
  at::Tensor r1 = torch::tensor({c1, -s1, 0.0, s1, c1, 0.0, 0.0, 0.0, 1.0}, torch::kDouble).view({3, 3});
  at::Tensor r2 = torch::tensor({1.0, 0.0, 0.0, 0.0, c2, -s2, 0.0, s2, c2}, torch::kDouble).view({3, 3});
  return torch::matmul(r1, r2);
}

// Three Gaussian blobs of `per` points each in `d` dimensions, centres 10 apart; labels 0, 1, 2.
std::pair<at::Tensor, std::vector<int64_t>> blobs(int64_t per, int64_t d, uint64_t seed) {
  torch::manual_seed(seed);
  at::Tensor centres = torch::zeros({3, d}, torch::kDouble);
  centres[1][0] = 10;
  centres[2][1] = 10;
  std::vector<at::Tensor> parts;
  std::vector<int64_t> labels;
  for (int64_t c = 0; c < 3; ++c) {
    parts.push_back(centres[c] + torch::randn({per, d}, torch::kDouble));
    labels.insert(labels.end(), per, c);
  }
  return {torch::cat(parts), labels};
}

TEST(Pca, RecoversAKnownCovariance) {
  // Points ±s_k along the columns of a rotation R, shifted: the covariance is R diag(2 s_k² / 5) Rᵀ.
  const at::Tensor R = rotation3();
  const std::vector<double> s = {3.0, 2.0, 0.5};
  at::Tensor X = torch::zeros({6, 3}, torch::kDouble);
  for (int64_t k = 0; k < 3; ++k) {
    X[2 * k] = R.select(1, k) * s[k];
    X[2 * k + 1] = -R.select(1, k) * s[k];
  }
  const at::Tensor offset = torch::tensor({1.0, -2.0, 5.0}, torch::kDouble);
  X = X + offset;
  const a::Pca pca = a::fit_pca(X);
  ASSERT_EQ(pca.components.sizes(), (std::vector<int64_t>{3, 3}));
  EXPECT_TRUE(torch::allclose(pca.mean, offset, 0, 1e-12));
  double total = 0;
  for (int64_t k = 0; k < 3; ++k) {
    EXPECT_NEAR(pca.explained_variance[k].item<double>(), 2 * s[k] * s[k] / 5, 1e-12) << k;
    total += 2 * s[k] * s[k] / 5;
    // Component k is ±R[:, k]; the sign makes its largest-|.| entry positive.
    at::Tensor expected = R.select(1, k).clone();
    const int64_t pivot = expected.abs().argmax().item<int64_t>();
    if (expected[pivot].item<double>() < 0) expected = -expected;
    EXPECT_TRUE(torch::allclose(pca.components[k], expected, 0, 1e-12)) << k;
  }
  EXPECT_NEAR(pca.total_variance, total, 1e-12);
  EXPECT_NEAR(pca.explained_variance_ratio.sum().item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(pca.explained_variance_ratio[0].item<double>(), 2 * 9.0 / 5 / total, 1e-12);
}

TEST(Pca, ReconstructsLowRankDataAndTruncates) {
  torch::manual_seed(3);
  // Rank 2 after centring: 40 points in 6 dimensions.
  const at::Tensor X = torch::matmul(torch::randn({40, 2}, torch::kDouble), torch::randn({2, 6}, torch::kDouble)) + 7;
  const a::Pca two = a::fit_pca(X, a::PcaOptions().components(2));
  EXPECT_EQ(two.components.size(0), 2);
  EXPECT_TRUE(torch::allclose(two.inverse_transform(two.transform(X)), X, 1e-10, 1e-10));
  EXPECT_NEAR(two.explained_variance_ratio.sum().item<double>(), 1.0, 1e-12);
  // Orthonormal components; scores uncorrelated with the component variances.
  EXPECT_TRUE(torch::allclose(torch::matmul(two.components, two.components.t()), torch::eye(2, torch::kDouble), 0, 1e-12));
  const at::Tensor Z = two.transform(X);
  const at::Tensor cov = torch::matmul(Z.t(), Z) / 39.0;
  EXPECT_TRUE(torch::allclose(cov, torch::diag(two.explained_variance), 1e-10, 1e-10));
  // One component loses information.
  const a::Pca one = a::fit_pca(X, a::PcaOptions().components(1));
  EXPECT_GT((one.inverse_transform(one.transform(X)) - X).abs().max().item<double>(), 1e-3);
}

TEST(Pca, HandlesWideData) {
  // Fewer samples than features: at most n - 1 = 4 non-zero variances.
  torch::manual_seed(8);
  const at::Tensor X = torch::randn({5, 20}, torch::kDouble);
  const a::Pca pca = a::fit_pca(X);
  ASSERT_EQ(pca.components.size(0), 5);
  EXPECT_NEAR(pca.explained_variance_ratio.narrow(0, 0, 4).sum().item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(pca.explained_variance[4].item<double>(), 0.0, 1e-12);
  EXPECT_TRUE(torch::allclose(pca.inverse_transform(pca.transform(X)), X, 1e-10, 1e-10));
}

TEST(Pca, RejectsBadInput) {
  EXPECT_NE(error_of([] { a::fit_pca(torch::ones({1, 3})); }).find("at least 2 samples"), std::string::npos);
  EXPECT_NE(error_of([] { a::fit_pca(torch::ones({4, 3}), a::PcaOptions().components(4)); }).find("components"),
            std::string::npos);
  at::Tensor nan = torch::ones({4, 3});
  nan[1][1] = NAN;
  EXPECT_NE(error_of([&] { a::fit_pca(nan); }).find("NaN"), std::string::npos);
  EXPECT_NE(error_of([] { a::fit_pca(torch::ones({4})); }).find("matrix"), std::string::npos);
  const a::Pca pca = a::fit_pca(torch::randn({5, 3}));
  EXPECT_NE(error_of([&] { pca.transform(torch::ones({2, 4})); }).find("features"), std::string::npos);
}

TEST(KMeans, KnownIterationsFromGivenCentroids) {
  // 0, 1, 10, 11 from centroids {0, 1}: labels 0111 -> centroids 0, 22/3 -> labels 0011 -> 0.5, 10.5.
  const at::Tensor X = torch::tensor({0.0, 1.0, 10.0, 11.0}, torch::kDouble).view({4, 1});
  const auto r = a::kmeans(X, a::KMeansOptions().clusters(2).tol(0), torch::tensor({0.0, 1.0}, torch::kDouble).view({2, 1}));
  EXPECT_EQ(r.labels, (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_NEAR(r.centroids[0][0].item<double>(), 0.5, 1e-12);
  EXPECT_NEAR(r.centroids[1][0].item<double>(), 10.5, 1e-12);
  EXPECT_NEAR(r.inertia, 1.0, 1e-12);
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.iterations, 3);  // two moves, then a pass with unchanged labels
}

TEST(KMeans, SeparatesBlobsUpToPermutation) {
  const auto [X, truth] = blobs(30, 4, 1);
  const auto r = a::kmeans(X, a::KMeansOptions().clusters(3).n_init(3).seed(7));
  EXPECT_DOUBLE_EQ(a::adjusted_rand_index(r.labels, truth), 1.0);
  // Each centroid is the mean of its points, and the inertia is their squared distances.
  double inertia = 0;
  for (int64_t i = 0; i < X.size(0); ++i) inertia += (X[i] - r.centroids[r.labels[i]]).square().sum().item<double>();
  EXPECT_NEAR(r.inertia, inertia, 1e-9);
  std::set<int64_t> used(r.labels.begin(), r.labels.end());
  EXPECT_EQ(used.size(), 3u);
  EXPECT_TRUE(r.converged);
}

TEST(KMeans, PlusPlusIsDeterministicAndPicksDataPoints) {
  const auto [X, truth] = blobs(20, 3, 2);
  const at::Tensor c1 = a::kmeans_plus_plus(X, 3, 42), c2 = a::kmeans_plus_plus(X, 3, 42);
  EXPECT_TRUE(torch::equal(c1, c2));
  for (int64_t c = 0; c < 3; ++c) EXPECT_EQ((X - c1[c]).abs().sum(1).min().item<double>(), 0.0);
  // On well separated blobs the D² sampling lands one centre in each blob.
  std::set<int64_t> blobs_hit;
  for (int64_t c = 0; c < 3; ++c) blobs_hit.insert(truth[(X - c1[c]).abs().sum(1).argmin().item<int64_t>()]);
  EXPECT_EQ(blobs_hit.size(), 3u);
  EXPECT_FALSE(torch::equal(c1, a::kmeans_plus_plus(X, 3, 43)));
}

TEST(KMeans, RestartsKeepTheLowestInertia) {
  torch::manual_seed(9);
  const at::Tensor X = torch::rand({60, 2}, torch::kDouble);  // no clear clusters: seedings disagree
  const auto best = a::kmeans(X, a::KMeansOptions().clusters(6).n_init(6).seed(1));
  // The first restart uses the seed itself; the others derive theirs, so n_init 6 can only do better.
  const auto first = a::kmeans(X, a::KMeansOptions().clusters(6).n_init(1).seed(1));
  EXPECT_LE(best.inertia, first.inertia);
  EXPECT_EQ(a::kmeans(X, a::KMeansOptions().clusters(6).n_init(6).seed(1)).labels, best.labels);
}

TEST(KMeans, RelocatesEmptyClusters) {
  const auto [X, truth] = blobs(10, 2, 3);
  // The third centroid is far from every point: it would own nothing.
  const at::Tensor init = torch::tensor({0.0, 0.0, 10.0, 0.0, 1000.0, 1000.0}, torch::kDouble).view({3, 2});
  const auto r = a::kmeans(X, a::KMeansOptions().clusters(3), init);
  std::set<int64_t> used(r.labels.begin(), r.labels.end());
  EXPECT_EQ(used.size(), 3u);
  EXPECT_LT(r.centroids.abs().max().item<double>(), 100.0);
}

TEST(KMeans, RejectsBadInput) {
  const at::Tensor X = torch::randn({5, 2});
  EXPECT_NE(error_of([&] { a::kmeans(X, a::KMeansOptions().clusters(6)); }).find("at least as many points"),
            std::string::npos);
  EXPECT_NE(error_of([&] { a::kmeans(X, a::KMeansOptions().clusters(2), torch::zeros({3, 2})); }).find("initial centroids"),
            std::string::npos);
  EXPECT_NE(error_of([&] { a::kmeans(X, a::KMeansOptions().clusters(2).n_init(2), torch::zeros({2, 2})); }).find("n_init"),
            std::string::npos);
  EXPECT_NE(error_of([&] { a::kmeans(X, a::KMeansOptions().clusters(0)); }).find("clusters"), std::string::npos);
}

TEST(KMeans, AdjustedRandIndexKnownValues) {
  EXPECT_DOUBLE_EQ(a::adjusted_rand_index({0, 0, 1, 1}, {5, 5, 2, 2}), 1.0);
  // scikit-learn's documented example: adjusted_rand_score([0, 0, 1, 1], [0, 0, 1, 2]) = 0.571428...
  EXPECT_NEAR(a::adjusted_rand_index({0, 0, 1, 1}, {0, 0, 1, 2}), 4.0 / 7.0, 1e-12);
  EXPECT_NEAR(a::adjusted_rand_index({0, 0, 0, 0}, {0, 1, 2, 3}), 0.0, 1e-12);
  EXPECT_NE(error_of([] { a::adjusted_rand_index({0, 1}, {0}); }).find("same points"), std::string::npos);
}

TEST(Tsne, JointProbabilitiesOfAnEquilateralTriangle) {
  // Three equidistant points: every conditional is 1/2 whatever β, so P_ij = 1/6 off the diagonal.
  const at::Tensor X = torch::tensor({0.0, 0.0, 1.0, 0.0, 0.5, std::sqrt(0.75)}, torch::kDouble).view({3, 2});
  const at::Tensor P = a::tsne_joint_probabilities(X, 2.0);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3; ++j) EXPECT_NEAR(P[i][j].item<double>(), i == j ? 0.0 : 1.0 / 6, 1e-12);
}

TEST(Tsne, JointProbabilitiesMatchThePerplexity) {
  const auto [X, truth] = blobs(15, 5, 4);
  const at::Tensor P = a::tsne_joint_probabilities(X, 5.0);
  EXPECT_NEAR(P.sum().item<double>(), 1.0, 1e-12);
  EXPECT_TRUE(torch::allclose(P, P.t(), 0, 0));
  EXPECT_EQ(P.diagonal().abs().max().item<double>(), 0.0);
  // Nearby points (same blob) carry almost all the mass.
  double within = 0;
  for (int64_t i = 0; i < 45; ++i)
    for (int64_t j = 0; j < 45; ++j)
      if (truth[i] == truth[j]) within += P[i][j].item<double>();
  EXPECT_GT(within, 0.99);
}

TEST(Tsne, KeepsSeparatedBlobsApartAndLowersKl) {
  golgi::ScopedThreads one(1);
  const auto [X, truth] = blobs(30, 10, 5);
  const auto r = a::tsne(X, a::TsneOptions().perplexity(10).max_iter(500).progress(false));
  ASSERT_EQ(r.embedding.sizes(), (std::vector<int64_t>{90, 2}));
  EXPECT_DOUBLE_EQ(r.learning_rate, 50.0);
  // Leave-one-out 1-nearest-neighbour accuracy in 2-D is 1.
  const at::Tensor d = torch::cdist(r.embedding, r.embedding) + torch::eye(90, torch::kDouble) * 1e9;
  const at::Tensor nn = d.argmin(1);
  for (int64_t i = 0; i < 90; ++i) EXPECT_EQ(truth[nn[i].item<int64_t>()], truth[i]) << i;
  // KL goes down in stage 2. The reported KL is evaluated before the last update (as scikit-learn
  // does), so it matches KL(P‖Q) of the returned embedding to within that one small step.
  ASSERT_GE(r.kl_history.size(), 7u);
  EXPECT_EQ(r.kl_iterations[5], 300);
  EXPECT_LT(r.kl_history.back(), r.kl_history[5]);
  const double kl = a::tsne_kl_divergence(a::tsne_joint_probabilities(X, 10), r.embedding);
  EXPECT_NEAR(kl, r.kl_divergence, 0.01 * r.kl_divergence + 1e-6);
  EXPECT_GT(kl, 0.0);
  EXPECT_EQ(r.iterations, 500);
}

TEST(Tsne, RandomInitIsDeterministicGivenTheSeed) {
  golgi::ScopedThreads one(1);
  const auto [X, truth] = blobs(10, 3, 6);
  const auto options = a::TsneOptions().perplexity(5).max_iter(260).init("random").seed(3).progress(false);
  const auto r1 = a::tsne(X, options), r2 = a::tsne(X, options);
  EXPECT_TRUE(torch::equal(r1.embedding, r2.embedding));
  EXPECT_FALSE(torch::equal(r1.embedding, a::tsne(X, a::TsneOptions(options).seed(4)).embedding));
}

TEST(Tsne, RejectsBadInput) {
  const at::Tensor X = torch::randn({10, 3});
  EXPECT_NE(error_of([&] { a::tsne(X, a::TsneOptions().perplexity(10).progress(false)); }).find("perplexity"),
            std::string::npos);
  EXPECT_NE(error_of([&] { a::tsne(X, a::TsneOptions().init("spectral").progress(false)); }).find("init"),
            std::string::npos);
  EXPECT_NE(error_of([&] { a::tsne(X, a::TsneOptions().max_iter(100).progress(false)); }).find("max_iter"),
            std::string::npos);
  EXPECT_NE(error_of([] { a::tsne(torch::ones({1, 3}), a::TsneOptions().perplexity(0.5).progress(false)); }).find("2 points"),
            std::string::npos);
}

}  // namespace
