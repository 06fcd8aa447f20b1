// repr-bias: variance explained by a feature (known values, η² identity, encodings, intercept,
// bad input), the streamed group variance, the bit features, the binary-heads network, the
// `variance-explained` atlas annotator against an independent per-neuron computation, and the CLI's
// bad-input paths.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>

#include <torch/torch.h>

#include "golgi/atlas/builder.h"
#include "golgi/atlas/sqlite.h"
#include "golgi/core/error.h"
#include "golgi/data/registry.h"
#include "golgi/hooks/scoped_hooks.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/methods/repr_bias/repr_bias.h"
#include "golgi/methods/repr_bias/variance_explained.h"
#include "golgi/models/model.h"
#include "golgi/models/registry.h"
#include "test_support.h"

namespace {

namespace m = golgi::methods;
using golgi::testing::error_of;

at::Tensor gen_normal(std::vector<int64_t> shape, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::normal(0.0, 1.0, shape, gen).to(torch::kFloat64);
}

at::Tensor gen_groups(int64_t n, int64_t k, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randint(k, {n}, gen, torch::kLong);
}

// η² by explicit loops over the rows: Σ_k n_k ‖m_k − m‖² / Σ_i ‖h_i − m‖².
double eta2_loops(const at::Tensor& rep, const at::Tensor& group) {
  const at::Tensor r = rep.to(torch::kFloat64).contiguous();
  const at::Tensor g = group.to(torch::kLong).contiguous();
  const int64_t n = r.size(0), d = r.size(1), K = g.max().item<int64_t>() + 1;
  auto ra = r.accessor<double, 2>();
  auto ga = g.accessor<int64_t, 1>();
  std::vector<double> mean(static_cast<size_t>(d), 0.0), gm(static_cast<size_t>(K * d), 0.0), gn(static_cast<size_t>(K), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    gn[static_cast<size_t>(ga[i])] += 1;
    for (int64_t j = 0; j < d; ++j) {
      mean[static_cast<size_t>(j)] += ra[i][j] / static_cast<double>(n);
      gm[static_cast<size_t>(ga[i] * d + j)] += ra[i][j];
    }
  }
  double between = 0, total = 0;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < d; ++j)
      if (gn[static_cast<size_t>(k)] > 0) {
        const double mk = gm[static_cast<size_t>(k * d + j)] / gn[static_cast<size_t>(k)];
        between += gn[static_cast<size_t>(k)] * (mk - mean[static_cast<size_t>(j)]) * (mk - mean[static_cast<size_t>(j)]);
      }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) total += (ra[i][j] - mean[static_cast<size_t>(j)]) * (ra[i][j] - mean[static_cast<size_t>(j)]);
  return between / total;
}

TEST(ReprBiasVarianceExplained, ExactLinearFunctionOfTheFeatureGivesOne) {
  // Scalar feature: h = a + v b for a continuous v.
  const at::Tensor a = gen_normal({5}, 1), b = gen_normal({5}, 2);
  const at::Tensor v_train = gen_normal({50}, 3), v_val = gen_normal({40}, 4), v_test = gen_normal({30}, 5);
  auto rep = [&](const at::Tensor& v) { return a + v.unsqueeze(1) * b; };
  auto r = m::variance_explained(rep(v_train), rep(v_val), v_val, rep(v_test), v_test);
  EXPECT_EQ(r.encoding, "scalar");  // auto: non-integer values
  EXPECT_NEAR(r.r2, 1.0, 1e-12);
  EXPECT_NEAR(r.r2_fit, 1.0, 1e-12);
  EXPECT_EQ(r.columns, 2);
  // Categorical feature: h = M[f] for 3 categories (any means, not on a line).
  const at::Tensor M = gen_normal({3, 4}, 6);
  const at::Tensor f_val = gen_groups(60, 3, 7), f_test = gen_groups(45, 3, 8);
  auto r1 = m::variance_explained(gen_normal({20, 4}, 9), M.index_select(0, f_val), f_val, M.index_select(0, f_test), f_test);
  EXPECT_EQ(r1.encoding, "one-hot");
  EXPECT_EQ(r1.columns, 3);  // intercept + 2 (the first category is the reference)
  EXPECT_EQ(r1.categories, (std::vector<double>{0, 1, 2}));
  EXPECT_NEAR(r1.r2, 1.0, 1e-12);
}

