// Facet discovery for multifaceted feature visualisation (paper id multifaceted-vis): planted
// clusters are recovered (adjusted Rand index) from codes and through a model, the "nearest the
// centroid" selection and the centroid assignment on known values with ties, mean images, the
// target-class filter and the seeded subset, determinism by seed, and bad input.
#include <algorithm>
#include <set>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "golgi/analysis/kmeans.h"
#include "golgi/core/error.h"
#include "golgi/hooks/activation_cache.h"
#include "golgi/methods/feature_vis/facets.h"
#include "golgi/models/cnn.h"
#include "test_support.h"

namespace golgi::methods {
namespace {

using golgi::testing::error_of;

// `per` points around each of `k` centres in `d` dimensions: centres N(0, spread²), points
// centre + N(0, 1). Returns the points and each point's planted cluster; rows are interleaved
// (row i belongs to cluster i mod k) so that no method can profit from the order.
std::pair<at::Tensor, std::vector<int64_t>> planted(int64_t k, int64_t per, int64_t d, double spread, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor centres = torch::randn({k, d}, gen, torch::kFloat64) * spread;
  at::Tensor x = torch::randn({k * per, d}, gen, torch::kFloat64);
  std::vector<int64_t> truth(k * per);
  for (int64_t i = 0; i < k * per; ++i) {
    truth[i] = i % k;
    x[i] += centres[truth[i]];
  }
  return {x, truth};
}

FacetOptions small_options() { return FacetOptions().tsne_iter(500).progress(false); }

TEST(Facets, RecoversPlantedClustersFromCodes) {
  const auto [codes, truth] = planted(5, 40, 20, 6.0, 11);
  const FacetClusters f = cluster_facets(codes, small_options().nearest(15));
  EXPECT_GE(analysis::adjusted_rand_index(f.labels, truth), 0.95);
  ASSERT_EQ(f.embedding.sizes(), (std::vector<int64_t>{200, 2}));
  ASSERT_EQ(f.centroids.sizes(), (std::vector<int64_t>{5, 2}));
  ASSERT_EQ(f.code_centroids.sizes(), (std::vector<int64_t>{5, 20}));
  EXPECT_EQ(f.pca_components, 20);  // min(50, n = 200, d = 20)
  EXPECT_NEAR(f.pca_explained, 1.0, 1e-9);
  int64_t total = 0;
  for (int64_t c = 0; c < 5; ++c) {
    total += f.sizes[c];
    ASSERT_EQ(f.nearest[c].size(), 15u);
    for (int64_t r : f.nearest[c]) EXPECT_EQ(f.labels[r], c) << "a facet's nearest images are its own members";
    // The code centroid is the mean code of the members: check it independently.
    at::Tensor sum = torch::zeros({20}, torch::kFloat64);
    for (int64_t i = 0; i < 200; ++i)
      if (f.labels[i] == c) sum += codes[i];
    EXPECT_TRUE(torch::allclose(f.code_centroids[c], sum / static_cast<double>(f.sizes[c]), 1e-12, 1e-12));
  }
  EXPECT_EQ(total, 200);
  // Every planted centre lies nearest the code centroid of "its" facet: the members' codes of one
  // facet are one planted cluster.
  const auto assigned = nearest_centroid(codes, f.code_centroids);
  EXPECT_GE(analysis::adjusted_rand_index(assigned, truth), 0.95);
}

TEST(Facets, NearestMembersKnownValuesAndTies) {
  const at::Tensor points = torch::tensor({2.0, 0.0, 0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 10.0, 10.0, 11.0, 10.0, 10.0, 12.0},
                                          torch::kFloat64)
                                .reshape({7, 2});
  const std::vector<int64_t> labels = {0, 0, 0, 0, 1, 1, 1};
  // The centroids need not be the members' means: the selection measures to the given ones.
  const at::Tensor centroids = torch::tensor({0.0, 0.0, 10.0, 10.0}, torch::kFloat64).reshape({2, 2});
  // Squared distances: cluster 0 rows 0..3 -> 4, 1, 1, 0 (rows 1 and 2 tie: the lower row first);
  // cluster 1 rows 4..6 -> 0, 1, 4.
  EXPECT_EQ(nearest_members(points, labels, centroids, 3), (std::vector<std::vector<int64_t>>{{3, 1, 2}, {4, 5, 6}}));
  EXPECT_EQ(nearest_members(points, labels, centroids, 2), (std::vector<std::vector<int64_t>>{{3, 1}, {4, 5}}));
  // Fewer members than asked: all of them.
  EXPECT_EQ(nearest_members(points, labels, centroids, 15),
            (std::vector<std::vector<int64_t>>{{3, 1, 2, 0}, {4, 5, 6}}));
  // Only the cluster's own members count, however near another cluster's point is.
  const std::vector<int64_t> moved = {0, 0, 0, 1, 1, 1, 1};
  EXPECT_EQ(nearest_members(points, moved, centroids, 2), (std::vector<std::vector<int64_t>>{{1, 2}, {4, 5}}));
  EXPECT_NE(error_of([&] { nearest_members(points, {0, 0, 2, 0, 1, 1, 1}, centroids, 2); }).find("label 2"),
            std::string::npos);
  EXPECT_NE(error_of([&] { nearest_members(points, labels, centroids, 0); }).find("count"), std::string::npos);
}

TEST(Facets, NearestCentroidAndMeanImagesKnownValues) {
  const at::Tensor codes = torch::tensor({0.0, 0.0, 1.0, 1.0, 5.0, 5.0, 2.5, 2.5}, torch::kFloat64).reshape({4, 2});
  const at::Tensor centroids = torch::tensor({0.0, 0.0, 5.0, 5.0}, torch::kFloat64).reshape({2, 2});
  // (2.5, 2.5) is equally far from both: the lower index wins.
  EXPECT_EQ(nearest_centroid(codes, centroids), (std::vector<int64_t>{0, 0, 1, 0}));

  const at::Tensor images = torch::arange(16, torch::kFloat32).reshape({4, 1, 2, 2});
  const at::Tensor means = mean_images_of(images, {{0, 1}, {3}, {0, 1, 2, 3}});
  ASSERT_EQ(means.sizes(), (std::vector<int64_t>{3, 1, 2, 2}));
  EXPECT_EQ(means.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(means[0], torch::tensor({2.0f, 3.0f, 4.0f, 5.0f}).reshape({1, 2, 2})));
  EXPECT_TRUE(torch::equal(means[1], images[3]));
  EXPECT_TRUE(torch::equal(means[2], torch::tensor({6.0f, 7.0f, 8.0f, 9.0f}).reshape({1, 2, 2})));
  EXPECT_NE(error_of([&] { mean_images_of(images, {{0}, {}}); }).find("facet 1 has no images"), std::string::npos);
  EXPECT_NE(error_of([&] { mean_images_of(images, {{4}}); }).find("row 4"), std::string::npos);
}

TEST(Facets, DeterministicBySeed) {
  const at::Tensor codes = planted(4, 30, 10, 3.0, 5).first;
  const FacetClusters a = cluster_facets(codes, small_options().facets(4).seed(3));
  const FacetClusters b = cluster_facets(codes, small_options().facets(4).seed(3));
  EXPECT_TRUE(torch::equal(a.embedding, b.embedding));
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.nearest, b.nearest);
  EXPECT_TRUE(torch::equal(a.code_centroids, b.code_centroids));
}

// Images made of 5 prototypes plus small noise, through a small random CNN: the facets found
// through the model's penultimate layer are the prototypes, and each facet's mean image is its
// prototype.
struct PlantedImages {
  at::Tensor images, prototypes;
  std::vector<int64_t> truth;
};
PlantedImages planted_images(int64_t k, int64_t per, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  PlantedImages p;
  p.prototypes = torch::rand({k, 1, 8, 8}, gen) * 3.0 - 1.0;
  p.images = torch::randn({k * per, 1, 8, 8}, gen) * 0.05;
  for (int64_t i = 0; i < k * per; ++i) {
    p.truth.push_back(i % k);
    p.images[i] += p.prototypes[i % k];
  }
  return p;
}

models::Cnn small_cnn() {
  torch::manual_seed(7);
  return models::Cnn(models::CnnOptions().image_size(8).channels({8}).kernel_size(3).hidden({32}).classes(3));
}

TEST(Facets, FindFacetsThroughAModelRecoversPlantedImages) {
  auto model = small_cnn();
  const PlantedImages p = planted_images(5, 30, 21);
  const Facets f = find_facets(model, p.images, small_options().nearest(10));
  EXPECT_EQ(f.given, 150);
  EXPECT_EQ(f.recognised, 150);
  ASSERT_EQ(f.indices.size(), 150u);
  ASSERT_EQ(f.codes.sizes(), (std::vector<int64_t>{150, 32}));
  EXPECT_GE(analysis::adjusted_rand_index(f.clusters.labels, p.truth), 0.95);
  ASSERT_EQ(f.mean_images.sizes(), (std::vector<int64_t>{5, 1, 8, 8}));
  // Each facet's mean image is within the noise of one prototype, a different one per facet: the
  // mean of 10 noise images of σ 0.05 over 64 pixels is expected 0.05 · 8 / √10 = 0.13 from its
  // prototype, while prototypes (uniform in [−1, 2]) are about 9.8 apart.
  std::set<int64_t> matched;
  for (int64_t c = 0; c < 5; ++c) {
    const at::Tensor d = (p.prototypes - f.mean_images[c]).pow(2).flatten(1).sum(1).sqrt();
    const auto sorted = std::get<0>(d.sort());
    EXPECT_LT(sorted[0].item<double>(), 0.2) << "facet " << c;
    EXPECT_GT(sorted[1].item<double>(), 5.0) << "facet " << c;
    matched.insert(d.argmin().item<int64_t>());
  }
  EXPECT_EQ(matched.size(), 5u);
  // The codes are the hook's activations, recorded here independently.
  model.eval();
  torch::NoGradGuard no_grad;
  hooks::ActivationCache cache(model, {"fc1.hook_post"});
  cache.run([&] { return model.forward(p.images); });
  EXPECT_TRUE(torch::allclose(f.codes, cache["fc1.hook_post"].to(torch::kFloat64), 1e-6, 1e-6));
  EXPECT_EQ(f.to_json()["clustered"], 150);
  EXPECT_EQ(f.to_json()["nearest_images"].size(), 5u);
}

TEST(Facets, TargetClassFilterAndSeededSubset) {
  auto model = small_cnn();
  const PlantedImages p = planted_images(5, 40, 4);
  at::Tensor predicted;
  {
    model.eval();
    torch::NoGradGuard no_grad;
    predicted = model.forward(p.images).argmax(1);
  }
  // The most frequent predicted class, so that enough images survive the filter.
  const int64_t target = torch::bincount(predicted).argmax().item<int64_t>();
  const int64_t expected = (predicted == target).sum().item<int64_t>();
  ASSERT_GE(expected, 10);
  const Facets f = find_facets(model, p.images, small_options().facets(2).nearest(3).target_class(target));
  EXPECT_EQ(f.recognised, expected);
  ASSERT_EQ(static_cast<int64_t>(f.indices.size()), expected);
  for (int64_t i : f.indices) EXPECT_EQ(predicted[i].item<int64_t>(), target);
  EXPECT_TRUE(std::is_sorted(f.indices.begin(), f.indices.end()));

  // A seeded subset: max_images of them, ascending, the same for the same seed, another for another.
  const auto subset = [&](int64_t seed) {
    return find_facets(model, p.images, small_options().facets(3).nearest(3).max_images(60).seed(seed));
  };
  const Facets a = subset(1), b = subset(1), c = subset(2);
  ASSERT_EQ(a.indices.size(), 60u);
  EXPECT_TRUE(std::is_sorted(a.indices.begin(), a.indices.end()));
  EXPECT_EQ(std::set<int64_t>(a.indices.begin(), a.indices.end()).size(), 60u);
  EXPECT_EQ(a.indices, b.indices);
  EXPECT_EQ(a.clusters.labels, b.clusters.labels);
  EXPECT_TRUE(torch::equal(a.mean_images, b.mean_images));
  EXPECT_NE(a.indices, c.indices);
}

TEST(Facets, BadInput) {
  const auto data = planted(2, 5, 3, 3.0, 1);
  const at::Tensor& codes = data.first;
  EXPECT_NE(error_of([&] { cluster_facets(codes.slice(0, 0, 4), small_options().facets(5)); }).find("cannot make 5"),
            std::string::npos);
  at::Tensor bad = codes.clone();
  bad[2][1] = std::nan("");
  EXPECT_NE(error_of([&] { cluster_facets(bad, small_options().facets(2)); }).find("NaN"), std::string::npos);
  EXPECT_NE(error_of([&] { cluster_facets(codes.flatten(), small_options()); }).find("[n, d]"), std::string::npos);
  EXPECT_NE(error_of([&] { cluster_facets(codes, small_options().facets(0)); }).find("facets.facets"),
            std::string::npos);
  EXPECT_NE(error_of([&] { cluster_facets(codes, small_options().nearest(0)); }).find("facets.nearest"),
            std::string::npos);

  auto model = small_cnn();
  const at::Tensor images = torch::zeros({10, 1, 8, 8});
  EXPECT_NE(error_of([&] { find_facets(model, images, small_options().hook("fc9.hook_post")); })
                .find("no hook point 'fc9.hook_post'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { find_facets(model, torch::zeros({10, 8, 8}), small_options()); }).find("input shape"),
            std::string::npos);
  EXPECT_NE(error_of([&] { find_facets(model, images, small_options().target_class(7)); }).find("target_class 7"),
            std::string::npos);
}

}  // namespace
}  // namespace golgi::methods
