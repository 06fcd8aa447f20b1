#include "golgi/methods/nap_spec/milp.h"

#include <glpk.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>

#include "golgi/core/error.h"
#include "golgi/core/stopwatch.h"

namespace golgi::methods::nap {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

void check_box(const ReluNetwork& net, const std::vector<double>& lo, const std::vector<double>& hi) {
  GOLGI_CHECK(static_cast<int64_t>(lo.size()) == net.inputs() && static_cast<int64_t>(hi.size()) == net.inputs(),
              "nap: the input box has ", lo.size(), " lower and ", hi.size(), " upper bounds, the network takes ",
              net.inputs(), " inputs");
  for (size_t i = 0; i < lo.size(); ++i)
    GOLGI_CHECK(std::isfinite(lo[i]) && std::isfinite(hi[i]) && lo[i] <= hi[i], "nap: input box bound ", i,
                " is [", lo[i], ", ", hi[i], "]; expected finite lower <= upper (is eps > 0 and the sample inside "
                "the data bounds?)");
}

void check_pattern(const ReluNetwork& net, const Pattern& pattern) {
  if (pattern.empty()) return;
  GOLGI_CHECK(static_cast<int64_t>(pattern.size()) == net.hidden_layers(), "nap: the pattern has ", pattern.size(),
              " layers, the network has ", net.hidden_layers(), " hidden layers");
  for (size_t l = 0; l < pattern.size(); ++l) {
    GOLGI_CHECK(static_cast<int64_t>(pattern[l].size()) == net.layers[l].out, "nap: pattern layer ", l, " has ",
                pattern[l].size(), " neurons, the network layer has ", net.layers[l].out);
    for (int8_t s : pattern[l])
      GOLGI_CHECK(s >= -1 && s <= 1, "nap: pattern states must be -1 (off), 0 (free) or +1 (on), got ", int{s});
  }
}

int8_t state_of(const Pattern& pattern, size_t l, int64_t k) {
  return pattern.empty() ? int8_t{0} : pattern[l][static_cast<size_t>(k)];
}

// GLPK problem owned by a unique_ptr.
struct ProbDeleter {
  void operator()(glp_prob* p) const { glp_delete_prob(p); }
};

struct CallbackState {
  bool stop_early = true;
  int decided = 0;  // +1 counterexample found, -1 verified by bound
  double bound = kInf;
};

void callback(glp_tree* tree, void* info) {
  auto* state = static_cast<CallbackState*>(info);
  const int reason = glp_ios_reason(tree);
  if (reason == GLP_ISELECT) {
    const int best = glp_ios_best_node(tree);
    if (best != 0) {
      state->bound = std::min(state->bound, glp_ios_node_bound(tree, best));
      if (state->stop_early && state->bound < 0) {
        state->decided = -1;
        glp_ios_terminate(tree);
      }
    }
  } else if (reason == GLP_IBINGO) {
    const double value = glp_mip_obj_val(glp_ios_get_prob(tree));
    if (state->stop_early && value >= 0) {
      state->decided = 1;
      glp_ios_terminate(tree);
    }
  }
}

}  // namespace

void ReluNetwork::validate() const {
  GOLGI_CHECK(!layers.empty(), "nap: the network has no layers");
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto& L = layers[l];
    GOLGI_CHECK(L.in > 0 && L.out > 0 && static_cast<int64_t>(L.weight.size()) == L.in * L.out &&
                    static_cast<int64_t>(L.bias.size()) == L.out,
                "nap: layer ", l, " has in ", L.in, ", out ", L.out, ", ", L.weight.size(), " weights and ",
                L.bias.size(), " biases; expected in * out weights and out biases");
    if (l > 0)
      GOLGI_CHECK(L.in == layers[l - 1].out, "nap: layer ", l, " takes ", L.in, " inputs but layer ", l - 1,
                  " gives ", layers[l - 1].out);
  }
}