TEST(ReprBiasVarianceExplained, IndependentNoiseExplainsNothingOnTheTestSplit) {
  const at::Tensor f_val = gen_groups(2000, 2, 10), f_test = gen_groups(2000, 2, 11);
  auto r = m::variance_explained(gen_normal({2000, 16}, 12), gen_normal({2000, 16}, 13), f_val,
                                 gen_normal({2000, 16}, 14), f_test);
  // The fit picks up noise on the validation split, which does not carry over: R² ≈ 0 or below.
  EXPECT_LT(r.r2, 0.005);
  EXPECT_GT(r.r2, -0.01);
  EXPECT_GE(r.r2_fit, 0.0);  // with an intercept the fit never does worse than the mean on its own rows
  EXPECT_GE(r.r2_fit, r.r2);
}

TEST(ReprBiasVarianceExplained, BinaryFeatureR2EqualsEtaSquaredWhenSplitsCoincide) {
  const at::Tensor f = gen_groups(300, 2, 20);
  // Group-dependent means plus noise; a large common offset checks the centring.
  const at::Tensor h = 100.0 + gen_normal({300, 7}, 21) + f.unsqueeze(1).to(torch::kFloat64) * gen_normal({1, 7}, 22);
  const double expected = eta2_loops(h, f);
  EXPECT_GT(expected, 0.05);
  EXPECT_LT(expected, 0.95);
  for (const std::string encoding : {"one-hot", "scalar"}) {
    auto r = m::variance_explained(h, h, f, h, f, m::VarianceExplainedOptions().encoding(encoding));
    EXPECT_NEAR(r.r2, expected, 1e-10) << encoding;
  }
  auto eta = m::eta_squared(h, f);
  EXPECT_NEAR(eta.pooled, expected, 1e-10);
  ASSERT_EQ(eta.per_dimension.numel(), 7);
  for (int64_t j = 0; j < 7; ++j)
    EXPECT_NEAR(eta.per_dimension[j].item<double>(), eta2_loops(h.select(1, j).unsqueeze(1), f), 1e-10) << j;
}

TEST(ReprBiasVarianceExplained, OneHotAndScalarAgreeForABinaryFeature) {
  // Values 2 and 5 (not 0/1): with an intercept both encodings span {1, v}.
  const at::Tensor g_val = gen_groups(200, 2, 30), g_test = gen_groups(150, 2, 31);
  const at::Tensor v_val = g_val * 3 + 2, v_test = g_test * 3 + 2;
  const at::Tensor dir = gen_normal({1, 6}, 32);
  auto rep = [&](const at::Tensor& g, uint64_t seed) {
    return gen_normal({g.size(0), 6}, seed) + g.unsqueeze(1).to(torch::kFloat64) * dir;
  };
  const at::Tensor tr = rep(gen_groups(100, 2, 33), 34), va = rep(g_val, 35), te = rep(g_test, 36);
  auto one_hot = m::variance_explained(tr, va, v_val, te, v_test, m::VarianceExplainedOptions().encoding("one-hot"));
  auto scalar = m::variance_explained(tr, va, v_val, te, v_test, m::VarianceExplainedOptions().encoding("scalar"));
  EXPECT_EQ(one_hot.categories, (std::vector<double>{2, 5}));
  EXPECT_NEAR(one_hot.r2, scalar.r2, 1e-12);
  EXPECT_GT(one_hot.r2, 0.1);
  // The same fit from the 0/1 coding of the same feature.
  auto zero_one = m::variance_explained(tr, va, g_val, te, g_test);
  EXPECT_NEAR(zero_one.r2, one_hot.r2, 1e-12);
}

