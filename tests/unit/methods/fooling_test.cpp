// Unit tests of the fooling-images methods (paper id `fooling`): polynomial mutation and SBX
// against values from an independent transcription of Deb's NSGA-II formulas (python, below), CPPN
// rendering against hand-computed pixels, CPPN mutation invariants, the MAP-Elites archive's
// "take every cell you win" rule, and short MAP-Elites runs on a tiny seeded classifier.
//
// Known values: /usr/bin/python3 with
//   def pm(y, u, yl, yu, eta):
//       d1, d2, p = (y-yl)/(yu-yl), (yu-y)/(yu-yl), 1/(eta+1)
//       dq = (2*u+(1-2*u)*(1-d1)**(eta+1))**p-1 if u <= 0.5 else 1-(2*(1-u)+2*(u-0.5)*(1-d2)**(eta+1))**p
//       return min(max(y+dq*(yu-yl), yl), yu)
//   def sbx(a, b, u, yl, yu, eta):
//       y1, y2 = min(a, b), max(a, b)
//       def bq(beta):
//           alpha = 2-beta**(-(eta+1))
//           return (u*alpha)**(1/(eta+1)) if u <= 1/alpha else (1/(2-u*alpha))**(1/(eta+1))
//       return (min(max(0.5*((y1+y2)-bq(1+2*(y1-yl)/(y2-y1))*(y2-y1)), yl), yu),
//               min(max(0.5*((y1+y2)+bq(1+2*(yu-y2)/(y2-y1))*(y2-y1)), yl), yu))
#include <cmath>
#include <set>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/methods/fooling/cppn.h"
#include "golgi/methods/fooling/map_elites.h"
#include "golgi/methods/fooling/variation.h"
#include "golgi/models/registry.h"

namespace gm = golgi::methods;

namespace {

struct MutationCase {
  double x, u, lo, hi, eta, expected;
};

struct SbxCase {
  double x1, x2, u, lo, hi, eta, lower, upper;
};

std::shared_ptr<golgi::models::Model> tiny_classifier(std::vector<int64_t> input_shape = {1, 6, 6}) {
  torch::manual_seed(7);
  return golgi::models::make_model(
      "mlp", {{"input_shape", input_shape}, {"hidden", std::vector<int64_t>{16}}, {"classes", 4}});
}

}  // namespace

TEST(FoolingVariation, PolynomialMutationMatchesDebFormula) {
  const std::vector<MutationCase> cases = {
      {0.3, 0.2, 0, 1, 15, 0.24463432315808936},   {0.3, 0.9, 0, 1, 15, 0.3956961596244056},
      {0.95, 0.999, 0, 1, 15, 0.9998491211621834}, {0.02, 0.01, 0, 1, 15, 0.00046579765565800055},
      {1.0, 0.7, -3, 3, 15, 1.1881654954122902},   {0.3, 0.5, 0, 1, 15, 0.3},
  };
  for (const auto& c : cases)
    EXPECT_NEAR(gm::polynomial_mutation(c.x, c.u, c.lo, c.hi, c.eta), c.expected, 1e-12)
        << "x " << c.x << " u " << c.u;
}

TEST(FoolingVariation, PolynomialMutationReachesTheBoundsAtTheExtremeDraws) {
  EXPECT_DOUBLE_EQ(gm::polynomial_mutation(0.4, 0.0, 0, 1, 15), 0.0);
  EXPECT_DOUBLE_EQ(gm::polynomial_mutation(0.4, 1.0, 0, 1, 15), 1.0);
  EXPECT_DOUBLE_EQ(gm::polynomial_mutation(0.0, 0.1, 0, 1, 15), 0.0);  // at lo, a downward draw stays at lo
  EXPECT_DOUBLE_EQ(gm::polynomial_mutation(1.0, 0.9, 0, 1, 15), 1.0);
}

