// snmf over an activation store: SVD and k-means initialisation (known structure, in-memory ==
// chunked), top rows per feature, token contexts, and the acceptance test: semi-NMF of a store
// larger than its memory budget equals in-memory semi-NMF.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include <torch/torch.h>

#include "golgi/core/runtime.h"
#include "golgi/hooks/activation_store.h"
#include "golgi/methods/snmf/snmf.h"
#include "golgi/methods/snmf/snmf_features.h"
#include "golgi/methods/snmf/snmf_init.h"
#include "golgi/methods/snmf/snmf_streaming.h"
#include "golgi/tokenize/tokenizer.h"
#include "test_support.h"

namespace {

namespace m = golgi::methods;

double relative_error(const at::Tensor& A, const at::Tensor& F, const at::Tensor& G) {
  return ((A - F.matmul(G.t())).norm() / A.norm()).item<double>();
}

// A [d, n] = U S Vᵀ + noise where the K columns of V are non-negative with disjoint supports (every
// sample expresses one feature): its rank-K SVD has a non-negative V, so the SVD init is the optimum.
at::Tensor disjoint_low_rank(int64_t d, int64_t n, int64_t K, double noise, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor U = std::get<0>(at::linalg_qr(torch::randn({d, K}, gen, torch::kDouble)));
  const at::Tensor labels = torch::arange(n, torch::kLong).remainder(K);
  at::Tensor V = torch::one_hot(labels, K).to(torch::kDouble) * (torch::rand({n, 1}, gen, torch::kDouble) + 0.5);
  const at::Tensor S = torch::linspace(10, 5, K, torch::kDouble);
  return U.matmul(torch::diag(S)).matmul(V.t()) + noise * torch::randn({d, n}, gen, torch::kDouble);
}

m::SnmfColumns columns_of(const at::Tensor& A) {
  return [A](int64_t b, int64_t e) { return A.slice(1, b, e); };
}

TEST(SnmfInit, ShapesAndPositiveG) {
  const at::Tensor A = disjoint_low_rank(12, 40, 3, 0.1, 1).to(torch::kFloat);
  for (const std::string method : {"random", "svd", "kmeans"}) {
    m::SnmfInitOptions init;
    init.method = method;
    auto [F0, G0] = m::snmf_initialize(A, m::SnmfOptions().features(3), init);
    EXPECT_EQ(F0.sizes(), (std::vector<int64_t>{12, 3})) << method;
    EXPECT_EQ(G0.sizes(), (std::vector<int64_t>{40, 3})) << method;
    EXPECT_EQ(F0.scalar_type(), torch::kFloat) << method;
    EXPECT_GE(G0.min().item<double>(), 1e-6 * (1 - 1e-6)) << method;
    EXPECT_TRUE(torch::isfinite(F0).all().item<bool>()) << method;
  }
  m::SnmfInitOptions bad;
  bad.method = "svdd";
  EXPECT_NE(golgi::testing::error_of([&] { m::snmf_initialize(A, m::SnmfOptions().features(3), bad); }).find("did you mean 'svd'"),
            std::string::npos);
  bad.method = "svd";
  EXPECT_NE(golgi::testing::error_of([&] { m::snmf_initialize(A, m::SnmfOptions().features(13), bad); }).find("min(d, n)"),
            std::string::npos);
}

TEST(SnmfInit, SvdStartsAtTheRankKOptimum) {
  const int64_t K = 4;
  const at::Tensor A = disjoint_low_rank(30, 200, K, 0.05, 2);
  // The optimum: the rank-K truncation, from LibTorch's SVD (not the eigendecomposition the init uses).
  auto [U, S, Vh] = at::linalg_svd(A, /*full_matrices=*/false);
  const at::Tensor truncation = U.slice(1, 0, K).matmul(torch::diag(S.slice(0, 0, K))).matmul(Vh.slice(0, 0, K));
  const double optimum = ((A - truncation).norm() / A.norm()).item<double>();
  m::SnmfInitOptions init;
  init.method = "svd";
  auto [F0, G0] = m::snmf_initialize(A, m::SnmfOptions().features(K), init);
  const double start = relative_error(A, F0, G0);
  EXPECT_LT(start, optimum * 1.05 + 1e-3) << "optimum " << optimum;
  // A random start is nowhere near it.
  auto [Fr, Gr] = m::snmf_random_init(30, 200, K, 0, A);
  EXPECT_GT(relative_error(A, Fr, Gr), 10 * optimum);
  // Semi-NMF from the SVD start stays at about that error (and never worse than the start).
  const auto result = m::semi_nmf(A, m::SnmfOptions().features(K).sparsity(1.0).max_iter(5), F0, G0);
  EXPECT_LT(result.relative_error, optimum * 1.05 + 1e-3);
}

TEST(SnmfInit, KmeansRecoversSeparatedClusters) {
  // Four clusters of columns around far-apart centres, shuffled.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const int64_t d = 8, n = 400, K = 4;
  const at::Tensor centres = 20 * torch::randn({d, K}, gen, torch::kDouble);
  const at::Tensor truth = torch::randperm(n, gen, torch::kLong).remainder(K);
  const at::Tensor A = centres.index_select(1, truth) + 0.5 * torch::randn({d, n}, gen, torch::kDouble);
  m::SnmfInitOptions init;
  init.method = "kmeans";
  init.sample_columns = 100;
  auto [F0, G0] = m::snmf_initialize(A, m::SnmfOptions().features(K).seed(5), init);
  const at::Tensor found = G0.argmax(1);
  // G0 is the indicator + 0.2 exactly.
  EXPECT_TRUE(torch::allclose(G0, torch::one_hot(found, K).to(torch::kDouble) + 0.2));
  // The partition equals the planted one up to a relabelling, and each centroid sits on its centre.
  std::set<std::pair<int64_t, int64_t>> pairs;
  for (int64_t i = 0; i < n; ++i) pairs.insert({truth[i].item<int64_t>(), found[i].item<int64_t>()});
  EXPECT_EQ(pairs.size(), static_cast<size_t>(K));
  for (const auto& [t, f] : pairs)
    EXPECT_LT((F0.select(1, f) - centres.select(1, t)).norm().item<double>(), 0.5);
}

TEST(SnmfInit, ChunkedEqualsInMemory) {
  const at::Tensor A = disjoint_low_rank(10, 97, 3, 0.2, 4);
  for (const std::string method : {"random", "svd", "kmeans"}) {
    m::SnmfInitOptions init;
    init.method = method;
    init.sample_columns = 50;
    const auto options = m::SnmfOptions().features(3).seed(9);
    auto [F1, G1] = m::snmf_initialize(A, options, init);
    auto [F2, G2] = m::snmf_initialize(columns_of(A), 10, 97, options, init, 7);
    EXPECT_TRUE(torch::allclose(F1, F2, 1e-9, 1e-9)) << method;
    EXPECT_TRUE(torch::allclose(G1, G2, 1e-9, 1e-9)) << method;
  }
}

TEST(SnmfFeatures, TopRowsStreamLikeAFullSort) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(6);
  at::Tensor G = torch::rand({103, 4}, gen, torch::kFloat);
  G[5][1] = 0;
  G.select(1, 3).zero_();
  G[7][3] = 0.5;
  const auto streamed = m::snmf_top_rows(G, 10, /*chunk_rows=*/9);
  ASSERT_EQ(streamed.size(), 4u);
  for (int64_t k = 0; k < 3; ++k) {
    const auto [values, rows] = G.select(1, k).topk(10);
    ASSERT_EQ(streamed[k].size(), 10u);
    for (int64_t i = 0; i < 10; ++i) {
      EXPECT_EQ(streamed[k][i].first, rows[i].item<int64_t>());
      EXPECT_FLOAT_EQ(static_cast<float>(streamed[k][i].second), values[i].item<float>());
    }
  }
  // Zero rows are no examples.
  ASSERT_EQ(streamed[3].size(), 1u);
  EXPECT_EQ(streamed[3][0].first, 7);
}