std::vector<double> ReluNetwork::forward(const std::vector<double>& x, std::vector<std::vector<double>>* pre) const {
  GOLGI_CHECK(static_cast<int64_t>(x.size()) == inputs(), "nap: input has ", x.size(), " values, expected ", inputs());
  if (pre) pre->clear();
  std::vector<double> y = x;
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto& L = layers[l];
    std::vector<double> z(static_cast<size_t>(L.out));
    for (int64_t k = 0; k < L.out; ++k) {
      double s = L.bias[static_cast<size_t>(k)];
      const double* w = L.weight.data() + k * L.in;
      for (int64_t i = 0; i < L.in; ++i) s += w[i] * y[static_cast<size_t>(i)];
      z[static_cast<size_t>(k)] = s;
    }
    if (l + 1 == layers.size()) return z;
    if (pre) pre->push_back(z);
    for (double& v : z) v = std::max(v, 0.0);
    y = std::move(z);
  }
  return y;
}

IntervalBounds interval_bounds(const ReluNetwork& net, const std::vector<double>& lo, const std::vector<double>& hi,
                               const Pattern& pattern) {
  net.validate();
  check_box(net, lo, hi);
  check_pattern(net, pattern);
  IntervalBounds b;
  std::vector<double> ylo = lo, yhi = hi;
  for (int64_t l = 0; l < net.hidden_layers(); ++l) {
    const auto& L = net.layers[static_cast<size_t>(l)];
    std::vector<double> zl(static_cast<size_t>(L.out)), zu(static_cast<size_t>(L.out));
    std::vector<double> nlo(static_cast<size_t>(L.out)), nhi(static_cast<size_t>(L.out));
    for (int64_t k = 0; k < L.out; ++k) {
      double a = L.bias[static_cast<size_t>(k)], c = a;
      const double* w = L.weight.data() + k * L.in;
      for (int64_t i = 0; i < L.in; ++i) {
        const double wi = w[i];
        if (wi >= 0) {
          a += wi * ylo[static_cast<size_t>(i)];
          c += wi * yhi[static_cast<size_t>(i)];
        } else {
          a += wi * yhi[static_cast<size_t>(i)];
          c += wi * ylo[static_cast<size_t>(i)];
        }
      }
      const int8_t s = state_of(pattern, static_cast<size_t>(l), k);
      // The pattern's constraint on z is valid for every input that follows it, so it tightens.
      if (s > 0) {
        if (c < 0) b.feasible = false;
        a = std::max(a, 0.0);
      } else if (s < 0) {
        if (a > 0) b.feasible = false;
        c = std::min(c, 0.0);
      } else if (a < 0 && c > 0) {
        ++b.unstable;
      }
      zl[static_cast<size_t>(k)] = a;
      zu[static_cast<size_t>(k)] = c;
      nlo[static_cast<size_t>(k)] = s < 0 ? 0.0 : std::max(a, 0.0);
      nhi[static_cast<size_t>(k)] = s < 0 ? 0.0 : std::max(c, 0.0);
    }
    b.lower.push_back(std::move(zl));
    b.upper.push_back(std::move(zu));
    ylo = std::move(nlo);
    yhi = std::move(nhi);
  }
  return b;
}