TEST(ReprBiasVarianceExplained, InterceptHandling) {
  // Training mean 0; val = test rows h = 1 + f, f half 0 and half 1.
  const at::Tensor train = torch::cat({torch::ones({10, 1}), -torch::ones({10, 1})}).to(torch::kFloat64);
  const at::Tensor f = torch::cat({torch::zeros({20}), torch::ones({20})}).to(torch::kFloat64);
  const at::Tensor h = (1.0 + f).unsqueeze(1);
  EXPECT_NEAR(m::variance_explained(train, h, f, h, f, m::VarianceExplainedOptions().encoding("scalar")).r2, 1.0, 1e-12);
  // Without an intercept the scalar fit is h = w f with w = Σ f h / Σ f² = 2: the f = 0 rows keep
  // residual 1 each, so R² = 1 − 20 / (20 · 1 + 20 · 4) = 0.8.
  auto no_intercept =
      m::variance_explained(train, h, f, h, f, m::VarianceExplainedOptions().encoding("scalar").intercept(false));
  EXPECT_EQ(no_intercept.columns, 1);
  EXPECT_NEAR(no_intercept.r2, 0.8, 1e-12);
  EXPECT_NEAR(no_intercept.weights[0][0].item<double>(), 2.0, 1e-12);
  // One-hot without an intercept keeps every category column: the same span as with one.
  auto one_hot = m::variance_explained(train, h, f, h, f, m::VarianceExplainedOptions().encoding("one-hot").intercept(false));
  EXPECT_EQ(one_hot.columns, 2);
  EXPECT_NEAR(one_hot.r2, 1.0, 1e-12);
  // The intercept row of W* is the validation mean of the reference category, relative to the centre.
  auto with = m::variance_explained(train, h, f, h, f, m::VarianceExplainedOptions().encoding("one-hot"));
  EXPECT_NEAR(with.weights[0][0].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(with.weights[1][0].item<double>(), 1.0, 1e-12);
}

TEST(ReprBiasVarianceExplained, BadInputIsOneClearError) {
  const at::Tensor h = gen_normal({20, 3}, 40);
  const at::Tensor f = gen_groups(20, 2, 41);
  EXPECT_NE(error_of([&] { m::variance_explained(h, gen_normal({20, 4}, 42), f, h, f); }).find("differ in width"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::variance_explained(h, h, f.narrow(0, 0, 19), h, f); }).find("has 19 rows"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::variance_explained(h, h, torch::zeros({20, 2}), h, f); }).find("[n] or [n, 1]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::variance_explained(h, h, f, h, f, m::VarianceExplainedOptions().encoding("bogus")); })
                .find("encoding"),
            std::string::npos);
  at::Tensor nan_rep = h.clone();
  nan_rep[3][1] = std::nan("");
  EXPECT_NE(error_of([&] { m::variance_explained(h, nan_rep, f, h, f); }).find("NaN"), std::string::npos);
  EXPECT_NE(error_of([&] { m::variance_explained(nan_rep, h, f, h, f); }).find("training representation contains NaN"),
            std::string::npos);
  at::Tensor nan_f = f.to(torch::kFloat64).clone();
  nan_f[0] = std::nan("");
  EXPECT_NE(error_of([&] { m::variance_explained(h, h, f, h, nan_f); }).find("test feature contains NaN"),
            std::string::npos);
  // A constant feature on the validation split: rank-deficient, R² undefined.
  const at::Tensor constant = torch::full({20}, 1.0, torch::kFloat64);
  for (const std::string encoding : {"one-hot", "scalar"})
    EXPECT_NE(error_of([&] {
                m::variance_explained(h, h, constant, h, f, m::VarianceExplainedOptions().encoding(encoding));
              }).find("constant on the validation split"),
              std::string::npos)
        << encoding;
  // A test category the fit never saw.
  EXPECT_NE(error_of([&] { m::variance_explained(h, h, f, h, f + 1); }).find("never shows"), std::string::npos);
  // One-hot needs integers.
  EXPECT_NE(error_of([&] {
              m::variance_explained(h, h, f + 0.5, h, f + 0.5, m::VarianceExplainedOptions().encoding("one-hot"));
            }).find("integer"),
            std::string::npos);
  // More design columns (intercept and value) than validation rows.
  EXPECT_NE(error_of([&] {
              m::variance_explained(h, h.narrow(0, 0, 1), torch::ones({1}), h, f.to(torch::kFloat64),
                                    m::VarianceExplainedOptions().encoding("scalar"));
            }).find("1 rows but the design has 2 columns"),
            std::string::npos);
  // A test split equal to the training mean on every row: nothing to explain.
  const at::Tensor flat = torch::zeros({20, 3}, torch::kFloat64);
  EXPECT_NE(error_of([&] { m::variance_explained(flat, h, f, flat, f); }).find("no variance"), std::string::npos);
  EXPECT_NE(error_of([&] { m::variance_explained(at::Tensor(), h, f, h, f); }).find("missing"), std::string::npos);
}

