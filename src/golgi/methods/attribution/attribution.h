// Attribution: which parts of an input (or of an activation at a hook point) a model's output
// depends on. One interface for every method:
//
//   at::Tensor map = attribute(model, inputs /* [B, ...] */, targets /* [B] int64 */, options);
//
// returns a map with the shape of the input (or of the activation at hook `at`; GradCAM: [B, H, W]).
//
// The objective F_b for sample b is the logit of class targets[b] (output [B, classes]; a language
// model's [B, pos, vocab]: the next-token logit at the last position), or, with
// `neuron` set, one neuron's activation ("conv2.hook_post:5" summed over all positions,
// "conv2.hook_post:5@3,4" at one position). The "site" x is the model input when `at` is "", or
// the activation h at hook point `at` (which then is replaced, during the forward pass, by the
// value being evaluated; the layers before it are recomputed from the input).
//
// Methods (g(x) = ∂F/∂x, evaluated per sample):
//   gradient              g(x)                                   Simonyan, Vedaldi & Zisserman 2014,
//                                                                "Deep inside convolutional networks"
//   gradient_x_input      x ⊙ g(x)
//   smoothgrad            (1/n) Σ_k g(x + ε_k),  ε_k ~ N(0, σ²), σ = sigma · (max − min)
//                         of the batch's site values (or sigma · value_range)
//                                                                Smilkov et al. 2017, "SmoothGrad:
//                                                                removing noise by adding noise"
//   integrated_gradients  (x − x') ⊙ (1/m) Σ_{s=0}^{m−1} g(x' + α_s (x − x')),
//                         α_s = (s + ½)/m: the midpoint Riemann sum of Sundararajan, Taly & Yan
//                         2017, "Axiomatic attribution for deep networks", eq. 3. Midpoints are
//                         exact for F linear along the path and have O(1/m²) error for smooth F;
//                         completeness Σ_i IG_i = F(x) − F(x') holds up to that error.
//   gradcam               ReLU(Σ_c α_c A_c), α_c = mean_{h,w} ∂F/∂A_c, for a hook `at` whose
//                         activation A is [B, C, H, W]; the map is [B, H, W], or, with
//                         upsample, [B, H_in, W_in] by bilinear interpolation (align_corners
//                         false). Selvaraju et al. 2017, "Grad-CAM: visual explanations from deep
//                         networks via gradient-based localization".
//   lrp                   layer-wise relevance propagation (Bach et al. 2015, "On pixel-wise
//                         explanations for non-linear classifier decisions by layer-wise relevance
//                         propagation"; rules as in Montavon et al. 2019, "Layer-wise relevance
//                         propagation: an overview"). The output relevance is the target logit
//                         (all other logits 0); each dense or conv layer z_k = Σ_j a_j w_jk + b_k
//                         passes it down by one rule, used at every layer:
//                           epsilon      R_j = a_j Σ_k w_jk R_k / (z_k + ε sign(z_k))
//                           zplus        R_j = a_j Σ_k w⁺_jk R_k / Σ_j' a_j' w⁺_j'k      (no bias)
//                           alpha2beta1  R_j = Σ_k (2 (a_j w_jk)⁺ / Σ (a w)⁺ − (a_j w_jk)⁻ / Σ (a w)⁻) R_k
//                                        (no bias; a term with an empty sum contributes 0)
//                           flat         R_j = Σ_k R_k / (number of inputs j of k)
//                         ReLU passes relevance unchanged; max pooling passes it to the winner;
//                         BatchNorm (eval statistics) is folded into the preceding conv. For ReLU
//                         networks, epsilon with ε → 0 equals gradient_x_input (biases included),
//                         and with zero biases Σ_i R_i = the target logit (conservation).
//                         Supported models: the registry's "mlp" (ReLU) and "cnn"; input only.
//
// Memory: SmoothGrad and integrated gradients evaluate (sample, noise draw) or (sample, step)
// pairs in internal batches of at most `batch` rows per forward pass, so peak memory is set by
// `batch`, not by `samples` or `steps` (the first, plain pass over the B samples is chunked the
// same way). The maps do not depend on `batch` (the noise for draw k of
// sample b comes from its own seeded stream).
//
// Side effects: none that outlive the call. The model runs in eval mode (its training flag is
// restored), its parameters are temporarily frozen (requires_grad is restored), and gradients are
// taken with torch::autograd::grad, so no parameter .grad is touched. Hooks the caller attached
// stay active and run as usual.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>

#include "golgi/core/options.h"

namespace golgi::models {
class Model;
}

namespace golgi::methods {

struct AttributionOptions {
  // "gradient", "gradient_x_input", "smoothgrad", "integrated_gradients", "gradcam" or "lrp".
  GOLGI_ARG(std::string, method) = "gradient";
  // "" attributes to the model input; a hook name attributes to that hook's activation.
  GOLGI_ARG(std::string, at) = "";
  // A NeuronRef ("HOOK:INDEX[@P1,P2]") as the objective instead of the class logits; its hook must
  // be `at` itself or come after it in forward order.
  GOLGI_ARG(std::string, neuron) = "";
  // SmoothGrad: noise draws per sample, and σ as a fraction of the value range.
  GOLGI_ARG(int64_t, samples) = 50;
  GOLGI_ARG(double, sigma) = 0.15;
  // SmoothGrad: the range σ is a fraction of; 0 means max − min of the batch's site values.
  GOLGI_ARG(double, value_range) = 0.0;
  // Integrated gradients: Riemann steps along the straight path.
  GOLGI_ARG(int64_t, steps) = 64;
  // Integrated gradients: the baseline x', broadcastable to the site ([B, ...] or [...]); undefined
  // means zeros. Not in the schema (a tensor).
  GOLGI_ARG(at::Tensor, baseline);
  // SmoothGrad and integrated gradients: most rows per internal forward pass.
  GOLGI_ARG(int64_t, batch) = 16;
  GOLGI_ARG(int64_t, seed) = 0;
  // GradCAM: resize the [B, H, W] map to the input's height and width (bilinear).
  GOLGI_ARG(bool, upsample) = false;
  // LRP: "epsilon", "zplus", "alpha2beta1" or "flat", and epsilon's ε.
  GOLGI_ARG(std::string, lrp_rule) = "epsilon";
  GOLGI_ARG(double, lrp_epsilon) = 1e-6;
  // A golgi::Progress bar over the internal passes of SmoothGrad and integrated gradients.
  GOLGI_ARG(bool, progress) = true;

  static const OptionSchema<AttributionOptions>& schema();
};

// inputs [B, ...model.input_shape()], floating point (token ids are fine when `at` is a hook);
// targets [B] int64 class indices (ignored and
// may be undefined when options.neuron is set). Returns float maps as described above. Throws
// golgi::Error for unknown methods or hooks, targets out of range, NaN inputs, a GradCAM hook that
// is not [B, C, H, W], or a neuron hook before `at`.
at::Tensor attribute(models::Model& model, const at::Tensor& inputs, const at::Tensor& targets,
                     const AttributionOptions& options = {});

}  // namespace golgi::methods