TEST(SnmfFeatures, TokenContextCutsAtCharacters) {
  golgi::tokenize::ByteTokenizer bytes;
  const std::string text = "Grüße aus Köln, schöne Grüße";
  std::vector<int64_t> ids;
  for (unsigned char c : text) ids.push_back(c);
  ids.push_back(-1);
  const at::Tensor window = torch::tensor(ids, torch::kLong);
  const int64_t k = static_cast<int64_t>(text.find("Köln"));
  golgi::Json j = m::token_context(bytes, window, k, 8, 3);
  EXPECT_EQ(j["token"], "K");
  EXPECT_EQ(j["before"], "ße aus ");
  EXPECT_EQ(j["after"], "öl");
  EXPECT_EQ(j["context"], "ße aus [[K]]öl");
  // Budgets that would split "ß" or "ö" stop at the character boundary instead.
  golgi::Json cut = m::token_context(bytes, window, k, 7, 1);
  EXPECT_EQ(cut["before"], "e aus ");
  EXPECT_EQ(cut["after"], "");
  // Either byte of "ü" shows the whole character; padding ends the text.
  const int64_t u = static_cast<int64_t>(text.find("ü"));
  for (int64_t p : {u, u + 1}) {
    golgi::Json inside = m::token_context(bytes, window, p, 2, 100);
    EXPECT_EQ(inside["token"], "ü") << p;
    EXPECT_EQ(inside["before"], "Gr") << p;
    EXPECT_EQ(inside["after"], "ße aus Köln, schöne Grüße") << p;
  }
  // Invalid bytes become U+FFFD.
  golgi::Json invalid = m::token_context(bytes, torch::tensor({int64_t{'a'}, int64_t{0xff}, int64_t{'b'}}), 1, 4, 4);
  EXPECT_EQ(invalid["context"], "a[[\xEF\xBF\xBD]]b");
  EXPECT_THROW(m::token_context(bytes, window, static_cast<int64_t>(ids.size()) - 1, 2, 2), golgi::Error);
}

