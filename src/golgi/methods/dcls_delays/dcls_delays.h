// Learned synaptic delays by dilated convolution with learnable spacings (paper id `dcls-delays`).
//
// Hammouamri, Khalfaoui-Hassani & Masquelier 2023, "Learning Delays in Spiking Neural Networks
// using Dilated Convolutions with Learnable Spacings" (ICLR 2024; arXiv:2306.17670). Each synapse
// i -> j carries a weight w_ji and a delay; the delay is a real position P_ji learned by gradient
// descent through a Gaussian interpolation kernel over K taps, which becomes a one-hot (integer
// delay) kernel at inference.
//
// Kernel (indexed by delay d = 0..K-1 steps; c = floor(K/2); s = |σ| + 0.27):
//
//   g_ji[d] = exp(−½ ((d − P_ji − c) / s)²)
//   K_ji[d] = w_ji · g_ji[d] / (Σ_d' g_ji[d'] + 1e-7)
//
// so the Gaussian is centred on delay P + c: positions range over [−c, K−1−c] (delays 0..K−1) and
// P = 0 is the middle delay c. The 0.27 floor keeps the kernel differentiable in P as σ -> 0.
//
// Delay layer (a causal 1-D convolution over time, per batch element):
//
//   y[t, b, j] = Σ_i Σ_d K_ji[d] · x[t − d, b, i]        (x[t < 0] = 0)
//
// computed as conv1d (cross-correlation) of x left-padded with K−1 zeros and the kernel flipped
// along its last axis (conv tap k carries delay K−1−k). y[t] depends on x[0..t] only.
//
// Rounded (integer-delay) kernel, used at evaluation after training:
//
//   K_ji[d] = w_ji · [d = round(P_ji) + c]                (round half to even)
//
// i.e. the network becomes an ordinary spiking network whose synapse i -> j delays its input by
// exactly round(P_ji) + c steps: what golgi's event-driven simulator (integer delays) runs.
//
// Training (the paper's recipe, scaled down): positions are their own parameter group with a larger
// learning rate, clamped to [−c, K−1−c] after every step; σ is not learned but decays
// geometrically from σ_0 (default K/2) to σ_final (0.5) over the first `sigma_decay_fraction` of the
// steps and stays there:  σ(s) = σ_0 (σ_final / σ_0)^min(1, s / S),  S = max(1, round(f · steps)).
//
// Network (the paper's SHD network): [delay layer, BatchNorm, LIF, dropout] x n_hidden_layers, then
// a delay readout layer into a non-spiking leaky integrator (a LIF whose threshold is never
// reached); the loss is cross-entropy of Σ_t softmax(v_t) (spiking/readout.h sum_softmax). The LIF
// is SpikingJelly's decay_input neuron with τ_m = 1.05 steps (the paper's value): nearly memoryless,
// so the delays carry the memory. Variants (`delays`): "none" (K = 1 whatever kernel_size says: a
// plain weight per synapse), "fixed_random" (integer delays drawn uniformly in 0..K−1, one-hot
// kernels, not learned) and "learned" (Gaussian kernels as above, rounded for the final evaluation).
//
// Shapes: time-major [T, batch, neurons] throughout (DESIGN.md "Spiking"); weights [out, in];
// positions [out, in] (steps); kernels [out, in, K]. Units: time in simulation steps.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::data {
class Dataset;
}

