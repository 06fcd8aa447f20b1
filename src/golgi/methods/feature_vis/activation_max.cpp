#include "golgi/methods/feature_vis/activation_max.h"

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "golgi/analysis/tv_bregman.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/seed.h"
#include "golgi/hooks/neuron_ref.h"
#include "golgi/hooks/scoped_hooks.h"
#include "golgi/methods/attribution/frozen_eval_guard.h"
#include "golgi/models/model.h"

namespace golgi::methods {

const OptionSchema<ActivationMaxOptions>& ActivationMaxOptions::schema() {
  static const auto schema =
      OptionSchema<ActivationMaxOptions>("activation maximisation")
          .add("objective", &ActivationMaxOptions::objective_, "what to maximise",
               {"logit", "log_probability", "neuron"})
          .add("neuron", &ActivationMaxOptions::neuron_,
               "neuron HOOK:INDEX[@POS] to maximise instead of a class ('' = class objective)")
          .add("steps", &ActivationMaxOptions::steps_, "gradient-ascent steps", at_least<int64_t>(0))
          .add("lr", &ActivationMaxOptions::lr_, "step size as a fraction of the data range (hi - lo)",
               at_least(0.0))
          .add("jitter", &ActivationMaxOptions::jitter_, "random shift per step, pixels (0: off)",
               at_least<int64_t>(0))
          .add("scale", &ActivationMaxOptions::scale_, "random rescaling per step, relative (0: off)",
               between(0.0, 0.9))
          .add("tv_weight", &ActivationMaxOptions::tv_weight_,
               "TV-Bregman fidelity weight between steps (larger = less smoothing; 0: off)", at_least(0.0))
          .add("tv_every", &ActivationMaxOptions::tv_every_, "apply the TV step every N steps", at_least<int64_t>(1))
          .add("l2_decay", &ActivationMaxOptions::l2_decay_, "pull towards lo per step", between(0.0, 1.0))
          .add("lo", &ActivationMaxOptions::lo_, "lowest input value (data range, model input units)")
          .add("hi", &ActivationMaxOptions::hi_, "highest input value (data range, model input units)")
          .add("stop_probability", &ActivationMaxOptions::stop_probability_,
               "freeze a row once its target probability reaches this (0: never)", between(0.0, 1.0))
          .add("seed", &ActivationMaxOptions::seed_, "jitter and scale draws", at_least<int64_t>(0))
          .add("progress", &ActivationMaxOptions::progress_, "progress bar over the steps");
  return schema;
}

namespace {

struct Setup {
  models::Model* model = nullptr;
  std::optional<hooks::NeuronRef> neuron;  // one neuron for every row
  std::string neuron_hook;                 // per-row neurons: targets[b] indexes this hook's neurons
  bool log_probability = false;
  at::Tensor targets;  // [B] int64 (class objectives and per-row neurons)
};

// The objective per row and (class objectives) the target's softmax probability, for rows `rows`
// of the batch whose (transformed) images are `x`.
struct Forward {
  at::Tensor objective;    // [n]
  at::Tensor probability;  // [n] or undefined
};

Forward forward(const Setup& s, const at::Tensor& x, const at::Tensor& rows) {
  at::Tensor neuron_activation;
  hooks::HookGuard guard;
  const std::string& hook = s.neuron ? s.neuron->hook : s.neuron_hook;
  if (!hook.empty()) {
    guard = hooks::add_hook(*s.model, hook, [&](const at::Tensor& a, const hooks::HookPointImpl&) {
      neuron_activation = a;
      return at::Tensor();
    });
  }
  at::Tensor output = s.model->forward(x);
  Forward f;
  if (!s.neuron_hook.empty()) {
    GOLGI_CHECK(neuron_activation.defined(), "activation maximisation: hook '", hook,
                "' did not run during the forward pass");
    int64_t dim = s.model->hook_point(hook).neuron_dim_for_rank(neuron_activation.dim());
    at::Tensor a = neuron_activation.movedim(dim, 1);  // [n, neurons, positions...]
    if (a.dim() > 2) a = a.flatten(2).sum(2);
    at::Tensor t = s.targets.index_select(0, rows);
    int64_t high = t.max().item<int64_t>();
    GOLGI_CHECK(high < a.size(1), "activation maximisation: neuron ", high, " is out of range for hook '", hook,
                "' with ", a.size(1), " neurons");
    f.objective = a.gather(1, t.view({-1, 1})).squeeze(1);
    return f;
  }
  if (s.neuron) {
    const auto& ref = *s.neuron;
    GOLGI_CHECK(neuron_activation.defined(), "activation maximisation: the neuron's hook '", ref.hook,
                "' did not run during the forward pass");
    hooks::validate(ref, *s.model, neuron_activation.sizes().vec());
    int64_t dim = s.model->hook_point(ref.hook).neuron_dim_for_rank(neuron_activation.dim());
    at::Tensor a = neuron_activation.select(dim, ref.index);
    for (int64_t pos : ref.position) a = a.select(1, pos);
    f.objective = a.dim() == 1 ? a : a.flatten(1).sum(1);
    return f;
  }
  GOLGI_CHECK(output.dim() == 2, "activation maximisation: class objectives need a model output [batch, classes], "
              "got ", output.sizes(), "; give a neuron instead");
  at::Tensor t = s.targets.index_select(0, rows).view({-1, 1});
  at::Tensor log_p = torch::log_softmax(output, 1);
  f.objective = (s.log_probability ? log_p : output).gather(1, t).squeeze(1);
  f.probability = log_p.detach().gather(1, t).squeeze(1).exp();
  return f;
}

// Shifts each row by its own (dy, dx) with wrap-around and rescales it about the centre by its
// own factor; differentiable in x. x: [n, C, H, W].
at::Tensor jitter_and_scale(const at::Tensor& x, const std::vector<int64_t>& dy, const std::vector<int64_t>& dx,
                            const std::vector<double>& factor, double fill) {
  std::vector<at::Tensor> rows;
  rows.reserve(dy.size());
  for (size_t i = 0; i < dy.size(); ++i) {
    at::Tensor r = x[static_cast<int64_t>(i)];
    if (dy[i] != 0 || dx[i] != 0) r = torch::roll(r, {dy[i], dx[i]}, {-2, -1});
    rows.push_back(r);
  }
  at::Tensor out = torch::stack(rows);
  bool any_scale = false;
  for (double f : factor) any_scale = any_scale || f != 1.0;
  if (!any_scale) return out;
  // Sampling grid: output pixel p reads input location p / factor about the centre; the
  // off-image area (when shrinking) takes `fill`.
  int64_t n = out.size(0);
  at::Tensor theta = torch::zeros({n, 2, 3}, out.options());
  for (int64_t i = 0; i < n; ++i) {
    theta[i][0][0] = 1.0 / factor[i];
    theta[i][1][1] = 1.0 / factor[i];
  }
  namespace F = torch::nn::functional;
  at::Tensor grid = F::affine_grid(theta, out.sizes(), /*align_corners=*/false);
  return F::grid_sample(out - fill, grid,
                        F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false)) +
         fill;
}

}  // namespace

