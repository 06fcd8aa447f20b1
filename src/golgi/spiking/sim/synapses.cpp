#include "golgi/spiking/sim/synapses.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "golgi/core/seed.h"

namespace golgi::spiking::sim {

template <typename T>
uint16_t Csr<T>::max_delay() const {
  uint16_t m = 0;
  for (auto d : delay) m = std::max(m, d);
  return m;
}

template <typename T>
bool Csr<T>::uniform_delay() const {
  for (auto d : delay)
    if (d != delay.front()) return false;
  return true;
}

template <typename T>
void Csr<T>::build_incoming() {
  col_ptr.assign(n_post + 1, 0);
  for (auto j : post) ++col_ptr[j + 1];
  for (int64_t j = 0; j < n_post; ++j) col_ptr[j + 1] += col_ptr[j];
  col_syn.assign(post.size(), 0);
  std::vector<int64_t> fill(col_ptr.begin(), col_ptr.end() - 1);
  for (int64_t i = 0; i < n_pre; ++i)
    for (int64_t k = row_ptr[i]; k < row_ptr[i + 1]; ++k) col_syn[fill[post[k]]++] = k;
}

template <typename T>
Csr<T> csr_from_triplets(int64_t n_pre, int64_t n_post, const std::vector<int32_t>& pre,
                         const std::vector<int32_t>& post, const std::vector<double>& weight,
                         const std::vector<int64_t>& delay) {
  const size_t n = pre.size();
  GOLGI_CHECK(post.size() == n && weight.size() == n && delay.size() == n, "synapse lists differ in length: pre ",
              n, ", post ", post.size(), ", weight ", weight.size(), ", delay ", delay.size());
  for (size_t k = 0; k < n; ++k) {
    GOLGI_CHECK(pre[k] >= 0 && pre[k] < n_pre, "synapse ", k, ": pre ", pre[k], " is outside [0, ", n_pre, ")");
    GOLGI_CHECK(post[k] >= 0 && post[k] < n_post, "synapse ", k, ": post ", post[k], " is outside [0, ", n_post, ")");
    GOLGI_CHECK(delay[k] >= 0 && delay[k] <= 65535, "synapse ", k, ": delay ", delay[k],
                " is outside [0, 65535] steps");
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return pre[a] != pre[b] ? pre[a] < pre[b] : post[a] < post[b];
  });
  Csr<T> c;
  c.n_pre = n_pre;
  c.n_post = n_post;
  c.row_ptr.assign(n_pre + 1, 0);
  c.post.resize(n);
  c.weight.resize(n);
  c.delay.resize(n);
  for (size_t k = 0; k < n; ++k) {
    size_t s = order[k];
    ++c.row_ptr[pre[s] + 1];
    c.post[k] = post[s];
    c.weight[k] = static_cast<T>(weight[s]);
    c.delay[k] = static_cast<uint16_t>(delay[s]);
  }
  for (int64_t i = 0; i < n_pre; ++i) c.row_ptr[i + 1] += c.row_ptr[i];
  return c;
}

template <typename T>
Csr<T> csr_fixed_probability(int64_t n_pre, int64_t n_post, double p, bool autapses, double w, int64_t d,
                             uint64_t seed) {
  GOLGI_CHECK(p >= 0 && p <= 1, "connection probability must be in [0, 1], got ", p);
  GOLGI_CHECK(d >= 0 && d <= 65535, "delay must be in [0, 65535] steps, got ", d);
  Csr<T> c;
  c.n_pre = n_pre;
  c.n_post = n_post;
  c.row_ptr.assign(n_pre + 1, 0);
  c.post.reserve(static_cast<size_t>(p * n_pre * n_post * 1.05 + 16));
  // Geometric skipping draws one number per synapse instead of one per pair: the gap to the next
  // connected target is the number of failures before a success of Bernoulli(p).
  const double log_q = p < 1 ? std::log1p(-p) : -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n_pre; ++i) {
    if (p > 0) {
      SplitMix64 rng(derive_seed(seed, "fixed_probability", static_cast<uint64_t>(i)));
      int64_t j = -1;
      while (true) {
        double u = 1.0 - rng.uniform();  // (0, 1]
        double skip = std::floor(std::log(u) / log_q);
        if (!(skip < static_cast<double>(n_post))) break;  // also catches +inf
        j += 1 + static_cast<int64_t>(skip);
        if (j >= n_post) break;
        if (!autapses && j == i) continue;
        c.post.push_back(static_cast<int32_t>(j));
      }
    }
    c.row_ptr[i + 1] = static_cast<int64_t>(c.post.size());
  }
  c.weight.assign(c.post.size(), static_cast<T>(w));
  c.delay.assign(c.post.size(), static_cast<uint16_t>(d));
  return c;
}

#define GOLGI_SIM_INSTANTIATE(T)                                                                          \
  template struct Csr<T>;                                                                                 \
  template Csr<T> csr_from_triplets<T>(int64_t, int64_t, const std::vector<int32_t>&,                    \
                                       const std::vector<int32_t>&, const std::vector<double>&,          \
                                       const std::vector<int64_t>&);                                      \
  template Csr<T> csr_fixed_probability<T>(int64_t, int64_t, double, bool, double, int64_t, uint64_t);
GOLGI_SIM_INSTANTIATE(float)
GOLGI_SIM_INSTANTIATE(double)
#undef GOLGI_SIM_INSTANTIATE

}  // namespace golgi::spiking::sim
