// Seeding: every random stream of a run comes from one seeded generator (DESIGN.md
// "Conventions"), and the seed is recorded in every output.
//
// seed_everything(seed) seeds LibTorch's default CPU generator and golgi's own. Streams that must
// not depend on how much randomness other code consumed (data order, splits) derive their own
// seed with derive_seed(seed, "name", index), a SplitMix64 hash, and use a local SplitMix64.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace golgi {

void seed_everything(uint64_t seed);
// The seed last passed to seed_everything (0 before any call).
uint64_t current_seed();

// A deterministic, independent seed for a named sub-stream.
uint64_t derive_seed(uint64_t seed, std::string_view stream, uint64_t index = 0);

// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast, and identical on every platform, unlike
// std::uniform_int_distribution, so shuffles are reproducible across compilers.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next();
  // Uniform integer in [0, bound) by rejection (no modulo bias). bound > 0.
  uint64_t below(uint64_t bound);
  double uniform();  // [0, 1)

 private:
  uint64_t state_;
};

// A permutation of 0..n-1 (Fisher-Yates with SplitMix64).
std::vector<int64_t> permutation(int64_t n, uint64_t seed);

}  // namespace golgi
