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
          .add("smooth_spikes", &LifOptions::smooth_spikes_, "tests: smooth primitive instead of the step");
  return schema;
}

namespace {

constexpr double kPi = 3.14159265358979323846;

enum class Charge { Decay, DecayInput, NoDecayInput, IF };

// The options resolved to numbers once, shared by the fused kernel and the reference.
struct Params {
  Charge charge = Charge::Decay;
  double beta = 0, tau = 0;  // decay factor (decay) or τ in steps (decay_input, no_decay_input)
  double v_th = 1, v_reset = 0, v0 = 0;
  bool hard = true, detach = false, smooth = false;
  int64_t refractory = 0;
  Surrogate surrogate;
};

Params resolve(const LifOptions& o) {
  LifOptions::schema().validate(o);
  GOLGI_CHECK(o.tau_m() > o.dt(), "lif: tau_m must exceed dt (tau_m ", o.tau_m(), ", dt ", o.dt(),
              "): with tau_m <= dt the membrane forgets everything within one step");
  GOLGI_CHECK(!(o.smooth_spikes() && o.refractory_steps() > 0),
              "lif: smooth_spikes (a test mode) cannot be combined with refractory_steps");
  Params p;
  p.charge = o.charge() == "decay" ? Charge::Decay
             : o.charge() == "decay_input" ? Charge::DecayInput
             : o.charge() == "no_decay_input" ? Charge::NoDecayInput
                                               : Charge::IF;
  p.beta = std::exp(-o.dt() / o.tau_m());
  p.tau = o.tau_m() / o.dt();
  p.v_th = o.v_threshold();
  p.v_reset = o.v_reset();
  p.v0 = o.v_init() == "zero" ? 0.0 : o.v_threshold() / 2;
  p.hard = o.reset() == "hard";
  p.detach = o.detach_reset();
  p.smooth = o.smooth_spikes();
  p.refractory = o.refractory_steps();
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

// The charge, written exactly as the reference writes it so both round identically.
template <typename T>
inline T charge(const Params& p, T v, T x) {
  switch (p.charge) {
    case Charge::Decay: return static_cast<T>(p.beta) * v + x;
    case Charge::DecayInput: return v + (x - (v - static_cast<T>(p.v_reset))) / static_cast<T>(p.tau);
    case Charge::NoDecayInput: return v - (v - static_cast<T>(p.v_reset)) / static_cast<T>(p.tau) + x;
    case Charge::IF: return v + x;
  }
  return v;
}

// ∂h/∂v and ∂h/∂x of the charge.
inline double dh_dv(const Params& p) {
  switch (p.charge) {
    case Charge::Decay: return p.beta;
    case Charge::DecayInput:
    case Charge::NoDecayInput: return 1 - 1 / p.tau;
    case Charge::IF: return 1;
  }
  return 1;
}

inline double dh_dx(const Params& p) { return p.charge == Charge::DecayInput ? 1 / p.tau : 1.0; }

// Elements per parallel task. Each task owns a contiguous block of neurons and walks it through
// all T steps with time outside and neurons inside: every step touches one contiguous run of each
// array (a neuron-outside loop would stride by batch x neurons and miss the cache on every step).
constexpr int64_t kBlock = 512;

template <typename T, Charge C>
void forward_block(const Params& p, const T* x, T* h_out, T* s_out, T* v_out, uint8_t* refractory_out, int64_t steps,
                   int64_t n, int64_t begin, int64_t end) {
  const int64_t len = end - begin;
  std::vector<T> v(static_cast<size_t>(len), static_cast<T>(p.v0));
  std::vector<int64_t> wait(p.refractory > 0 ? static_cast<size_t>(len) : 0, 0);
  const T v_th = static_cast<T>(p.v_th), v_reset = static_cast<T>(p.v_reset);
  Params q = p;
  q.charge = C;  // lets the compiler fold charge<T>'s switch
  for (int64_t t = 0; t < steps; ++t) {
    const int64_t row = t * n + begin;
    const T* xt = x + row;
    T* ht = h_out + row;
    T* st = s_out + row;
    T* vt = v_out + row;
    for (int64_t j = 0; j < len; ++j) {
      if (p.refractory > 0 && wait[static_cast<size_t>(j)] > 0) {
        // Refractory: clamped at V_reset, silent, deaf to input.
        --wait[static_cast<size_t>(j)];
        v[static_cast<size_t>(j)] = v_reset;
        ht[j] = v_reset;
        st[j] = 0;
        vt[j] = v_reset;
        refractory_out[row + j] = 1;
        continue;
      }
      if (refractory_out) refractory_out[row + j] = 0;
      const T h = charge<T>(q, v[static_cast<size_t>(j)], xt[j]);
      const T u = h - v_th;
      const T spk = p.smooth ? static_cast<T>(p.surrogate.primitive(u)) : (u >= 0 ? T(1) : T(0));
      const T after = p.hard ? h * (1 - spk) + v_reset * spk : h - v_th * spk;
      v[static_cast<size_t>(j)] = after;
      ht[j] = h;
      st[j] = spk;
      vt[j] = after;
      if (p.refractory > 0 && spk > 0) wait[static_cast<size_t>(j)] = p.refractory;
    }
  }
}

template <typename T>
void forward_kernel(const Params& p, const T* x, T* h_out, T* s_out, T* v_out, uint8_t* refractory_out, int64_t steps,
                    int64_t n) {
  at::parallel_for(0, n, kBlock, [&](int64_t begin, int64_t end) {
    switch (p.charge) {
      case Charge::Decay: forward_block<T, Charge::Decay>(p, x, h_out, s_out, v_out, refractory_out, steps, n, begin, end); break;
      case Charge::DecayInput:
        forward_block<T, Charge::DecayInput>(p, x, h_out, s_out, v_out, refractory_out, steps, n, begin, end);
        break;
      case Charge::NoDecayInput:
        forward_block<T, Charge::NoDecayInput>(p, x, h_out, s_out, v_out, refractory_out, steps, n, begin, end);
        break;
      case Charge::IF: forward_block<T, Charge::IF>(p, x, h_out, s_out, v_out, refractory_out, steps, n, begin, end); break;
    }
  });
}

template <typename T>
void backward_kernel(const Params& p, const T* h, const T* s, const uint8_t* refractory, const T* grad_s,
                     const T* grad_v, T* grad_x, int64_t steps, int64_t n) {
  const double hv = dh_dv(p), hx = dh_dx(p);
  at::parallel_for(0, n, kBlock, [&](int64_t begin, int64_t end) {
    const int64_t len = end - begin;
    std::vector<double> from_future(static_cast<size_t>(len), 0.0);  // dL/dv_t through h_{t+1}
    for (int64_t t = steps - 1; t >= 0; --t) {
      const int64_t row = t * n + begin;
      for (int64_t j = 0; j < len; ++j) {
        const int64_t at = row + j;
        double& future = from_future[static_cast<size_t>(j)];
        const double gv = (grad_v ? static_cast<double>(grad_v[at]) : 0.0) + future;
        if (refractory && refractory[at]) {
          grad_x[at] = 0;
          future = 0;  // v_t = V_reset does not depend on v_{t-1}
          continue;
        }
        const double u = static_cast<double>(h[at]) - p.v_th;
        const double sg = p.surrogate.grad(u);
        const double through_spike = p.detach ? 0.0 : sg;
        const double dv_dh = p.hard ? (1 - static_cast<double>(s[at])) + (p.v_reset - static_cast<double>(h[at])) * through_spike
                                    : 1 - p.v_th * through_spike;
        const double gh = (grad_s ? static_cast<double>(grad_s[at]) : 0.0) * sg + gv * dv_dh;
        grad_x[at] = static_cast<T>(gh * hx);
        future = gh * hv;
      }
    }
  });
}

class LifFunction : public torch::autograd::Function<LifFunction> {
 public:
  // The options ride along in saved_data (as their JSON) for the backward pass.
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x2d,
                                                const LifOptions& options) {
    const Params p = resolve(options);
    const int64_t steps = x2d.size(0), n = x2d.size(1);
    at::Tensor h = torch::empty_like(x2d), s = torch::empty_like(x2d), v = torch::empty_like(x2d);
    at::Tensor refractory = p.refractory > 0 ? torch::empty({steps, n}, torch::kUInt8) : at::Tensor();
    uint8_t* r = refractory.defined() ? refractory.data_ptr<uint8_t>() : nullptr;
    AT_DISPATCH_FLOATING_TYPES(x2d.scalar_type(), "lif_forward", [&] {
      forward_kernel<scalar_t>(p, x2d.data_ptr<scalar_t>(), h.data_ptr<scalar_t>(), s.data_ptr<scalar_t>(),
                               v.data_ptr<scalar_t>(), r, steps, n);
    });
    ctx->save_for_backward({h, s});
    ctx->saved_data["refractory"] = refractory.defined() ? refractory : torch::empty({0}, torch::kUInt8);
    ctx->saved_data["options"] = c10::IValue(LifOptions::schema().to_json(options).dump());
    return {s, v};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    LifOptions options;
    LifOptions::schema().apply(options, nlohmann::json::parse(ctx->saved_data["options"].toStringRef()));
    const Params p = resolve(options);
    auto saved = ctx->get_saved_variables();
    const at::Tensor h = saved[0], s = saved[1];
    const at::Tensor refractory = ctx->saved_data["refractory"].toTensor();
    const int64_t steps = h.size(0), n = h.size(1);
    at::Tensor grad_s = grads[0].defined() ? grads[0].contiguous() : at::Tensor();
    at::Tensor grad_v = grads[1].defined() ? grads[1].contiguous() : at::Tensor();
    at::Tensor grad_x = torch::empty_like(h);
    AT_DISPATCH_FLOATING_TYPES(h.scalar_type(), "lif_backward", [&] {
      backward_kernel<scalar_t>(p, h.data_ptr<scalar_t>(), s.data_ptr<scalar_t>(),
                                refractory.numel() ? refractory.data_ptr<uint8_t>() : nullptr,
                                grad_s.defined() ? grad_s.data_ptr<scalar_t>() : nullptr,
                                grad_v.defined() ? grad_v.data_ptr<scalar_t>() : nullptr, grad_x.data_ptr<scalar_t>(),
                                steps, n);
    });
    return {grad_x, at::Tensor()};
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

LifOutput lif_multistep(const at::Tensor& x, const LifOptions& options) {
  resolve(options);  // validate before touching data
  at::Tensor x2d = as_time_major(x);
  auto out = LifFunction::apply(x2d, options);
  return {out[0].view(x.sizes()), out[1].view(x.sizes())};
}

LifOutput lif_multistep_reference(const at::Tensor& x, const LifOptions& options) {
  const Params p = resolve(options);
  at::Tensor x2d = as_time_major(x);
  const int64_t steps = x2d.size(0);
  at::Tensor v = torch::full({x2d.size(1)}, p.v0, x2d.options());
  at::Tensor wait = torch::zeros({x2d.size(1)}, torch::kLong);
  std::vector<at::Tensor> spikes, membranes;
  for (int64_t t = 0; t < steps; ++t) {
    at::Tensor xt = x2d[t];
    at::Tensor h;
    switch (p.charge) {
      case Charge::Decay: h = p.beta * v + xt; break;
      case Charge::DecayInput: h = v + (xt - (v - p.v_reset)) / p.tau; break;
      case Charge::NoDecayInput: h = v - (v - p.v_reset) / p.tau + xt; break;
      case Charge::IF: h = v + xt; break;
    }
    at::Tensor refractory = wait.gt(0);
    if (p.refractory > 0) h = torch::where(refractory, torch::full_like(h, p.v_reset), h);
    at::Tensor u = h - p.v_th;
    at::Tensor s = p.smooth ? smooth_step(u, p.surrogate) : spike(u, p.surrogate);
    if (p.refractory > 0) s = s * refractory.logical_not().to(s.scalar_type());
    at::Tensor r = p.detach ? s.detach() : s;
    v = p.hard ? h * (1 - r) + p.v_reset * r : h - p.v_th * r;
    if (p.refractory > 0) {
      v = torch::where(refractory, torch::full_like(v, p.v_reset), v);
      wait = torch::where(s.detach().gt(0), torch::full_like(wait, p.refractory), (wait - 1).clamp_min(0));
    }
    spikes.push_back(s);
    membranes.push_back(v);
  }
  return {torch::stack(spikes).view(x.sizes()), torch::stack(membranes).view(x.sizes())};
}

}  // namespace golgi::spiking
