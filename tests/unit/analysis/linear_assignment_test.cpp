// Exact linear assignment: known problems (square, rectangular, negative, ties, maximize), a
// brute-force comparison over every injective matching for n <= 7, semi-matching and cycles.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "golgi/analysis/linear_assignment.h"
#include "golgi/core/error.h"
#include "test_support.h"

namespace {

namespace a = golgi::analysis;

// Checks that the result is a valid matching of min(rows, cols) pairs whose total is the sum.
void expect_valid(const a::Assignment& r, const std::vector<double>& w, int64_t rows, int64_t cols) {
  ASSERT_EQ(static_cast<int64_t>(r.row_to_col.size()), rows);
  ASSERT_EQ(static_cast<int64_t>(r.col_to_row.size()), cols);
  EXPECT_EQ(r.pairs(), std::min(rows, cols));
  double total = 0;
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t j = r.row_to_col[i];
    if (j < 0) continue;
    ASSERT_LT(j, cols);
    EXPECT_EQ(r.col_to_row[j], i);
    total += w[i * cols + j];
  }
  EXPECT_NEAR(total, r.total, 1e-9);
}

// The best total over all injective maps from the smaller side into the larger one.
double brute_force(const std::vector<double>& w, int64_t rows, int64_t cols, bool maximize) {
  const bool transpose = rows > cols;
  const int64_t n = transpose ? cols : rows, m = transpose ? rows : cols;
  auto at = [&](int64_t i, int64_t j) { return transpose ? w[j * cols + i] : w[i * cols + j]; };
  std::vector<int64_t> perm(m);
  std::iota(perm.begin(), perm.end(), 0);
  double best = maximize ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  // Every permutation of the m columns; the first n entries are the matching (repeats are harmless).
  do {
    double total = 0;
    for (int64_t i = 0; i < n; ++i) total += at(i, perm[i]);
    best = maximize ? std::max(best, total) : std::min(best, total);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

TEST(LinearAssignment, KnownSquareMinimum) {
  // The classic 3 x 3 example: rows -> columns (1, 0, 2), total 1 + 2 + 2 = 5.
  const std::vector<double> w = {4, 1, 3, 2, 0, 5, 3, 2, 2};
  const auto r = a::linear_assignment(w, 3, 3);
  expect_valid(r, w, 3, 3);
  EXPECT_DOUBLE_EQ(r.total, 5.0);
  EXPECT_EQ(r.row_to_col, (std::vector<int64_t>{1, 0, 2}));
  const auto rmax = a::linear_assignment(w, 3, 3, /*maximize=*/true);
  expect_valid(rmax, w, 3, 3);
  EXPECT_DOUBLE_EQ(rmax.total, 11.0);  // 4 + 5 + 2
}

TEST(LinearAssignment, RectangularBothWays) {
  // Wide: 2 rows, 4 columns: the best two distinct columns.
  const std::vector<double> wide = {9, 2, 7, 8, 6, 4, 3, 7};
  auto r = a::linear_assignment(wide, 2, 4);
  expect_valid(r, wide, 2, 4);
  EXPECT_DOUBLE_EQ(r.total, 2 + 3);  // row 0 -> col 1, row 1 -> col 2
  EXPECT_EQ(r.col_to_row[0], -1);
  // Tall: the transpose has the same optimum; unmatched rows are -1.
  std::vector<double> tall(8);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) tall[j * 2 + i] = wide[i * 4 + j];
  r = a::linear_assignment(tall, 4, 2);
  expect_valid(r, tall, 4, 2);
  EXPECT_DOUBLE_EQ(r.total, 5.0);
  EXPECT_EQ(r.row_to_col[0], -1);
  EXPECT_DOUBLE_EQ(a::linear_assignment(tall, 4, 2, true).total, 9 + 7);
}

TEST(LinearAssignment, NegativeWeightsAndTies) {
  const std::vector<double> neg = {-1, -5, -3, -2};
  EXPECT_DOUBLE_EQ(a::linear_assignment(neg, 2, 2).total, -8.0);       // -5 + -3
  EXPECT_DOUBLE_EQ(a::linear_assignment(neg, 2, 2, true).total, -3.0);  // -1 + -2
  const std::vector<double> same(25, 0.5);
  const auto r = a::linear_assignment(same, 5, 5, true);
  expect_valid(r, same, 5, 5);
  EXPECT_DOUBLE_EQ(r.total, 2.5);
  // Duplicate columns: either copy is optimal, the total is unique.
  const std::vector<double> dup = {0.9, 0.9, 0.1, 0.8, 0.8, 0.2};
  EXPECT_DOUBLE_EQ(a::linear_assignment(dup, 2, 3, true).total, 1.7);
}

TEST(LinearAssignment, MatchesBruteForceUpToSeven) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> real(-2.0, 2.0);
  std::uniform_int_distribution<int> small(-2, 2);
  int problems = 0;
  for (int64_t rows = 1; rows <= 7; ++rows)
    for (int64_t cols = 1; cols <= 7; ++cols) {
      if (std::max(rows, cols) > 7) continue;
      for (int trial = 0; trial < 3; ++trial) {
        std::vector<double> w(rows * cols);
        // Half the problems use a few integer values: many ties and duplicate rows/columns.
        for (auto& x : w) x = trial % 2 ? small(rng) : real(rng);
        for (bool maximize : {false, true}) {
          const auto r = a::linear_assignment(w, rows, cols, maximize);
          expect_valid(r, w, rows, cols);
          EXPECT_NEAR(r.total, brute_force(w, rows, cols, maximize), 1e-9)
              << rows << " x " << cols << " trial " << trial << (maximize ? " max" : " min");
          ++problems;
        }
      }
    }
  EXPECT_EQ(problems, 49 * 3 * 2);
}