IntervalBounds lp_bounds(const ReluNetwork& net, const std::vector<double>& lo, const std::vector<double>& hi,
                         const Pattern& pattern) {
  IntervalBounds b = interval_bounds(net, lo, hi, pattern);  // validates; the LP bounds only improve on it
  if (!b.feasible) return b;
  glp_term_out(GLP_OFF);
  std::unique_ptr<glp_prob, ProbDeleter> prob(glp_create_prob());
  glp_prob* lp = prob.get();
  glp_smcp sm;
  glp_init_smcp(&sm);
  sm.msg_lev = GLP_MSG_OFF;
  sm.presolve = GLP_OFF;  // keep the basis between the LPs (warm starts)
  // The solver's optimum is accurate to its tolerances; widen by this much so the bounds stay sound.
  constexpr double kSlack = 1e-6;
  auto set_bounds = [&](int col, double l, double u) {
    if (l == u) glp_set_col_bnds(lp, col, GLP_FX, l, u);
    else glp_set_col_bnds(lp, col, GLP_DB, l, u);
  };
  auto add_row = [&](const std::vector<int>& cols, const std::vector<double>& vals, int type, double l, double u) {
    const int row = glp_add_rows(lp, 1);
    glp_set_row_bnds(lp, row, type, l, u);
    std::vector<int> ind{0};
    std::vector<double> val{0.0};
    ind.insert(ind.end(), cols.begin(), cols.end());
    val.insert(val.end(), vals.begin(), vals.end());
    glp_set_mat_row(lp, row, static_cast<int>(cols.size()), ind.data(), val.data());
  };
  const int n_in = static_cast<int>(net.inputs());
  const int first_x = glp_add_cols(lp, n_in);
  std::vector<int> post(static_cast<size_t>(n_in));
  std::vector<double> plo = lo, phi = hi;
  for (int i = 0; i < n_in; ++i) {
    set_bounds(first_x + i, lo[static_cast<size_t>(i)], hi[static_cast<size_t>(i)]);
    post[static_cast<size_t>(i)] = first_x + i;
  }
  b.unstable = 0;
  for (int64_t l = 0; l < net.hidden_layers(); ++l) {
    const auto& L = net.layers[static_cast<size_t>(l)];
    auto& zl = b.lower[static_cast<size_t>(l)];
    auto& zu = b.upper[static_cast<size_t>(l)];
    bool constrained = false;  // does the pattern constrain this layer or an earlier one?
    for (int64_t m = 0; m <= l && !pattern.empty(); ++m)
      for (int8_t s : pattern[static_cast<size_t>(m)]) constrained = constrained || s != 0;
    std::vector<int> zcol(static_cast<size_t>(L.out));
    for (int64_t k = 0; k < L.out; ++k) {
      // Interval bounds from the (tightened) previous layer, intersected with the first pass.
      double a = L.bias[static_cast<size_t>(k)], c = a;
      const double* w = L.weight.data() + k * L.in;
      for (int64_t i = 0; i < L.in; ++i) {
        a += w[i] * (w[i] >= 0 ? plo[static_cast<size_t>(i)] : phi[static_cast<size_t>(i)]);
        c += w[i] * (w[i] >= 0 ? phi[static_cast<size_t>(i)] : plo[static_cast<size_t>(i)]);
      }
      const int8_t s = state_of(pattern, static_cast<size_t>(l), k);
      if (s > 0) a = std::max(a, 0.0);
      if (s < 0) c = std::min(c, 0.0);
      zl[static_cast<size_t>(k)] = std::max(zl[static_cast<size_t>(k)], a);
      zu[static_cast<size_t>(k)] = std::min(zu[static_cast<size_t>(k)], c);
      if (zl[static_cast<size_t>(k)] > zu[static_cast<size_t>(k)]) {
        b.feasible = false;
        return b;
      }
      const int z = glp_add_cols(lp, 1);
      zcol[static_cast<size_t>(k)] = z;
      set_bounds(z, zl[static_cast<size_t>(k)], zu[static_cast<size_t>(k)]);
      std::vector<int> cols{z};
      std::vector<double> vals{1.0};
      for (int64_t i = 0; i < L.in; ++i)
        if (post[static_cast<size_t>(i)] != 0 && w[i] != 0.0) {
          cols.push_back(post[static_cast<size_t>(i)]);
          vals.push_back(-w[i]);
        }
      add_row(cols, vals, GLP_FX, L.bias[static_cast<size_t>(k)], L.bias[static_cast<size_t>(k)]);
    }
    // LP over everything so far (on the first layer without pattern constraints, interval
    // arithmetic is already exact).
    if (l > 0 || constrained) {
      for (int64_t k = 0; k < L.out; ++k) {
        double& kl = zl[static_cast<size_t>(k)];
        double& ku = zu[static_cast<size_t>(k)];
        if (state_of(pattern, static_cast<size_t>(l), k) != 0 || !(kl < 0 && ku > 0)) continue;
        const int z = zcol[static_cast<size_t>(k)];
        glp_set_obj_coef(lp, z, 1.0);
        for (int dir : {GLP_MIN, GLP_MAX}) {
          glp_set_obj_dir(lp, dir);
          int ret = glp_simplex(lp, &sm);
          if (ret != 0) {  // numerical trouble: retry from a fresh basis once
            glp_std_basis(lp);
            ret = glp_simplex(lp, &sm);
          }
          if (ret != 0) continue;  // keep the interval bound
          const int status = glp_get_status(lp);
          if (status == GLP_NOFEAS) {
            b.feasible = false;
            return b;
          }
          if (status != GLP_OPT) continue;
          const double v = glp_get_obj_val(lp);
          if (dir == GLP_MIN) kl = std::max(kl, v - kSlack);
          else ku = std::min(ku, v + kSlack);
        }
        glp_set_obj_coef(lp, z, 0.0);
        if (kl > ku) {
          b.feasible = false;
          return b;
        }
        set_bounds(z, kl, ku);
      }
    }
    // This layer's outputs for the next: linear, zero, or the triangle relaxation.
    std::vector<int> next(static_cast<size_t>(L.out), 0);
    std::vector<double> nlo(static_cast<size_t>(L.out)), nhi(static_cast<size_t>(L.out));
    for (int64_t k = 0; k < L.out; ++k) {
      const double kl = zl[static_cast<size_t>(k)], ku = zu[static_cast<size_t>(k)];
      const int8_t s = state_of(pattern, static_cast<size_t>(l), k);
      const int z = zcol[static_cast<size_t>(k)];
      if (s > 0 || (s == 0 && kl >= 0)) {
        next[static_cast<size_t>(k)] = z;
        nlo[static_cast<size_t>(k)] = std::max(kl, 0.0);
        nhi[static_cast<size_t>(k)] = std::max(ku, 0.0);
      } else if (s < 0 || ku <= 0) {
        nlo[static_cast<size_t>(k)] = nhi[static_cast<size_t>(k)] = 0.0;
      } else {
        ++b.unstable;
        const int y = glp_add_cols(lp, 1);
        set_bounds(y, 0.0, ku);
        add_row({y, z}, {1.0, -1.0}, GLP_LO, 0.0, 0.0);                // y >= z
        add_row({y, z}, {ku - kl, -ku}, GLP_UP, 0.0, -ku * kl);        // (u - l) y <= u (z - l)
        next[static_cast<size_t>(k)] = y;
        nlo[static_cast<size_t>(k)] = 0.0;
        nhi[static_cast<size_t>(k)] = ku;
      }
    }
    post = std::move(next);
    plo = std::move(nlo);
    phi = std::move(nhi);
  }
  return b;
}

