#include "golgi/spiking/surrogate.h"

#include <torch/torch.h>

#include <cmath>

#include "golgi/core/error.h"

namespace golgi::spiking {

namespace {

constexpr double kPi = 3.14159265358979323846;

class SpikeFunction : public torch::autograd::Function<SpikeFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, int64_t kind, double alpha) {
    ctx->save_for_backward({x});
    ctx->saved_data["kind"] = kind;
    ctx->saved_data["alpha"] = alpha;
    return x.ge(0).to(x.scalar_type());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const at::Tensor x = ctx->get_saved_variables()[0];
    const auto kind = static_cast<SurrogateKind>(ctx->saved_data["kind"].toInt());
    const double a = ctx->saved_data["alpha"].toDouble();
    at::Tensor g;
    switch (kind) {
      case SurrogateKind::ATan: g = (a / 2) / (1 + (kPi * a / 2 * x).pow(2)); break;
      case SurrogateKind::Sigmoid: {
        at::Tensor s = torch::sigmoid(a * x);
        g = a * s * (1 - s);
        break;
      }
      case SurrogateKind::FastSigmoid: g = 1 / (1 + a * x.abs()).pow(2); break;
      case SurrogateKind::Rectangular: g = x.abs().lt(a / 2).to(x.scalar_type()) / a; break;
    }
    return {grads[0] * g, at::Tensor(), at::Tensor()};
  }
};

class StraightThroughRound : public torch::autograd::Function<StraightThroughRound> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext*, const at::Tensor& x) { return x.round(); }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext*, torch::autograd::variable_list grads) {
    return {grads[0]};
  }
};

}  // namespace

Surrogate Surrogate::parse(const std::string& name, double alpha) {
  GOLGI_CHECK(std::isfinite(alpha) && alpha > 0, "surrogate alpha must be a positive number, got ", alpha);
  Surrogate s;
  s.alpha = alpha;
  if (name == "atan") s.kind = SurrogateKind::ATan;
  else if (name == "sigmoid") s.kind = SurrogateKind::Sigmoid;
  else if (name == "fast_sigmoid") s.kind = SurrogateKind::FastSigmoid;
  else if (name == "rectangular") s.kind = SurrogateKind::Rectangular;
  else GOLGI_FAIL("unknown surrogate '", name, "' (known: atan, sigmoid, fast_sigmoid, rectangular)");
  return s;
}

std::string Surrogate::name() const {
  switch (kind) {
    case SurrogateKind::ATan: return "atan";
    case SurrogateKind::Sigmoid: return "sigmoid";
    case SurrogateKind::FastSigmoid: return "fast_sigmoid";
    case SurrogateKind::Rectangular: return "rectangular";
  }
  return "?";
}

double Surrogate::primitive(double x) const {
  const double a = alpha;
  switch (kind) {
    case SurrogateKind::ATan: return std::atan(kPi * a / 2 * x) / kPi + 0.5;
    case SurrogateKind::Sigmoid: return 1 / (1 + std::exp(-a * x));
    case SurrogateKind::FastSigmoid: return x / (1 + a * std::fabs(x)) + 0.5;
    case SurrogateKind::Rectangular: return std::clamp(x / a + 0.5, 0.0, 1.0);
  }
  return 0;
}

at::Tensor spike(const at::Tensor& x, const Surrogate& surrogate) {
  return SpikeFunction::apply(x, static_cast<int64_t>(surrogate.kind), surrogate.alpha);
}

at::Tensor straight_through_round(const at::Tensor& x) { return StraightThroughRound::apply(x); }

}  // namespace golgi::spiking
