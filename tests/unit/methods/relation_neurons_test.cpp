// Relation neurons (paper id relation-neurons): known values worked out by hand in the comments.
// The cross-check against scikit-learn's average_precision_score on large random inputs with ties
// is tests/xcheck/relation_neurons_sklearn.sh.
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/methods/relation_neurons/relation_neurons.h"

namespace golgi::methods {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

at::Tensor f32(std::vector<float> v) { return torch::tensor(v, torch::kFloat); }
at::Tensor f64(std::vector<double> v) { return torch::tensor(v, torch::kDouble); }
at::Tensor i64(std::vector<int64_t> v) { return torch::tensor(v, torch::kLong); }

// AP straight from the definition, one threshold per distinct score, O(E^2): an independent
// reference for the sorted kernel.
double brute_force_ap(const std::vector<double>& s, const std::vector<int>& y) {
  std::set<double, std::greater<double>> thresholds(s.begin(), s.end());
  double positives = 0;
  for (int v : y) positives += v;
  double ap = 0, prev_recall = 0;
  for (double t : thresholds) {
    double tp = 0, fp = 0;
    for (size_t i = 0; i < s.size(); ++i)
      if (s[i] >= t) (y[i] ? tp : fp) += 1;
    const double recall = tp / positives;
    ap += (recall - prev_recall) * tp / (tp + fp);
    prev_recall = recall;
  }
  return ap;
}

TEST(RelationNeuronsAp, DistinctScores) {
  // Thresholds 0.9 (TP 1, FP 0: R 1/2, P 1), 0.8 (1, 1: no recall gained), 0.7 (2, 1: R 1, P 2/3):
  // AP = 1/2 · 1 + 1/2 · 2/3 = 5/6.
  EXPECT_NEAR(average_precision(f32({0.9f, 0.8f, 0.7f, 0.6f}), i64({1, 0, 1, 0})), 5.0 / 6.0, 1e-15);
  EXPECT_NEAR(average_precision(f64({0.9, 0.8, 0.7, 0.6}), i64({1, 0, 1, 0})), 5.0 / 6.0, 1e-15);
  // Order of the examples does not matter.
  EXPECT_NEAR(average_precision(f32({0.6f, 0.7f, 0.8f, 0.9f}), i64({0, 1, 0, 1})), 5.0 / 6.0, 1e-15);
}

TEST(RelationNeuronsAp, TiedScoresAreOneThreshold) {
  // One threshold 0.5 holds TP 2, FP 1: R 1, P 2/3. (Splitting the tie would give 5/6 or 1/2 + ...)
  EXPECT_NEAR(average_precision(f32({0.5f, 0.5f, 0.5f, 0.2f}), i64({1, 0, 1, 0})), 2.0 / 3.0, 1e-15);
  // Scores 3 | 2 2 2 | 1 1 with labels 0 | 1 0 1 | 1 0, 3 positives: threshold 3 adds no TP;
  // threshold 2: TP 2, FP 2 -> 2/3 · 1/2; threshold 1: TP 3, FP 3 -> 1/3 · 1/2. AP = 1/2.
  EXPECT_NEAR(average_precision(f32({3, 2, 2, 2, 1, 1}), i64({0, 1, 0, 1, 1, 0})), 0.5, 1e-15);
  EXPECT_NEAR(average_precision(f64({3, 2, 2, 2, 1, 1}), i64({0, 1, 0, 1, 1, 0})), 0.5, 1e-15);
}

TEST(RelationNeuronsAp, NegativeZeroTiesWithZero) {
  // -0.0 == 0.0, so they are one threshold: TP 1, FP 1 (1/2 · 1/2), then -1: TP 2, FP 1
  // (1/2 · 2/3): AP = 7/12. Keeping them apart would give 1/2 + 1/3 = 5/6.
  EXPECT_NEAR(average_precision(f32({0.0f, -0.0f, -1.0f}), i64({1, 0, 1})), 7.0 / 12.0, 1e-15);
  EXPECT_NEAR(average_precision(f64({0.0, -0.0, -1.0}), i64({1, 0, 1})), 7.0 / 12.0, 1e-15);
  EXPECT_NEAR(average_precision(f32({-0.0f, 0.0f, -1.0f}), i64({1, 0, 1})), 7.0 / 12.0, 1e-15);
}

TEST(RelationNeuronsAp, EdgeCases) {
  // All positive: precision is 1 at every threshold (scikit-learn: 1.0).
  EXPECT_DOUBLE_EQ(average_precision(f32({0.1f, 0.5f, 0.5f}), i64({1, 1, 1})), 1.0);
  // A single positive example.
  EXPECT_DOUBLE_EQ(average_precision(f32({0.3f}), i64({1})), 1.0);
  // A constant score: one threshold, P = positives / examples.
  EXPECT_NEAR(average_precision(f32({2, 2, 2, 2}), i64({1, 0, 0, 0})), 0.25, 1e-15);
  // Negative scores and bool labels.
  EXPECT_NEAR(average_precision(f32({-3, -1, -2}), torch::tensor({true, false, false})), 1.0 / 3.0, 1e-15);
  // No positive: scikit-learn warns and returns 0; golgi refuses, since recall = TP / 0.
  try {
    average_precision(f32({0.1f, 0.2f}), i64({0, 0}));
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no positive"), std::string::npos) << e.what();
  }
}

TEST(RelationNeuronsAp, BadInput) {
  EXPECT_THROW(average_precision(f32({}), i64({})), Error);                                    // empty
  EXPECT_THROW(average_precision(f32({0.1f, NAN}), i64({1, 0})), Error);                       // NaN
  EXPECT_THROW(average_precision(f64({0.1, INFINITY}), i64({1, 0})), Error);                   // infinity
  EXPECT_THROW(average_precision(f32({0.1f, 0.2f}), i64({1, 2})), Error);                      // label 2
  EXPECT_THROW(average_precision(f32({0.1f, 0.2f}), i64({1, -1})), Error);                     // label -1
  EXPECT_THROW(average_precision(f32({0.1f, 0.2f}), f32({1, 0})), Error);                      // float labels
  EXPECT_THROW(average_precision(f32({0.1f, 0.2f}), i64({1, 0, 1})), Error);                   // mismatch
  EXPECT_THROW(average_precision(i64({1, 2}), i64({1, 0})), Error);                            // integer scores
  EXPECT_THROW(average_precision(f32({0.1f, 0.2f}).view({1, 2}), i64({1})), Error);            // 2-D
  EXPECT_THROW(average_precision_columns(f32({0.1f, 0.2f}), i64({1, 0})), Error);              // 1-D
  EXPECT_THROW(average_precision_columns(torch::zeros({2, 3}), std::vector<int64_t>{0, 2},
                                         std::vector<uint8_t>{1, 0}),
               Error);  // row 2 of 2
  EXPECT_THROW(average_precision_columns(torch::zeros({2, 3}), std::vector<int64_t>{1, 1},
                                         std::vector<uint8_t>{1, 0}),
               Error);  // row listed twice
  try {
    auto x = torch::zeros({4, 3});
    x[2][1] = NAN;
    average_precision_columns(x, i64({1, 0, 1, 0}));
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("example 2, neuron 1"), std::string::npos) << e.what();
  }
}

