// Representation biases: an easy and a hard feature computed by the same network, and how much of
// its representation each one takes (paper id `repr-bias`).
//
// Lampinen, Chan & Hermann 2024, "Learned feature representations are biased by complexity,
// learning order, position, and more", TMLR. Their core experiment: inputs x ∈ {0, 1}^32, a
// network trained to output several binary features of x at once, and the share of the
// penultimate representation's variance each feature explains (variance_explained.h). Features of
// different complexity that the network computes equally well (both at ceiling accuracy) are not
// represented equally: the simpler one explains far more variance.
//
// Features used here (bits indexed from 0):
//   easy      1[x_0 + x_1 + x_2 + x_3 + x_4 >= 3]          (majority of 5 bits: linearly separable)
//   hard      x_5 ⊕ x_6 ⊕ x_7 ⊕ x_8                        (parity of 4 bits: needs depth)
//   parity(S) ⊕_{i ∈ S} x_i                                 (claim 4: two 2-bit parities)
// Bits are independent Bernoulli(p_i); p_i = 1/2 unless biased. For a 2-bit parity of bits with
// P(1) = q each, P(parity = 1) = 2q(1 − q), so a feature that is 1 in a share t of samples needs
// q = (1 − sqrt(1 − 2t)) / 2 (t <= 1/2).
//
// Network: the registry's "mlp" (models/mlp.h), input_shape [32], hidden 4 x 256 ReLU, and one
// two-logit head per feature packed into one output of 2F logits: head h is logits [2h, 2h + 1].
// Loss: Σ_h CE(logits[:, 2h:2h+2], y_h) over the trained heads (a subset during pretraining; the
// untrained heads' logits are ignored). Representation: the last hidden layer's output,
// "layers.3.hook_post" [batch, 256]. Adam, fixed batch size, epochs of seeded permutations.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::models {
class Model;
}

namespace golgi::methods {

// x [n, bits] float32 0/1 with P(x_i = 1) = p_one[i] (size bits), from SplitMix64(seed).
at::Tensor sample_bits(int64_t n, const std::vector<double>& p_one, uint64_t seed);

// The features above, each [n] int64 0/1 from bits [n, >= 9] (>= max(S) + 1 for parity).
at::Tensor easy_feature(const at::Tensor& bits);
at::Tensor hard_feature(const at::Tensor& bits);
at::Tensor parity_feature(const at::Tensor& bits, const std::vector<int64_t>& which);

// The Bernoulli probability q per bit that makes a 2-bit parity 1 in a share `share` of samples
// (share in (0, 1/2]).
double parity2_bit_probability(double share);

struct ReprBiasModelOptions {
  GOLGI_ARG(int64_t, inputs) = 32;
  GOLGI_ARG(std::vector<int64_t>, hidden) = {256, 256, 256, 256};
  GOLGI_ARG(int64_t, features) = 2;  // binary heads: the output has 2 * features logits
  GOLGI_ARG(int64_t, seed) = 0;      // initial weights (LibTorch's generator, seeded from it)

  static const OptionSchema<ReprBiasModelOptions>& schema();
};

// An "mlp" from the model registry with the shape above.
std::shared_ptr<models::Model> make_repr_bias_mlp(const ReprBiasModelOptions& options = {});
// The hook whose output is the representation: the last hidden layer's "layers.{L-1}.hook_post".
std::string representation_hook(const ReprBiasModelOptions& options = {});

// Training runs `steps` Adam steps, or, with until_accuracy > 0 and validation data given, until
// every trained head reaches until_accuracy on the validation rows (checked every check_every
// steps) and then extra_steps more, at most `steps` in all.
struct BinaryHeadsTrainOptions {
  GOLGI_ARG(int64_t, steps) = 3000;      // the budget (the maximum with a criterion)
  GOLGI_ARG(double, until_accuracy) = 0; // 0: off
  GOLGI_ARG(int64_t, check_every) = 250;
  GOLGI_ARG(int64_t, extra_steps) = 500;
  GOLGI_ARG(int64_t, batch_size) = 64;
  GOLGI_ARG(double, lr) = 1e-3;   // Adam, constant
  // Seeds the sample order: epoch e is permutation(n, derive_seed(seed, "repr-bias/order", e)).
  GOLGI_ARG(int64_t, seed) = 0;
  // Heads trained (indices into the features); empty: all.
  GOLGI_ARG(std::vector<int64_t>, heads) = {};
  GOLGI_ARG(int64_t, log_every) = 500;  // history entries
  GOLGI_ARG(bool, progress) = false;    // a progress bar

  static const OptionSchema<BinaryHeadsTrainOptions>& schema();
};

struct BinaryHeadsTraining {
  Json history = Json::array();  // [{"step", "loss"}] (mean over the last log_every steps)
  double final_loss = 0;
  double seconds = 0;
  int64_t steps = 0;             // steps run
  int64_t criterion_step = -1;   // when the criterion was met (-1: never, or no criterion)
  Json to_json() const;
};

// Trains model (2F logits) on inputs [n, ...] and targets [n, F] (0/1 integers), in place.
// val_inputs / val_targets (same layout) are needed only for the criterion.
BinaryHeadsTraining train_binary_heads(models::Model& model, const at::Tensor& inputs, const at::Tensor& targets,
                                       const BinaryHeadsTrainOptions& options = {}, const at::Tensor& val_inputs = {},
                                       const at::Tensor& val_targets = {});

// Per head, the share of rows where argmax of the head's two logits equals the target [F].
std::vector<double> head_accuracy(models::Model& model, const at::Tensor& inputs, const at::Tensor& targets,
                                  int64_t batch_size = 1024);

// The activation of `hook` for every input row, [n, width] float32 (eval, no grad).
at::Tensor representation(models::Model& model, const std::string& hook, const at::Tensor& inputs,
                          int64_t batch_size = 1024);

}  // namespace golgi::methods
