#include "golgi/spiking/lif.h"

#include <torch/torch.h>

#include <ATen/Parallel.h>

#include <cmath>

#include "golgi/core/error.h"
#include "golgi/spiking/surrogate.h"

namespace golgi::spiking {

const OptionSchema<LifOptions>& LifOptions::schema() {
  static const auto schema =
      OptionSchema<LifOptions>("lif")
          .add("charge", &LifOptions::charge_, "charge rule", {"decay", "decay_input", "no_decay_input", "if"})
          .add("tau_m", &LifOptions::tau_m_, "membrane time constant (same unit as dt; must exceed dt)",
               at_least(0.0, /*inclusive=*/false))
          .add("dt", &LifOptions::dt_, "time step", at_least(0.0, /*inclusive=*/false))
          .add("v_threshold", &LifOptions::v_threshold_, "firing threshold V_th")
          .add("v_reset", &LifOptions::v_reset_, "reset potential V_reset")
          .add("reset", &LifOptions::reset_, "hard: to V_reset; soft: subtract V_th", {"hard", "soft"})
          .add("detach_reset", &LifOptions::detach_reset_, "no gradient through the reset")
          .add("v_init", &LifOptions::v_init_, "initial membrane", {"zero", "half_threshold"})
          .add("refractory_steps", &LifOptions::refractory_steps_, "silent steps after a spike", at_least<int64_t>(0))
          .add("surrogate", &LifOptions::surrogate_, "surrogate gradient",
               {"atan", "sigmoid", "fast_sigmoid", "rectangular"})
          .add("alpha", &LifOptions::alpha_, "surrogate sharpness / width", at_least(0.0, /*inclusive=*/false))
          .add("adaptation", &LifOptions::adaptation_, "adaptive threshold: beta_a, threshold rise per spike (0: off)",
               at_least(0.0))
          .add("tau_adapt", &LifOptions::tau_adapt_, "adaptation time constant (same unit as dt)",
               at_least(0.0, /*inclusive=*/false))
          .add("smooth_spikes", &LifOptions::smooth_spikes_, "tests: smooth primitive instead of the step");
  return schema;
}

namespace {

constexpr double kPi = 3.14159265358979323846;

enum class Charge { Decay, DecayInput, NoDecayInput, IF };

// The options resolved to numbers once, shared by the fused kernel and the reference.
struct Params {
  Charge charge = Charge::Decay;
  double dt = 1, tau_m = 2;  // same unit
  double v_th = 1, v_reset = 0;
  bool half_threshold_init = false, hard = true, detach = false, smooth = false;
  int64_t refractory = 0;
  double adaptation = 0, rho = 0;  // β_a and exp(−dt / tau_adapt)
  Surrogate surrogate;
};

Params resolve(const LifOptions& o) {
  LifOptions::schema().validate(o);
  GOLGI_CHECK(o.tau_m() > o.dt(), "lif: tau_m must exceed dt (tau_m ", o.tau_m(), ", dt ", o.dt(),
              "): with tau_m <= dt the membrane forgets everything within one step");
  GOLGI_CHECK(!(o.smooth_spikes() && o.refractory_steps() > 0),
              "lif: smooth_spikes (a test mode) cannot be combined with refractory_steps");
  GOLGI_CHECK(o.adaptation() >= 0, "lif: adaptation (beta_a) must be >= 0, got ", o.adaptation());
  GOLGI_CHECK(o.adaptation() == 0 || o.tau_adapt() > o.dt(), "lif: tau_adapt must exceed dt (tau_adapt ",
              o.tau_adapt(), ", dt ", o.dt(), ")");
  Params p;
  p.charge = o.charge() == "decay" ? Charge::Decay
             : o.charge() == "decay_input" ? Charge::DecayInput
             : o.charge() == "no_decay_input" ? Charge::NoDecayInput
                                               : Charge::IF;
  p.dt = o.dt();
  p.tau_m = o.tau_m();
  p.v_th = o.v_threshold();
  p.v_reset = o.v_reset();
  p.half_threshold_init = o.v_init() == "half_threshold";
  p.hard = o.reset() == "hard";
  p.detach = o.detach_reset();
  p.smooth = o.smooth_spikes();
  p.refractory = o.refractory_steps();
  p.adaptation = o.adaptation();
  p.rho = std::exp(-o.dt() / o.tau_adapt());
  p.surrogate = Surrogate::parse(o.surrogate(), o.alpha());
  return p;
}

at::Tensor as_time_major(const at::Tensor& x) {
  GOLGI_CHECK(x.defined() && x.dim() >= 2, "lif: input current must be [T, batch, ...], got ",
              x.defined() ? x.sizes() : at::IntArrayRef{});
  GOLGI_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble,
              "lif: input current must be float32 or float64, got ", x.scalar_type());
  GOLGI_CHECK(x.device().is_cpu(), "lif: the fused kernel runs on CPU tensors");
  return x.reshape({x.size(0), -1}).contiguous();
}

// Neurons per sample: everything after [T, batch].
int64_t neurons_of(const at::Tensor& x) { return x.size(0) * x.size(1) == 0 ? 0 : x.numel() / (x.size(0) * x.size(1)); }

void check_parameter(const at::Tensor& value, const char* name, const at::Tensor& x) {
  if (!value.defined()) return;
  GOLGI_CHECK(value.numel() == neurons_of(x), "lif: per-neuron ", name, " must have one value per neuron (",
              neurons_of(x), " for input ", x.sizes(), "), got ", value.sizes());
  GOLGI_CHECK(value.scalar_type() == x.scalar_type(), "lif: per-neuron ", name, " must have the input's dtype (",
              x.scalar_type(), "), got ", value.scalar_type());
  GOLGI_CHECK(value.device().is_cpu(), "lif: per-neuron ", name, " must be a CPU tensor");
  GOLGI_CHECK(torch::isfinite(value).all().item<bool>(), "lif: per-neuron ", name, " has NaN or infinite values");
}

void check_tau(const at::Tensor& tau, const Params& p) {
  if (!tau.defined()) return;
  const double smallest = tau.min().item<double>();
  GOLGI_CHECK(smallest > p.dt, "lif: every per-neuron tau_m must exceed dt (smallest ", smallest, ", dt ", p.dt,
              "); LifLayer keeps learned time constants above dt by construction");
}

// Per-neuron values of one parallel block: element j of the flat [batch x neurons] range is neuron
// (begin + j) mod neurons.
struct BlockNeurons {
  std::vector<double> k;    // decay: β = exp(−dt / tau_m); decay_input, no_decay_input: τ = tau_m / dt
  std::vector<double> tau;  // tau_m
  std::vector<double> v_th;
};

BlockNeurons block_neurons(const Params& p, const double* tau, const double* v_th, int64_t neurons, int64_t begin,
                           int64_t end) {
  BlockNeurons b;
  const auto len = static_cast<size_t>(end - begin);
  b.k.resize(len);
  b.tau.resize(len);
  b.v_th.resize(len);
  for (size_t j = 0; j < len; ++j) {
    const int64_t neuron = (begin + static_cast<int64_t>(j)) % neurons;
    b.tau[j] = tau ? tau[neuron] : p.tau_m;
    b.v_th[j] = v_th ? v_th[neuron] : p.v_th;
    b.k[j] = p.charge == Charge::Decay ? std::exp(-p.dt / b.tau[j]) : b.tau[j] / p.dt;
  }
  return b;
}

// The charge, written exactly as the reference writes it so both round identically.
template <typename T, Charge C>
inline T charge(T k, T v_reset, T v, T x) {
  switch (C) {
    case Charge::Decay: return k * v + x;
    case Charge::DecayInput: return v + (x - (v - v_reset)) / k;
    case Charge::NoDecayInput: return v - (v - v_reset) / k + x;
    case Charge::IF: return v + x;
  }
  return v;
}

// ∂h/∂v_{t−1}, ∂h/∂x and ∂h/∂tau_m of the charge for one neuron (h − v_prev lets decay_input's
// derivative avoid the input).
inline double dh_dv(Charge c, double k) {
  switch (c) {
    case Charge::Decay: return k;
    case Charge::DecayInput:
    case Charge::NoDecayInput: return 1 - 1 / k;
    case Charge::IF: return 1;
  }
  return 1;
}

inline double dh_dx(Charge c, double k) { return c == Charge::DecayInput ? 1 / k : 1.0; }

inline double dh_dtau(Charge c, const Params& p, double k, double tau, double v_prev, double h) {
  switch (c) {
    case Charge::Decay: return v_prev * k * p.dt / (tau * tau);
    case Charge::DecayInput: return -(h - v_prev) / tau;
    case Charge::NoDecayInput: return (v_prev - p.v_reset) * p.dt / (tau * tau);
    case Charge::IF: return 0;
  }
  return 0;
}

// Elements per parallel task. Each task owns a contiguous block of neurons and walks it through
// all T steps with time outside and neurons inside: every step touches one contiguous run of each
// array (a neuron-outside loop would stride by batch x neurons and miss the cache on every step).
constexpr int64_t kBlock = 512;

struct ForwardBuffers {
  const void* x;
  void *h, *s, *v, *threshold;  // threshold: only with adaptation
  uint8_t* refractory;          // only with refractory steps
};

template <typename T, Charge C, bool Adaptive>
void forward_block(const Params& p, const double* tau, const double* v_th_of, int64_t neurons, const ForwardBuffers& io,
                   int64_t steps, int64_t n, int64_t begin, int64_t end) {
  const int64_t len = end - begin;
  const BlockNeurons nb = block_neurons(p, tau, v_th_of, neurons, begin, end);
  std::vector<T> k(nb.k.begin(), nb.k.end()), v_th(nb.v_th.begin(), nb.v_th.end());
  std::vector<T> v(static_cast<size_t>(len)), a(Adaptive ? static_cast<size_t>(len) : 0, T(0));
  for (int64_t j = 0; j < len; ++j) v[j] = p.half_threshold_init ? v_th[j] / 2 : T(0);
  std::vector<int64_t> wait(p.refractory > 0 ? static_cast<size_t>(len) : 0, 0);
  const T v_reset = static_cast<T>(p.v_reset), beta_a = static_cast<T>(p.adaptation), rho = static_cast<T>(p.rho);
  const T* x = static_cast<const T*>(io.x);
  for (int64_t t = 0; t < steps; ++t) {
    const int64_t row = t * n + begin;
    const T* xt = x + row;
    T* ht = static_cast<T*>(io.h) + row;
    T* st = static_cast<T*>(io.s) + row;
    T* vt = static_cast<T*>(io.v) + row;
    T* at = Adaptive ? static_cast<T*>(io.threshold) + row : nullptr;
    for (int64_t j = 0; j < len; ++j) {
      const T threshold = Adaptive ? v_th[j] + beta_a * a[j] : v_th[j];
      if (Adaptive) at[j] = threshold;
      if (p.refractory > 0 && wait[static_cast<size_t>(j)] > 0) {
        // Refractory: clamped at V_reset, silent, deaf to input; the adaptation keeps decaying.
        --wait[static_cast<size_t>(j)];
        v[j] = v_reset;
        ht[j] = v_reset;
        st[j] = 0;
        vt[j] = v_reset;
        if (Adaptive) a[j] = rho * a[j] + T(0);
        io.refractory[row + j] = 1;
        continue;
      }
      if (io.refractory) io.refractory[row + j] = 0;
      const T h = charge<T, C>(k[j], v_reset, v[j], xt[j]);
      const T u = h - threshold;
      const T spk = p.smooth ? static_cast<T>(p.surrogate.primitive(u)) : (u >= 0 ? T(1) : T(0));
      const T after = p.hard ? h * (1 - spk) + v_reset * spk : h - threshold * spk;
      v[j] = after;
      if (Adaptive) a[j] = rho * a[j] + spk;
      ht[j] = h;
      st[j] = spk;
      vt[j] = after;
      if (p.refractory > 0 && spk > 0) wait[static_cast<size_t>(j)] = p.refractory;
    }
  }
}

template <typename T, Charge C>
void forward_charge(const Params& p, const double* tau, const double* v_th, int64_t neurons, const ForwardBuffers& io,
                    int64_t steps, int64_t n, int64_t begin, int64_t end) {
  if (p.adaptation > 0)
    forward_block<T, C, true>(p, tau, v_th, neurons, io, steps, n, begin, end);
  else
    forward_block<T, C, false>(p, tau, v_th, neurons, io, steps, n, begin, end);
}

template <typename T>
void forward_kernel(const Params& p, const double* tau, const double* v_th, int64_t neurons, const ForwardBuffers& io,
                    int64_t steps, int64_t n) {
  at::parallel_for(0, n, kBlock, [&](int64_t begin, int64_t end) {
    switch (p.charge) {
      case Charge::Decay: forward_charge<T, Charge::Decay>(p, tau, v_th, neurons, io, steps, n, begin, end); break;
      case Charge::DecayInput: forward_charge<T, Charge::DecayInput>(p, tau, v_th, neurons, io, steps, n, begin, end); break;
      case Charge::NoDecayInput:
        forward_charge<T, Charge::NoDecayInput>(p, tau, v_th, neurons, io, steps, n, begin, end);
        break;
      case Charge::IF: forward_charge<T, Charge::IF>(p, tau, v_th, neurons, io, steps, n, begin, end); break;
    }
  });
}

struct BackwardBuffers {
  const void *h, *s, *v, *threshold;  // saved forward values (threshold only with adaptation)
  const uint8_t* refractory;
  const void *grad_s, *grad_v, *grad_threshold;  // upstream gradients, each may be null
  void* grad_x;
  double *grad_tau, *grad_v_th;  // per element [batch x neurons], summed over time; may be null
};

// Reverse-mode sweep through time in double over one block. Adjoint state per element: dL/dv_t
// and dL/da_t arriving from step t+1. Templated on the charge rule, adaptation and whether
// parameter gradients are wanted so the common case (no adaptation, no learned parameters)
// carries none of their arithmetic.
template <typename T, Charge C, bool Adaptive, bool WantParameters>
void backward_block(const Params& p, const double* tau, const double* v_th_of, int64_t neurons,
                    const BackwardBuffers& io, int64_t steps, int64_t n, int64_t begin, int64_t end) {
  const auto* h = static_cast<const T*>(io.h);
  const auto* s = static_cast<const T*>(io.s);
  const auto* v = static_cast<const T*>(io.v);
  const auto* thr = static_cast<const T*>(io.threshold);
  const auto* grad_s = static_cast<const T*>(io.grad_s);
  const auto* grad_v = static_cast<const T*>(io.grad_v);
  const auto* grad_thr = static_cast<const T*>(io.grad_threshold);
  auto* grad_x = static_cast<T*>(io.grad_x);
  const int64_t len = end - begin;
  const BlockNeurons nb = block_neurons(p, tau, v_th_of, neurons, begin, end);
  std::vector<double> hv(static_cast<size_t>(len)), hx(static_cast<size_t>(len));
  for (int64_t j = 0; j < len; ++j) {
    hv[static_cast<size_t>(j)] = dh_dv(C, nb.k[static_cast<size_t>(j)]);
    hx[static_cast<size_t>(j)] = dh_dx(C, nb.k[static_cast<size_t>(j)]);
  }
  std::vector<double> future_v(static_cast<size_t>(len), 0.0), future_a(static_cast<size_t>(len), 0.0);
  std::vector<double> g_tau(static_cast<size_t>(len), 0.0), g_v_th(static_cast<size_t>(len), 0.0);
  const bool hard = p.hard, detach = p.detach;
  const double v_reset = p.v_reset;
  for (int64_t t = steps - 1; t >= 0; --t) {
    const int64_t row = t * n + begin;
    for (int64_t j = 0; j < len; ++j) {
      const int64_t at = row + j;
      const auto e = static_cast<size_t>(j);
      const double gv = (grad_v ? static_cast<double>(grad_v[at]) : 0.0) + future_v[e];
      const double ga = Adaptive ? future_a[e] : 0.0;
      const double g_thr_out = Adaptive && grad_thr ? static_cast<double>(grad_thr[at]) : 0.0;
      if (io.refractory && io.refractory[at]) {
        grad_x[at] = 0;
        future_v[e] = 0;  // v_t = V_reset does not depend on v_{t-1}
        if (WantParameters) g_v_th[e] += g_thr_out;
        if (Adaptive) future_a[e] = ga * p.rho + g_thr_out * p.adaptation;
        continue;
      }
      const double ht = static_cast<double>(h[at]), st = static_cast<double>(s[at]);
      const double threshold = Adaptive ? static_cast<double>(thr[at]) : nb.v_th[e];
      const double sg = p.surrogate.grad(ht - threshold);
      // s feeds the spike output and the adaptation (always), and the reset unless detached.
      const double ds_reset = hard ? v_reset - ht : -threshold;
      const double gu = ((grad_s ? static_cast<double>(grad_s[at]) : 0.0) + ga) * sg + (detach ? 0.0 : gv * ds_reset * sg);
      const double gh = gu + gv * (hard ? 1 - st : 1.0);
      grad_x[at] = static_cast<T>(gh * hx[e]);
      future_v[e] = gh * hv[e];
      if (Adaptive || WantParameters) {
        const double g_threshold = -gu + gv * (hard ? 0.0 : -st) + g_thr_out;
        if (WantParameters) {
          const double v_prev = t > 0 ? static_cast<double>(v[at - n]) : (p.half_threshold_init ? nb.v_th[e] / 2 : 0.0);
          g_tau[e] += gh * dh_dtau(C, p, nb.k[e], nb.tau[e], v_prev, ht);
          g_v_th[e] += g_threshold;
        }
        if (Adaptive) future_a[e] = ga * p.rho + g_threshold * p.adaptation;
      }
    }
  }
  if (!WantParameters) return;
  for (int64_t j = 0; j < len; ++j) {
    const auto e = static_cast<size_t>(j);
    if (p.half_threshold_init) g_v_th[e] += future_v[e] / 2;  // v_{-1} = V_th / 2
    if (io.grad_tau) io.grad_tau[begin + j] = g_tau[e];
    if (io.grad_v_th) io.grad_v_th[begin + j] = g_v_th[e];
  }
}

template <typename T, Charge C>
void backward_charge(const Params& p, const double* tau, const double* v_th, int64_t neurons, const BackwardBuffers& io,
                     int64_t steps, int64_t n, int64_t begin, int64_t end) {
  const bool adaptive = p.adaptation > 0, want = io.grad_tau || io.grad_v_th;
  if (adaptive && want) backward_block<T, C, true, true>(p, tau, v_th, neurons, io, steps, n, begin, end);
  else if (adaptive) backward_block<T, C, true, false>(p, tau, v_th, neurons, io, steps, n, begin, end);
  else if (want) backward_block<T, C, false, true>(p, tau, v_th, neurons, io, steps, n, begin, end);
  else backward_block<T, C, false, false>(p, tau, v_th, neurons, io, steps, n, begin, end);
}

template <typename T>
void backward_kernel(const Params& p, const double* tau, const double* v_th, int64_t neurons,
                     const BackwardBuffers& io, int64_t steps, int64_t n) {
  at::parallel_for(0, n, kBlock, [&](int64_t begin, int64_t end) {
    switch (p.charge) {
      case Charge::Decay: backward_charge<T, Charge::Decay>(p, tau, v_th, neurons, io, steps, n, begin, end); break;
      case Charge::DecayInput: backward_charge<T, Charge::DecayInput>(p, tau, v_th, neurons, io, steps, n, begin, end); break;
      case Charge::NoDecayInput:
        backward_charge<T, Charge::NoDecayInput>(p, tau, v_th, neurons, io, steps, n, begin, end);
        break;
      case Charge::IF: backward_charge<T, Charge::IF>(p, tau, v_th, neurons, io, steps, n, begin, end); break;
    }
  });
}

at::Tensor as_double_vector(const at::Tensor& t) {
  return t.numel() ? t.detach().reshape({-1}).to(torch::kDouble).contiguous() : at::Tensor();
}

const void* data_or_null(const at::Tensor& t) { return t.defined() && t.numel() ? t.data_ptr() : nullptr; }

class LifFunction : public torch::autograd::Function<LifFunction> {
 public:
  // The options ride along in saved_data (as their JSON) for the backward pass. `tau` and `v_th`
  // are per-neuron values, or empty tensors for the options' scalars.
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x2d,
                                                const at::Tensor& tau, const at::Tensor& v_th, int64_t neurons,
                                                const LifOptions& options) {
    const Params p = resolve(options);
    const int64_t steps = x2d.size(0), n = x2d.size(1);
    const at::Tensor tau_d = as_double_vector(tau), v_th_d = as_double_vector(v_th);
    at::Tensor h = torch::empty_like(x2d), s = torch::empty_like(x2d), v = torch::empty_like(x2d);
    at::Tensor threshold = p.adaptation > 0 ? torch::empty_like(x2d) : torch::empty({0}, x2d.options());
    at::Tensor refractory = p.refractory > 0 ? torch::empty({steps, n}, torch::kUInt8) : torch::empty({0}, torch::kUInt8);
    const double* tau_p = tau_d.defined() ? tau_d.data_ptr<double>() : nullptr;
    const double* v_th_p = v_th_d.defined() ? v_th_d.data_ptr<double>() : nullptr;
    ForwardBuffers io{x2d.data_ptr(), h.data_ptr(), s.data_ptr(), v.data_ptr(),
                      threshold.numel() ? threshold.data_ptr() : nullptr,
                      refractory.numel() ? refractory.data_ptr<uint8_t>() : nullptr};
    AT_DISPATCH_FLOATING_TYPES(x2d.scalar_type(), "lif_forward",
                               [&] { forward_kernel<scalar_t>(p, tau_p, v_th_p, neurons, io, steps, n); });
    ctx->save_for_backward({h, s, v, threshold, tau_d.defined() ? tau_d : torch::empty({0}, torch::kDouble),
                            v_th_d.defined() ? v_th_d : torch::empty({0}, torch::kDouble)});
    ctx->saved_data["refractory"] = refractory;
    ctx->saved_data["neurons"] = neurons;
    ctx->saved_data["options"] = c10::IValue(LifOptions::schema().to_json(options).dump());
    return {s, v, threshold};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    LifOptions options;
    LifOptions::schema().apply(options, nlohmann::json::parse(ctx->saved_data["options"].toStringRef()));
    const Params p = resolve(options);
    auto saved = ctx->get_saved_variables();
    const at::Tensor h = saved[0], s = saved[1], v = saved[2], threshold = saved[3], tau_d = saved[4], v_th_d = saved[5];
    const at::Tensor refractory = ctx->saved_data["refractory"].toTensor();
    const int64_t neurons = ctx->saved_data["neurons"].toInt();
    const int64_t steps = h.size(0), n = h.size(1);
    auto upstream = [](const at::Tensor& g) { return g.defined() && g.numel() ? g.contiguous() : at::Tensor(); };
    const at::Tensor grad_s = upstream(grads[0]), grad_v = upstream(grads[1]), grad_thr = upstream(grads[2]);
    at::Tensor grad_x = torch::empty_like(h);
    const bool want_tau = tau_d.numel() > 0, want_v_th = v_th_d.numel() > 0;
    at::Tensor g_tau = want_tau ? torch::empty({n}, torch::kDouble) : at::Tensor();
    at::Tensor g_v_th = want_v_th ? torch::empty({n}, torch::kDouble) : at::Tensor();
    BackwardBuffers io{h.data_ptr(), s.data_ptr(), v.data_ptr(), data_or_null(threshold),
                       refractory.numel() ? refractory.data_ptr<uint8_t>() : nullptr,
                       data_or_null(grad_s), data_or_null(grad_v), data_or_null(grad_thr), grad_x.data_ptr(),
                       want_tau ? g_tau.data_ptr<double>() : nullptr, want_v_th ? g_v_th.data_ptr<double>() : nullptr};
    AT_DISPATCH_FLOATING_TYPES(h.scalar_type(), "lif_backward", [&] {
      backward_kernel<scalar_t>(p, want_tau ? tau_d.data_ptr<double>() : nullptr,
                                want_v_th ? v_th_d.data_ptr<double>() : nullptr, neurons, io, steps, n);
    });
    // Per-element sums over time -> per-neuron sums over the batch.
    auto per_neuron = [&](const at::Tensor& g) {
      return g.defined() ? g.view({n / neurons, neurons}).sum(0).to(h.scalar_type()) : at::Tensor();
    };
    return {grad_x, per_neuron(g_tau), per_neuron(g_v_th), at::Tensor(), at::Tensor()};
  }
};

