// Heterogeneous synaptic delays: a layer whose synapses carry a weight for every (polarity,
// delay, spatial offset) and detects motion in event streams (paper id `hetero-delays`).
//
// Grimaldi & Perrinet 2023, "Learning heterogeneous delays in a layer of spiking neurons for fast
// motion detection", Biological Cybernetics. The paper's HD-SNN layer treats each output neuron as a
// logistic regression over the events it receives through a set of synapses with different delays;
// learning the weight of each (presynaptic address, delay) pair learns the delays. With the layer
// shared over space (convolutional), the kernel is a causal spatio-temporal filter:
//
//   z[b, c, t, y, x] = bias[c] + sum_{p, d, i, j} K[c, p, d, i, j] * e[b, p, t - d, y + i, x + j]
//   P[b, c, t, y, x] = sigmoid(z)                                   (per-voxel logistic output)
//
// with classes c (motion classes), polarities p (ON, OFF), delays d = 0..D-1 (steps; d = 0 is the
// current step) and spatial offsets i, j = 0..k-1 (a "valid" k x k window: outputs are
// (H - k + 1) x (W - k + 1)); events before step 0 are zero (causal left padding of D - 1 steps).
// The output at step t depends only on inputs at steps <= t. It is computed as torch conv3d over
// [batch, polarity, T, H, W] with the kernel flipped along the delay axis, so that K[..., d, ...]
// is the weight of the input d steps in the past.
//
// Event-driven outputs (voxels = "events", the default). The paper's neurons are event-driven: an
// output is computed when an input event arrives. Here the output voxel (t, y, x) is "active" when
// the input has an event of either polarity at step t at the window centre (y + k/2, x + k/2):
//
//   gate[b, t, y, x] = 1  iff  sum_p e[b, p, t, y + k/2, x + k/2] > 0.
//
// Why this matters: for a texture moving at constant velocity the event statistics are stationary,
// so the mean of every kernel input e[p, t-d, y+i, x+j] given the class is one constant per speed
// (no direction information), and BCE's optimum only matches those first moments
// (sum sigmoid(z) x = sum y x): at every voxel the layer cannot learn direction (measured: chance
// level). Conditioned on an event at the centre, the mean input is the spike-triggered average,
// which peaks along the past trajectory (x - v d): a first-order, learnable signal, i.e. a
// correlation (Reichardt) detector whose delays are the kernel's delay taps.
// voxels = "all" uses every voxel (the control).
//
// Training: binary cross-entropy of P against the one-hot code of the current motion label,
// target[c] = 1 iff c = label[b, t], averaged over the classes and the active voxels:
//   L = sum_{active v} sum_c [softplus(z_c) - target_c z_c] / (C * #active).
//
// Decision (accuracy): the evidence for class c at step t is the mean of P[b, c, t, y, x] over the
// active voxels of that step (0 when there is none: the step is predicted as class 0); the
// prediction is its argmax. Why probabilities and not logits: z is linear in the events, so the
// spatial mean of z is (up to the image border) sum_{p,d} (sum_{i,j} K[c,p,d,i,j]) * density_p(t-d),
// a function of the per-polarity event counts only, which carry no direction; the logistic
// nonlinearity before pooling keeps the spatial arrangement. The logit-mean decision is reported
// too (evidence "logit"). Accuracy averages over steps t of every stream except the first
// `skip_steps` steps after each label change (and after the stream start), where the kernel still
// sees the previous motion.
//
// Pruning (no retraining): keep the round(q * numel) largest |K| (ties to the lower flat index)
// versus keep only the n = max(1, round(q * D)) shortest delays d < n (all their weights), i.e.
// truncate the kernel in time. The bias is never pruned.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::methods {

struct HeteroDelayOptions {
  GOLGI_ARG(int64_t, classes) = 16;
  GOLGI_ARG(int64_t, polarities) = 2;
  // D, the number of delay taps (steps 0..D-1).
  GOLGI_ARG(int64_t, delays) = 12;
  // k, the side of the spatial window (odd or even).
  GOLGI_ARG(int64_t, kernel_size) = 7;
  // Seeds the initial kernel (normal, std init_std) through derive_seed(seed, "hetero-delays/init").
  GOLGI_ARG(int64_t, seed) = 0;
  GOLGI_ARG(double, init_std) = 0.01;

  static const OptionSchema<HeteroDelayOptions>& schema();
};