TEST(FoolingVariation, PolynomialMutationRejectsBadInput) {
  EXPECT_THROW(gm::polynomial_mutation(1.5, 0.3, 0, 1, 15), golgi::Error);
  EXPECT_THROW(gm::polynomial_mutation(0.5, 1.3, 0, 1, 15), golgi::Error);
  EXPECT_THROW(gm::polynomial_mutation(0.5, 0.3, 1, 1, 15), golgi::Error);
  EXPECT_THROW(gm::polynomial_mutation(0.5, 0.3, 0, 1, -1), golgi::Error);
}

TEST(FoolingVariation, SbxMatchesDebFormula) {
  const std::vector<SbxCase> cases = {
      {0.2, 0.6, 0.3, 0, 1, 10, 0.20907962120886686, 0.5909245677675491},
      {0.2, 0.6, 0.95, 0, 1, 10, 0.15353436753998184, 0.6465681458357325},
      {0.9, 0.1, 0.5, 0, 1, 10, 0.10159315706631028, 0.8984068429336898},
      {0.05, 0.97, 0.999, 0, 1, 10, 0.00024144742006815267, 0.9998662582007432},
      {-1, 2, 0.8, -3, 3, 10, -1.1302738031033672, 2.129229194477227},
  };
  for (const auto& c : cases) {
    const auto [lower, upper] = gm::sbx_crossover(c.x1, c.x2, c.u, c.lo, c.hi, c.eta);
    EXPECT_NEAR(lower, c.lower, 1e-12) << "u " << c.u;
    EXPECT_NEAR(upper, c.upper, 1e-12) << "u " << c.u;
  }
}

TEST(FoolingVariation, SbxCopiesEqualParentsAndRejectsBadInput) {
  const auto [a, b] = gm::sbx_crossover(0.4, 0.4, 0.9, 0, 1, 10);
  EXPECT_EQ(a, 0.4);
  EXPECT_EQ(b, 0.4);
  EXPECT_THROW(gm::sbx_crossover(0.4, 1.2, 0.5, 0, 1, 10), golgi::Error);
  EXPECT_THROW(gm::sbx_crossover(0.4, 0.5, -0.1, 0, 1, 10), golgi::Error);
  EXPECT_THROW(gm::sbx_crossover(0.4, 0.5, 0.5, 2, 1, 10), golgi::Error);
}

TEST(FoolingVariation, MutateGenomeUsesTheRateAndStaysInBounds) {
  golgi::SplitMix64 rng(11);
  std::vector<float> genes(20000, 0.5f);
  gm::mutate_genome(genes, gm::RealVariationOptions(), rng);
  int64_t changed = 0;
  for (float g : genes) {
    EXPECT_GE(g, 0.0f);
    EXPECT_LE(g, 1.0f);
    changed += g != 0.5f ? 1 : 0;
  }
  // Binomial(20000, 0.1): mean 2000, sd 42; the mutation moves a gene unless u is exactly 0.5.
  EXPECT_GT(changed, 1800);
  EXPECT_LT(changed, 2200);
  std::vector<float> untouched(100, 0.25f);
  gm::mutate_genome(untouched, gm::RealVariationOptions().mutation_rate(0.0), rng);
  for (float g : untouched) EXPECT_EQ(g, 0.25f);
}

TEST(FoolingVariation, CrossoverGenomesReplaysItsDraws) {
  // The operator's draws in order: cross or not; per gene exchange?, then u and the child order.
  const std::vector<float> a0 = {0.1f, 0.9f, 0.5f, 0.3f, 0.7f, 0.0f}, b0 = {0.6f, 0.2f, 0.5f, 0.8f, 0.1f, 1.0f};
  const auto options = gm::RealVariationOptions().cross_rate(1.0);
  std::vector<float> a = a0, b = b0;
  golgi::SplitMix64 rng(5), replay(5);
  gm::crossover_genomes(a, b, options, rng);
  replay.uniform();  // the cross decision (rate 1: always crossed)
  int64_t exchanged = 0;
  for (size_t i = 0; i < a0.size(); ++i) {
    if (replay.uniform() > 0.5) {
      EXPECT_EQ(a[i], a0[i]);
      EXPECT_EQ(b[i], b0[i]);
      continue;
    }
    ++exchanged;
    const auto [lower, upper] = gm::sbx_crossover(a0[i], b0[i], replay.uniform(), 0, 1, 10);
    const bool swap = replay.uniform() <= 0.5;
    EXPECT_FLOAT_EQ(a[i], static_cast<float>(swap ? upper : lower)) << "gene " << i;
    EXPECT_FLOAT_EQ(b[i], static_cast<float>(swap ? lower : upper)) << "gene " << i;
  }
  EXPECT_GT(exchanged, 0);
  std::vector<float> c = a0, d = b0;
  gm::crossover_genomes(c, d, gm::RealVariationOptions().cross_rate(0.0), rng);
  EXPECT_EQ(c, a0);
  EXPECT_EQ(d, b0);
  std::vector<float> short_genome(3, 0.5f);
  EXPECT_THROW(gm::crossover_genomes(c, short_genome, options, rng), golgi::Error);
}