TEST(RelationNeuronsAp, ColumnsMatchBruteForceWithTies) {
  // Quantised random scores (many ties) and more rows than the radix sort's small-input cut-off,
  // float32 and float64, whole matrix and a row subset.
  const int64_t E = 700, N = 37;
  SplitMix64 rng(derive_seed(7, "relation-neurons-test"));
  auto x = torch::empty({E, N}, torch::kFloat);
  auto y = torch::empty({E}, torch::kLong);
  auto xa = x.accessor<float, 2>();
  auto ya = y.accessor<int64_t, 1>();
  for (int64_t e = 0; e < E; ++e) {
    ya[e] = static_cast<int64_t>(rng.below(3) == 0);
    // Neuron n takes 2n + 2 levels -n/4 .. (n+1)/4: neuron 0 has only two values, so heavy ties.
    for (int64_t n = 0; n < N; ++n) xa[e][n] = static_cast<float>(static_cast<int64_t>(rng.below(2 * n + 2)) - n) * 0.25f;
  }
  const auto ap32 = average_precision_columns(x, y);
  const auto ap64 = average_precision_columns(x.to(torch::kDouble), y);
  ASSERT_EQ(ap32.scalar_type(), torch::kDouble);
  ASSERT_EQ(ap32.sizes().vec(), (std::vector<int64_t>{N}));
  std::vector<int> labels(E);
  for (int64_t e = 0; e < E; ++e) labels[e] = static_cast<int>(ya[e]);
  std::vector<int64_t> rows;
  std::vector<uint8_t> pos;
  for (int64_t e = E - 1; e >= 0; e -= 3) {
    rows.push_back(e);
    pos.push_back(static_cast<uint8_t>(labels[e]));
  }
  const auto ap_rows = average_precision_columns(x, rows, pos);
  for (int64_t n = 0; n < N; ++n) {
    std::vector<double> s(E), s_rows;
    std::vector<int> y_rows;
    for (int64_t e = 0; e < E; ++e) s[e] = xa[e][n];
    for (size_t i = 0; i < rows.size(); ++i) {
      s_rows.push_back(s[rows[i]]);
      y_rows.push_back(pos[i]);
    }
    const double ref = brute_force_ap(s, labels);
    EXPECT_NEAR(ap32[n].item<double>(), ref, 1e-12) << "neuron " << n;
    EXPECT_NEAR(ap64[n].item<double>(), ref, 1e-12) << "neuron " << n;
    EXPECT_NEAR(ap_rows[n].item<double>(), brute_force_ap(s_rows, y_rows), 1e-12) << "neuron " << n;
    // The single-vector API agrees with the column API.
    EXPECT_DOUBLE_EQ(average_precision(x.select(1, n), y), ap32[n].item<double>());
  }
}

