// Surrogate gradients for spiking neurons: the forward pass is a Heaviside step S(x) = [x >= 0]
// (x = membrane minus threshold), the backward pass uses the derivative of a smooth stand-in.
//
//   atan(α):        σ'(x) = (α/2) / (1 + (π α x / 2)²)          primitive (1/π) atan(π α x / 2) + 1/2
//                   (Fang et al. 2021, SpikingJelly's ATan; α = 2 by default)
//   sigmoid(α):     σ'(x) = α s (1 − s), s = sigmoid(α x)         primitive sigmoid(α x)
//   fast_sigmoid(α):σ'(x) = 1 / (1 + α|x|)²                        primitive x / (1 + α|x|) (+1/2)
//                   (Zenke & Ganguli 2018, SuperSpike; α is the slope, 25 in snnTorch)
//   rectangular(α): σ'(x) = [|x| < α/2] / α                        primitive clamp(x/α + 1/2, 0, 1)
//                   (Wu et al. 2018, STBP; α is the window width)
//
// `primitive` exists for tests: a kernel run with the primitive in place of the step has exact
// gradients equal to the surrogate ones, so finite differences can check hand-written backwards.
#pragma once

#include <cmath>
#include <string>

#include <ATen/core/Tensor.h>

namespace golgi::spiking {

enum class SurrogateKind { ATan, Sigmoid, FastSigmoid, Rectangular };

struct Surrogate {
  SurrogateKind kind = SurrogateKind::ATan;
  double alpha = 2.0;

  // "atan", "sigmoid", "fast_sigmoid", "rectangular"; throws golgi::Error listing them.
  static Surrogate parse(const std::string& name, double alpha);
  std::string name() const;

  // σ'(x). Inline: fused kernels call it once per element and time step.
  double grad(double x) const {
    const double a = alpha;
    switch (kind) {
      case SurrogateKind::ATan: {
        const double u = 1.5707963267948966 * a * x;  // π α x / 2
        return (a / 2) / (1 + u * u);
      }
      case SurrogateKind::Sigmoid: {
        const double s = 1 / (1 + std::exp(-a * x));
        return a * s * (1 - s);
      }
      case SurrogateKind::FastSigmoid: {
        const double d = 1 + a * std::fabs(x);
        return 1 / (d * d);
      }
      case SurrogateKind::Rectangular: return std::fabs(x) < a / 2 ? 1 / a : 0.0;
    }
    return 0;
  }
  double primitive(double x) const;  // smooth stand-in whose derivative is grad()
};

// Heaviside forward, surrogate backward, as a LibTorch autograd function (elementwise).
at::Tensor spike(const at::Tensor& x, const Surrogate& surrogate);

// Straight-through estimator: round(x) forward, identity backward (quantised activations).
at::Tensor straight_through_round(const at::Tensor& x);

}  // namespace golgi::spiking
