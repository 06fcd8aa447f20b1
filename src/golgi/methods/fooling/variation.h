// Variation operators for real-valued genomes (paper id `fooling`): polynomial mutation and
// simulated binary crossover (SBX), the operators of the Sferes2 library's `evo_float` genotype that
// Nguyen, Yosinski & Clune 2015 ("Deep Neural Networks are Easily Fooled", CVPR, arXiv:1412.1897,
// sec. 3.1) used for the direct encoding: per-gene mutation rate 0.1, eta_m = 15, eta_c = 10.
//
// The formulas are Deb's bounds-aware versions from the NSGA-II reference code (Deb, Pratap,
// Agarwal & Meyarivan 2002; Deb & Agrawal 1995 for SBX; Deb & Goyal 1996 for the mutation), so a
// gene near a bound is perturbed within [lo, hi] instead of being pushed out and clipped.
//
// Polynomial mutation of a gene x in [lo, hi] with a uniform draw u in [0, 1):
//   d1 = (x − lo)/(hi − lo),  d2 = (hi − x)/(hi − lo),  p = 1/(eta_m + 1)
//   u < 0.5:  δ = (2u + (1 − 2u)(1 − d1)^(eta_m+1))^p − 1
//   u ≥ 0.5:  δ = 1 − (2(1 − u) + 2(u − 0.5)(1 − d2)^(eta_m+1))^p
//   x' = clamp(x + δ (hi − lo), lo, hi)
// (u = 0.5 leaves x unchanged; u → 0 moves x to lo, u → 1 to hi.)
//
// SBX of a gene pair (x1, x2), y1 = min, y2 = max, y2 − y1 > 1e-14, one uniform draw u:
//   for the lower child:  β = 1 + 2(y1 − lo)/(y2 − y1);  for the upper child: β = 1 + 2(hi − y2)/(y2 − y1)
//   α = 2 − β^−(eta_c+1)
//   β_q = (u α)^(1/(eta_c+1))                 if u ≤ 1/α
//       = (1/(2 − u α))^(1/(eta_c+1))          otherwise
//   lower = ½((y1 + y2) − β_q (y2 − y1)),  upper = ½((y1 + y2) + β_q (y2 − y1)), each clamped to [lo, hi].
// Pairs closer than 1e-14 are returned unchanged.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "golgi/core/options.h"

namespace golgi {
class SplitMix64;
}

namespace golgi::methods {

// One gene, one draw u in [0, 1] (see above). Throws golgi::Error unless lo < hi, x in [lo, hi],
// u in [0, 1] and eta_m >= 0.
double polynomial_mutation(double x, double u, double lo, double hi, double eta_m);

// One gene pair, one draw u in [0, 1]: {lower child, upper child} (see above). Throws golgi::Error
// unless lo < hi, x1 and x2 in [lo, hi], u in [0, 1] and eta_c >= 0.
std::pair<double, double> sbx_crossover(double x1, double x2, double u, double lo, double hi, double eta_c);

struct RealVariationOptions {
  GOLGI_ARG(double, lo) = 0.0;              // gene bounds (pixel units for the direct encoding)
  GOLGI_ARG(double, hi) = 1.0;
  GOLGI_ARG(double, mutation_rate) = 0.1;   // probability that a gene is mutated
  GOLGI_ARG(double, eta_m) = 15.0;          // distribution index of polynomial mutation
  GOLGI_ARG(double, cross_rate) = 0.5;      // probability that a pair of parents is crossed at all
  GOLGI_ARG(double, eta_c) = 10.0;          // distribution index of SBX
  static const OptionSchema<RealVariationOptions>& schema();
};

// Whole-genome operators, as Sferes2's evo_float applies them.
//
// mutate_genome: each gene independently, with probability mutation_rate, gets polynomial mutation.
// crossover_genomes: with probability cross_rate the pair is crossed: each gene independently, with
//   probability 0.5, is replaced by the SBX pair of the two parents' genes (one u per gene), the two
//   children getting the lower and upper child in a random order (probability 0.5 each); otherwise
//   the children are copies of the parents. a and b must have the same length.
// All draws come from `rng`, in a fixed order, so a run is reproducible from its seed.
void mutate_genome(std::vector<float>& genes, const RealVariationOptions& options, SplitMix64& rng);
void crossover_genomes(std::vector<float>& a, std::vector<float>& b, const RealVariationOptions& options,
                       SplitMix64& rng);

}  // namespace golgi::methods
