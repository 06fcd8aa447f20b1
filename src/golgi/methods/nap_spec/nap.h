// Neural activation patterns (NAPs) as specifications of a ReLU classifier (paper id `nap-spec`).
//
// Geng, Leng, Zhang, Yang, Xu, Wang & Si 2023, "Towards Reliable Neural Specifications", ICML
// (arXiv:2210.16114).
//
// Mining. For a ReLU network, hidden neuron n is "active" on input x when its pre-activation
// z_n(x) > 0 (equivalently ReLU(z_n) > 0). For class c let S_c be the training samples of class c
// that the network classifies correctly (or every sample of c with correct_only = false). With
// the relaxation threshold delta (the paper's δ; the paper also writes it as 1 − DELTA):
//   P_c(n) = on   if |{x in S_c : z_n(x) > 0}|  >= delta |S_c|
//   P_c(n) = off  if |{x in S_c : z_n(x) <= 0}| >= delta |S_c|
//   P_c(n) = free otherwise.
// (delta must exceed 0.5 so that a neuron cannot be both.)
//
// Checking. x follows P_c when every "on" neuron is active and every "off" neuron inactive.
//   coverage_c  = |{x in T_c : x follows P_c}| / |T_c|        (T_c: test samples of class c)
//   precision_c = |{x in T : x follows P_c, label(x) = c}| / |{x in T : x follows P_c}|
// Two class NAPs are mutually exclusive when some neuron is "on" in one and "off" in the other:
// then no input follows both.
//
// Verification (milp.h). The NAP-augmented property for sample x0 of class c and radius eps:
//   for all x in B(x0, eps) = [max(0, x0 - eps), min(1, x0 + eps)] that follow P_c:
//     argmax f(x) = c,
// proved by one MILP per other class j (max f_j − f_c < 0). Plain L∞ robustness is the same query
// without the pattern. largest_verified_eps searches eps by doubling, then bisection (in log eps).
//
// Models: golgi's "mlp" with activation "relu" (hook points layers.{i}.hook_pre [batch, hidden_i],
// whose sign is the activation state). Anything else is rejected with a golgi::Error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/methods/nap_spec/milp.h"

namespace golgi::models {
class Model;
}

