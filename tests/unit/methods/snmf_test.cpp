// Semi-NMF (paper id snmf): the paper's own outputs (../shared/fixtures/snmf_official: the loss of
// all 50 iterations and the returned F, G from given A, F0, G0), the sparsity step's known values
// and ties, the invariants of an iteration, and bad input.
#include <algorithm>
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/json.h"
#include "golgi/io/npy.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/methods/snmf/snmf.h"
#include "golgi/methods/snmf/snmf_streaming.h"
#include "test_support.h"

namespace golgi::methods {
namespace {

using golgi::testing::error_of;

const std::string kFixtures = std::string(GOLGI_FIXTURES_DIR) + "/snmf_official/";

at::Tensor load(const std::string& name) { return io::to_torch(io::read_npy(kFixtures + name).view()).clone(); }

// The largest |a − b| relative to max |b|, the elementwise tolerance for F and G.
double relative_to_max(const at::Tensor& a, const at::Tensor& b) {
  return ((a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max() / b.to(torch::kDouble).abs().max()).item<double>();
}

TEST(SnmfOfficial, ReproducesThePapersCodeNumberForNumber) {
  std::ifstream in(kFixtures + "meta.json");
  ASSERT_TRUE(in.good()) << "missing fixture " << kFixtures << "meta.json";
  const Json meta = Json::parse(in);
  const at::Tensor A = load("A.npy");
  ASSERT_EQ(A.sizes(), (std::vector<int64_t>{256, 2000}));
  ASSERT_EQ(A.scalar_type(), torch::kFloat);
  for (const auto& c : meta["cases"]) {
    const std::string prefix = "case" + std::to_string(c["case"].get<int>()) + "_";
    SnmfOptions o;
    o.features(c["K"].get<int64_t>())
        .sparsity(c["sparsity"].get<double>())
        .max_iter(c["max_iter"].get<int64_t>())
        .tol(c["tol"].get<double>())
        .reg(c["reg"].get<double>())
        .patience(c["patience"].get<int64_t>());
    SnmfResult r = semi_nmf(A, o, load(prefix + "F0.npy"), load(prefix + "G0.npy"));
    const auto expected = c["loss_per_iteration"].get<std::vector<double>>();
    ASSERT_EQ(r.loss_history.size(), expected.size()) << prefix;
    double worst = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      const double rel = std::fabs(r.loss_history[i] - expected[i]) / expected[i];
      worst = std::max(worst, rel);
      EXPECT_LT(rel, 1e-4) << prefix << "iteration " << i << ": " << r.loss_history[i] << " vs " << expected[i];
    }
    EXPECT_NEAR(r.best_loss, c["best_loss"].get<double>(), 1e-4 * c["best_loss"].get<double>()) << prefix;
    EXPECT_LT(relative_to_max(r.F, load(prefix + "F_best.npy")), 1e-3) << prefix;
    EXPECT_LT(relative_to_max(r.G, load(prefix + "G_best.npy")), 1e-3) << prefix;
    RecordProperty(prefix + "worst_loss_rtol", std::to_string(worst));
  }
}

TEST(SnmfSparsity, KeepsTheTopFractionPerColumnWithTies) {
  // d = 10, sparsity 0.2: keep ceil(2) = 2 entries per column by |F|; ties at the threshold stay.
  at::Tensor F = torch::tensor({{1.0, 5.0}, {-7.0, 1.0}, {3.0, 5.0}, {0.5, 5.0}, {2.0, 0.0},
                                {0.0, -1.0}, {6.0, 2.0}, {-2.0, 3.0}, {1.0, 4.0}, {0.1, 0.0}},
                               torch::kDouble);
  at::Tensor S = snmf_sparsify_columns(F, 0.2);
  // Column 0: |−7| and 6 kept. Column 1: three entries tie at 5, all kept.
  at::Tensor expected = torch::zeros_like(F);
  expected[1][0] = -7.0;
  expected[6][0] = 6.0;
  expected[0][1] = 5.0;
  expected[2][1] = 5.0;
  expected[3][1] = 5.0;
  EXPECT_TRUE(torch::equal(S, expected)) << S;
  EXPECT_TRUE(torch::equal(snmf_sparsify_columns(F, 1.0), F));
}

TEST(SnmfIteration, NonNegativeGDecreasingLossAndLowRankRecovery) {
  // A planted rank-3 semi-NMF: A = F* G*ᵀ with G* >= 0. Dense F (sparsity 1) must fit it well.
  torch::manual_seed(0);
  at::Tensor Fs = torch::randn({20, 3}, torch::kDouble), Gs = torch::rand({300, 3}, torch::kDouble);
  at::Tensor A = Fs.matmul(Gs.t());
  SnmfResult r = semi_nmf(A, SnmfOptions().features(3).sparsity(1.0).max_iter(300).patience(300).tol(0));
  EXPECT_TRUE(r.G.ge(0).all().item<bool>());
  EXPECT_LT(r.relative_error, 0.05);
  EXPECT_EQ(r.loss_history.size(), 300u);
  EXPECT_LE(r.loss_history.back(), r.loss_history.front());
  EXPECT_DOUBLE_EQ(r.best_loss, *std::min_element(r.loss_history.begin(), r.loss_history.end()));
  // Seeded: the same seed gives the same factors.
  SnmfResult again = semi_nmf(A, SnmfOptions().features(3).sparsity(1.0).max_iter(5));
  SnmfResult twice = semi_nmf(A, SnmfOptions().features(3).sparsity(1.0).max_iter(5));
  EXPECT_TRUE(torch::equal(again.F, twice.F));
  // Patience stops the run: with tol huge nothing after the first iteration is a new best.
  SnmfResult patient = semi_nmf(A, SnmfOptions().features(3).max_iter(100).patience(4).tol(1e30));
  EXPECT_EQ(patient.iterations, 5);
  EXPECT_EQ(patient.best_iteration, 0);
}

TEST(SnmfIteration, BadInput) {
  at::Tensor A = torch::rand({8, 30});
  EXPECT_NE(error_of([&] { semi_nmf(torch::rand({8}), SnmfOptions()); }).find("[d_mlp, samples]"), std::string::npos);
  at::Tensor bad = A.clone();
  bad[2][3] = std::nan("");
  EXPECT_NE(error_of([&] { semi_nmf(bad, SnmfOptions().features(2)); }).find("NaN"), std::string::npos);
  EXPECT_NE(error_of([&] { semi_nmf(A, SnmfOptions().features(2), torch::rand({8, 3}), torch::rand({30, 2})); })
                .find("F0 must be [8, 2]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { semi_nmf(A, SnmfOptions().features(2), torch::rand({8, 2}), {}); }).find("both"),
            std::string::npos);
  EXPECT_NE(error_of([&] { semi_nmf(A, SnmfOptions().features(2), torch::rand({8, 2}), -torch::rand({30, 2})); })
                .find("non-negative"),
            std::string::npos);
}

SnmfColumns columns_of(const at::Tensor& A) {
  return [A](int64_t b, int64_t e) { return A.slice(1, b, e); };
}

TEST(SnmfStreaming, EqualsInMemoryOnTheOfficialCase) {
  // Chunks of 300 columns (2000 is not a multiple): the same iterates up to float32 rounding.
  const at::Tensor A = load("A.npy");
  SnmfOptions o;
  o.features(16).sparsity(0.01).max_iter(20).patience(1000);
  const at::Tensor F0 = load("case0_F0.npy"), G0 = load("case0_G0.npy");
  SnmfResult whole = semi_nmf(A, o, F0, G0);
  SnmfStreamOptions stream;
  stream.chunk_columns = 300;
  SnmfResult streamed = semi_nmf_streaming(columns_of(A), 256, 2000, o, stream, F0, G0);
  ASSERT_EQ(streamed.loss_history.size(), whole.loss_history.size());
  for (size_t i = 0; i < whole.loss_history.size(); ++i)
    EXPECT_NEAR(streamed.loss_history[i], whole.loss_history[i], 1e-5 * whole.loss_history[i]) << i;
  EXPECT_EQ(streamed.best_iteration, whole.best_iteration);
  EXPECT_LT(relative_to_max(streamed.F, whole.F), 1e-4);
  EXPECT_LT(relative_to_max(streamed.G, whole.G), 1e-4);
  EXPECT_NEAR(streamed.relative_error, whole.relative_error, 1e-6);
}

TEST(SnmfStreaming, ResumedRunEndsWithTheSameFactors) {
  torch::manual_seed(1);
  const at::Tensor A = torch::randn({12, 90}, torch::kDouble);
  const std::string checkpoint = golgi::testing::scratch_dir("snmf_resume") + "/snmf.safetensors";
  SnmfOptions o;
  o.features(4).sparsity(0.5).max_iter(8).patience(100).seed(3);
  SnmfStreamOptions plain;
  plain.chunk_columns = 25;
  SnmfResult uninterrupted = semi_nmf_streaming(columns_of(A), 12, 90, o, plain);
  // "Interrupted" after 3 iterations, then resumed to 8.
  SnmfStreamOptions with_checkpoint = plain;
  with_checkpoint.checkpoint = checkpoint;
  with_checkpoint.resume = true;
  SnmfOptions first = o;
  first.max_iter(3);
  semi_nmf_streaming(columns_of(A), 12, 90, first, with_checkpoint);
  int64_t calls = 0;
  SnmfResult resumed = semi_nmf_streaming(columns_of(A), 12, 90, o, with_checkpoint, {}, {},
                                          [&](int64_t, double) { ++calls; });
  EXPECT_EQ(calls, 5) << "only the 5 missing iterations run";
  EXPECT_EQ(resumed.loss_history, uninterrupted.loss_history);
  EXPECT_TRUE(torch::equal(resumed.F, uninterrupted.F));
  EXPECT_TRUE(torch::equal(resumed.G, uninterrupted.G));
  // A checkpoint made with other options or data is refused, naming the fix.
  EXPECT_NE(error_of([&] { semi_nmf_streaming(columns_of(A), 12, 90, SnmfOptions(o).features(5), with_checkpoint); })
                .find("delete the checkpoint"),
            std::string::npos);
  EXPECT_NE(error_of([&] { semi_nmf_streaming(columns_of(A.slice(1, 0, 80)), 12, 80, o, with_checkpoint); })
                .find("delete the checkpoint"),
            std::string::npos);
}

TEST(SnmfStreaming, ChunkSizeForAMemoryBudget) {
  // d = 100, n = 1000, K = 10, float32: factors (100 + 2000)·10 + 100·10 = 22,000 elements =
  // 88,000 bytes; each column costs 2·100·4 = 800 bytes.
  EXPECT_EQ(snmf_chunk_columns_for_budget(100, 1000, 10, 4, 88000 + 800 * 37), 37);
  EXPECT_EQ(snmf_chunk_columns_for_budget(100, 1000, 10, 4, int64_t{1} << 40), 1000);
  EXPECT_NE(error_of([] { snmf_chunk_columns_for_budget(100, 1000, 10, 4, 80000); }).find("--max-memory"),
            std::string::npos);
}

}  // namespace
}  // namespace golgi::methods