TEST(ReprBiasGroupVariance, StreamingMatchesOneShotAndSurvivesLargeOffsets) {
  const at::Tensor g = gen_groups(500, 4, 50);
  const at::Tensor base = gen_normal({500, 5}, 51) + gen_normal({4, 5}, 52).index_select(0, g);
  m::GroupVariance whole(4, 5), chunks(4, 5), offset(4, 5);
  whole.update(base, g);
  for (int64_t b = 0; b < 500; b += 37) {
    const int64_t len = std::min<int64_t>(37, 500 - b);
    chunks.update(base.narrow(0, b, len), g.narrow(0, b, len));
    offset.update(base.narrow(0, b, len) + 1e6, g.narrow(0, b, len));
  }
  EXPECT_EQ(whole.count(), 500);
  EXPECT_LT((whole.eta_squared() - chunks.eta_squared()).abs().max().item<double>(), 1e-12);
  // Shifted by the first batch's mean, a 1e6 offset costs ~1e-10 relative precision, not everything.
  EXPECT_LT((whole.eta_squared() - offset.eta_squared()).abs().max().item<double>(), 1e-8);
  EXPECT_NEAR(whole.pooled_eta_squared(), eta2_loops(base, g), 1e-10);
  const at::Tensor var = base.var(0, /*unbiased=*/false);
  EXPECT_LT((whole.variance() - var).abs().max().item<double>(), 1e-10);
  EXPECT_EQ(whole.group_counts().sum().item<int64_t>(), 500);
  // A constant dimension has no η² (NaN), the others are unaffected.
  m::GroupVariance with_constant(4, 2);
  with_constant.update(torch::stack({base.select(1, 0), torch::full({500}, 3.0, torch::kFloat64)}, 1), g);
  EXPECT_TRUE(std::isnan(with_constant.eta_squared()[1].item<double>()));
  EXPECT_NEAR(with_constant.eta_squared()[0].item<double>(), whole.eta_squared()[0].item<double>(), 1e-12);
  EXPECT_NE(error_of([&] { whole.update(base, g + 4); }).find("0..3"), std::string::npos);
  EXPECT_NE(error_of([&] { whole.update(base.narrow(1, 0, 2), g); }).find("[n, 5]"), std::string::npos);
}

TEST(ReprBiasFeatures, KnownValues) {
  at::Tensor bits = torch::zeros({4, 32});
  // Row 0: 3 of the first 5 bits set (easy = 1), bits 5..8 = 1,0,0,0 (parity 1).
  bits[0][0] = bits[0][2] = bits[0][4] = 1;
  bits[0][5] = 1;
  // Row 1: 2 of the first 5 (easy = 0), bits 5..8 = 1,1,0,0 (parity 0).
  bits[1][1] = bits[1][3] = 1;
  bits[1][5] = bits[1][6] = 1;
  // Row 2: all set: easy 1, parity of 4 ones = 0; bits 9, 10 = 1, 0.
  bits[2].fill_(1);
  bits[2][10] = 0;
  EXPECT_TRUE(torch::equal(m::easy_feature(bits), torch::tensor({1, 0, 1, 0}, torch::kLong)));
  EXPECT_TRUE(torch::equal(m::hard_feature(bits), torch::tensor({1, 0, 0, 0}, torch::kLong)));
  EXPECT_TRUE(torch::equal(m::parity_feature(bits, {9, 10}), torch::tensor({0, 0, 1, 0}, torch::kLong)));
  const double q = m::parity2_bit_probability(0.1);
  EXPECT_NEAR(2 * q * (1 - q), 0.1, 1e-15);
  EXPECT_NEAR(m::parity2_bit_probability(0.5), 0.5, 1e-15);
  EXPECT_NE(error_of([] { m::parity2_bit_probability(0.6); }).find("(0, 0.5]"), std::string::npos);
  EXPECT_NE(error_of([&] { m::hard_feature(bits.narrow(1, 0, 8)); }).find("bit 8"), std::string::npos);
}

TEST(ReprBiasFeatures, SampledBitsAreSeededAndHaveTheirProbabilities) {
  std::vector<double> p(32, 0.5);
  p[11] = 0.05;
  p[3] = 0.0;
  const at::Tensor a = m::sample_bits(20000, p, 7), b = m::sample_bits(20000, p, 7), c = m::sample_bits(20000, p, 8);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
  const at::Tensor mean = a.mean(0);
  EXPECT_NEAR(mean[0].item<double>(), 0.5, 0.015);
  EXPECT_NEAR(mean[11].item<double>(), 0.05, 0.006);
  EXPECT_EQ(mean[3].item<double>(), 0.0);
  // The rare parity is 1 in about 10% of samples when both bits have q.
  p[11] = p[12] = m::parity2_bit_probability(0.1);
  const double share = m::parity_feature(m::sample_bits(20000, p, 9), {11, 12}).to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(share, 0.1, 0.01);
  EXPECT_NE(error_of([] { m::sample_bits(10, {0.5, 1.5}, 0); }).find("bit 1"), std::string::npos);
}

