#include "golgi/methods/fooling/variation.h"

#include <algorithm>
#include <cmath>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"

namespace golgi::methods {

namespace {

void check_bounds(double lo, double hi, const char* what) {
  GOLGI_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo < hi, what, ": the gene bounds must be finite with lo < hi, got [",
              lo, ", ", hi, "]");
}

void check_gene(double x, double lo, double hi, const char* what) {
  GOLGI_CHECK(x >= lo && x <= hi, what, ": gene ", x, " lies outside its bounds [", lo, ", ", hi,
              "]; clamp the genome first");
}

void check_draw(double u, const char* what) {
  GOLGI_CHECK(u >= 0.0 && u <= 1.0, what, ": the uniform draw u must lie in [0, 1], got ", u);
}

// The spread factor β_q of SBX for one side of the pair (see the header).
double sbx_spread(double beta, double u, double eta_c) {
  const double alpha = 2.0 - std::pow(beta, -(eta_c + 1.0));
  const double exponent = 1.0 / (eta_c + 1.0);
  if (u <= 1.0 / alpha) return std::pow(u * alpha, exponent);
  return std::pow(1.0 / (2.0 - u * alpha), exponent);
}

}  // namespace

const OptionSchema<RealVariationOptions>& RealVariationOptions::schema() {
  static const auto schema =
      OptionSchema<RealVariationOptions>("real_variation")
          .add("lo", &RealVariationOptions::lo_, "lower gene bound", any_value<double>())
          .add("hi", &RealVariationOptions::hi_, "upper gene bound", any_value<double>())
          .add("mutation_rate", &RealVariationOptions::mutation_rate_, "probability that a gene is mutated",
               between(0.0, 1.0))
          .add("eta_m", &RealVariationOptions::eta_m_, "distribution index of polynomial mutation", at_least(0.0))
          .add("cross_rate", &RealVariationOptions::cross_rate_, "probability that a pair of parents is crossed",
               between(0.0, 1.0))
          .add("eta_c", &RealVariationOptions::eta_c_, "distribution index of SBX crossover", at_least(0.0));
  return schema;
}

double polynomial_mutation(double x, double u, double lo, double hi, double eta_m) {
  constexpr const char* what = "polynomial mutation";
  check_bounds(lo, hi, what);
  check_gene(x, lo, hi, what);
  check_draw(u, what);
  GOLGI_CHECK(eta_m >= 0.0, what, ": eta_m must be >= 0, got ", eta_m);
  const double range = hi - lo;
  const double d1 = (x - lo) / range, d2 = (hi - x) / range;
  const double power = 1.0 / (eta_m + 1.0);
  double delta;
  if (u < 0.5) {
    const double v = 2.0 * u + (1.0 - 2.0 * u) * std::pow(1.0 - d1, eta_m + 1.0);
    delta = std::pow(v, power) - 1.0;
  } else {
    const double v = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * std::pow(1.0 - d2, eta_m + 1.0);
    delta = 1.0 - std::pow(v, power);
  }
  return std::clamp(x + delta * range, lo, hi);
}

std::pair<double, double> sbx_crossover(double x1, double x2, double u, double lo, double hi, double eta_c) {
  constexpr const char* what = "SBX crossover";
  check_bounds(lo, hi, what);
  check_gene(x1, lo, hi, what);
  check_gene(x2, lo, hi, what);
  check_draw(u, what);
  GOLGI_CHECK(eta_c >= 0.0, what, ": eta_c must be >= 0, got ", eta_c);
  const double y1 = std::min(x1, x2), y2 = std::max(x1, x2);
  // Identical genes have no spread to scale; the NSGA-II code copies them (and so avoids 0/0).
  if (y2 - y1 <= 1e-14) return {y1, y2};
  const double gap = y2 - y1;
  const double q_low = sbx_spread(1.0 + 2.0 * (y1 - lo) / gap, u, eta_c);
  const double q_high = sbx_spread(1.0 + 2.0 * (hi - y2) / gap, u, eta_c);
  const double lower = std::clamp(0.5 * ((y1 + y2) - q_low * gap), lo, hi);
  const double upper = std::clamp(0.5 * ((y1 + y2) + q_high * gap), lo, hi);
  return {lower, upper};
}

void mutate_genome(std::vector<float>& genes, const RealVariationOptions& options, SplitMix64& rng) {
  for (float& g : genes) {
    if (rng.uniform() >= options.mutation_rate()) continue;
    // The float gene may sit a rounding step outside the double bounds; clamp before the check.
    const double x = std::clamp(static_cast<double>(g), options.lo(), options.hi());
    g = static_cast<float>(polynomial_mutation(x, rng.uniform(), options.lo(), options.hi(), options.eta_m()));
  }
}

void crossover_genomes(std::vector<float>& a, std::vector<float>& b, const RealVariationOptions& options,
                       SplitMix64& rng) {
  GOLGI_CHECK(a.size() == b.size(), "SBX crossover: the parents have ", a.size(), " and ", b.size(),
              " genes; they must have the same length");
  if (rng.uniform() >= options.cross_rate()) return;
  for (size_t i = 0; i < a.size(); ++i) {
    if (rng.uniform() > 0.5) continue;
    const double x1 = std::clamp(static_cast<double>(a[i]), options.lo(), options.hi());
    const double x2 = std::clamp(static_cast<double>(b[i]), options.lo(), options.hi());
    const auto [lower, upper] = sbx_crossover(x1, x2, rng.uniform(), options.lo(), options.hi(), options.eta_c());
    const bool swap = rng.uniform() <= 0.5;
    a[i] = static_cast<float>(swap ? upper : lower);
    b[i] = static_cast<float>(swap ? lower : upper);
  }
}

}  // namespace golgi::methods