namespace golgi::methods {

// ---------------------------------------------------------------------------------------------
// Kernels (differentiable; float32 or float64).

// The Gaussian kernel [out, in, K] of weight [out, in], position [out, in] and sigma (any shape
// broadcastable to [out, in], e.g. a 0-d tensor). Differentiable with respect to all three.
// Throws golgi::Error for kernel_size < 1, mismatched shapes or dtypes.
at::Tensor dcls_kernel(const at::Tensor& weight, const at::Tensor& position, const at::Tensor& sigma,
                       int64_t kernel_size);

// The rounded kernel [out, in, K]: weight at delay round(position) + floor(K/2), 0 elsewhere.
// Differentiable with respect to weight only. Positions outside [−c, K−1−c] are an error.
at::Tensor dcls_rounded_kernel(const at::Tensor& weight, const at::Tensor& position, int64_t kernel_size);

// Integer delays [out, in] (int64, steps) of the rounded kernel: round(position) + floor(K/2).
at::Tensor dcls_integer_delays(const at::Tensor& position, int64_t kernel_size);

// The causal delay convolution: x [T, batch, in], kernel [out, in, K] (indexed by delay) ->
// [T, batch, out]. Differentiable with respect to both.
at::Tensor dcls_delay_conv(const at::Tensor& x, const at::Tensor& kernel);

// Position range [−floor(K/2), K−1−floor(K/2)]: clamps `position` in place (no autograd).
void dcls_clamp_positions(const at::Tensor& position, int64_t kernel_size);
double dcls_position_min(int64_t kernel_size);
double dcls_position_max(int64_t kernel_size);

// σ at 0-based step `step` of the decay described above (decay_steps >= 1).
double dcls_sigma(double sigma_init, double sigma_final, int64_t step, int64_t decay_steps);

// ---------------------------------------------------------------------------------------------
// The network and its training.

struct DclsOptions {
  // Variant: "none" (no delays, K = 1), "fixed_random" (random integer delays, not learned),
  // "learned" (learned Gaussian positions, rounded at evaluation).
  GOLGI_ARG(std::string, delays) = "learned";
  GOLGI_ARG(int64_t, kernel_size) = 41;         // K taps: delays 0..K-1 steps
  GOLGI_ARG(int64_t, hidden) = 64;              // neurons per hidden layer
  GOLGI_ARG(int64_t, hidden_layers) = 2;
  GOLGI_ARG(double, tau_m) = 1.05;              // LIF and readout time constant (steps)
  GOLGI_ARG(double, v_threshold) = 1.0;
  GOLGI_ARG(double, surrogate_alpha) = 5.0;     // ATan surrogate sharpness
  GOLGI_ARG(double, dropout) = 0.4;             // per neuron, one mask for all steps
  GOLGI_ARG(double, sigma_init) = 0.0;          // 0: K / 2
  GOLGI_ARG(double, sigma_final) = 0.5;
  GOLGI_ARG(double, sigma_decay_fraction) = 0.25;  // share of the steps over which σ decays
  GOLGI_ARG(int64_t, epochs) = 20;
  GOLGI_ARG(int64_t, batch_size) = 64;
  GOLGI_ARG(double, lr_weights) = 1e-3;         // Adam(W), cosine to 0
  GOLGI_ARG(double, lr_positions) = 0.1;        // Adam, cosine to 0 (positions, steps)
  GOLGI_ARG(double, weight_decay) = 1e-5;       // AdamW on the weights only
  GOLGI_ARG(int64_t, seed) = 0;
  // Log one line per epoch to stderr.
  GOLGI_ARG(bool, verbose) = false;

  static const OptionSchema<DclsOptions>& schema();
  // Throws golgi::Error naming the field when options are inconsistent beyond their ranges.
  void validate() const;
};

struct DclsDelaySummary {
  std::string layer;           // "layer0", ..., "readout"
  int64_t synapses = 0;
  double mean = 0, std = 0;    // of the integer delays (steps)
  int64_t min = 0, max = 0;
  double at_bounds = 0;        // share at delay 0 or K-1
  std::vector<int64_t> histogram;  // counts per delay bin of width bin_width
  int64_t bin_width = 1;
  Json to_json() const;
};

// The trained network for inference, with integer delays and BatchNorm (running statistics) folded
// into each hidden layer: x_j[t] = Σ_i weight_ji · s_i[t − delay_ji] + bias_j, where
// weight_ji = a_j w_ji, bias_j = β_j − a_j μ_j, a_j = γ_j / √(σ²_j + ε). The readout has no
// BatchNorm (bias 0). dcls_simulator.h runs it with torch or in the clock-driven simulator.
struct DclsFoldedLayer {
  std::string name;   // "layer0", ..., "readout"
  at::Tensor weight;  // [out, in] float64
  at::Tensor delays;  // [out, in] int64, steps in [0, K − 1]
  at::Tensor bias;    // [out] float64
};

struct DclsFoldedNetwork {
  std::vector<DclsFoldedLayer> layers;  // hidden layers in order, then the readout
  double tau_m = 1.05;                  // steps (decay_input LIF; the readout never fires)
  double v_threshold = 1.0;
  int64_t kernel_size = 1;
  int64_t inputs() const;
  int64_t classes() const;
};

struct DclsResult {
  std::string delays;
  int64_t kernel_size = 1;     // effective K (1 for "none")
  double test_accuracy = 0;          // the final network: rounded delays for "learned"
  double test_accuracy_gaussian = 0; // "learned": Gaussian kernels at the final σ (else = test_accuracy)
  double train_accuracy = 0;         // the final network on the training split
  double final_sigma = 0;
  std::vector<double> epoch_loss;
  std::vector<DclsDelaySummary> delay_summary;
  // Trained parameters: weights and BatchNorm affine terms, plus one position per synapse when
  // delays are learned (fixed random delays and K = 1 have none).
  int64_t parameters = 0;
  int64_t synapses = 0;
  double seconds = 0;
  DclsFoldedNetwork network;  // the final network (rounded delays, BatchNorm folded); not in to_json
  Json to_json() const;
};

// Trains the network on `train` ([N, T, channels] 0/1 inputs, [N] labels) and evaluates on `test`.
DclsResult train_dcls(const data::Dataset& train, const data::Dataset& test, const DclsOptions& options);

}  // namespace golgi::methods