// The acceptance test: a store of 512 x 40,000 float32 (82 MB) factorised with a 64 MB budget.
TEST(SnmfStore, LargerThanTheBudgetEqualsInMemory) {
  golgi::ScopedThreads threads(1);
  const int64_t d = 512, n = 40000, K = 4;
  const std::string dir = golgi::testing::scratch_dir("snmf_store_large");
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  // A known semi-NMF structure: sparse signed F, non-negative sparse G, plus noise.
  const at::Tensor F_true = torch::randn({d, K}, gen) * torch::rand({d, K}, gen).lt(0.2).to(torch::kFloat);
  {
    golgi::hooks::StoreConfig config;
    config.hooks = {{"blocks.0.mlp.hook_post", {d}}};
    config.shard_rows = 4096;
    golgi::hooks::ActivationStoreWriter writer(dir, config);
    for (int64_t b = 0; b < n; b += 5000) {
      const at::Tensor G = torch::rand({5000, K}, gen) * torch::rand({5000, K}, gen).lt(0.3).to(torch::kFloat);
      const at::Tensor rows = G.matmul(F_true.t()) + 0.05 * torch::randn({5000, d}, gen);
      writer.append({{"blocks.0.mlp.hook_post", rows}}, torch::arange(b, b + 5000, torch::kLong));
    }
    writer.finish();
  }
  golgi::hooks::ActivationStoreReader store(dir);
  ASSERT_EQ(store.rows(), n);
  const int64_t budget = 64ll << 20;
  ASSERT_GT(n * d * 4, budget);  // the store does not fit
  const int64_t chunk = m::snmf_chunk_columns_for_budget(d, n, K, 4, budget);
  int64_t largest = 0, reads = 0;
  m::SnmfColumns columns = [&](int64_t b, int64_t e) {
    largest = std::max(largest, e - b);
    ++reads;
    return store.read("blocks.0.mlp.hook_post", b, e).t().contiguous();
  };
  const auto options = m::SnmfOptions().features(K).sparsity(0.2).max_iter(3).seed(1);
  m::SnmfStreamOptions stream;
  stream.chunk_columns = chunk;
  const auto streamed = m::semi_nmf_streaming(columns, d, n, options, stream);
  EXPECT_LE(largest * d * 4, budget);
  EXPECT_GT(reads, 3 * 2);  // several chunks per pass: never the whole store at once
  // The reference: the same data in memory.
  const at::Tensor A = store.read("blocks.0.mlp.hook_post").t().contiguous();
  const auto reference = m::semi_nmf(A, options);
  ASSERT_EQ(streamed.loss_history.size(), reference.loss_history.size());
  for (size_t i = 0; i < reference.loss_history.size(); ++i)
    EXPECT_NEAR(streamed.loss_history[i], reference.loss_history[i], 1e-4 * reference.loss_history[i]) << i;
  EXPECT_NEAR(streamed.relative_error, reference.relative_error, 1e-4 * reference.relative_error);
  EXPECT_TRUE(torch::allclose(streamed.F, reference.F, 1e-3, 1e-3));
  // Every iteration lowers the loss, and the error is below a rank-0 fit's.
  for (size_t i = 1; i < streamed.loss_history.size(); ++i)
    EXPECT_LT(streamed.loss_history[i], streamed.loss_history[i - 1]) << i;
  EXPECT_LT(streamed.relative_error, 0.9);
  // A budget below the factors is refused with the size it needs.
  EXPECT_NE(golgi::testing::error_of([&] { m::snmf_chunk_columns_for_budget(d, n, K, 4, 1 << 20); }).find("do not fit"),
            std::string::npos);
}

}  // namespace