TEST(FoolingCppn, RendersHandComputedPixels) {
  // pixel = |linear(1 · d)| = d: centre 0, corners 1, top middle 2 / sqrt(8) on a 5 x 5 image.
  gm::Cppn distance(gm::CppnActivation::kLinear);
  distance.connect(2, gm::Cppn::kOutput, 1.0);
  const at::Tensor d = distance.render(5, 5);
  EXPECT_NEAR(d[2][2].item<float>(), 0.0, 1e-6);
  EXPECT_NEAR(d[0][0].item<float>(), 1.0, 1e-6);
  EXPECT_NEAR(d[4][4].item<float>(), 1.0, 1e-6);
  EXPECT_NEAR(d[0][2].item<float>(), 2.0 / std::sqrt(8.0), 1e-6);

  // pixel = |2 sin(0.5 x) − 0.25| clipped at 1: x is the raw column index.
  gm::Cppn wave(gm::CppnActivation::kLinear);
  const int64_t hidden = wave.add_hidden(gm::CppnActivation::kSine, 0.5);
  wave.connect(0, hidden, 0.5);
  wave.connect(hidden, gm::Cppn::kOutput, 2.0);
  wave.connect(3, gm::Cppn::kOutput, -0.25);
  const at::Tensor w = wave.render(3, 7);
  for (int64_t y = 0; y < 3; ++y) {
    EXPECT_NEAR(w[y][0].item<float>(), 0.25, 1e-6);
    EXPECT_NEAR(w[y][1].item<float>(), 2 * std::sin(0.5) - 0.25, 1e-6);
    EXPECT_NEAR(w[y][3].item<float>(), 1.0, 1e-6);  // 2 sin(1.5) − 0.25 = 1.745, clipped
    EXPECT_NEAR(w[y][6].item<float>(), std::fabs(2 * std::sin(3.0) - 0.25), 1e-6);
  }

  // Gaussian of 0.5 y: exp(−(0.5 y)²); and the empty genomes f(0).
  gm::Cppn bump(gm::CppnActivation::kGaussian);
  bump.connect(1, gm::Cppn::kOutput, 0.5);
  EXPECT_NEAR(bump.render(4, 2)[2][1].item<float>(), std::exp(-1.0), 1e-6);
  EXPECT_NEAR(gm::Cppn(gm::CppnActivation::kSigmoid).render(2, 2)[1][1].item<float>(), 0.5, 1e-6);
  EXPECT_NEAR(gm::Cppn(gm::CppnActivation::kGaussian).render(2, 2)[0][1].item<float>(), 1.0, 1e-6);
  EXPECT_NEAR(gm::Cppn(gm::CppnActivation::kSine).render(2, 2)[0][0].item<float>(), 0.0, 1e-6);

  const at::Tensor batch = gm::render_cppns({distance, wave}, 5, 5);
  ASSERT_EQ(batch.sizes(), (std::vector<int64_t>{2, 1, 5, 5}));
  EXPECT_TRUE(torch::equal(batch[0][0], d));
}