TEST(RelationNeuronsAp, ManyBlocksAndThreadsAgreeWithSingleColumns) {
  // 3000 rows make blocks of 87 columns, so 300 columns span several blocks and both threads of
  // at::parallel_for; every column must equal its AP computed alone and the brute force.
  const int64_t E = 3000, N = 300;
  SplitMix64 rng(derive_seed(8, "relation-neurons-test"));
  auto x = torch::empty({E, N}, torch::kFloat);
  auto y = torch::empty({E}, torch::kLong);
  auto xa = x.accessor<float, 2>();
  auto ya = y.accessor<int64_t, 1>();
  for (int64_t e = 0; e < E; ++e) {
    ya[e] = static_cast<int64_t>(rng.below(5) == 0);
    for (int64_t n = 0; n < N; ++n)
      xa[e][n] = static_cast<float>(rng.below(9)) + (ya[e] && n % 7 == 0 ? 1.0f : 0.0f);  // 9-10 levels
  }
  const auto ap = average_precision_columns(x, y);
  std::vector<int> labels(E);
  for (int64_t e = 0; e < E; ++e) labels[e] = static_cast<int>(ya[e]);
  for (int64_t n = 0; n < N; ++n) {
    ASSERT_DOUBLE_EQ(ap[n].item<double>(), average_precision(x.select(1, n).contiguous(), y)) << "neuron " << n;
    if (n % 29 == 0) {
      std::vector<double> s(E);
      for (int64_t e = 0; e < E; ++e) s[e] = xa[e][n];
      EXPECT_NEAR(ap[n].item<double>(), brute_force_ap(s, labels), 1e-12) << "neuron " << n;
    }
  }
}