ActivationMaxResult maximize_activation(models::Model& model, const at::Tensor& init, const at::Tensor& targets,
                                        const ActivationMaxOptions& options) {
  const auto& o = options;
  ActivationMaxOptions::schema().validate(o);
  GOLGI_CHECK(o.lo() < o.hi(), "activation maximisation: the data range needs lo < hi, got lo ", o.lo(), ", hi ",
              o.hi());
  GOLGI_CHECK(init.defined() && init.dim() >= 2 && init.size(0) > 0,
              "activation maximisation: init must be a non-empty batch [batch, ...input shape]");
  GOLGI_CHECK(at::isFloatingType(init.scalar_type()), "activation maximisation: init must be floating point, got ",
              init.scalar_type());
  auto shape = model.input_shape();
  bool shape_ok = init.dim() == static_cast<int64_t>(shape.size()) + 1;
  for (size_t i = 0; shape_ok && i < shape.size(); ++i) shape_ok = shape[i] < 0 || shape[i] == init.size(i + 1);
  std::string expected = "[batch";
  for (int64_t d : shape) expected += ", " + (d < 0 ? std::string("any") : std::to_string(d));
  GOLGI_CHECK(shape_ok, "activation maximisation: init has shape ", init.sizes(), " but model '",
              model.architecture(), "' takes ", expected, "]");
  GOLGI_CHECK(!at::isnan(init).any().item<bool>(), "activation maximisation: init contains NaN");
  int64_t batch = init.size(0);
  bool image = init.dim() == 4;
  GOLGI_CHECK(image || (o.jitter() == 0 && o.scale() == 0 && o.tv_weight() == 0),
              "activation maximisation: jitter, scale and TV need image inputs [batch, C, H, W], got ", init.sizes(),
              "; set them to 0 for this model");
  GOLGI_CHECK(!image || o.tv_weight() == 0 || (init.size(2) >= 2 && init.size(3) >= 2),
              "activation maximisation: TV needs images of at least 2 x 2 pixels");

  Setup s;
  s.model = &model;
  bool neuron_objective = !o.neuron().empty() || o.objective() == "neuron";
  if (neuron_objective) {
    GOLGI_CHECK(!o.neuron().empty(),
                "activation maximisation: objective 'neuron' needs a neuron (HOOK:INDEX, or HOOK with targets)");
    GOLGI_CHECK(o.stop_probability() == 0, "activation maximisation: stop_probability needs a class objective");
    if (o.neuron().find(':') == std::string::npos) {
      GOLGI_CHECK(model.has_hook(o.neuron()), "activation maximisation: unknown hook point '", o.neuron(),
                  "' for model '", model.architecture(), "'");
      GOLGI_CHECK(targets.defined() && targets.dim() == 1 && targets.size(0) == batch &&
                      !at::isFloatingType(targets.scalar_type()),
                  "activation maximisation: a bare hook as the neuron needs targets [batch] = [", batch,
                  "] of neuron indices");
      s.neuron_hook = o.neuron();
      s.targets = targets.to(torch::kLong);
      GOLGI_CHECK(s.targets.min().item<int64_t>() >= 0, "activation maximisation: neuron indices must be >= 0");
    } else {
      s.neuron = hooks::NeuronRef::parse(o.neuron());
      hooks::validate(*s.neuron, model);
    }
  } else {
    GOLGI_CHECK(targets.defined() && targets.dim() == 1 && targets.size(0) == batch,
                "activation maximisation: targets must be class indices [batch] = [", batch, "]");
    GOLGI_CHECK(!at::isFloatingType(targets.scalar_type()),
                "activation maximisation: targets must be integer class indices");
    s.targets = targets.to(torch::kLong);
    s.log_probability = o.objective() == "log_probability";
  }

  FrozenEvalGuard guard(model);
  if (!neuron_objective) {
    torch::NoGradGuard no_grad;
    int64_t classes = model.forward(init.index({torch::indexing::Slice(0, 1)}).to(torch::kFloat)).size(-1);
    int64_t low = s.targets.min().item<int64_t>(), high = s.targets.max().item<int64_t>();
    GOLGI_CHECK(low >= 0 && high < classes, "activation maximisation: target class ", low < 0 ? low : high,
                " is out of range for a model with ", classes, " classes");
  }

  const double range = o.hi() - o.lo();
  at::Tensor x = init.detach().to(torch::kFloat).clamp(o.lo(), o.hi()).contiguous().clone();
  at::Tensor steps_taken = torch::zeros({batch}, torch::kLong);
  std::vector<bool> active(batch, true);
  std::vector<SplitMix64> streams;
  for (int64_t b = 0; b < batch; ++b) streams.emplace_back(derive_seed(o.seed(), "activation_max", b));
  analysis::TvBregmanOptions tv;
  tv.weight(o.tv_weight());

  std::optional<Progress> progress;
  if (o.progress() && o.steps() > 0) progress.emplace("activation max", o.steps(), "step");
  for (int64_t step = 0; step < o.steps(); ++step) {
    std::vector<int64_t> live;
    for (int64_t b = 0; b < batch; ++b)
      if (active[b]) live.push_back(b);
    if (live.empty()) break;
    at::Tensor rows = torch::tensor(live, torch::kLong);
    at::Tensor xa = x.index_select(0, rows);

    std::vector<int64_t> dy(live.size(), 0), dx(live.size(), 0);
    std::vector<double> factor(live.size(), 1.0);
    for (size_t i = 0; i < live.size(); ++i) {
      SplitMix64& rng = streams[live[i]];
      if (o.jitter() > 0) {
        dy[i] = static_cast<int64_t>(rng.below(2 * o.jitter() + 1)) - o.jitter();
        dx[i] = static_cast<int64_t>(rng.below(2 * o.jitter() + 1)) - o.jitter();
      }
      if (o.scale() > 0) factor[i] = 1.0 + o.scale() * (2.0 * rng.uniform() - 1.0);
    }

    at::Tensor grad;
    {
      torch::AutoGradMode grad_mode(true);
      at::Tensor leaf = xa.detach().requires_grad_(true);
      at::Tensor seen = image ? jitter_and_scale(leaf, dy, dx, factor, o.lo()) : leaf;
      Forward f = forward(s, seen, rows);
      if (f.objective.requires_grad()) {
        auto grads = torch::autograd::grad({f.objective.sum()}, {leaf}, {}, false, false, /*allow_unused=*/true);
        grad = grads[0];
      }
    }
    if (!grad.defined()) grad = at::zeros_like(xa);
    // Normalised step: mean |g| per row scales to 1, so lr is a fraction of the range per step.
    at::Tensor scale = grad.abs().flatten(1).mean(1).add(1e-12);
    std::vector<int64_t> per_row_shape(xa.dim(), 1);
    per_row_shape[0] = xa.size(0);
    xa = xa + grad / scale.view(per_row_shape) * (o.lr() * range);
    if (o.l2_decay() > 0) xa = xa - (xa - o.lo()) * o.l2_decay();
    if (o.tv_weight() > 0 && (step + 1) % o.tv_every() == 0) {
      for (int64_t i = 0; i < xa.size(0); ++i) xa[i].copy_(analysis::denoise_tv_bregman(xa[i], tv));
    }
    xa = xa.clamp(o.lo(), o.hi());
    GOLGI_CHECK(!at::isnan(xa).any().item<bool>(), "activation maximisation: the image became NaN at step ", step + 1,
                " (the model's gradient is not finite); lower lr");
    x.index_copy_(0, rows, xa);
    steps_taken.index_add_(0, rows, torch::ones({rows.size(0)}, torch::kLong));

    if (o.stop_probability() > 0) {
      torch::NoGradGuard no_grad;
      Forward f = forward(s, xa, rows);
      auto p = f.probability.contiguous();
      for (size_t i = 0; i < live.size(); ++i)
        if (p[static_cast<int64_t>(i)].item<double>() >= o.stop_probability()) active[live[i]] = false;
    }
    if (progress) progress->advance();
  }
  if (progress) progress->finish();

  ActivationMaxResult result;
  torch::NoGradGuard no_grad;
  at::Tensor all = torch::arange(batch, torch::kLong);
  Forward f = forward(s, x, all);
  result.images = x;
  result.objective = f.objective.detach();
  result.probability = f.probability.defined()
                           ? f.probability
                           : torch::full({batch}, std::numeric_limits<double>::quiet_NaN(), torch::kFloat);
  result.steps_taken = steps_taken;
  return result;
}

}  // namespace golgi::methods