TEST(FoolingCppn, HandConstructionRejectsBadGenomes) {
  gm::Cppn cppn;
  EXPECT_THROW(cppn.connect(gm::Cppn::kOutput, 0, 1.0), golgi::Error);  // backwards
  EXPECT_THROW(cppn.connect(0, 1, 1.0), golgi::Error);                  // input to input
  EXPECT_THROW(cppn.connect(0, 9, 1.0), golgi::Error);                  // no such node
  EXPECT_THROW(cppn.connect(0, gm::Cppn::kOutput, NAN), golgi::Error);
  cppn.connect(0, gm::Cppn::kOutput, 1.0);
  EXPECT_THROW(cppn.connect(0, gm::Cppn::kOutput, 2.0), golgi::Error);  // duplicate
  EXPECT_THROW(cppn.add_hidden(gm::CppnActivation::kSine, 1.0), golgi::Error);
  EXPECT_THROW(cppn.set_activation(2, gm::CppnActivation::kSine), golgi::Error);
  EXPECT_THROW(cppn.render(0, 3), golgi::Error);
}

TEST(FoolingCppn, MutationsKeepTheGenomeValid) {
  const auto options = gm::CppnOptions()
                           .add_connection_rate(0.8)
                           .remove_connection_rate(0.3)
                           .add_node_rate(0.6)
                           .remove_node_rate(0.2)
                           .max_hidden(12)
                           .max_connections(40);
  golgi::SplitMix64 rng(3);
  gm::Cppn cppn = gm::Cppn::random(options, rng);
  EXPECT_EQ(cppn.connections().size(), 4u);
  int64_t most_hidden = 0;
  for (int step = 0; step < 1500; ++step) {
    cppn.mutate(options, rng);
    most_hidden = std::max(most_hidden, cppn.hidden());
    ASSERT_LE(cppn.hidden(), options.max_hidden());
    ASSERT_LE(static_cast<int64_t>(cppn.connections().size()), options.max_connections());
    std::set<std::pair<int64_t, int64_t>> seen;
    for (const auto& c : cppn.connections()) {
      ASSERT_GE(c.from, 0);
      ASSERT_LT(c.to, cppn.nodes());
      ASSERT_GE(c.to, gm::Cppn::kInputs);
      ASSERT_LT(cppn.rank(c.from), cppn.rank(c.to));
      ASSERT_LE(std::fabs(c.weight), options.max_weight());
      ASSERT_TRUE(seen.insert({c.from, c.to}).second) << "duplicate connection";
    }
    if (step % 100 == 0) {
      const at::Tensor image = cppn.render(28, 28);
      ASSERT_TRUE(torch::isfinite(image).all().item<bool>());
      ASSERT_GE(image.min().item<float>(), 0.0f);
      ASSERT_LE(image.max().item<float>(), 1.0f);
    }
  }
  EXPECT_GT(most_hidden, 2);  // the add-node mutation did run

  // The same seed makes the same genome.
  golgi::SplitMix64 r1(9), r2(9);
  gm::Cppn g1 = gm::Cppn::random(options, r1), g2 = gm::Cppn::random(options, r2);
  for (int i = 0; i < 50; ++i) {
    g1.mutate(options, r1);
    g2.mutate(options, r2);
  }
  EXPECT_EQ(g1.to_json(), g2.to_json());
}

