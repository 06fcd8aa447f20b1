// Exact verification of ReLU networks on an input box by mixed-integer linear programming (GLPK),
// with optional neural-activation-pattern (NAP) constraints (paper id `nap-spec`, see nap.h).
//
// Geng, Leng, Zhang, Yang, Xu, Wang & Si 2023, "Towards Reliable Neural Specifications", ICML.
// The network is f(x) = W_L y_{L-1} + b_L with y_0 = x, z_l = W_l y_{l-1} + b_l, y_l = ReLU(z_l)
// for the hidden layers l = 1..L-1. A query asks, for a box B = [lo, hi] (already intersected with
// the data bounds) and classes c (the reference) and j (another class),
//
//   m* = max_{x in B, x follows P} f_j(x) - f_c(x)
//
// and the property "no input in B that follows P is classified as j" holds iff m* < 0. The
// pattern P fixes some hidden neurons (state +1 "on", -1 "off", 0 free). The encoding:
//   on  (P = +1):  z >= 0,  y = z              (linear)
//   off (P = -1):  z <= 0,  y = 0              (linear)
//   free, with interval bounds l <= z <= u:
//     u <= 0: y = 0;   l >= 0: y = z;   otherwise the big-M form with a binary a:
//     y >= z,  y >= 0,  y <= z - l (1 - a),  y <= u a.
// Interval bounds come from interval arithmetic layer by layer, tightened by the pattern where
// it is valid to do so (an "on" neuron has z >= 0, so l = max(l, 0); an "off" neuron has y = 0).
// A pattern that the bounds already contradict (an "on" neuron with u < 0, or "off" with l > 0)
// makes the query vacuously true: no input in the box follows P.
//
// Outcomes (per query): verified (optimum, or the branch-and-bound's best bound, < 0; or the
// constraints are infeasible), counterexample (a feasible input with margin >= 0: x is returned),
// timeout (the time limit stopped GLPK before either was known). GLPK stops early as soon as the
// outcome is decided (an incumbent >= 0, or a global bound < 0). GLPK's feasibility tolerance is
// 1e-7, so a counterexample must be replayed through the network (nap.h replay_counterexample)
// before it is believed.
//
// Shapes: weights are row-major [out, in] doubles. Units: inputs in the data's units (pixels in
// [0, 1] for Fashion-MNIST); margins in logits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "golgi/core/json.h"

namespace golgi::methods::nap {

// One affine layer y = W x + b, W row-major [out, in].
struct AffineLayer {
  int64_t in = 0, out = 0;
  std::vector<double> weight;  // [out * in]
  std::vector<double> bias;    // [out]
};

// A ReLU network: ReLU after every layer but the last (the logits). Hidden layers = layers - 1.
struct ReluNetwork {
  std::vector<AffineLayer> layers;
  int64_t inputs() const { return layers.empty() ? 0 : layers.front().in; }
  int64_t classes() const { return layers.empty() ? 0 : layers.back().out; }
  int64_t hidden_layers() const { return layers.empty() ? 0 : static_cast<int64_t>(layers.size()) - 1; }
  // Throws golgi::Error when shapes do not chain or there is no layer.
  void validate() const;
  // Plain double-precision forward pass: returns the logits; `pre` (optional) gets every hidden
  // layer's pre-activations z_l.
  std::vector<double> forward(const std::vector<double>& x, std::vector<std::vector<double>>* pre = nullptr) const;
};

// Per hidden layer, per neuron: +1 on, -1 off, 0 free. Empty (no layers) = no constraint.
using Pattern = std::vector<std::vector<int8_t>>;

// Interval bounds of every hidden layer's pre-activation on the box, tightened by the pattern.
struct IntervalBounds {
  std::vector<std::vector<double>> lower, upper;  // [hidden layer][neuron]
  bool feasible = true;  // false: the pattern contradicts the bounds (no input in the box follows it)
  int64_t unstable = 0;  // free neurons with l < 0 < u (the binaries of the MILP)
};
IntervalBounds interval_bounds(const ReluNetwork& net, const std::vector<double>& lo, const std::vector<double>& hi,
                               const Pattern& pattern);
// Tighter bounds by linear programming, layer by layer: each free neuron that interval arithmetic
// leaves unstable gets min and max of z over the LP made of the box, the triangle relaxation of the
// earlier layers' unstable ReLUs (y >= 0, y >= z, (u - l) y <= u (z - l)), and the pattern's sign
// constraints (valid for every input in the box that follows the pattern, so they may tighten).
// Later layers' interval bounds start from the tightened ones. An LP that is infeasible proves no
// input in the box follows the pattern (feasible = false). Costs up to two LPs per unstable neuron;
// a verify_region computes it once for all its queries.
IntervalBounds lp_bounds(const ReluNetwork& net, const std::vector<double>& lo, const std::vector<double>& hi,
                         const Pattern& pattern);

enum class Outcome { kVerified, kCounterexample, kTimeout };
std::string outcome_name(Outcome outcome);

struct MilpOptions {
  double time_limit_s = 10.0;  // per query (GLPK tm_lim)
  bool presolve = true;        // GLPK's MIP presolver
  bool stop_early = true;      // stop once the sign of the optimum is decided
  bool lp_bounds = true;       // big-M constants from lp_bounds (else interval_bounds)
  std::string branching = "pch";  // GLPK branching: "pch" (hybrid pseudocost), "dth" (Driebeck-Tomlin), "mfv", "ffv", "lfv"
  bool cuts = false;           // GLPK's MIR, Gomory and cover cuts
};

struct MarginResult {
  int64_t other = -1;  // j
  Outcome outcome = Outcome::kTimeout;
  // Best margin found (NaN when none) and the best upper bound on the maximum (the optimum when
  // solved to optimality; +inf when unknown; -inf when infeasible).
  double best = 0, bound = 0;
  bool optimal = false;     // GLPK proved the optimum (best == bound up to its tolerance)
  bool infeasible = false;  // no input in the box follows the pattern
  std::vector<double> x;    // the maximising / counterexample input (empty when none)
  int64_t binaries = 0;
  double seconds = 0;
  Json to_json(bool with_x = false) const;
};

// One query: max f_j - f_c over the box and pattern (see above). lo/hi [inputs]. `bounds`: the
// pre-activation bounds to use (computed here per options.lp_bounds when null). Throws
// golgi::Error on bad shapes, classes or bounds.
MarginResult max_margin(const ReluNetwork& net, const std::vector<double>& lo, const std::vector<double>& hi,
                        const Pattern& pattern, int64_t reference, int64_t other, const MilpOptions& options = {},
                        const IntervalBounds* bounds = nullptr);

struct RegionResult {
  Outcome outcome = Outcome::kTimeout;  // verified iff every other class is verified
  std::vector<MarginResult> queries;    // in class order (stops at the first failure if asked)
  double seconds = 0, bound_seconds = 0;  // total, and the part spent on the bounds
  int64_t unstable = 0;                   // binaries of the queries (unstable free neurons)
  Json to_json(bool with_x = false) const;
};

// Verifies "no input in [lo, hi] that follows the pattern is classified as a class other than
// `reference`" by one query per other class. With stop_at_failure the remaining classes are not
// queried once one is a counterexample or a timeout. budget_s (> 0) caps the whole region: each
// query's time limit is cut to what is left, and once nothing is left the region is a timeout.
RegionResult verify_region(const ReluNetwork& net, const std::vector<double>& lo, const std::vector<double>& hi,
                           const Pattern& pattern, int64_t reference, const MilpOptions& options = {},
                           bool stop_at_failure = true, double budget_s = 0);

}  // namespace golgi::methods::nap
