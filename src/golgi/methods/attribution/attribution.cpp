#include "golgi/methods/attribution/attribution.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/seed.h"
#include "golgi/hooks/neuron_ref.h"
#include "golgi/hooks/scoped_hooks.h"
#include "golgi/methods/attribution/frozen_eval_guard.h"
#include "golgi/models/model.h"

namespace golgi::methods {

const OptionSchema<AttributionOptions>& AttributionOptions::schema() {
  static const auto schema =
      OptionSchema<AttributionOptions>("attribution")
          .add("method", &AttributionOptions::method_, "attribution method",
               {"gradient", "gradient_x_input", "smoothgrad", "integrated_gradients", "gradcam", "lrp"})
          .add("at", &AttributionOptions::at_, "hook point to attribute to ('' = the model input)")
          .add("neuron", &AttributionOptions::neuron_,
               "objective neuron HOOK:INDEX[@POS] instead of the target class logit ('' = class logit)")
          .add("samples", &AttributionOptions::samples_, "SmoothGrad noise draws per sample", at_least<int64_t>(1))
          .add("sigma", &AttributionOptions::sigma_, "SmoothGrad noise σ as a fraction of the value range",
               at_least(0.0))
          .add("value_range", &AttributionOptions::value_range_,
               "SmoothGrad value range (0 = max - min of the batch)", at_least(0.0))
          .add("steps", &AttributionOptions::steps_, "integrated-gradients Riemann steps", at_least<int64_t>(1))
          .add("batch", &AttributionOptions::batch_, "most rows per internal forward pass", at_least<int64_t>(1))
          .add("seed", &AttributionOptions::seed_, "SmoothGrad noise seed", at_least<int64_t>(0))
          .add("upsample", &AttributionOptions::upsample_, "GradCAM: resize the map to the input size")
          .add("lrp_rule", &AttributionOptions::lrp_rule_, "LRP rule at every layer",
               {"epsilon", "zplus", "alpha2beta1", "flat"})
          .add("lrp_epsilon", &AttributionOptions::lrp_epsilon_, "LRP epsilon rule's stabiliser ε", at_least(0.0))
          .add("progress", &AttributionOptions::progress_, "progress bar for SmoothGrad and integrated gradients");
  return schema;
}

namespace {

// Maps the clean site values of a group of rows [n, ...] to the values to evaluate [n, ...].
using Transform = std::function<at::Tensor(const at::Tensor& clean)>;

struct Evaluation {
  at::Tensor site;       // [n, ...] the values the gradient was taken at
  at::Tensor grad;       // [n, ...] ∂F/∂site
  at::Tensor objective;  // [n] F per row
};

// Everything that stays fixed across the internal forward passes of one attribution.
struct Problem {
  models::Model* model = nullptr;
  at::Tensor inputs;   // [B, ...]
  at::Tensor targets;  // [B] int64 (undefined with a neuron objective)
  std::string at;      // "" or a hook name
  std::optional<hooks::NeuronRef> neuron;
  int64_t batch = 16;
  bool progress = true;
};

// F per row from the model output (class logits) or the neuron activation.
at::Tensor objective_of(const Problem& p, const at::Tensor& output, const at::Tensor& neuron_activation,
                        const at::Tensor& rows) {
  if (p.neuron) {
    const auto& ref = *p.neuron;
    GOLGI_CHECK(neuron_activation.defined(), "attribution: the objective neuron's hook '", ref.hook,
                "' did not run during the forward pass");
    hooks::validate(ref, *p.model, neuron_activation.sizes().vec());
    int64_t dim = p.model->hook_point(ref.hook).neuron_dim_for_rank(neuron_activation.dim());
    at::Tensor a = neuron_activation.select(dim, ref.index);  // [n, other positions...]
    if (!ref.position.empty()) {
      for (int64_t pos : ref.position) a = a.select(1, pos);
      GOLGI_CHECK(a.dim() == 1, "attribution: neuron '", ref.str(), "' gives ", ref.position.size(),
                  " positions but its activation has ", a.dim() - 1 + ref.position.size(), " position dimensions");
      return a;
    }
    return a.dim() == 1 ? a : a.flatten(1).sum(1);
  }
  // A language model's [batch, pos, vocab]: the next-token logits at the last position.
  at::Tensor logits = output.dim() == 3 ? output.select(1, output.size(1) - 1) : output;
  GOLGI_CHECK(logits.dim() == 2, "attribution: target classes need a model output [batch, classes] or [batch, pos, "
              "vocab], got ", output.sizes(), "; pass options.neuron to attribute a neuron instead");
  at::Tensor t = p.targets.index_select(0, rows);
  int64_t classes = logits.size(1);
  int64_t high = t.max().item<int64_t>();
  GOLGI_CHECK(high < classes, "attribution: target class ", high, " is out of range for a model with ", classes,
              " classes (targets must be in [0, ", classes, "))");
  return logits.gather(1, t.view({-1, 1})).squeeze(1);
}

// One forward and backward pass over the given rows, with the site replaced by transform(site).
Evaluation evaluate(const Problem& p, const at::Tensor& rows, const Transform& transform) {
  torch::AutoGradMode grad_mode(true);
  at::Tensor x = p.inputs.index_select(0, rows);
  at::Tensor site, neuron_activation;
  hooks::HookGuard site_guard, neuron_guard;
  if (p.at.empty()) {
    site = transform(x).detach().requires_grad_(true);
    x = site;
  } else {
    // A fresh leaf replaces the activation, so the gradient stops there and the layers before the
    // hook build no graph.
    site_guard = hooks::add_hook(*p.model, p.at, [&](const at::Tensor& a, const hooks::HookPointImpl&) {
      site = transform(a.detach()).detach().requires_grad_(true);
      return site;
    });
  }
  if (p.neuron) {
    // Added after the site hook, so on the same hook point it sees the replaced value.
    neuron_guard = hooks::add_hook(*p.model, p.neuron->hook, [&](const at::Tensor& a, const hooks::HookPointImpl&) {
      neuron_activation = a;
      return at::Tensor();
    });
  }
  at::Tensor output = p.model->forward(x);
  GOLGI_CHECK(site.defined(), "attribution: hook point '", p.at, "' did not run during the forward pass");
  at::Tensor objective = objective_of(p, output, neuron_activation, rows);
  Evaluation e;
  e.site = site.detach();
  e.objective = objective.detach();
  if (!objective.requires_grad()) {
    e.grad = at::zeros_like(e.site);  // the objective does not depend on the site
    return e;
  }
  auto grads = torch::autograd::grad({objective.sum()}, {site}, {}, /*retain_graph=*/false,
                                     /*create_graph=*/false, /*allow_unused=*/true);
  e.grad = grads[0].defined() ? grads[0] : at::zeros_like(e.site);
  return e;
}

// The clean pass over all samples in chunks of `batch`: site values, gradients and objectives.
Evaluation clean_pass(const Problem& p) {
  int64_t n = p.inputs.size(0);
  std::vector<at::Tensor> sites, grads, objectives;
  for (int64_t begin = 0; begin < n; begin += p.batch) {
    at::Tensor rows = torch::arange(begin, std::min(n, begin + p.batch), torch::kLong);
    Evaluation e = evaluate(p, rows, [](const at::Tensor& clean) { return clean; });
    sites.push_back(e.site);
    grads.push_back(e.grad);
    objectives.push_back(e.objective);
  }
  return {torch::cat(sites), torch::cat(grads), torch::cat(objectives)};
}

// Evaluates `per_sample` pairs for every sample in internal batches of at most p.batch rows; pair
// j of sample b is row b * per_sample + j. make_transform(samples, js) builds the transform for
// one internal batch. Returns Σ_j grad per sample, [B, ...].
at::Tensor summed_gradients(const Problem& p, const Evaluation& clean, int64_t per_sample, const std::string& label,
                            const std::function<Transform(const at::Tensor&, const at::Tensor&)>& make_transform) {
  int64_t n = p.inputs.size(0), total = n * per_sample;
  at::Tensor sum = at::zeros_like(clean.grad);
  std::optional<Progress> progress;
  if (p.progress) progress.emplace(label, total, "row");
  for (int64_t begin = 0; begin < total; begin += p.batch) {
    at::Tensor pairs = torch::arange(begin, std::min(total, begin + p.batch), torch::kLong);
    at::Tensor samples = torch::div(pairs, per_sample, "floor");
    at::Tensor js = pairs - samples * per_sample;
    Evaluation e = evaluate(p, samples, make_transform(samples, js));
    sum.index_add_(0, samples, e.grad);
    if (progress) progress->advance(pairs.size(0));
  }
  return sum;
}

// [n] -> [n, 1, 1, ...] to broadcast over a site of rank `rank`.
at::Tensor per_row(const at::Tensor& v, int64_t rank) {
  std::vector<int64_t> shape(rank, 1);
  shape[0] = v.size(0);
  return v.view(shape);
}

at::Tensor expand_baseline(const at::Tensor& baseline, const at::Tensor& site, const std::string& where) {
  if (!baseline.defined()) return at::zeros_like(site);
  bool ok = baseline.dim() <= site.dim();
  for (int64_t i = 1; ok && i <= baseline.dim(); ++i) {
    int64_t b = baseline.size(-i), s = site.size(-i);
    ok = b == s || b == 1;
  }
  GOLGI_CHECK(ok, "attribution: the integrated-gradients baseline ", baseline.sizes(), " does not broadcast to ",
              where, " ", site.sizes(), " (give [batch, ...] or the per-sample shape)");
  at::Tensor b = baseline.to(site.scalar_type());
  GOLGI_CHECK(!at::isnan(b).any().item<bool>(), "attribution: the integrated-gradients baseline contains NaN");
  return b.expand_as(site).contiguous();
}

at::Tensor smoothgrad(const Problem& p, const Evaluation& clean, const AttributionOptions& o) {
  double range = o.value_range();
  if (range == 0) range = (clean.site.max() - clean.site.min()).item<double>();
  double sigma = o.sigma() * range;
  std::vector<int64_t> shape = clean.site.sizes().vec();
  shape.erase(shape.begin());
  auto seed = static_cast<uint64_t>(o.seed());
  int64_t samples = o.samples();
  at::Tensor sum = summed_gradients(p, clean, samples, "smoothgrad", [&](const at::Tensor& rows, const at::Tensor& js) {
    return [&, rows, js](const at::Tensor& x) {
      if (sigma == 0) return x;
      std::vector<at::Tensor> noise;
      for (int64_t i = 0; i < rows.size(0); ++i) {
        // Draw j of sample b has its own stream: the map does not depend on the internal batching.
        uint64_t stream = static_cast<uint64_t>(rows[i].item<int64_t>() * samples + js[i].item<int64_t>());
        auto gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(seed, "attribution/smoothgrad", stream));
        noise.push_back(at::normal(0.0, sigma, shape, gen, x.options()));
      }
      return x + torch::stack(noise);
    };
  });
  return sum / static_cast<double>(samples);
}

at::Tensor integrated_gradients(const Problem& p, const Evaluation& clean, const AttributionOptions& o) {
  at::Tensor base = expand_baseline(o.baseline(), clean.site, p.at.empty() ? "the input" : "hook '" + p.at + "'");
  int64_t steps = o.steps();
  at::Tensor sum = summed_gradients(p, clean, steps, "integrated gradients", [&](const at::Tensor& rows,
                                                                                  const at::Tensor& js) {
    at::Tensor alpha = per_row((js.to(clean.site.scalar_type()) + 0.5) / static_cast<double>(steps), clean.site.dim());
    at::Tensor start = base.index_select(0, rows);
    return [alpha, start](const at::Tensor& x) { return start + alpha * (x - start); };
  });
  return (clean.site - base) * sum / static_cast<double>(steps);
}

at::Tensor gradcam(const Problem& p, const Evaluation& clean, const AttributionOptions& o) {
  const at::Tensor& a = clean.site;
  GOLGI_CHECK(a.dim() == 4, "attribution: GradCAM needs a convolutional hook with activations [batch, channels, "
              "height, width], but '", p.at, "' has ", a.sizes(), "; pick a conv hook such as conv2.hook_post");
  at::Tensor weights = clean.grad.mean({2, 3}, /*keepdim=*/true);  // α_c [B, C, 1, 1]
  at::Tensor cam = torch::relu((weights * a).sum(1));              // [B, H, W]
  if (!o.upsample()) return cam;
  GOLGI_CHECK(p.inputs.dim() == 4, "attribution: GradCAM upsample needs image inputs [batch, channels, height, "
              "width], got ", p.inputs.sizes());
  namespace F = torch::nn::functional;
  auto size = std::vector<int64_t>{p.inputs.size(2), p.inputs.size(3)};
  return F::interpolate(cam.unsqueeze(1),
                        F::InterpolateFuncOptions().size(size).mode(torch::kBilinear).align_corners(false))
      .squeeze(1);
}

// ---- LRP ----------------------------------------------------------------------------------------

// One step of the network as LRP sees it. Dense and conv layers carry their (BN-folded) weights.
struct LrpLayer {
  enum class Kind { kDense, kConv, kRelu, kMaxPool, kFlatten } kind = Kind::kRelu;
  at::Tensor weight, bias;
  int64_t padding = 0;
};

at::Tensor find_parameter(const models::Model& model, const std::string& name) {
  for (const auto& p : model.named_parameters())
    if (p.key() == name) return p.value().detach();
  for (const auto& b : model.named_buffers())
    if (b.key() == name) return b.value().detach();
  GOLGI_FAIL("attribution: lrp: model '", model.architecture(), "' has no parameter '", name, "'");
}

// The mlp and cnn models as a list of LRP layers, read from their options and parameter names.
std::vector<LrpLayer> lrp_layers(const models::Model& model) {
  using Kind = LrpLayer::Kind;
  const Json& o = model.options();
  std::vector<LrpLayer> layers;
  auto dense = [&](const std::string& prefix) {
    layers.push_back({Kind::kDense, find_parameter(model, prefix + ".weight"), find_parameter(model, prefix + ".bias")});
  };
  if (model.architecture() == "mlp") {
    GOLGI_CHECK(o.value("activation", std::string("relu")) == "relu", "attribution: lrp needs ReLU networks, but this "
                "mlp uses '", o.value("activation", std::string()), "'");
    layers.push_back({Kind::kFlatten, {}, {}, 0});
    for (size_t i = 0; i < o.at("hidden").size(); ++i) {
      dense("layers." + std::to_string(i));
      layers.push_back({Kind::kRelu, {}, {}, 0});
    }
    dense("head");
    return layers;
  }
  GOLGI_CHECK(model.architecture() == "cnn", "attribution: lrp supports the 'mlp' and 'cnn' models, not '",
              model.architecture(), "'; use gradient_x_input or integrated_gradients instead");
  int64_t kernel = o.at("kernel_size").get<int64_t>();
  bool batch_norm = o.value("batch_norm", false);
  for (size_t i = 0; i < o.at("channels").size(); ++i) {
    std::string prefix = "conv" + std::to_string(i + 1);
    at::Tensor w = find_parameter(model, prefix + ".weight"), b = find_parameter(model, prefix + ".bias");
    if (batch_norm) {
      // Eval-mode BN is y = γ (x − μ) / sqrt(var + eps) + β, an affine map per channel: fold it
      // into the conv so the rules see one layer.
      auto modules = model.named_modules("", /*include_self=*/false);  // works for models not in a shared_ptr
      auto* found = modules.find(prefix + ".bn");
      GOLGI_ASSERT(found != nullptr, "cnn '", prefix, "' has no BatchNorm2d");
      auto bn = (*found)->as<torch::nn::BatchNorm2dImpl>();
      GOLGI_ASSERT(bn != nullptr, "cnn '", prefix, ".bn' is not a BatchNorm2d");
      at::Tensor scale = find_parameter(model, prefix + ".bn.weight") /
                         torch::sqrt(find_parameter(model, prefix + ".bn.running_var") + bn->options.eps());
      b = (b - find_parameter(model, prefix + ".bn.running_mean")) * scale + find_parameter(model, prefix + ".bn.bias");
      w = w * scale.view({-1, 1, 1, 1});
    }
    layers.push_back({Kind::kConv, w, b, kernel / 2});
    layers.push_back({Kind::kRelu, {}, {}, 0});
    layers.push_back({Kind::kMaxPool, {}, {}, 0});
  }
  layers.push_back({Kind::kFlatten, {}, {}, 0});
  for (size_t j = 0; j < o.at("hidden").size(); ++j) {
    dense("fc" + std::to_string(j + 1));
    layers.push_back({Kind::kRelu, {}, {}, 0});
  }
  dense("head");
  return layers;
}

at::Tensor apply_linear(const LrpLayer& layer, const at::Tensor& a, const at::Tensor& weight, const at::Tensor& bias) {
  namespace F = torch::nn::functional;
  if (layer.kind == LrpLayer::Kind::kDense) return F::linear(a, weight, bias);
  auto options = F::Conv2dFuncOptions().padding(layer.padding);
  if (bias.defined()) options = options.bias(bias);
  return F::conv2d(a, weight, options);
}

at::Tensor stabilise(const at::Tensor& z, double epsilon) {
  return z + epsilon * at::where(z >= 0, at::ones_like(z), -at::ones_like(z));
}

// Σ_k (∂z_k/∂a_j) R_k / stab(z_k) for z = f(a), by one backward pass (the "gradient trick").
at::Tensor redistribute(const std::function<at::Tensor(const at::Tensor&)>& f, const at::Tensor& a,
                        const at::Tensor& relevance, double epsilon) {
  at::Tensor leaf = a.detach().requires_grad_(true);
  at::Tensor z = f(leaf);
  at::Tensor s = (relevance / stabilise(z.detach(), epsilon)).masked_fill(z.detach() == 0, 0.0);
  return torch::autograd::grad({(z * s).sum()}, {leaf})[0];
}

// Relevance of a layer's inputs `a` from the relevance of its outputs under `rule`.
at::Tensor relevance_through(const LrpLayer& layer, const at::Tensor& a, const at::Tensor& relevance,
                             const std::string& rule, double epsilon) {
  using Kind = LrpLayer::Kind;
  constexpr double kTiny = 1e-12;  // guards 0/0 where a rule's denominator is exactly zero
  switch (layer.kind) {
    case Kind::kRelu: return relevance;
    case Kind::kFlatten: return relevance.view(a.sizes());
    case Kind::kMaxPool: {
      namespace F = torch::nn::functional;
      auto pool = [](const at::Tensor& x) { return F::max_pool2d(x, F::MaxPool2dFuncOptions(2)); };
      return a * redistribute(pool, a, relevance, kTiny);
    }
    default: break;
  }
  const at::Tensor& w = layer.weight;
  if (rule == "epsilon") {
    auto f = [&](const at::Tensor& x) { return apply_linear(layer, x, w, layer.bias); };
    return a * redistribute(f, a, relevance, epsilon);
  }
  if (rule == "flat") {
    at::Tensor ones = at::ones_like(w);
    auto f = [&](const at::Tensor& x) { return apply_linear(layer, x, ones, {}); };
    return redistribute(f, at::ones_like(a), relevance, kTiny);
  }
  at::Tensor wp = w.clamp_min(0), wn = w.clamp_max(0);
  at::Tensor ap = a.clamp_min(0), an = a.clamp_max(0);
  // Σ_j (a_j w_jk)⁺ uses w⁺ on a⁺ and w⁻ on a⁻; the negative part the other two pairings.
  auto part = [&](const at::Tensor& w_for_pos, const at::Tensor& w_for_neg) {
    return ap * redistribute([&](const at::Tensor& x) { return apply_linear(layer, x, w_for_pos, {}) +
                                                               apply_linear(layer, an, w_for_neg, {}); },
                             ap, relevance, kTiny) +
           an * redistribute([&](const at::Tensor& x) { return apply_linear(layer, ap, w_for_pos, {}) +
                                                               apply_linear(layer, x, w_for_neg, {}); },
                             an, relevance, kTiny);
  };
  if (rule == "zplus") return part(wp, wn);
  GOLGI_ASSERT(rule == "alpha2beta1", "unknown LRP rule ", rule);
  return 2.0 * part(wp, wn) - part(wn, wp);
}

at::Tensor lrp(models::Model& model, const at::Tensor& inputs, const at::Tensor& targets,
               const AttributionOptions& o) {
  GOLGI_CHECK(o.at().empty(), "attribution: lrp attributes to the model input; leave options.at empty");
  GOLGI_CHECK(o.neuron().empty(), "attribution: lrp starts from a class logit; give targets instead of a neuron");
  std::vector<LrpLayer> layers = lrp_layers(model);
  torch::AutoGradMode grad_mode(true);
  // Forward, keeping each layer's input.
  std::vector<at::Tensor> acts{inputs.detach()};
  {
    torch::NoGradGuard no_grad;
    namespace F = torch::nn::functional;
    for (const auto& layer : layers) {
      const at::Tensor& a = acts.back();
      switch (layer.kind) {
        case LrpLayer::Kind::kRelu: acts.push_back(torch::relu(a)); break;
        case LrpLayer::Kind::kFlatten: acts.push_back(a.flatten(1)); break;
        case LrpLayer::Kind::kMaxPool: acts.push_back(F::max_pool2d(a, F::MaxPool2dFuncOptions(2))); break;
        default: acts.push_back(apply_linear(layer, a, layer.weight, layer.bias));
      }
    }
  }
  const at::Tensor& logits = acts.back();
  int64_t classes = logits.size(1);
  int64_t high = targets.max().item<int64_t>();
  GOLGI_CHECK(high < classes, "attribution: target class ", high, " is out of range for a model with ", classes,
              " classes (targets must be in [0, ", classes, "))");
  at::Tensor relevance = at::zeros_like(logits).scatter(1, targets.view({-1, 1}), logits.gather(1, targets.view({-1, 1})));
  for (size_t l = layers.size(); l-- > 0;)
    relevance = relevance_through(layers[l], acts[l], relevance, o.lrp_rule(), o.lrp_epsilon());
  return relevance.detach();
}

}  // namespace

