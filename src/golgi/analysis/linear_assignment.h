// Exact linear assignment (maximum- or minimum-weight bipartite matching), semi-matching and the
// cycles of a permutation. Torch-free: matrices are row-major std::vector<double>.
//
// The assignment problem: given weights W [rows, cols], choose k = min(rows, cols) pairs (i, j),
// no row and no column twice, that minimise (or, with maximize, maximise) sum W[i, j]. This is
// what scipy.optimize.linear_sum_assignment solves, and its total is what tests/xcheck compares.
//
// Algorithm: the Hungarian method in its shortest-augmenting-path form with dual potentials
// (Kuhn 1955, Munkres 1957; the O(n^2 m) row-by-row formulation of Jonker & Volgenant 1987,
// "A shortest augmenting path algorithm for dense and sparse linear assignment problems",
// Computing 38). Each row is added in turn and a Dijkstra-like search over reduced costs
// W[i, j] - u[i] - v[j] >= 0 finds the cheapest augmenting path; the potentials keep the reduced
// costs non-negative, so after the last row the matching is optimal (complementary slackness).
// Time O(n^2 m) for n = min(rows, cols), m = max(rows, cols); memory O(m). A wide matrix is solved
// directly; a tall one is solved transposed. Maximisation negates the weights. Ties are allowed;
// which of several optimal matchings is returned is unspecified, the total is not.
//
// Used by methods/convergent (Li et al. 2016, one-to-one unit alignment between two networks).
#pragma once

#include <cstdint>
#include <vector>

namespace golgi::analysis {

struct Assignment {
  std::vector<int64_t> row_to_col;  // [rows]: the matched column, -1 for unmatched rows (rows > cols)
  std::vector<int64_t> col_to_row;  // [cols]: the matched row, -1 for unmatched columns (cols > rows)
  double total = 0;                 // sum of the weights of the matched pairs
  int64_t pairs() const;            // min(rows, cols)
};

// weights: row-major [rows, cols], every entry finite (golgi::Error otherwise, naming the entry).
// rows or cols may be 0 (an empty matching, total 0).
Assignment linear_assignment(const std::vector<double>& weights, int64_t rows, int64_t cols, bool maximize = false);

// Semi-matching: for each row the column with the largest weight (ties: the lowest column index).
// Several rows may pick the same column. weights [rows, cols], cols >= 1.
std::vector<int64_t> row_argmax(const std::vector<double>& weights, int64_t rows, int64_t cols);

// The cycles of a permutation perm (perm[i] = image of i; must be a permutation of 0..n-1, else
// golgi::Error). Each cycle starts at its smallest element, cycles sorted by that element; fixed
// points are cycles of length 1.
std::vector<std::vector<int64_t>> permutation_cycles(const std::vector<int64_t>& perm);

}  // namespace golgi::analysis