at::Tensor smooth_step(const at::Tensor& u, const Surrogate& s) {
  const double a = s.alpha;
  switch (s.kind) {
    case SurrogateKind::ATan: return torch::atan(kPi * a / 2 * u) / kPi + 0.5;
    case SurrogateKind::Sigmoid: return torch::sigmoid(a * u);
    case SurrogateKind::FastSigmoid: return u / (1 + a * u.abs()) + 0.5;
    case SurrogateKind::Rectangular: return (u / a + 0.5).clamp(0, 1);
  }
  return u;
}

}  // namespace

LifOutput lif_multistep(const at::Tensor& x, const LifOptions& options, const LifParameters& parameters) {
  const Params p = resolve(options);  // validate before touching data
  at::Tensor x2d = as_time_major(x);
  check_parameter(parameters.tau_m, "tau_m", x);
  check_parameter(parameters.v_threshold, "v_threshold", x);
  check_tau(parameters.tau_m, p);
  const int64_t neurons = std::max<int64_t>(neurons_of(x), 1);
  auto flat = [](const at::Tensor& t, const at::Tensor& like) {
    return t.defined() ? t.reshape({-1}) : torch::empty({0}, like.options());
  };
  auto out = LifFunction::apply(x2d, flat(parameters.tau_m, x), flat(parameters.v_threshold, x), neurons, options);
  LifOutput result{out[0].view(x.sizes()), out[1].view(x.sizes()), at::Tensor()};
  if (p.adaptation > 0) result.threshold = out[2].view(x.sizes());
  return result;
}