TEST(ReprBiasNetwork, ShapesHooksAndHeadMasking) {
  auto options = m::ReprBiasModelOptions().inputs(12).hidden({16, 8}).features(2).seed(3);
  auto model = m::make_repr_bias_mlp(options);
  EXPECT_EQ(m::representation_hook(options), "layers.1.hook_post");
  const at::Tensor bits = m::sample_bits(256, std::vector<double>(12, 0.5), 5);
  const at::Tensor y = torch::stack({bits.select(1, 0).to(torch::kLong), bits.select(1, 1).to(torch::kLong)}, 1);
  EXPECT_EQ(model->forward(bits).sizes(), (std::vector<int64_t>{256, 4}));
  EXPECT_EQ(m::representation(*model, m::representation_hook(options), bits, 100).sizes(), (std::vector<int64_t>{256, 8}));
  // The same seed builds the same weights.
  auto twin = m::make_repr_bias_mlp(options);
  EXPECT_TRUE(torch::equal(model->forward(bits), twin->forward(bits)));
  // Training head 0 only leaves head 1's output weights exactly as they were (no gradient, and
  // Adam moves nothing without one), and lowers head 0's loss.
  at::Tensor head_weight;
  for (const auto& p : model->named_parameters())
    if (p.key() == "head.weight") head_weight = p.value();
  ASSERT_TRUE(head_weight.defined());
  const at::Tensor before = head_weight.detach().clone();
  auto training = m::train_binary_heads(*model, bits, y,
                                        m::BinaryHeadsTrainOptions().steps(60).batch_size(32).lr(1e-2).heads({0}).log_every(20));
  ASSERT_EQ(training.history.size(), 3u);
  EXPECT_LT(training.history[2]["loss"].get<double>(), training.history[0]["loss"].get<double>());
  EXPECT_TRUE(torch::equal(head_weight.detach().narrow(0, 2, 2), before.narrow(0, 2, 2)));
  EXPECT_FALSE(torch::equal(head_weight.detach().narrow(0, 0, 2), before.narrow(0, 0, 2)));
  const auto accuracy = m::head_accuracy(*model, bits, y);
  ASSERT_EQ(accuracy.size(), 2u);
  EXPECT_GT(accuracy[0], 0.9);  // a single input bit, 60 steps
  // The criterion: stop check_every-aligned once head 0 is at 90% on the validation rows, then 10 more.
  auto twin_training = m::train_binary_heads(
      *twin, bits, y,
      m::BinaryHeadsTrainOptions().steps(1000).batch_size(32).lr(1e-2).heads({0}).until_accuracy(0.9).check_every(20)
          .extra_steps(10),
      bits, y);
  ASSERT_GT(twin_training.criterion_step, 0);
  EXPECT_EQ(twin_training.criterion_step % 20, 0);
  EXPECT_EQ(twin_training.steps, twin_training.criterion_step + 10);
  EXPECT_GE(m::head_accuracy(*twin, bits, y)[0], 0.9);
  EXPECT_NE(error_of([&] { m::train_binary_heads(*model, bits, y, m::BinaryHeadsTrainOptions().until_accuracy(0.9)); })
                .find("validation"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::train_binary_heads(*model, bits, y, m::BinaryHeadsTrainOptions().heads({2})); })
                .find("head 2"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::train_binary_heads(*model, bits, y * 2, m::BinaryHeadsTrainOptions()); }).find("0 or 1"),
            std::string::npos);
}