TEST(RelationNeuronsTop, TiesGoToTheLowerIndex) {
  const auto ap = f64({0.5, 0.9, 0.9, 0.1, 0.5});
  EXPECT_EQ(top_neurons(ap, 3), (std::vector<int64_t>{1, 2, 0}));
  EXPECT_EQ(top_neurons(ap, 4), (std::vector<int64_t>{1, 2, 0, 4}));
  EXPECT_EQ(top_neurons(ap, 0), (std::vector<int64_t>{}));
  EXPECT_EQ(top_neurons(ap, 5), (std::vector<int64_t>{1, 2, 0, 4, 3}));
  EXPECT_THROW(top_neurons(ap, 6), Error);
  EXPECT_THROW(top_neurons(f64({0.5, kNaN}), 1), Error);
}

// 3 relations: 0 has examples 0..3, 1 has 4..9, 2 has 10..29.
at::Tensor three_relation_labels() {
  std::vector<int64_t> y;
  for (int i = 0; i < 4; ++i) y.push_back(0);
  for (int i = 0; i < 6; ++i) y.push_back(1);
  for (int i = 0; i < 20; ++i) y.push_back(2);
  return i64(y);
}

TEST(RelationNeuronsExamples, PositivesAndSeededNegatives) {
  const auto y = three_relation_labels();
  auto correct = torch::ones({30}, torch::kBool);
  correct[1] = false;   // relation 0: positives 0, 2, 3
  correct[12] = false;  // relation 2: 19 positives
  const auto ex = relation_examples(y, correct, 3, RelationNeuronOptions().seed(11));
  ASSERT_EQ(ex.size(), 3u);
  EXPECT_EQ(ex[0].positives, (std::vector<int64_t>{0, 2, 3}));
  // 4 · 3 = 12 negatives from the 26 prompts of relations 1 and 2 (incorrect ones included).
  EXPECT_EQ(ex[0].negatives_requested, 12);
  EXPECT_EQ(ex[0].negatives_available, 26);
  EXPECT_FALSE(ex[0].negatives_short());
  ASSERT_EQ(ex[0].negatives.size(), 12u);
  EXPECT_TRUE(std::is_sorted(ex[0].negatives.begin(), ex[0].negatives.end()));
  EXPECT_EQ(std::set<int64_t>(ex[0].negatives.begin(), ex[0].negatives.end()).size(), 12u);
  for (int64_t e : ex[0].negatives) EXPECT_GE(e, 4);
  // Relation 2: 19 positives want 76 negatives, only 10 exist: all of them.
  EXPECT_EQ(ex[2].positives.size(), 19u);
  EXPECT_TRUE(ex[2].negatives_short());
  EXPECT_EQ(ex[2].negatives, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  // Reproducible: the same seed gives the same sets, another seed other sets.
  const auto again = relation_examples(y, correct, 3, RelationNeuronOptions().seed(11));
  const auto other = relation_examples(y, correct, 3, RelationNeuronOptions().seed(12));
  for (int r = 0; r < 3; ++r) EXPECT_EQ(again[r].negatives, ex[r].negatives);
  EXPECT_NE(other[0].negatives, ex[0].negatives);
  // negatives_correct_only drops example 1 and 12 from the candidates.
  const auto only = relation_examples(y, correct, 3, RelationNeuronOptions().negatives_correct_only(true));
  EXPECT_EQ(only[2].negatives, (std::vector<int64_t>{0, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(only[1].negatives_available, 22);
  // No correctness given: every prompt is correct.
  const auto all = relation_examples(y, at::Tensor(), 3, RelationNeuronOptions().negatives_per_positive(1));
  EXPECT_EQ(all[0].positives, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(all[0].negatives.size(), 4u);
}

TEST(RelationNeuronsExamples, BadInput) {
  const auto y = three_relation_labels();
  EXPECT_THROW(relation_examples(y, at::Tensor(), 2), Error);                      // label 2 with 2 relations
  EXPECT_THROW(relation_examples(i64({0, 0}), at::Tensor(), 1), Error);            // one relation
  EXPECT_THROW(relation_examples(y.to(torch::kFloat), at::Tensor(), 3), Error);    // float labels
  EXPECT_THROW(relation_examples(i64({0, -1}), at::Tensor(), 3), Error);           // negative label
  EXPECT_THROW(relation_examples(y, torch::ones({29}, torch::kBool), 3), Error);   // correctness length
  EXPECT_THROW(relation_examples(y, torch::full({30}, 2, torch::kLong), 3), Error);  // correctness 2
  EXPECT_THROW(relation_examples(y, at::Tensor(), 3, RelationNeuronOptions().negatives_per_positive(0)), Error);
  EXPECT_THROW(relation_examples(y, at::Tensor(), 3, RelationNeuronOptions().seed(-1)), Error);
}

TEST(RelationNeuronsSelect, FindsPlantedNeurons) {
  // 30 examples of 3 relations, 6 neurons. Neuron 4 fires on relation 0 only, neuron 1 on
  // relation 1 only, neuron 2 on relations 1 and 2; the rest is constant (AP = share of positives).
  const auto y = three_relation_labels();
  auto x = torch::zeros({30, 6}, torch::kFloat);
  for (int64_t e = 0; e < 30; ++e) {
    const int64_t r = y[e].item<int64_t>();
    if (r == 0) x[e][4] = 1.0f;
    if (r == 1) x[e][1] = 1.0f;
    if (r >= 1) x[e][2] = 2.0f;
  }
  auto correct = torch::ones({30}, torch::kLong);
  const auto sel = select_relation_neurons(x, y, correct, {"a", "b", "c"}, RelationNeuronOptions().top_n(1));
  EXPECT_EQ(sel.top_n, 1);
  EXPECT_EQ(sel.examples, 30);
  EXPECT_EQ(sel.neurons, 6);
  ASSERT_EQ(sel.sets.size(), 3u);
  EXPECT_EQ(sel.sets[0].neurons, (std::vector<int64_t>{4}));
  EXPECT_DOUBLE_EQ(sel.sets[0].ap[0], 1.0);
  EXPECT_EQ(sel.sets[0].positives, 4);
  EXPECT_EQ(sel.sets[0].negatives, 16);
  // Relation 1: 6 positives want 24 negatives, exactly the 24 prompts of relations 0 and 2. Neuron 1
  // separates it (AP 1); neuron 2 also fires on relation 2 (TP 6, FP 20: AP 6/26).
  EXPECT_EQ(sel.sets[1].neurons, (std::vector<int64_t>{1}));
  EXPECT_DOUBLE_EQ(sel.sets[1].ap[0], 1.0);
  EXPECT_EQ(sel.sets[1].negatives, 24);
  EXPECT_FALSE(sel.sets[1].negatives_short);
  EXPECT_NEAR(sel.ap[1][2].item<double>(), 6.0 / 26.0, 1e-15);
  // Relation 2 (20 positives, all 10 others as negatives, short): neuron 2 scores 2 on relation 1
  // as well: one threshold with TP 20, FP 6 -> AP 20/26; every other neuron is constant on
  // relation 2's examples or higher on the negatives: AP 20/30 for constants.
  EXPECT_TRUE(sel.sets[2].negatives_short);
  EXPECT_EQ(sel.sets[2].neurons, (std::vector<int64_t>{2}));
  EXPECT_NEAR(sel.sets[2].ap[0], 20.0 / 26.0, 1e-15);
  EXPECT_NEAR(sel.ap[2][0].item<double>(), 20.0 / 30.0, 1e-15);
  ASSERT_EQ(sel.ap.sizes().vec(), (std::vector<int64_t>{3, 6}));
  // Overlap: all sets distinct.
  EXPECT_EQ(sel.intersection[0][0], 1);
  EXPECT_EQ(sel.intersection[0][1], 0);
  EXPECT_DOUBLE_EQ(sel.jaccard[1][1], 1.0);
  EXPECT_DOUBLE_EQ(sel.jaccard[1][2], 0.0);

  // top_rate: round(0.5 · 6) = 3. Relation 1: neuron 1 (AP 1), 2 (6/26), then the AP 6/30 tie of
  // neurons 0, 3, 4, 5 goes to 0. Relation 2: neuron 2 (20/26), then the 20/30 tie of 0, 1, 3, 4, 5
  // goes to 0 and 1. Both sets are {0, 1, 2}.
  const auto sel3 = select_relation_neurons(x, y, correct, {"a", "b", "c"}, RelationNeuronOptions().top_rate(0.5));
  EXPECT_EQ(sel3.top_n, 3);
  EXPECT_EQ(sel3.sets[1].neurons, (std::vector<int64_t>{1, 2, 0}));
  EXPECT_EQ(sel3.sets[2].neurons, (std::vector<int64_t>{2, 0, 1}));
  EXPECT_EQ(sel3.intersection[1][2], 3);
  EXPECT_DOUBLE_EQ(sel3.jaccard[1][2], 1.0);
  // Relation 0: neuron 4, then every other neuron puts all positives at its lowest value (AP
  // 4/20): the tie goes to 0 and 1. With relation 1: {0, 1} of {0, 1, 2, 4}.
  EXPECT_EQ(sel3.sets[0].neurons, (std::vector<int64_t>{4, 0, 1}));
  EXPECT_EQ(sel3.intersection[0][1], 2);
  EXPECT_DOUBLE_EQ(sel3.jaccard[0][1], 0.5);

  const auto j = sel.to_json({"n0", "n1", "n2", "n3", "n4", "n5"});
  EXPECT_EQ(j["method"], "relation-neurons");
  EXPECT_EQ(j["sets"]["a"]["names"], Json::array({"n4"}));
  EXPECT_EQ(j["sets"]["c"]["negatives_short"], true);
  EXPECT_EQ(j["options"]["seed"], 0);
  EXPECT_EQ(j["overlap"]["intersection"][0][0], 1);
  EXPECT_THROW(sel.to_json({"n0"}), Error);
}

TEST(RelationNeuronsSelect, RelationWithoutCorrectPromptsIsSkipped) {
  const auto y = three_relation_labels();
  auto x = torch::rand({30, 5});
  auto correct = torch::ones({30}, torch::kLong);
  for (int e = 0; e < 4; ++e) correct[e] = 0;  // relation 0 never answered
  const auto sel = select_relation_neurons(x, y, correct, {"a", "b", "c"}, RelationNeuronOptions().top_n(2));
  EXPECT_EQ(sel.sets[0].status, "no_positives");
  EXPECT_TRUE(sel.sets[0].neurons.empty());
  EXPECT_TRUE(std::isnan(sel.ap[0][3].item<double>()));
  EXPECT_EQ(sel.sets[1].status, "ok");
  EXPECT_EQ(sel.sets[1].neurons.size(), 2u);
  EXPECT_DOUBLE_EQ(sel.jaccard[0][0], 0.0);  // both empty
  EXPECT_TRUE(sel.to_json()["sets"]["a"]["ap_mean"].is_null());
}

TEST(RelationNeuronsSelect, BadInput) {
  const auto y = three_relation_labels();
  const auto x = torch::rand({30, 5});
  const at::Tensor none;
  EXPECT_THROW(select_relation_neurons(x, y, none, {"a", "b"}), Error);             // label 2 unnamed
  EXPECT_THROW(select_relation_neurons(x, y, none, {"a", "b", "a"}), Error);        // duplicate name
  EXPECT_THROW(select_relation_neurons(x, y, none, {"a", "", "c"}), Error);         // empty name
  EXPECT_THROW(select_relation_neurons(x.narrow(0, 0, 29), y, none, {"a", "b", "c"}), Error);  // rows
  EXPECT_THROW(select_relation_neurons(x.to(torch::kLong), y, none, {"a", "b", "c"}), Error);  // dtype
  EXPECT_THROW(select_relation_neurons(x.view({30, 5, 1}), y, none, {"a", "b", "c"}), Error);  // 3-D
  EXPECT_THROW(select_relation_neurons(x, y, none, {"a", "b", "c"}, RelationNeuronOptions().top_n(6)), Error);
  EXPECT_THROW(select_relation_neurons(x, y, none, {"a", "b", "c"}, RelationNeuronOptions().top_rate(0.0)), Error);
  EXPECT_THROW(select_relation_neurons(x, y, none, {"a", "b", "c"}, RelationNeuronOptions().top_rate(1.5)), Error);
  auto bad = x.clone();
  bad[3][2] = INFINITY;
  EXPECT_THROW(select_relation_neurons(bad, y, none, {"a", "b", "c"}), Error);
}

TEST(RelationNeuronsOptions, SchemaRejectsUnknownAndOutOfRange) {
  RelationNeuronOptions o;
  const auto& s = RelationNeuronOptions::schema();
  EXPECT_THROW(s.apply(o, Json{{"top_m", 3}}), Error);
  EXPECT_THROW(s.apply(o, Json{{"top_n", -1}}), Error);
  EXPECT_THROW(s.apply(o, Json{{"negatives_per_positive", 0}}), Error);
  EXPECT_THROW(s.apply(o, Json{{"top_rate", "x"}}), Error);
  s.apply(o, Json{{"top_n", 7}, {"seed", 3}});
  EXPECT_EQ(o.top_n(), 7);
  EXPECT_EQ(o.seed(), 3);
}

TEST(RelationNeuronsDrop, MatrixWithZeroOriginalAccuracy) {
  // acc_orig (0.8, 0.5, 0): drop[0][0] = (0.8 - 0.2) / 0.8 = 0.75; drop[1][1] = (0.5 - 0.25) / 0.5;
  // a rise in accuracy is a negative drop; relation 2 has nothing to lose: NaN.
  const auto d = accuracy_drop({0.8, 0.5, 0.0}, {{0.2, 0.5, 0.0}, {0.9, 0.25, 0.0}});
  ASSERT_EQ(d.size(), 2u);
  EXPECT_DOUBLE_EQ(d[0][0], 0.75);
  EXPECT_DOUBLE_EQ(d[0][1], 0.0);
  EXPECT_TRUE(std::isnan(d[0][2]));
  EXPECT_DOUBLE_EQ(d[1][0], (0.8 - 0.9) / 0.8);
  EXPECT_DOUBLE_EQ(d[1][1], 0.5);
  EXPECT_TRUE(std::isnan(d[1][2]));
  EXPECT_THROW(accuracy_drop({}, {}), Error);
  EXPECT_THROW(accuracy_drop({0.5, 1.2}, {{0.5, 0.5}}), Error);
  EXPECT_THROW(accuracy_drop({0.5, 0.5}, {{0.5}}), Error);
  EXPECT_THROW(accuracy_drop({0.5, 0.5}, {{0.5, kNaN}}), Error);
  EXPECT_THROW(accuracy_drop({0.5, 0.5}, {{-0.1, 0.5}}), Error);
}

TEST(RelationNeuronsSpearman, AverageRanksForTies) {
  EXPECT_EQ(average_ranks({10, 20, 20, 5}), (std::vector<double>{2, 3.5, 3.5, 1}));
  EXPECT_EQ(average_ranks({1, 1, 1}), (std::vector<double>{2, 2, 2}));
  // y ranks (1, 2, 3.5, 5, 3.5) against x ranks 1..5: Σ dx·dy = 8, Σ dx² = 10, Σ dy² = 9.5:
  // ρ = 8 / sqrt(95) (scipy.stats.spearmanr: 0.8207826816681233).
  EXPECT_NEAR(spearman({1, 2, 3, 4, 5}, {5, 6, 7, 8, 7}), 8.0 / std::sqrt(95.0), 1e-15);
  // Accuracy falling as N grows: ρ = -1.
  EXPECT_DOUBLE_EQ(spearman({10, 100, 1000, 3000}, {0.9, 0.7, 0.4, 0.1}), -1.0);
  EXPECT_TRUE(std::isnan(spearman({1, 2, 3}, {0.5, 0.5, 0.5})));  // constant: undefined
  EXPECT_THROW(spearman({1}, {2}), Error);
  EXPECT_THROW(spearman({1, 2}, {2, 3, 4}), Error);
  EXPECT_THROW(spearman({1, kNaN}, {2, 3}), Error);
}

}  // namespace
}  // namespace golgi::methods
