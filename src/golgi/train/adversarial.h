// Adversarial examples and adversarial training for classifiers: the L∞ projected-gradient-descent
// (PGD) attack and the min-max training of Madry, Makelov, Schmidt, Tsipras & Vladu 2018,
// "Towards deep learning models resistant to adversarial attacks", ICLR (arXiv:1706.06083).
//
// PGD, for inputs x in [lower, upper] (the data bounds, in the model's input units) and labels y:
//   x⁰     = clip(x + u, lower, upper),  u ~ U[−ε, ε] per element (random start; x⁰ = x without it)
//   xᵗ⁺¹   = clip(Π_ε(xᵗ + α · sign(∇ₓ L(xᵗ, y))), lower, upper),   t = 0 .. steps − 1
// where L is the cross-entropy of the model's logits and Π_ε projects onto the L∞ ball
// ‖x' − x‖∞ ≤ ε (elementwise clamp to [x − ε, x + ε]). The clip to the data bounds comes after the
// projection, so every iterate is inside both sets (their intersection is a box, so clamping to
// each in turn is the exact projection).
//
// Adversarial training minimises E[max_{x' ∈ B(x)} L(x', y)] by taking one Adam step per batch on
// the PGD examples of that batch (the inner max approximated by PGD, as Madry et al.). With the
// attack switched off (`adversarial` false) the same loop is ordinary empirical risk minimisation,
// so standard and robust models differ only in that switch.
//
// Units: ε, α, lower and upper are in the model's input units. Fashion-MNIST inputs are
// (pixel − 0.2860) / 0.3530, so an ε of 0.1 in pixel units is 0.1 / 0.3530 = 0.2833 and the data
// bounds are [−0.8102, 2.0227] (data/block_fmnist.h has the conversions).
#pragma once

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::models {
class Model;
}

namespace golgi::train {

struct PgdOptions {
  GOLGI_ARG(double, epsilon) = 0.1;    // L∞ radius, input units (0: the attack returns x)
  GOLGI_ARG(double, step_size) = 0.025;  // α, input units
  GOLGI_ARG(int64_t, steps) = 10;
  GOLGI_ARG(bool, random_start) = true;
  // The data bounds. The attack checks that the clean inputs lie inside them, so bounds left at
  // the [0, 1] default on normalised data fail loudly instead of clipping the images.
  GOLGI_ARG(double, lower) = 0.0;
  GOLGI_ARG(double, upper) = 1.0;
  GOLGI_ARG(int64_t, seed) = 0;  // the random start's stream
  static const OptionSchema<PgdOptions>& schema();
};

// inputs [B, ...model.input_shape()] float, targets [B] int64. Returns x_adv with the inputs'
// shape: ‖x_adv − x‖∞ ≤ ε and lower ≤ x_adv ≤ upper. The model's training flag is left as it is
// (an attack during training sees the training-mode network, as in Madry et al.); parameter
// gradients are not touched (gradients are taken with respect to the input only). Throws
// golgi::Error for bad options, shapes or inputs outside the bounds.
at::Tensor pgd_attack(models::Model& model, const at::Tensor& inputs, const at::Tensor& targets,
                      const PgdOptions& options);

struct ClassifierTrainOptions {
  GOLGI_ARG(int64_t, epochs) = 5;
  GOLGI_ARG(int64_t, batch_size) = 64;
  GOLGI_ARG(double, lr) = 1e-3;  // Adam, constant
  GOLGI_ARG(double, weight_decay) = 0.0;
  // Seeds the data order (epoch e: permutation(n, derive_seed(seed, "classifier/order", e))) and
  // the attack's random starts (step t: derive_seed(seed, "classifier/pgd", t)).
  GOLGI_ARG(int64_t, seed) = 0;
  // Train on PGD examples (Madry et al.) instead of the clean inputs.
  GOLGI_ARG(bool, adversarial) = false;
  // The attack used when `adversarial`; its seed is replaced per step. Not in the schema (nested).
  GOLGI_ARG(PgdOptions, attack) = {};
  GOLGI_ARG(bool, progress) = true;
  GOLGI_ARG(std::string, label) = "train";  // the progress bar's label
  static const OptionSchema<ClassifierTrainOptions>& schema();
  // The schema's fields plus the attack's ("attack": {...}) when adversarial.
  Json to_json() const;
};

struct ClassifierTrainResult {
  int64_t steps = 0;
  double final_loss = 0;  // mean training loss (on the examples trained on) over the last epoch, nats
  double seconds = 0;
  Json to_json() const;
};

// Trains `model` in place on inputs [N, ...input_shape] and targets [N] int64 (class indices).
// Leaves the model in eval mode.
ClassifierTrainResult train_classifier(models::Model& model, const at::Tensor& inputs, const at::Tensor& targets,
                                       const ClassifierTrainOptions& options);

// Fraction of correctly classified samples (eval mode, batches of `batch_size`).
double classifier_accuracy(models::Model& model, const at::Tensor& inputs, const at::Tensor& targets,
                           int64_t batch_size = 500);
// Accuracy on PGD examples of the inputs (the robust accuracy at the attack's ε).
double robust_accuracy(models::Model& model, const at::Tensor& inputs, const at::Tensor& targets,
                       const PgdOptions& attack, int64_t batch_size = 500);

}  // namespace golgi::train