TEST(ReprBiasAnnotator, PerNeuronEtaSquaredMatchesAnIndependentComputation) {
  const std::string dir = golgi::testing::scratch_dir("repr_bias_annotator");
  // A random (untrained) MLP on Fashion-MNIST images (the atlas stores image exemplars, so the
  // inputs must be images): η² does not need a trained model.
  torch::manual_seed(11);
  auto model = golgi::models::make_model("mlp", golgi::Json{{"hidden", golgi::Json::array({8, 6})}, {"classes", 10}});
  golgi::models::save_model(dir + "/model", *model, {{"dataset", {{"name", "fashion-mnist"}}}});
  auto options = golgi::atlas::AtlasBuildOptions()
                     .model(dir + "/model")
                     .out(dir + "/atlas.db")
                     .annotators({"variance-explained"})
                     .limit(300)
                     .exemplars(2)
                     .progress(false);
  auto built = golgi::atlas::build_atlas(options);
  ASSERT_TRUE(built.annotators.contains("variance-explained")) << built.annotators.dump();

  // Independent: the test split's first 300 examples through the model, η² per neuron by loops.
  golgi::data::DataOptions data_options;
  data_options.split = "test";
  auto data = golgi::data::load_dataset("fashion-mnist", data_options)->head(300);
  std::map<std::string, at::Tensor> acts;
  {
    std::vector<golgi::hooks::HookGuard> guards;
    for (const std::string hook : {"layers.0.hook_post", "layers.1.hook_post", "head.hook_out"})
      guards.push_back(golgi::hooks::read_hook(*model, hook, [&acts, hook](const at::Tensor& a) { acts[hook] = a.detach().clone(); }));
    torch::NoGradGuard no_grad;
    model->forward(data->inputs());
  }
  golgi::atlas::Database db(dir + "/atlas.db", golgi::atlas::Database::Mode::ReadOnly);
  auto q = db.prepare(
      "SELECT h.name, n.idx, a.score, a.label, a.kind FROM annotations a JOIN neurons n ON n.id = a.neuron_id "
      "JOIN hooks h ON h.id = n.hook_id WHERE a.method = 'variance-explained'");
  int64_t rows = 0;
  std::map<std::string, int64_t> per_hook;
  while (q.step()) {
    const std::string hook = q.text(0);
    const int64_t idx = q.integer(1);
    ASSERT_TRUE(acts.count(hook)) << hook;
    const at::Tensor column = acts[hook].select(1, idx).unsqueeze(1);
    EXPECT_NEAR(q.real(2), eta2_loops(column, data->targets()), 1e-6) << hook << ":" << idx;
    EXPECT_EQ(q.text(3), "class");
    EXPECT_EQ(q.text(4), "variance_explained");
    ++rows;
    ++per_hook[hook];
  }
  // Every neuron that varies is annotated, and no constant (dead) one.
  int64_t varying = 0;
  for (const auto& [hook, a] : acts)
    for (int64_t j = 0; j < a.size(1); ++j)
      if (a.select(1, j).max().item<double>() > a.select(1, j).min().item<double>()) ++varying;
  EXPECT_EQ(rows, varying);
  EXPECT_EQ(per_hook["head.hook_out"], 10);
}

TEST(ReprBiasCli, VarianceExplainedBadInputExitsTwo) {
  const std::string dir = golgi::testing::scratch_dir("repr_bias_cli");
  at::Tensor h = gen_normal({10, 3}, 60);
  golgi::io::save_npy(dir + "/h.npy", h);
  golgi::io::save_npy(dir + "/f.npy", gen_groups(10, 2, 61));
  h[2][2] = std::nan("");
  golgi::io::save_npy(dir + "/nan.npy", h);
  const std::string files = " --train-reps " + dir + "/h.npy --test-reps " + dir + "/h.npy --val-feature " + dir +
                            "/f.npy --test-feature " + dir + "/f.npy";
  auto ok = golgi::testing::run_cli("analyze variance-explained --val-reps " + dir + "/h.npy" + files + " --out " + dir +
                                    "/r.json");
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_NE(ok.out.find("\"r2\""), std::string::npos) << ok.out;
  std::ifstream written(dir + "/r.json");
  EXPECT_TRUE(written.good());
  auto nan = golgi::testing::run_cli("analyze variance-explained --val-reps " + dir + "/nan.npy" + files);
  EXPECT_EQ(nan.exit_code, 2) << nan.out;
  EXPECT_NE(nan.out.find("NaN"), std::string::npos) << nan.out;
  auto neither = golgi::testing::run_cli("analyze variance-explained");
  EXPECT_EQ(neither.exit_code, 2) << neither.out;
  EXPECT_NE(neither.out.find("either representation files"), std::string::npos) << neither.out;
  auto missing = golgi::testing::run_cli("analyze variance-explained --val-reps " + dir + "/absent.npy" + files);
  EXPECT_EQ(missing.exit_code, 2) << missing.out;
  EXPECT_NE(missing.out.find("absent.npy"), std::string::npos) << missing.out;
}

}  // namespace
