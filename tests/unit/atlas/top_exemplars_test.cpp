// Streaming top-k exemplars against a brute-force sort of everything offered.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "golgi/atlas/top_exemplars.h"
#include "test_support.h"

namespace {

using golgi::atlas::Exemplar;
using golgi::atlas::TopExemplars;

// All offers of one neuron sorted by (activation desc, example asc), first k, NaN dropped.
std::vector<Exemplar> brute_force(std::vector<Exemplar> all, int64_t k) {
  all.erase(std::remove_if(all.begin(), all.end(), [](const Exemplar& e) { return std::isnan(e.activation); }), all.end());
  std::stable_sort(all.begin(), all.end(), [](const Exemplar& a, const Exemplar& b) {
    return a.activation > b.activation || (a.activation == b.activation && a.example < b.example);
  });
  if (static_cast<int64_t>(all.size()) > k) all.resize(static_cast<size_t>(k));
  return all;
}

void run_case(int64_t neurons, int64_t k, int64_t examples, int64_t batch, bool ties, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> coarse(0, 5);
  TopExemplars top(neurons, k);
  std::vector<std::vector<Exemplar>> offered(static_cast<size_t>(neurons));
  for (int64_t begin = 0; begin < examples; begin += batch) {
    const int64_t b = std::min(batch, examples - begin);
    std::vector<float> values(static_cast<size_t>(b * neurons));
    std::vector<int64_t> positions(values.size()), ids(static_cast<size_t>(b));
    for (int64_t i = 0; i < b; ++i) ids[static_cast<size_t>(i)] = begin + i;
    for (size_t i = 0; i < values.size(); ++i) {
      values[i] = ties ? static_cast<float>(coarse(rng)) : normal(rng);
      if (i % 97 == 13) values[i] = std::nanf("");
      positions[i] = static_cast<int64_t>(rng() % 50);
    }
    top.offer(values.data(), positions.data(), ids.data(), b);
    for (int64_t i = 0; i < b; ++i)
      for (int64_t j = 0; j < neurons; ++j) {
        const size_t at = static_cast<size_t>(i * neurons + j);
        offered[static_cast<size_t>(j)].push_back(Exemplar{values[at], ids[static_cast<size_t>(i)], positions[at]});
      }
  }
  for (int64_t j = 0; j < neurons; ++j) {
    auto want = brute_force(offered[static_cast<size_t>(j)], k);
    auto got = top.sorted(j);
    ASSERT_EQ(got.size(), want.size()) << "neuron " << j;
    for (size_t r = 0; r < got.size(); ++r) {
      EXPECT_EQ(got[r].activation, want[r].activation) << "neuron " << j << " rank " << r;
      EXPECT_EQ(got[r].example, want[r].example) << "neuron " << j << " rank " << r;
      EXPECT_EQ(got[r].position, want[r].position) << "neuron " << j << " rank " << r;
    }
  }
}

TEST(AtlasTopExemplars, MatchesBruteForceOnRandomActivations) { run_case(17, 5, 403, 32, false, 1); }

TEST(AtlasTopExemplars, TiesKeepTheSmallerExampleFirstForAnyBatchSize) {
  // Activations from {0..5}: hundreds of ties per neuron; the order must not depend on batching.
  run_case(9, 7, 300, 1, true, 2);
  run_case(9, 7, 300, 64, true, 2);
  run_case(9, 7, 300, 300, true, 2);
}

TEST(AtlasTopExemplars, FewerExamplesThanKKeepsThemAll) { run_case(3, 16, 5, 2, false, 3); }

TEST(AtlasTopExemplars, StateRoundTripContinuesIdentically) {
  std::mt19937 rng(4);
  std::normal_distribution<float> normal;
  TopExemplars a(6, 4), b(6, 4);
  auto offer_batch = [&](TopExemplars& t, int64_t first, const std::vector<float>& v) {
    std::vector<int64_t> pos(v.size(), 0), ids{first, first + 1};
    t.offer(v.data(), pos.data(), ids.data(), 2);
  };
  std::vector<std::vector<float>> batches;
  for (int i = 0; i < 20; ++i) {
    std::vector<float> v(12);
    for (auto& x : v) x = normal(rng);
    batches.push_back(v);
  }
  for (int i = 0; i < 10; ++i) offer_batch(a, 2 * i, batches[static_cast<size_t>(i)]);
  b.restore(a.state());
  for (int i = 10; i < 20; ++i) {
    offer_batch(a, 2 * i, batches[static_cast<size_t>(i)]);
    offer_batch(b, 2 * i, batches[static_cast<size_t>(i)]);
  }
  for (int64_t j = 0; j < 6; ++j) {
    auto x = a.sorted(j), y = b.sorted(j);
    ASSERT_EQ(x.size(), y.size());
    for (size_t r = 0; r < x.size(); ++r) EXPECT_EQ(x[r].example, y[r].example);
  }
  TopExemplars other(5, 4);
  EXPECT_NE(golgi::testing::error_of([&] { other.restore(a.state()); }).find("--restart"), std::string::npos);
}

TEST(AtlasTopExemplars, RejectsBadSizes) {
  EXPECT_NE(golgi::testing::error_of([] { TopExemplars(4, 0); }).find("exemplars per neuron"), std::string::npos);
}

}  // namespace