std::string outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kVerified: return "verified";
    case Outcome::kCounterexample: return "counterexample";
    case Outcome::kTimeout: return "timeout";
  }
  return "?";
}

Json MarginResult::to_json(bool with_x) const {
  auto finite_or_null = [](double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); };
  Json j = {{"other", other},        {"outcome", outcome_name(outcome)}, {"best_margin", finite_or_null(best)},
            {"bound", finite_or_null(bound)}, {"optimal", optimal},       {"infeasible", infeasible},
            {"binaries", binaries}, {"seconds", seconds}};
  if (with_x && !x.empty()) j["x"] = x;
  return j;
}

Json RegionResult::to_json(bool with_x) const {
  Json q = Json::array();
  for (const auto& r : queries) q.push_back(r.to_json(with_x));
  return {{"outcome", outcome_name(outcome)}, {"seconds", seconds}, {"bound_seconds", bound_seconds},
          {"unstable", unstable}, {"queries", q}};
}

MarginResult max_margin(const ReluNetwork& net, const std::vector<double>& lo, const std::vector<double>& hi,
                        const Pattern& pattern, int64_t reference, int64_t other, const MilpOptions& options,
                        const IntervalBounds* precomputed) {
  const auto start = std::chrono::steady_clock::now();
  net.validate();
  GOLGI_CHECK(reference >= 0 && reference < net.classes(), "nap: class ", reference, " is out of range [0, ",
              net.classes(), ")");
  GOLGI_CHECK(other >= 0 && other < net.classes() && other != reference, "nap: the other class ", other,
              " must be in [0, ", net.classes(), ") and differ from ", reference);
  GOLGI_CHECK(options.time_limit_s > 0, "nap: the time limit per query must be > 0 s, got ", options.time_limit_s);
  check_box(net, lo, hi);
  check_pattern(net, pattern);
  IntervalBounds computed;
  if (precomputed == nullptr)
    computed = options.lp_bounds ? lp_bounds(net, lo, hi, pattern) : interval_bounds(net, lo, hi, pattern);
  const IntervalBounds& bounds = precomputed ? *precomputed : computed;
  GOLGI_ASSERT(!bounds.feasible || static_cast<int64_t>(bounds.lower.size()) == net.hidden_layers(),
               "bounds do not match the network");

  MarginResult r;
  r.other = other;
  r.best = std::numeric_limits<double>::quiet_NaN();
  if (!bounds.feasible) {
    r.outcome = Outcome::kVerified;
    r.infeasible = true;
    r.bound = -kInf;
    r.optimal = true;
    r.seconds = seconds_since(start);
    return r;
  }

  glp_term_out(GLP_OFF);
  std::unique_ptr<glp_prob, ProbDeleter> prob(glp_create_prob());
  glp_prob* lp = prob.get();
  glp_set_obj_dir(lp, GLP_MAX);
  std::vector<int> ia{0}, ja{0};
  std::vector<double> ar{0.0};
  auto add_cols = [&](int n) { return glp_add_cols(lp, n); };
  auto set_bounds = [&](int col, double l, double u) {
    if (l == u)
      glp_set_col_bnds(lp, col, GLP_FX, l, u);
    else
      glp_set_col_bnds(lp, col, GLP_DB, l, u);
  };
  auto add_row = [&](const std::vector<std::pair<int, double>>& terms, int type, double l, double u) {
    const int row = glp_add_rows(lp, 1);
    glp_set_row_bnds(lp, row, type, l, u);
    for (const auto& [col, v] : terms) {
      ia.push_back(row);
      ja.push_back(col);
      ar.push_back(v);
    }
    return row;
  };

  // Inputs.
  const int n_in = static_cast<int>(net.inputs());
  const int first_x = add_cols(n_in);
  // post[i]: the column of the previous layer's output i, or 0 when it is identically zero.
  std::vector<int> post(static_cast<size_t>(n_in));
  for (int i = 0; i < n_in; ++i) {
    set_bounds(first_x + i, lo[static_cast<size_t>(i)], hi[static_cast<size_t>(i)]);
    post[static_cast<size_t>(i)] = first_x + i;
  }

  int64_t binaries = 0;
  for (int64_t l = 0; l < net.hidden_layers(); ++l) {
    const auto& L = net.layers[static_cast<size_t>(l)];
    std::vector<int> next(static_cast<size_t>(L.out), 0);
    for (int64_t k = 0; k < L.out; ++k) {
      const double zl = bounds.lower[static_cast<size_t>(l)][static_cast<size_t>(k)];
      const double zu = bounds.upper[static_cast<size_t>(l)][static_cast<size_t>(k)];
      const int8_t s = state_of(pattern, static_cast<size_t>(l), k);
      const int z = add_cols(1);
      set_bounds(z, zl, zu);  // the pattern's z >= 0 / z <= 0 are already in these bounds
      std::vector<std::pair<int, double>> terms{{z, 1.0}};
      const double* w = L.weight.data() + k * L.in;
      for (int64_t i = 0; i < L.in; ++i)
        if (post[static_cast<size_t>(i)] != 0 && w[i] != 0.0) terms.emplace_back(post[static_cast<size_t>(i)], -w[i]);
      const double b = L.bias[static_cast<size_t>(k)];
      add_row(terms, GLP_FX, b, b);  // z - W y = b
      if (s > 0 || (s == 0 && zl >= 0)) {
        next[static_cast<size_t>(k)] = z;  // y = z
      } else if (s < 0 || zu <= 0) {
        next[static_cast<size_t>(k)] = 0;  // y = 0
      } else {
        const int y = add_cols(1), a = add_cols(1);
        set_bounds(y, 0.0, zu);
        glp_set_col_kind(lp, a, GLP_BV);
        ++binaries;
        add_row({{y, 1.0}, {z, -1.0}}, GLP_LO, 0.0, 0.0);           // y >= z
        add_row({{y, 1.0}, {z, -1.0}, {a, -zl}}, GLP_UP, 0.0, -zl);  // y <= z - l (1 - a)
        add_row({{y, 1.0}, {a, -zu}}, GLP_UP, 0.0, 0.0);             // y <= u a
        next[static_cast<size_t>(k)] = y;
      }
    }
    post = std::move(next);
  }
  // Objective: f_j - f_c.
  const auto& out = net.layers.back();
  for (int64_t i = 0; i < out.in; ++i) {
    const int col = post[static_cast<size_t>(i)];
    if (col == 0) continue;
    const double coef = out.weight[static_cast<size_t>(other * out.in + i)] -
                        out.weight[static_cast<size_t>(reference * out.in + i)];
    glp_set_obj_coef(lp, col, glp_get_obj_coef(lp, col) + coef);
  }
  glp_set_obj_coef(lp, 0, out.bias[static_cast<size_t>(other)] - out.bias[static_cast<size_t>(reference)]);
  glp_load_matrix(lp, static_cast<int>(ia.size()) - 1, ia.data(), ja.data(), ar.data());
  r.binaries = binaries;

  CallbackState state;
  state.stop_early = options.stop_early;
  glp_iocp parm;
  glp_init_iocp(&parm);
  parm.msg_lev = GLP_MSG_OFF;
  parm.presolve = options.presolve ? GLP_ON : GLP_OFF;
  parm.tm_lim = static_cast<int>(std::max(1.0, std::min(options.time_limit_s * 1000.0, 2.0e9)));
  const std::string& br = options.branching;
  GOLGI_CHECK(br == "pch" || br == "dth" || br == "mfv" || br == "ffv" || br == "lfv", "nap: unknown branching '", br,
              "'; expected pch, dth, mfv, ffv or lfv");
  parm.br_tech = br == "pch" ? GLP_BR_PCH : br == "dth" ? GLP_BR_DTH : br == "mfv" ? GLP_BR_MFV
                 : br == "ffv" ? GLP_BR_FFV : GLP_BR_LFV;
  if (options.cuts) {
    parm.mir_cuts = GLP_ON;
    parm.gmi_cuts = GLP_ON;
    parm.cov_cuts = GLP_ON;
  }
  parm.cb_func = callback;
  parm.cb_info = &state;
  int ret = 0;
  if (!options.presolve) {
    glp_smcp sm;
    glp_init_smcp(&sm);
    sm.msg_lev = GLP_MSG_OFF;
    sm.tm_lim = parm.tm_lim;
    ret = glp_simplex(lp, &sm);
    if (ret == 0 && glp_get_status(lp) == GLP_NOFEAS) ret = GLP_ENOPFS;
    if (ret == 0) {
      // The LP relaxation's optimum bounds the MILP's.
      state.bound = glp_get_obj_val(lp);
      const double left_ms = options.time_limit_s * 1000.0 - seconds_since(start) * 1000.0;
      parm.tm_lim = static_cast<int>(std::max(1.0, std::min(left_ms, 2.0e9)));
      ret = glp_intopt(lp, &parm);
    }
  } else {
    ret = glp_intopt(lp, &parm);
  }

  const int status = (ret == 0 || ret == GLP_ETMLIM || ret == GLP_ESTOP) ? glp_mip_status(lp) : GLP_UNDEF;
  const bool have_x = status == GLP_OPT || status == GLP_FEAS;
  if (have_x) {
    r.best = glp_mip_obj_val(lp);
    r.x.resize(static_cast<size_t>(n_in));
    for (int i = 0; i < n_in; ++i) r.x[static_cast<size_t>(i)] = glp_mip_col_val(lp, first_x + i);
  }
  if (ret == GLP_ENOPFS || (ret == 0 && status == GLP_NOFEAS)) {
    r.outcome = Outcome::kVerified;
    r.infeasible = true;
    r.optimal = true;
    r.bound = -kInf;
  } else if (ret == 0 && status == GLP_OPT) {
    r.optimal = true;
    r.bound = r.best;
    r.outcome = r.best < 0 ? Outcome::kVerified : Outcome::kCounterexample;
  } else if (have_x && r.best >= 0) {
    r.outcome = Outcome::kCounterexample;
    r.bound = state.bound;
  } else if (state.decided < 0) {
    r.outcome = Outcome::kVerified;
    r.bound = state.bound;
  } else if (ret == GLP_ETMLIM || ret == GLP_ESTOP || ret == 0) {
    r.outcome = Outcome::kTimeout;
    r.bound = state.bound;
  } else {
    GOLGI_FAIL("nap: GLPK failed on the margin query (class ", reference, " vs ", other, "): glp_intopt returned ",
               ret, "; the box or the network may be numerically degenerate");
  }
  r.seconds = seconds_since(start);
  return r;
}