namespace golgi::methods::nap {

// ---- the network ----

// Checks that `model` is a ReLU MLP ("mlp", activation "relu"); throws golgi::Error otherwise.
void check_relu_mlp(const models::Model& model);
// Inputs normalised as x = (p - mean) / std from pixels p in [0, 1] (Fashion-MNIST in golgi:
// mean 0.2860, std 0.3530; data/fashion_mnist.cpp). Verification works in pixel space, where the
// data bounds are [0, 1] and eps is in pixel units; the normalisation is folded into layer 0.
struct InputScale {
  double mean = 0.0, std = 1.0;
  void validate() const;  // std > 0, both finite
  double to_pixel(double x) const { return x * std + mean; }
  double to_model(double p) const { return (p - mean) / std; }
};
// The input scale of a dataset golgi loads ("fashion-mnist": its normalisation; others: identity).
InputScale input_scale_of(const std::string& dataset);

// The model's weights in double precision (layers.{i}.weight/bias, then head.weight/bias), with
// the input scale folded into layer 0: W0' = W0 / std, b0' = b0 - (mean / std) sum_i W0[:, i],
// so the network takes pixels.
ReluNetwork relu_network(const models::Model& model, const InputScale& scale = {});
// The hook names whose sign gives the activation states: layers.{i}.hook_pre, i = 0..L-2.
std::vector<std::string> pattern_hooks(const models::Model& model);

// Activation states of a batch: active[l] bool [N, hidden_l] (z > 0), logits [N, classes] float.
struct Activations {
  std::vector<at::Tensor> active;
  at::Tensor logits;
  int64_t size() const;
};
// Runs the model (eval mode, no gradients) over inputs [N, ...] in batches, recording the pre-
// activation hooks. Shows a progress bar when `label` is not empty.
Activations record_activations(models::Model& model, const at::Tensor& inputs, int64_t batch_size = 1024,
                               const std::string& label = "");

// ---- mining ----

struct NapOptions {
  double delta = 0.95;       // the share of S_c a neuron must agree on; in (0.5, 1]
  bool correct_only = true;  // S_c = correctly classified samples of c (the paper); false: all of c
  void validate() const;
};

struct ClassNap {
  int64_t label = 0;
  int64_t support = 0;  // |S_c|
  Pattern states;       // per hidden layer, per neuron: +1 on, -1 off, 0 free
  int64_t on() const;
  int64_t off() const;
  int64_t neurons() const;
};

struct NapSet {
  double delta = 0.95;
  bool correct_only = true;
  std::vector<std::string> hooks;  // the pattern layers' hook names
  std::vector<ClassNap> naps;      // one per class, naps[c].label = c
  // {"format": "golgi-nap", "version": 1, "delta", "correct_only", "hooks", "classes": [{"label",
  //  "support", "on": [[indices per layer]], "off": [[...]]}]}
  Json to_json() const;
  static NapSet from_json(const Json& json);  // throws golgi::Error on a malformed document
};

// active: per layer bool [N, h]; labels [N] int64; predictions [N] int64 (undefined: every sample
// counts as correct). Classes without samples get an all-free NAP with support 0.
NapSet mine_naps(const std::vector<at::Tensor>& active, const at::Tensor& labels, const at::Tensor& predictions,
                 int64_t classes, const NapOptions& options = {});

// ---- checking ----

// bool [N]: which samples follow the NAP.
at::Tensor follows(const ClassNap& nap, const std::vector<at::Tensor>& active);

struct ClassCheck {
  int64_t label = 0;
  int64_t class_samples = 0;  // |T_c|
  int64_t covered = 0;        // samples of c that follow P_c
  int64_t followers = 0;      // samples of any class that follow P_c
  double coverage = 0;        // NaN when the class has no samples
  double precision = 0;       // NaN when nothing follows
  Json to_json() const;
};

struct NapCheck {
  std::vector<ClassCheck> classes;
  double mean_coverage = 0, mean_precision = 0;  // over classes where defined
  double min_coverage = 0, min_precision = 0;
  // exclusive[a][b]: P_a and P_b conflict on at least one neuron.
  std::vector<std::vector<bool>> exclusive;
  int64_t exclusive_pairs = 0, pairs = 0;
  Json to_json() const;
};

// labels [N] int64. Checks every class NAP against every sample.
NapCheck check_naps(const NapSet& naps, const std::vector<at::Tensor>& active, const at::Tensor& labels);
// True when a and b conflict on some neuron (one on, the other off).
bool mutually_exclusive(const ClassNap& a, const ClassNap& b);

// ---- verification ----

// The box B(x0, eps) ∩ [data_lo, data_hi]; throws golgi::Error for eps <= 0 or x0 outside.
void input_box(const std::vector<double>& x0, double eps, std::vector<double>& lo, std::vector<double>& hi,
               double data_lo = 0.0, double data_hi = 1.0);

// A counterexample x replayed through the model in LibTorch float64 (its own parameters, not the
// MILP's copy): does it follow the pattern, and is it classified as another class?
struct Replay {
  bool follows = false;          // every on neuron z > 0 and every off neuron z <= 0, exactly
  bool follows_tolerant = false; // the same with tolerance: on z >= -tol, off z <= tol
  double worst_violation = 0;    // the largest violation of the pattern's sign constraints (>= 0)
  int64_t predicted = -1;
  double margin = 0;             // f_other(x) - f_reference(x)
  bool misclassified = false;    // margin >= -tol (and predicted != reference when strict)
  bool strict_misclassified = false;  // argmax != reference
  bool in_box = false;           // lo - tol <= x <= hi + tol
  double tolerance = 0;
  Json to_json() const;
};
// x, lo, hi are pixels; the model sees scale.to_model(x).
Replay replay_counterexample(const models::Model& model, const std::vector<double>& x, const Pattern& pattern,
                             int64_t reference, int64_t other, const std::vector<double>& lo,
                             const std::vector<double>& hi, const InputScale& scale = {}, double tolerance = 1e-6);

struct EpsSearchOptions {
  double eps_start = 0.01;   // first radius tried
  double eps_max = 1.0;      // the largest radius tried (1 = the whole [0, 1] input space)
  double eps_min = 1e-4;     // below this the search gives up (largest verified = 0)
  int bisect_steps = 3;      // bisection steps between the last verified and first failed radius
  // Wall-clock budget for the whole search: no radius starts after it, and a radius gets what is
  // left (at least one query's time limit), so a search ends within budget_s + time_limit_s.
  double budget_s = 120.0;
  MilpOptions milp;
  InputScale scale;          // for replaying counterexamples through the model
  // A radius already known to verify (0: none), e.g. plain robustness's radius when searching the
  // NAP-augmented property, which it implies (the NAP only removes inputs). The search then starts
  // doubling from max(eps_start, 2 * known_verified) with known_verified as its verified radius.
  double known_verified = 0;
};

struct EpsTrial {
  double eps = 0;
  RegionResult region;
  std::vector<Replay> replays;  // one per counterexample query
  Json to_json() const;
};

struct EpsSearch {
  double verified_eps = 0;  // the largest radius verified (0: none)
  double failed_eps = 0;    // the smallest radius not verified (+inf: none failed)
  bool budget_exhausted = false;
  std::vector<EpsTrial> trials;
  double seconds = 0;
  Json to_json() const;
};

// Searches the largest eps for which verify_region(B(x0, eps), pattern) holds; x0 in pixels, net
// from relu_network(model, options.scale). pattern empty = plain L∞ robustness. Counterexamples
// are replayed through `model`.
EpsSearch largest_verified_eps(const models::Model& model, const ReluNetwork& net, const std::vector<double>& x0,
                               const Pattern& pattern, int64_t reference, const EpsSearchOptions& options);

}  // namespace golgi::methods::nap