struct HeteroDelayTrainOptions {
  GOLGI_ARG(int64_t, steps) = 300;       // optimiser steps
  GOLGI_ARG(int64_t, batch_size) = 4;    // streams per step
  GOLGI_ARG(double, lr) = 0.01;          // Adam learning rate (cosine-decayed to lr / 10)
  // Seeds the stream order: epoch e is permutation(N, derive_seed(seed, "hetero-delays/order", e)).
  GOLGI_ARG(int64_t, seed) = 0;
  // "events" (outputs where an input event arrives at the window centre) or "all" (every voxel).
  GOLGI_ARG(std::string, voxels) = "events";
  GOLGI_ARG(int64_t, log_every) = 50;    // history entries (and stderr lines when verbose)
  GOLGI_ARG(bool, verbose) = false;

  static const OptionSchema<HeteroDelayTrainOptions>& schema();
};

// The layer: weight K [classes, polarities, delays, k, k] and bias [classes].
class HeteroDelayLayerImpl : public torch::nn::Module {
 public:
  explicit HeteroDelayLayerImpl(const HeteroDelayOptions& options = {});
  // events [B, polarities, T, H, W] (float) -> logits z [B, classes, T, H - k + 1, W - k + 1].
  at::Tensor forward(const at::Tensor& events);
  const HeteroDelayOptions& options() const { return options_; }
  at::Tensor weight, bias;

 private:
  HeteroDelayOptions options_;
};
TORCH_MODULE(HeteroDelayLayer);

// The causal convolution itself: events [B, P, T, H, W], weight [C, P, D, k, k], bias [C] (or
// undefined) -> [B, C, T, H - k + 1, W - k + 1]. Checks shapes (golgi::Error).
at::Tensor causal_delay_conv(const at::Tensor& events, const at::Tensor& weight, const at::Tensor& bias);

// The active output voxels [B, T, H - k + 1, W - k + 1] float 0/1 of events [B, P, T, H, W] for a
// k x k window (formula above); voxels = "all" gives ones.
at::Tensor output_gate(const at::Tensor& events, int64_t kernel_size, const std::string& voxels = "events");

// BCE of sigmoid(logits [B, C, T, H', W']) against one_hot(labels [B, T], C), averaged over classes
// and the voxels where gate [B, T, H', W'] is 1 (gate undefined: every voxel). 0 when none is active.
at::Tensor one_hot_bce(const at::Tensor& logits, const at::Tensor& labels, const at::Tensor& gate = {});

// Evidence [B, C, T]: mean over the active voxels (gate as above) of sigmoid(logits) ("probability")
// or of logits ("logit"); 0 at steps without an active voxel.
at::Tensor class_evidence(const at::Tensor& logits, const std::string& kind = "probability",
                          const at::Tensor& gate = {});

// Which steps count: [N, T] bool, false for the first `skip` steps after the start and after every
// change of labels [N, T].
at::Tensor counted_steps(const at::Tensor& labels, int64_t skip);

// Pruning masks (float 0/1, the weight's shape).
// Exactly round(keep * numel) entries with the largest |weight| (ties to the lower flat index).
at::Tensor magnitude_mask(const at::Tensor& weight, double keep);
// The delays kept by shortest_delay_mask: max(1, round(keep * D)) (round half away from zero).
int64_t kept_delays(int64_t delays, double keep);
// All weights at delays d < kept_delays(D, keep) along dim 2 of weight [C, P, D, k, k].
at::Tensor shortest_delay_mask(const at::Tensor& weight, double keep);

struct HeteroDelayEval {
  double accuracy = 0;              // probability evidence, counted steps
  double accuracy_logit = 0;        // logit-mean evidence, counted steps
  double accuracy_all_steps = 0;    // probability evidence, every step
  double loss = 0;                  // mean BCE over the active voxels
  int64_t counted = 0, steps = 0;   // counted steps / all steps
  double active_voxels = 0;         // share of output voxels that are active
  std::vector<double> per_class;    // probability accuracy per true class (NaN when absent)
  Json to_json() const;
};

// Evaluates weight/bias on streams events [N, T, P, H, W] (the generator's layout) with labels [N, T];
// voxels as in HeteroDelayTrainOptions.
HeteroDelayEval evaluate_hetero_delays(const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& events,
                                       const at::Tensor& labels, int64_t skip_steps,
                                       const std::string& voxels = "events", int64_t batch_size = 8);

struct HeteroDelayTraining {
  Json history = Json::array();  // [{"step", "loss", "seconds"}]
  double final_loss = 0;
  double seconds = 0;
  Json to_json() const;
};

// Adam on one_hot_bce over streams events [N, T, P, H, W], labels [N, T]; the layer is trained in place.
HeteroDelayTraining train_hetero_delays(HeteroDelayLayer& layer, const at::Tensor& events, const at::Tensor& labels,
                                        const HeteroDelayTrainOptions& options = {});

}  // namespace golgi::methods
