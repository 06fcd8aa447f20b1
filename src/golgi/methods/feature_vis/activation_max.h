// Activation maximisation: optimise an input so that one neuron or one class fires strongly
// (Erhan, Bengio, Courville & Vincent 2009, "Visualizing higher-layer features of a deep network";
// Simonyan, Vedaldi & Zisserman 2014; with the regularisers of Nguyen, Yosinski & Clune 2016,
// "Multifaceted feature visualization", arXiv:1602.03616, sec. 2.2: jitter, TV, clipping, and
// Yosinski et al. 2015 (scaling)).
//
//   images = maximize_activation(model, init /* [B, ...input_shape] */, targets /* [B] */, options)
//
// Every row b is optimised on its own (one batched forward pass per step): gradient ascent on
// the objective F_b, the logit of class targets[b] (objective "logit"), its log-probability
// log softmax_b (objective "log_probability"; pushes the other classes down too), or one neuron's
// activation (`neuron` set, a NeuronRef "HOOK:INDEX[@P1,P2]", summed over positions when no position
// is given; targets are then ignored and may be undefined). `neuron` set to a bare hook name
// ("fc0.hook_post") gives every row its own neuron of that hook, targets[b] (conv channels summed
// over the map): one batched run visualises many neurons.
//
// One step, for each row (x is kept in the model's input units):
//   1. jitter: x̃ = roll(x, (dy, dx)) with dy, dx uniform in [-jitter, jitter] pixels;
//      scaling: x̃ resized by a factor uniform in [1 - scale, 1 + scale] about the centre
//      (bilinear, the same height and width; off-image pixels take the fill value `lo`);
//   2. g = ∂F/∂x through the jitter (and scaling) transform;
//   3. x ← x + lr · range · g / (mean |g| + 1e-12)   (normalised step, range = hi − lo, so lr is a
//      fraction of the data range per step whatever the objective's scale), minus l2_decay · (x − lo);
//   4. every tv_every steps, when tv_weight > 0: x ← denoise_tv_bregman(x, weight = tv_weight)
//      (analysis/tv_bregman.h; weight weighs fidelity, so a LARGER weight smooths LESS);
//   5. clip to [lo, hi] (the data range in input units).
// The run stops early for rows whose softmax probability of targets[b] reaches stop_probability
// (when > 0; class objectives only): those rows are frozen at the first step they reach it.
// The recorded result of each row is its image after the last step it took.
//
// Determinism: jitter and scale draws come from a generator seeded by `seed` (golgi/core/seed.h),
// row b's draws from its own stream, so a row's result does not depend on the batch it runs in.
// Side effects: none that outlive the call (eval mode and requires_grad restored, no parameter
// .grad touched).
#pragma once

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>

#include "golgi/core/options.h"

namespace golgi::models {
class Model;
}

namespace golgi::methods {

struct ActivationMaxOptions {
  // "logit", "log_probability" (class objectives) or "neuron" (implied when `neuron` is set).
  GOLGI_ARG(std::string, objective) = "logit";
  // "HOOK:INDEX[@POS]" (one neuron for all rows) or "HOOK" (row b maximises neuron targets[b]).
  GOLGI_ARG(std::string, neuron) = "";
  GOLGI_ARG(int64_t, steps) = 200;
  GOLGI_ARG(double, lr) = 0.05;          // fraction of (hi - lo) per step, see step 3
  GOLGI_ARG(int64_t, jitter) = 1;        // pixels; 0: off
  GOLGI_ARG(double, scale) = 0.0;        // relative; 0: off
  GOLGI_ARG(double, tv_weight) = 0.0;    // TV-Bregman fidelity weight; 0: no TV step
  GOLGI_ARG(int64_t, tv_every) = 1;
  GOLGI_ARG(double, l2_decay) = 0.0;
  // The data range in the model's input units (Fashion-MNIST as golgi normalises it:
  // (0 - 0.2860)/0.3530 = -0.8102 .. (1 - 0.2860)/0.3530 = 2.0227).
  GOLGI_ARG(double, lo) = -0.8102;
  GOLGI_ARG(double, hi) = 2.0227;
  GOLGI_ARG(double, stop_probability) = 0.0;  // 0: run all steps
  GOLGI_ARG(int64_t, seed) = 0;
  GOLGI_ARG(bool, progress) = true;
  static const OptionSchema<ActivationMaxOptions>& schema();
};

struct ActivationMaxResult {
  at::Tensor images;       // [B, ...input_shape], float, within [lo, hi]
  at::Tensor objective;    // [B] the objective F_b of the final image (no jitter)
  at::Tensor probability;  // [B] softmax probability of targets[b] (class objectives; NaN for neuron)
  at::Tensor steps_taken;  // [B] int64
};

// init: [B, ...model.input_shape()] floating, finite (it is clipped to [lo, hi] first); targets [B]
// int64 class indices (class objectives) or neuron indices (`neuron` a bare hook). Throws golgi::Error on shape mismatch, NaN, unknown
// objective or hook, lo >= hi, a target out of range, or images smaller than 2 x 2 with TV on.
ActivationMaxResult maximize_activation(models::Model& model, const at::Tensor& init, const at::Tensor& targets,
                                        const ActivationMaxOptions& options = {});

}  // namespace golgi::methods