TEST(FoolingMapElites, ArchiveLetsAChildTakeEveryCellItWins) {
  gm::EliteArchive archive(3);
  EXPECT_TRUE(archive.filled_cells().empty());
  const at::Tensor first = torch::tensor({{0.5, 0.1, 0.3}, {0.2, 0.6, 0.3}, {0.5, 0.05, 0.2}}, torch::dtype(torch::kFloat64));
  EXPECT_EQ(archive.offer(first), (std::vector<int64_t>{0, 1, 0}));  // ties go to the first
  EXPECT_EQ(archive.fitness(), (std::vector<double>{0.5, 0.6, 0.3}));
  // One child beats two elites and takes both cells; an equal probability does not replace.
  const at::Tensor second = torch::tensor({{0.5, 0.7, 0.9}, {0.1, 0.65, 0.2}}, torch::dtype(torch::kFloat64));
  EXPECT_EQ(archive.offer(second), (std::vector<int64_t>{-1, 0, 0}));
  EXPECT_EQ(archive.fitness(), (std::vector<double>{0.5, 0.7, 0.9}));
  EXPECT_EQ(archive.filled_cells(), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_THROW(archive.offer(torch::ones({2, 4})), golgi::Error);
  EXPECT_THROW(archive.offer(torch::full({1, 3}, NAN)), golgi::Error);
  EXPECT_THROW(gm::EliteArchive(0), golgi::Error);
}

TEST(FoolingMapElites, ShortRunsImproveMonotonicallyAndRecordTrueProbabilities) {
  auto model = tiny_classifier();
  const auto options = gm::MapElitesOptions().generations(8).population(16).batch_size(7).seed(1).progress(false);
  for (const std::string encoding : {"direct", "cppn"}) {
    SCOPED_TRACE(encoding);
    const gm::MapElitesResult r =
        encoding == "direct" ? gm::map_elites_direct(*model, options) : gm::map_elites_cppn(*model, options);
    ASSERT_EQ(r.history.size(), 9u);
    EXPECT_EQ(r.evaluations, 16 * 9);
    ASSERT_EQ(r.images.sizes(), (std::vector<int64_t>{4, 1, 6, 6}));
    EXPECT_GE(r.images.min().item<float>(), 0.0f);
    EXPECT_LE(r.images.max().item<float>(), 1.0f);
    double gain = 0;
    for (size_t c = 0; c < 4; ++c) {
      EXPECT_GE(r.history[0][c], 0.0) << "every cell is filled by the random start";
      for (size_t g = 1; g < r.history.size(); ++g) EXPECT_GE(r.history[g][c], r.history[g - 1][c]);
      EXPECT_EQ(r.history.back()[c], r.probability[c]);
      gain += r.history.back()[c] - r.history.front()[c];
    }
    EXPECT_GT(gain, 0.0) << "eight generations found no better elite";
    // The recorded fitness is the model's probability of the stored elite image.
    const at::Tensor p = gm::fooling_probabilities(*model, r.images);
    for (int64_t c = 0; c < 4; ++c) EXPECT_NEAR(p[c][c].item<float>(), r.probability[c], 1e-5);
    EXPECT_NEAR(p.sum(1).mean().item<float>(), 1.0, 1e-5);
    EXPECT_EQ(r.first_generation(0.0), (std::vector<int64_t>(4, 0)));
    EXPECT_EQ(r.cells_reaching(0.0), 4);
    EXPECT_EQ(r.cells_reaching(1.5), 0);
    const golgi::Json j = r.to_json();
    EXPECT_EQ(j["generations"], 8);
    EXPECT_EQ(j["encoding"], encoding);
    EXPECT_EQ(j.contains("genomes"), encoding == "cppn");
    // Reproducible from the seed.
    const gm::MapElitesResult again =
        encoding == "direct" ? gm::map_elites_direct(*model, options) : gm::map_elites_cppn(*model, options);
    EXPECT_EQ(again.probability, r.probability);
  }
}

TEST(FoolingMapElites, RejectsBadOptionsAndModels) {
  auto model = tiny_classifier();
  EXPECT_THROW(gm::map_elites_direct(*model, gm::MapElitesOptions().population(0)), golgi::Error);
  EXPECT_THROW(gm::map_elites_direct(*model, gm::MapElitesOptions().input_std(0.0)), golgi::Error);
  EXPECT_THROW(gm::map_elites_direct(*model, {}, gm::RealVariationOptions().hi(2.0)), golgi::Error);
  EXPECT_THROW(gm::fooling_probabilities(*model, torch::rand({2, 1, 6, 6}), 0.2860, 0.0), golgi::Error);
  auto rgb = tiny_classifier({3, 4, 4});
  EXPECT_THROW(gm::map_elites_cppn(*rgb, gm::MapElitesOptions().generations(1).population(2)), golgi::Error);
}
