// Exact linear assignment by shortest augmenting paths with potentials; see linear_assignment.h.
#include "golgi/analysis/linear_assignment.h"

#include <cmath>
#include <limits>
#include <string>

#include "golgi/core/error.h"

namespace golgi::analysis {

int64_t Assignment::pairs() const {
  int64_t n = 0;
  for (auto j : row_to_col) n += j >= 0;
  return n;
}

namespace {

// Minimises over cost [n, m] (row-major) with n <= m; returns the column of each row.
// Potentials u (rows) and v (columns) with 1-based indices; index 0 is the virtual source column
// from which each new row's augmenting path starts.
std::vector<int64_t> solve_wide(const std::vector<double>& cost, int64_t n, int64_t m) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0.0), v(m + 1, 0.0), min_reduced(m + 1);
  std::vector<int64_t> row_of(m + 1, 0), previous(m + 1, 0);  // row_of[j]: 1-based row on column j, 0: free
  std::vector<char> visited(m + 1);
  for (int64_t i = 1; i <= n; ++i) {
    row_of[0] = i;
    int64_t j0 = 0;
    std::fill(min_reduced.begin(), min_reduced.end(), inf);
    std::fill(visited.begin(), visited.end(), 0);
    // Grow a shortest-path tree over columns until it reaches a free column.
    do {
      visited[j0] = 1;
      const int64_t i0 = row_of[j0];
      double delta = inf;
      int64_t j1 = 0;
      const double* row = cost.data() + (i0 - 1) * m;
      for (int64_t j = 1; j <= m; ++j) {
        if (visited[j]) continue;
        const double reduced = row[j - 1] - u[i0] - v[j];
        if (reduced < min_reduced[j]) {
          min_reduced[j] = reduced;
          previous[j] = j0;
        }
        if (min_reduced[j] < delta) {
          delta = min_reduced[j];
          j1 = j;
        }
      }
      GOLGI_ASSERT(j1 > 0, "linear_assignment: no augmenting path (non-finite reduced costs)");
      // Shift the potentials so the tree's edges stay tight and the new column's edge becomes tight.
      for (int64_t j = 0; j <= m; ++j) {
        if (visited[j]) {
          u[row_of[j]] += delta;
          v[j] -= delta;
        } else {
          min_reduced[j] -= delta;
        }
      }
      j0 = j1;
    } while (row_of[j0] != 0);
    // Augment: flip the matched/unmatched edges along the path back to the source.
    do {
      const int64_t j1 = previous[j0];
      row_of[j0] = row_of[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<int64_t> col_of_row(n, -1);
  for (int64_t j = 1; j <= m; ++j)
    if (row_of[j] > 0) col_of_row[row_of[j] - 1] = j - 1;
  return col_of_row;
}

}  // namespace

Assignment linear_assignment(const std::vector<double>& weights, int64_t rows, int64_t cols, bool maximize) {
  GOLGI_CHECK(rows >= 0 && cols >= 0, "linear_assignment: rows and cols must be >= 0, got " + std::to_string(rows) +
                                          " x " + std::to_string(cols));
  GOLGI_CHECK(static_cast<int64_t>(weights.size()) == rows * cols,
              "linear_assignment: weights hold " + std::to_string(weights.size()) + " entries, expected rows x cols = " +
                  std::to_string(rows * cols));
  for (size_t k = 0; k < weights.size(); ++k)
    GOLGI_CHECK(std::isfinite(weights[k]), "linear_assignment: weight [" + std::to_string(k / cols) + ", " +
                                               std::to_string(k % cols) +
                                               "] is not finite; replace NaN/inf (e.g. dead units' correlations by 0)");
  Assignment result;
  result.row_to_col.assign(rows, -1);
  result.col_to_row.assign(cols, -1);
  if (rows == 0 || cols == 0) return result;
  const double sign = maximize ? -1.0 : 1.0;
  const bool transpose = rows > cols;
  const int64_t n = transpose ? cols : rows, m = transpose ? rows : cols;
  std::vector<double> cost(static_cast<size_t>(n * m));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      cost[transpose ? j * m + i : i * m + j] = sign * weights[i * cols + j];
  const std::vector<int64_t> match = solve_wide(cost, n, m);
  for (int64_t a = 0; a < n; ++a) {
    const int64_t i = transpose ? match[a] : a, j = transpose ? a : match[a];
    GOLGI_ASSERT(i >= 0 && j >= 0, "linear_assignment: incomplete matching");
    result.row_to_col[i] = j;
    result.col_to_row[j] = i;
    result.total += weights[i * cols + j];
  }
  return result;
}

std::vector<int64_t> row_argmax(const std::vector<double>& weights, int64_t rows, int64_t cols) {
  GOLGI_CHECK(rows >= 0 && cols >= 1, "row_argmax: need rows >= 0 and cols >= 1, got " + std::to_string(rows) + " x " +
                                          std::to_string(cols));
  GOLGI_CHECK(static_cast<int64_t>(weights.size()) == rows * cols,
              "row_argmax: weights hold " + std::to_string(weights.size()) + " entries, expected " +
                  std::to_string(rows * cols));
  std::vector<int64_t> best(rows, 0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 1; j < cols; ++j)
      if (weights[i * cols + j] > weights[i * cols + best[i]]) best[i] = j;
  return best;
}

std::vector<std::vector<int64_t>> permutation_cycles(const std::vector<int64_t>& perm) {
  const int64_t n = static_cast<int64_t>(perm.size());
  std::vector<char> seen(n, 0);
  for (int64_t i = 0; i < n; ++i) {
    GOLGI_CHECK(perm[i] >= 0 && perm[i] < n && !seen[perm[i]],
                "permutation_cycles: entry " + std::to_string(i) + " = " + std::to_string(perm[i]) +
                    " makes this not a permutation of 0.." + std::to_string(n - 1) +
                    " (out of range or repeated); cycles exist only for square one-to-one matchings");
    seen[perm[i]] = 1;
  }
  std::fill(seen.begin(), seen.end(), 0);
  std::vector<std::vector<int64_t>> cycles;
  for (int64_t start = 0; start < n; ++start) {
    if (seen[start]) continue;
    std::vector<int64_t> cycle;
    for (int64_t i = start; !seen[i]; i = perm[i]) {
      seen[i] = 1;
      cycle.push_back(i);
    }
    cycles.push_back(std::move(cycle));
  }
  return cycles;
}

}  // namespace golgi::analysis
