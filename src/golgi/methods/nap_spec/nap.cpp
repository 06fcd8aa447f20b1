#include "golgi/methods/nap_spec/nap.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/stopwatch.h"
#include "golgi/hooks/activation_cache.h"
#include "golgi/models/model.h"

namespace golgi::methods::nap {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

Json finite_or_null(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

int64_t hidden_count(const models::Model& model) {
  const Json& hidden = model.options().at("hidden");
  return static_cast<int64_t>(hidden.size());
}

at::Tensor parameter(const models::Model& model, const std::string& name) {
  auto params = model.named_parameters(/*recurse=*/true);
  const at::Tensor* t = params.find(name);
  GOLGI_CHECK(t != nullptr, "nap: the model has no parameter '", name, "'");
  return t->detach().to(torch::kFloat64).contiguous();
}

void check_layers(const std::vector<at::Tensor>& active) {
  GOLGI_CHECK(!active.empty(), "nap: no activation layers given");
  for (size_t l = 0; l < active.size(); ++l)
    GOLGI_CHECK(active[l].defined() && active[l].dim() == 2 && active[l].size(0) == active[0].size(0),
                "nap: activation layer ", l, " must be [N, neurons] with the same N as layer 0");
}

}  // namespace

// ---- the network ----

void check_relu_mlp(const models::Model& model) {
  GOLGI_CHECK(model.architecture() == "mlp" && model.task() == "classify",
              "nap: NAP verification needs a ReLU MLP classifier (architecture 'mlp', activation 'relu'); got "
              "architecture '", model.architecture(), "'. Train one with: golgi train --model mlp");
  const std::string activation = model.options().value("activation", std::string("relu"));
  GOLGI_CHECK(activation == "relu", "nap: the MLP's hidden activation is '", activation,
              "'; NAPs and the MILP encoding need 'relu' (retrain with activation relu)");
  GOLGI_CHECK(hidden_count(model) >= 1, "nap: the MLP has no hidden layer, so it has no activation pattern");
}

void InputScale::validate() const {
  GOLGI_CHECK(std::isfinite(mean) && std::isfinite(std) && std > 0, "nap: the input scale needs a finite mean and "
              "std > 0, got mean ", mean, ", std ", std);
}

InputScale input_scale_of(const std::string& dataset) {
  // data/fashion_mnist.cpp: pixels / 255, then (x - 0.2860) / 0.3530.
  if (dataset == "fashion-mnist") return InputScale{0.2860, 0.3530};
  return InputScale{};
}

ReluNetwork relu_network(const models::Model& model, const InputScale& scale) {
  check_relu_mlp(model);
  scale.validate();
  ReluNetwork net;
  const int64_t L = hidden_count(model);
  for (int64_t l = 0; l <= L; ++l) {
    const std::string prefix = l < L ? "layers." + std::to_string(l) : std::string("head");
    const at::Tensor w = parameter(model, prefix + ".weight");
    const at::Tensor b = parameter(model, prefix + ".bias");
    AffineLayer layer;
    layer.out = w.size(0);
    layer.in = w.size(1);
    layer.weight.assign(w.data_ptr<double>(), w.data_ptr<double>() + w.numel());
    layer.bias.assign(b.data_ptr<double>(), b.data_ptr<double>() + b.numel());
    if (l == 0) {
      for (int64_t k = 0; k < layer.out; ++k) {
        double row = 0;
        for (int64_t i = 0; i < layer.in; ++i) {
          double& w_ki = layer.weight[static_cast<size_t>(k * layer.in + i)];
          row += w_ki;
          w_ki /= scale.std;
        }
        layer.bias[static_cast<size_t>(k)] -= scale.mean / scale.std * row;
      }
    }
    net.layers.push_back(std::move(layer));
  }
  net.validate();
  return net;
}

std::vector<std::string> pattern_hooks(const models::Model& model) {
  check_relu_mlp(model);
  std::vector<std::string> names;
  for (int64_t l = 0; l < hidden_count(model); ++l) names.push_back("layers." + std::to_string(l) + ".hook_pre");
  return names;
}

int64_t Activations::size() const { return logits.defined() ? logits.size(0) : 0; }

Activations record_activations(models::Model& model, const at::Tensor& inputs, int64_t batch_size,
                               const std::string& label) {
  const auto names = pattern_hooks(model);
  GOLGI_CHECK(inputs.defined() && inputs.dim() >= 1 && inputs.size(0) > 0, "nap: no input samples");
  GOLGI_CHECK(batch_size > 0, "nap: batch size must be > 0, got ", batch_size);
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  hooks::ActivationCache cache(model, names);
  const int64_t N = inputs.size(0);
  std::vector<std::vector<at::Tensor>> parts(names.size());
  std::vector<at::Tensor> logits;
  std::unique_ptr<Progress> progress;
  if (!label.empty()) progress = std::make_unique<Progress>(label, N, "img");
  for (int64_t begin = 0; begin < N; begin += batch_size) {
    const int64_t n = std::min(batch_size, N - begin);
    const at::Tensor x = inputs.narrow(0, begin, n).to(torch::kFloat);
    logits.push_back(cache.run([&] { return model.forward(x); }));
    for (size_t l = 0; l < names.size(); ++l) parts[l].push_back(cache[names[l]].gt(0));
    if (progress) progress->advance(n);
  }
  if (progress) progress->finish();
  if (was_training) model.train();
  Activations a;
  for (auto& p : parts) a.active.push_back(torch::cat(p));
  a.logits = torch::cat(logits);
  return a;
}

// ---- mining ----

void NapOptions::validate() const {
  GOLGI_CHECK(delta > 0.5 && delta <= 1.0, "nap: delta must be in (0.5, 1] (the share of a class's samples a "
              "neuron must agree on), got ", delta);
}

int64_t ClassNap::on() const {
  int64_t n = 0;
  for (const auto& layer : states) n += std::count(layer.begin(), layer.end(), int8_t{1});
  return n;
}
int64_t ClassNap::off() const {
  int64_t n = 0;
  for (const auto& layer : states) n += std::count(layer.begin(), layer.end(), int8_t{-1});
  return n;
}
int64_t ClassNap::neurons() const {
  int64_t n = 0;
  for (const auto& layer : states) n += static_cast<int64_t>(layer.size());
  return n;
}

Json NapSet::to_json() const {
  Json classes = Json::array();
  for (const auto& nap : naps) {
    Json on = Json::array(), off = Json::array(), sizes = Json::array();
    for (const auto& layer : nap.states) {
      std::vector<int64_t> a, b;
      for (size_t k = 0; k < layer.size(); ++k) {
        if (layer[k] > 0) a.push_back(static_cast<int64_t>(k));
        if (layer[k] < 0) b.push_back(static_cast<int64_t>(k));
      }
      on.push_back(a);
      off.push_back(b);
      sizes.push_back(layer.size());
    }
    classes.push_back({{"label", nap.label}, {"support", nap.support}, {"neurons", sizes},
                       {"on_count", nap.on()}, {"off_count", nap.off()}, {"on", on}, {"off", off}});
  }
  return {{"format", "golgi-nap"}, {"version", 1}, {"delta", delta}, {"correct_only", correct_only},
          {"hooks", hooks}, {"classes", classes}};
}

NapSet NapSet::from_json(const Json& json) {
  const std::string what = "NAP file";
  GOLGI_CHECK(json.is_object() && json.value("format", std::string()) == "golgi-nap",
              "nap: not a NAP file (expected {\"format\": \"golgi-nap\"}); make one with: golgi nap mine");
  GOLGI_CHECK(json.value("version", 0) == 1, "nap: NAP file version ", json.value("version", 0),
              " is not supported (expected 1)");
  NapSet set;
  try {
    set.delta = json_member(json, "delta", what).get<double>();
    set.correct_only = json.value("correct_only", true);
    set.hooks = json_member(json, "hooks", what).get<std::vector<std::string>>();
    for (const auto& c : json_member(json, "classes", what)) {
      ClassNap nap;
      nap.label = json_member(c, "label", what).get<int64_t>();
      nap.support = c.value("support", int64_t{0});
      const auto sizes = json_member(c, "neurons", what).get<std::vector<int64_t>>();
      const auto on = json_member(c, "on", what).get<std::vector<std::vector<int64_t>>>();
      const auto off = json_member(c, "off", what).get<std::vector<std::vector<int64_t>>>();
      GOLGI_CHECK(on.size() == sizes.size() && off.size() == sizes.size(), "nap: NAP of class ", nap.label,
                  " lists ", on.size(), " 'on' and ", off.size(), " 'off' layers for ", sizes.size(), " layers");
      for (size_t l = 0; l < sizes.size(); ++l) {
        std::vector<int8_t> states(static_cast<size_t>(sizes[l]), 0);
        for (auto k : on[l]) {
          GOLGI_CHECK(k >= 0 && k < sizes[l], "nap: NAP of class ", nap.label, " layer ", l, ": neuron ", k,
                      " is out of range [0, ", sizes[l], ")");
          states[static_cast<size_t>(k)] = 1;
        }
        for (auto k : off[l]) {
          GOLGI_CHECK(k >= 0 && k < sizes[l] && states[static_cast<size_t>(k)] == 0, "nap: NAP of class ",
                      nap.label, " layer ", l, ": neuron ", k, " is out of range or both on and off");
          states[static_cast<size_t>(k)] = -1;
        }
        nap.states.push_back(std::move(states));
      }
      set.naps.push_back(std::move(nap));
    }
  } catch (const nlohmann::json::exception& e) {
    GOLGI_FAIL("nap: malformed NAP file: ", e.what());
  }
  for (size_t c = 0; c < set.naps.size(); ++c)
    GOLGI_CHECK(set.naps[c].label == static_cast<int64_t>(c), "nap: NAP file classes must be listed in order 0..K-1");
  return set;
}

NapSet mine_naps(const std::vector<at::Tensor>& active, const at::Tensor& labels, const at::Tensor& predictions,
                 int64_t classes, const NapOptions& options) {
  options.validate();
  check_layers(active);
  const int64_t N = active[0].size(0);
  GOLGI_CHECK(labels.defined() && labels.dim() == 1 && labels.size(0) == N, "nap: labels must be [N] with N = ", N);
  GOLGI_CHECK(!predictions.defined() || (predictions.dim() == 1 && predictions.size(0) == N),
              "nap: predictions must be [N] with N = ", N);
  GOLGI_CHECK(classes >= 1, "nap: classes must be >= 1, got ", classes);
  const at::Tensor y = labels.to(torch::kLong);
  GOLGI_CHECK(N == 0 || (y.min().item<int64_t>() >= 0 && y.max().item<int64_t>() < classes),
              "nap: labels must be in [0, ", classes, ")");
  at::Tensor used = predictions.defined() && options.correct_only ? predictions.to(torch::kLong).eq(y)
                                                                    : torch::ones({N}, torch::kBool);
  NapSet set;
  set.delta = options.delta;
  set.correct_only = options.correct_only && predictions.defined();
  for (int64_t c = 0; c < classes; ++c) {
    ClassNap nap;
    nap.label = c;
    const at::Tensor mask = used.logical_and(y.eq(c));
    nap.support = mask.sum().item<int64_t>();
    for (const auto& a : active) {
      std::vector<int8_t> states(static_cast<size_t>(a.size(1)), 0);
      if (nap.support > 0) {
        const at::Tensor on_count = a.index({mask}).to(torch::kLong).sum(0).contiguous();
        const int64_t* on = on_count.data_ptr<int64_t>();
        // Integer comparisons (count >= delta * support) avoid a float share landing just below delta.
        const double need = options.delta * static_cast<double>(nap.support);
        for (int64_t k = 0; k < a.size(1); ++k) {
          if (static_cast<double>(on[k]) >= need - 1e-9) states[static_cast<size_t>(k)] = 1;
          else if (static_cast<double>(nap.support - on[k]) >= need - 1e-9) states[static_cast<size_t>(k)] = -1;
        }
      }
      nap.states.push_back(std::move(states));
    }
    set.naps.push_back(std::move(nap));
  }
  return set;
}

// ---- checking ----

at::Tensor follows(const ClassNap& nap, const std::vector<at::Tensor>& active) {
  check_layers(active);
  GOLGI_CHECK(nap.states.size() == active.size(), "nap: the NAP has ", nap.states.size(),
              " layers, the activations ", active.size());
  at::Tensor ok = torch::ones({active[0].size(0)}, torch::kBool);
  for (size_t l = 0; l < active.size(); ++l) {
    const auto& s = nap.states[l];
    GOLGI_CHECK(static_cast<int64_t>(s.size()) == active[l].size(1), "nap: NAP layer ", l, " has ", s.size(),
                " neurons, the activations ", active[l].size(1));
    std::vector<int64_t> on, off;
    for (size_t k = 0; k < s.size(); ++k) {
      if (s[k] > 0) on.push_back(static_cast<int64_t>(k));
      if (s[k] < 0) off.push_back(static_cast<int64_t>(k));
    }
    const at::Tensor a = active[l].to(torch::kBool);
    if (!on.empty()) ok = ok.logical_and(a.index_select(1, torch::tensor(on)).all(1));
    if (!off.empty()) ok = ok.logical_and(a.index_select(1, torch::tensor(off)).logical_not().all(1));
  }
  return ok;
}

bool mutually_exclusive(const ClassNap& a, const ClassNap& b) {
  GOLGI_CHECK(a.states.size() == b.states.size(), "nap: NAPs with different layer counts");
  for (size_t l = 0; l < a.states.size(); ++l) {
    GOLGI_CHECK(a.states[l].size() == b.states[l].size(), "nap: NAPs with different layer widths");
    for (size_t k = 0; k < a.states[l].size(); ++k)
      if (a.states[l][k] * b.states[l][k] < 0) return true;
  }
  return false;
}

Json ClassCheck::to_json() const {
  return {{"label", label}, {"class_samples", class_samples}, {"covered", covered}, {"followers", followers},
          {"coverage", finite_or_null(coverage)}, {"precision", finite_or_null(precision)}};
}

Json NapCheck::to_json() const {
  Json per = Json::array();
  for (const auto& c : classes) per.push_back(c.to_json());
  Json pairs_list = Json::array();
  for (size_t a = 0; a < exclusive.size(); ++a)
    for (size_t b = a + 1; b < exclusive.size(); ++b)
      if (!exclusive[a][b]) pairs_list.push_back({a, b});
  return {{"classes", per},
          {"mean_coverage", finite_or_null(mean_coverage)},
          {"mean_precision", finite_or_null(mean_precision)},
          {"min_coverage", finite_or_null(min_coverage)},
          {"min_precision", finite_or_null(min_precision)},
          {"exclusive_pairs", exclusive_pairs},
          {"pairs", pairs},
          {"non_exclusive_pairs", pairs_list}};
}

NapCheck check_naps(const NapSet& naps, const std::vector<at::Tensor>& active, const at::Tensor& labels) {
  check_layers(active);
  const int64_t N = active[0].size(0);
  GOLGI_CHECK(labels.defined() && labels.dim() == 1 && labels.size(0) == N, "nap: labels must be [N] with N = ", N);
  const at::Tensor y = labels.to(torch::kLong);
  NapCheck check;
  double sum_cov = 0, sum_prec = 0;
  int64_t n_cov = 0, n_prec = 0;
  check.min_coverage = kInf;
  check.min_precision = kInf;
  for (const auto& nap : naps.naps) {
    const at::Tensor f = follows(nap, active);
    const at::Tensor mine = y.eq(nap.label);
    ClassCheck c;
    c.label = nap.label;
    c.class_samples = mine.sum().item<int64_t>();
    c.covered = f.logical_and(mine).sum().item<int64_t>();
    c.followers = f.sum().item<int64_t>();
    c.coverage = c.class_samples > 0 ? static_cast<double>(c.covered) / static_cast<double>(c.class_samples) : kNaN;
    c.precision = c.followers > 0 ? static_cast<double>(c.covered) / static_cast<double>(c.followers) : kNaN;
    if (std::isfinite(c.coverage)) {
      sum_cov += c.coverage;
      ++n_cov;
      check.min_coverage = std::min(check.min_coverage, c.coverage);
    }
    if (std::isfinite(c.precision)) {
      sum_prec += c.precision;
      ++n_prec;
      check.min_precision = std::min(check.min_precision, c.precision);
    }
    check.classes.push_back(c);
  }
  check.mean_coverage = n_cov ? sum_cov / static_cast<double>(n_cov) : kNaN;
  check.mean_precision = n_prec ? sum_prec / static_cast<double>(n_prec) : kNaN;
  if (!std::isfinite(check.min_coverage)) check.min_coverage = kNaN;
  if (!std::isfinite(check.min_precision)) check.min_precision = kNaN;
  const size_t K = naps.naps.size();
  check.exclusive.assign(K, std::vector<bool>(K, false));
  for (size_t a = 0; a < K; ++a)
    for (size_t b = a + 1; b < K; ++b) {
      const bool e = mutually_exclusive(naps.naps[a], naps.naps[b]);
      check.exclusive[a][b] = check.exclusive[b][a] = e;
      ++check.pairs;
      if (e) ++check.exclusive_pairs;
    }
  return check;
}

// ---- verification ----

void input_box(const std::vector<double>& x0, double eps, std::vector<double>& lo, std::vector<double>& hi,
               double data_lo, double data_hi) {
  GOLGI_CHECK(std::isfinite(eps) && eps > 0, "nap: eps must be > 0 (the L-infinity radius), got ", eps);
  GOLGI_CHECK(data_lo < data_hi, "nap: data bounds must satisfy lower < upper");
  lo.resize(x0.size());
  hi.resize(x0.size());
  for (size_t i = 0; i < x0.size(); ++i) {
    GOLGI_CHECK(x0[i] >= data_lo && x0[i] <= data_hi, "nap: sample value ", x0[i], " at input ", i,
                " lies outside the data bounds [", data_lo, ", ", data_hi, "]");
    lo[i] = std::max(data_lo, x0[i] - eps);
    hi[i] = std::min(data_hi, x0[i] + eps);
  }
}

Json Replay::to_json() const {
  return {{"follows", follows}, {"follows_tolerant", follows_tolerant}, {"worst_violation", worst_violation},
          {"predicted", predicted}, {"margin", margin}, {"misclassified", misclassified},
          {"strict_misclassified", strict_misclassified}, {"in_box", in_box}, {"tolerance", tolerance}};
}

Replay replay_counterexample(const models::Model& model, const std::vector<double>& x, const Pattern& pattern,
                             int64_t reference, int64_t other, const std::vector<double>& lo,
                             const std::vector<double>& hi, const InputScale& scale, double tolerance) {
  check_relu_mlp(model);
  scale.validate();
  torch::NoGradGuard no_grad;
  const int64_t L = hidden_count(model);
  GOLGI_CHECK(pattern.empty() || static_cast<int64_t>(pattern.size()) == L, "nap: the pattern has ", pattern.size(),
              " layers, the model ", L);
  Replay r;
  r.tolerance = tolerance;
  r.in_box = x.size() == lo.size() && x.size() == hi.size();
  for (size_t i = 0; r.in_box && i < x.size(); ++i)
    r.in_box = x[i] >= lo[i] - tolerance && x[i] <= hi[i] + tolerance;
  std::vector<double> xm(x.size());
  for (size_t i = 0; i < x.size(); ++i) xm[i] = scale.to_model(x[i]);
  at::Tensor y = torch::tensor(xm, torch::kFloat64).unsqueeze(0);
  r.follows = true;
  for (int64_t l = 0; l < L; ++l) {
    const std::string p = "layers." + std::to_string(l);
    const at::Tensor z = torch::addmm(parameter(model, p + ".bias"), y, parameter(model, p + ".weight").t());
    if (!pattern.empty()) {
      const auto& s = pattern[static_cast<size_t>(l)];
      GOLGI_CHECK(static_cast<int64_t>(s.size()) == z.size(1), "nap: pattern layer ", l, " has ", s.size(),
                  " neurons, the model ", z.size(1));
      const double* zp = z.data_ptr<double>();
      for (size_t k = 0; k < s.size(); ++k) {
        if (s[k] > 0) {
          r.follows = r.follows && zp[k] > 0;
          r.worst_violation = std::max(r.worst_violation, -zp[k]);
        } else if (s[k] < 0) {
          r.follows = r.follows && zp[k] <= 0;
          r.worst_violation = std::max(r.worst_violation, zp[k]);
        }
      }
    }
    y = torch::relu(z);
  }
  const at::Tensor logits = torch::addmm(parameter(model, "head.bias"), y, parameter(model, "head.weight").t());
  r.follows_tolerant = r.worst_violation <= tolerance;
  r.predicted = logits.argmax(1).item<int64_t>();
  r.margin = logits[0][other].item<double>() - logits[0][reference].item<double>();
  r.strict_misclassified = r.predicted != reference;
  r.misclassified = r.margin >= -tolerance;
  return r;
}

Json EpsTrial::to_json() const {
  Json j = {{"eps", eps}, {"outcome", outcome_name(region.outcome)}, {"seconds", region.seconds},
            {"queries", region.to_json()["queries"]}};
  if (!replays.empty()) {
    Json r = Json::array();
    for (const auto& p : replays) r.push_back(p.to_json());
    j["replays"] = r;
  }
  return j;
}

Json EpsSearch::to_json() const {
  Json t = Json::array();
  for (const auto& trial : trials) t.push_back(trial.to_json());
  return {{"verified_eps", verified_eps}, {"failed_eps", finite_or_null(failed_eps)},
          {"budget_exhausted", budget_exhausted}, {"seconds", seconds}, {"trials", t}};
}

EpsSearch largest_verified_eps(const models::Model& model, const ReluNetwork& net, const std::vector<double>& x0,
                               const Pattern& pattern, int64_t reference, const EpsSearchOptions& options) {
  GOLGI_CHECK(options.eps_start > 0 && options.eps_max >= options.eps_start && options.eps_min > 0 &&
                  options.eps_min <= options.eps_start,
              "nap: eps search needs 0 < eps_min <= eps_start <= eps_max, got ", options.eps_min, ", ",
              options.eps_start, ", ", options.eps_max);
  GOLGI_CHECK(options.bisect_steps >= 0, "nap: bisect_steps must be >= 0");
  GOLGI_CHECK(reference >= 0 && reference < net.classes(), "nap: class ", reference, " is out of range [0, ",
              net.classes(), ")");
  const auto start = std::chrono::steady_clock::now();
  EpsSearch s;
  s.failed_eps = kInf;
  auto attempt = [&](double eps) {
    std::vector<double> lo, hi;
    input_box(x0, eps, lo, hi);
    EpsTrial trial;
    trial.eps = eps;
    // The region may use what is left of the search's budget (at least one query's time limit).
    const double left = std::max(options.budget_s - seconds_since(start), options.milp.time_limit_s);
    trial.region = verify_region(net, lo, hi, pattern, reference, options.milp, /*stop_at_failure=*/true, left);
    for (const auto& q : trial.region.queries)
      if (q.outcome == Outcome::kCounterexample && !q.x.empty())
        trial.replays.push_back(
            replay_counterexample(model, q.x, pattern, reference, q.other, lo, hi, options.scale));
    const bool ok = trial.region.outcome == Outcome::kVerified;
    if (ok) s.verified_eps = std::max(s.verified_eps, eps);
    else s.failed_eps = std::min(s.failed_eps, eps);
    s.trials.push_back(std::move(trial));
    return ok;
  };
  auto over_budget = [&] {
    if (seconds_since(start) < options.budget_s) return false;
    s.budget_exhausted = true;
    return true;
  };
  GOLGI_CHECK(options.known_verified >= 0, "nap: known_verified must be >= 0");
  // Doubling up (or halving down) until the outcome flips, then bisection in log eps.
  s.verified_eps = std::min(options.known_verified, options.eps_max);
  double eps = std::max(options.eps_start, 2 * s.verified_eps);
  if (s.verified_eps >= options.eps_max) {
    // Nothing left to search.
  } else if (eps > options.eps_max) {
    eps = options.eps_max;
    attempt(eps);
  } else if (attempt(eps)) {
    while (eps < options.eps_max && !over_budget()) {
      eps = std::min(options.eps_max, eps * 2);
      if (!attempt(eps)) break;
    }
  } else if (s.verified_eps == 0) {
    while (eps / 2 >= options.eps_min && !over_budget()) {
      eps /= 2;
      if (attempt(eps)) break;
    }
  }
  if (s.verified_eps > 0 && std::isfinite(s.failed_eps)) {
    for (int k = 0; k < options.bisect_steps && !over_budget(); ++k) {
      const double mid = std::sqrt(s.verified_eps * s.failed_eps);
      attempt(mid);
    }
  }
  s.seconds = seconds_since(start);
  return s;
}

}  // namespace golgi::methods::nap