TEST(LinearAssignment, EmptyAndBadInput) {
  EXPECT_EQ(a::linear_assignment({}, 0, 3).pairs(), 0);
  EXPECT_EQ(a::linear_assignment({}, 3, 0).row_to_col, (std::vector<int64_t>{-1, -1, -1}));
  const std::string nan_error = golgi::testing::error_of(
      [] { a::linear_assignment({1, std::nan(""), 2, 3}, 2, 2); });
  EXPECT_NE(nan_error.find("[0, 1]"), std::string::npos) << nan_error;
  EXPECT_NE(nan_error.find("not finite"), std::string::npos) << nan_error;
  EXPECT_THROW(a::linear_assignment({1, 2, 3}, 2, 2), golgi::Error);
  EXPECT_THROW(a::linear_assignment({1, std::numeric_limits<double>::infinity()}, 1, 2), golgi::Error);
}

TEST(LinearAssignment, RowArgmaxTakesTheLowestTiedColumn) {
  const std::vector<double> w = {0.1, 0.7, 0.7, 0.9, 0.2, 0.9, -1, -3, -2};
  EXPECT_EQ(a::row_argmax(w, 3, 3), (std::vector<int64_t>{1, 0, 0}));
  EXPECT_THROW(a::row_argmax(w, 3, 0), golgi::Error);
}

TEST(LinearAssignment, CyclesOfAKnownPermutation) {
  const auto cycles = a::permutation_cycles({1, 2, 0, 4, 3, 5});
  ASSERT_EQ(cycles.size(), 3u);
  EXPECT_EQ(cycles[0], (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(cycles[1], (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(cycles[2], (std::vector<int64_t>{5}));
  EXPECT_TRUE(a::permutation_cycles({}).empty());
  EXPECT_THROW(a::permutation_cycles({0, 0, 1}), golgi::Error);
  EXPECT_THROW(a::permutation_cycles({0, 3, 1}), golgi::Error);
}

}  // namespace