at::Tensor attribute(models::Model& model, const at::Tensor& inputs, const at::Tensor& targets,
                     const AttributionOptions& options) {
  AttributionOptions::schema().validate(options);
  const std::string& method = options.method();
  GOLGI_CHECK(inputs.defined() && inputs.dim() >= 1 && inputs.size(0) > 0,
              "attribution: inputs must be a non-empty batch [batch, ...]");
  bool floating = at::isFloatingType(inputs.scalar_type());
  GOLGI_CHECK(floating || !options.at().empty(), "attribution: attributing to the input needs floating-point "
              "inputs, got ", inputs.scalar_type(), " (token inputs: set options.at to a hook point after the "
              "embedding, e.g. hook_embed)");
  GOLGI_CHECK(!floating || !at::isnan(inputs).any().item<bool>(), "attribution: the inputs contain NaN");

  Problem p;
  p.model = &model;
  p.inputs = inputs.detach();
  p.at = options.at();
  p.batch = options.batch();
  p.progress = options.progress();
  if (!p.at.empty() && !model.has_hook(p.at)) {
    auto names = model.hook_names();
    std::string some;
    for (size_t i = 0; i < names.size() && i < 8; ++i) some += (i ? ", " : "") + names[i];
    if (names.size() > 8) some += ", ... (" + std::to_string(names.size()) + " in all)";
    GOLGI_FAIL("attribution: unknown hook point '", p.at, "' for model '", model.architecture(),
               "'; its hook points are: ", some);
  }
  GOLGI_CHECK(method != "gradcam" || !p.at.empty(),
              "attribution: gradcam needs a convolutional hook point in options.at (e.g. conv2.hook_post)");
  if (!options.neuron().empty()) {
    p.neuron = hooks::NeuronRef::parse(options.neuron());
    hooks::validate(*p.neuron, model);
    if (!p.at.empty()) {
      auto names = model.hook_names();
      auto pos = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
      GOLGI_CHECK(pos(p.neuron->hook) >= pos(p.at), "attribution: the objective neuron's hook '", p.neuron->hook,
                  "' runs before the attributed hook '", p.at, "', so it cannot depend on it");
    }
  } else {
    GOLGI_CHECK(targets.defined() && targets.dim() == 1 && targets.size(0) == inputs.size(0),
                "attribution: targets must be class indices [batch] = [", inputs.size(0), "], got ",
                targets.defined() ? targets.sizes() : at::IntArrayRef{});
    GOLGI_CHECK(!at::isFloatingType(targets.scalar_type()), "attribution: targets must be integer class indices");
    p.targets = targets.to(torch::kLong);
    int64_t low = p.targets.min().item<int64_t>();
    GOLGI_CHECK(low >= 0, "attribution: target class ", low, " is negative");
  }

  FrozenEvalGuard guard(model);
  if (method == "lrp") return lrp(model, p.inputs, p.targets, options);
  Evaluation clean = clean_pass(p);
  if (method == "gradient") return clean.grad;
  if (method == "gradient_x_input") return clean.site * clean.grad;
  if (method == "smoothgrad") return smoothgrad(p, clean, options);
  if (method == "integrated_gradients") return integrated_gradients(p, clean, options);
  if (method == "gradcam") return gradcam(p, clean, options);
  GOLGI_FAIL("attribution: unknown method '", method, "'");  // unreachable: the schema checked it
}

}  // namespace golgi::methods
