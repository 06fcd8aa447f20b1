#include "golgi/core/seed.h"

#include <numeric>

#include <ATen/core/Generator.h>
#include <torch/utils.h>

namespace golgi {

namespace {
uint64_t g_seed = 0;
}

void seed_everything(uint64_t seed) {
  g_seed = seed;
  torch::manual_seed(seed);
}

uint64_t current_seed() { return g_seed; }

uint64_t SplitMix64::next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t SplitMix64::below(uint64_t bound) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t x;
  do {
    x = next();
  } while (x >= limit);
  return x % bound;
}

double SplitMix64::uniform() { return (next() >> 11) * 0x1.0p-53; }

uint64_t derive_seed(uint64_t seed, std::string_view stream, uint64_t index) {
  // FNV-1a of the stream name, mixed with the seed and index through SplitMix64.
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : stream) h = (h ^ c) * 1099511628211ULL;
  SplitMix64 mix(seed ^ h ^ (index * 0x9e3779b97f4a7c15ULL));
  mix.next();
  return mix.next();
}

std::vector<int64_t> permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  SplitMix64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below(static_cast<uint64_t>(i + 1))]);
  return order;
}

}  // namespace golgi