LifOutput lif_multistep_reference(const at::Tensor& x, const LifOptions& options, const LifParameters& parameters) {
  const Params p = resolve(options);
  as_time_major(x);
  check_parameter(parameters.tau_m, "tau_m", x);
  check_parameter(parameters.v_threshold, "v_threshold", x);
  check_tau(parameters.tau_m, p);
  const int64_t steps = x.size(0), batch = x.size(1), neurons = std::max<int64_t>(neurons_of(x), 1);
  at::Tensor x3 = x.reshape({steps, batch, neurons});
  const auto per_neuron = [&](const at::Tensor& t, double fallback) {
    return t.defined() ? t.reshape({neurons}) : torch::full({neurons}, fallback, x.options());
  };
  const at::Tensor tau = per_neuron(parameters.tau_m, p.tau_m), v_th = per_neuron(parameters.v_threshold, p.v_th);
  // In double and then rounded, as the fused kernel does.
  const at::Tensor tau64 = tau.to(torch::kDouble);
  const at::Tensor k = (p.charge == Charge::Decay ? torch::exp(-p.dt / tau64) : tau64 / p.dt).to(x.scalar_type());
  at::Tensor v = p.half_threshold_init ? (v_th / 2).expand({batch, neurons}) : torch::zeros({batch, neurons}, x.options());
  at::Tensor a = torch::zeros({batch, neurons}, x.options());
  at::Tensor wait = torch::zeros({batch, neurons}, torch::kLong);
  std::vector<at::Tensor> spikes, membranes, thresholds;
  for (int64_t t = 0; t < steps; ++t) {
    at::Tensor xt = x3[t];
    at::Tensor h;
    switch (p.charge) {
      case Charge::Decay: h = k * v + xt; break;
      case Charge::DecayInput: h = v + (xt - (v - p.v_reset)) / k; break;
      case Charge::NoDecayInput: h = v - (v - p.v_reset) / k + xt; break;
      case Charge::IF: h = v + xt; break;
    }
    at::Tensor threshold = p.adaptation > 0 ? v_th + p.adaptation * a : v_th.expand({batch, neurons});
    at::Tensor refractory = wait.gt(0);
    if (p.refractory > 0) h = torch::where(refractory, torch::full_like(h, p.v_reset), h);
    at::Tensor u = h - threshold;
    at::Tensor s = p.smooth ? smooth_step(u, p.surrogate) : spike(u, p.surrogate);
    if (p.refractory > 0) s = s * refractory.logical_not().to(s.scalar_type());
    at::Tensor r = p.detach ? s.detach() : s;
    v = p.hard ? h * (1 - r) + p.v_reset * r : h - threshold * r;
    if (p.adaptation > 0) a = p.rho * a + s;
    if (p.refractory > 0) {
      v = torch::where(refractory, torch::full_like(v, p.v_reset), v);
      wait = torch::where(s.detach().gt(0), torch::full_like(wait, p.refractory), (wait - 1).clamp_min(0));
    }
    spikes.push_back(s);
    membranes.push_back(v);
    thresholds.push_back(threshold);
  }
  LifOutput out{torch::stack(spikes).view(x.sizes()), torch::stack(membranes).view(x.sizes()), at::Tensor()};
  if (p.adaptation > 0) out.threshold = torch::stack(thresholds).view(x.sizes());
  return out;
}

}  // namespace golgi::spiking