RegionResult verify_region(const ReluNetwork& net, const std::vector<double>& lo, const std::vector<double>& hi,
                           const Pattern& pattern, int64_t reference, const MilpOptions& options,
                           bool stop_at_failure, double budget_s) {
  const auto start = std::chrono::steady_clock::now();
  GOLGI_CHECK(reference >= 0 && reference < net.classes(), "nap: class ", reference, " is out of range [0, ",
              net.classes(), ")");
  RegionResult result;
  result.outcome = Outcome::kVerified;
  const IntervalBounds bounds =
      options.lp_bounds ? lp_bounds(net, lo, hi, pattern) : interval_bounds(net, lo, hi, pattern);
  result.bound_seconds = seconds_since(start);
  result.unstable = bounds.unstable;
  for (int64_t j = 0; j < net.classes(); ++j) {
    if (j == reference) continue;
    MilpOptions query_options = options;
    if (budget_s > 0) {
      const double left = budget_s - seconds_since(start);
      if (left < 0.01) {  // out of time: the remaining classes are unknown
        result.outcome = result.outcome == Outcome::kVerified ? Outcome::kTimeout : result.outcome;
        break;
      }
      query_options.time_limit_s = std::min(options.time_limit_s, left);
    }
    MarginResult q = max_margin(net, lo, hi, pattern, reference, j, query_options, &bounds);
    const Outcome o = q.outcome;
    result.queries.push_back(std::move(q));
    if (o == Outcome::kCounterexample) {
      result.outcome = Outcome::kCounterexample;
    } else if (o == Outcome::kTimeout && result.outcome == Outcome::kVerified) {
      result.outcome = Outcome::kTimeout;
    }
    if (stop_at_failure && result.outcome != Outcome::kVerified) break;
  }
  result.seconds = seconds_since(start);
  return result;
}

}  // namespace golgi::methods::nap
