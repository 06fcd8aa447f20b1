// Heterogeneous-delay motion layer (hetero_delays.h).
#include "golgi/methods/hetero_delays/hetero_delays.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"

namespace golgi::methods {

const OptionSchema<HeteroDelayOptions>& HeteroDelayOptions::schema() {
  static const auto schema =
      OptionSchema<HeteroDelayOptions>("hetero_delays")
          .add("classes", &HeteroDelayOptions::classes_, "output classes (motion classes)", between<int64_t>(1, 4096))
          .add("polarities", &HeteroDelayOptions::polarities_, "input event polarities (2: ON, OFF)",
               between<int64_t>(1, 16))
          .add("delays", &HeteroDelayOptions::delays_, "delay taps D (steps 0..D-1)", between<int64_t>(1, 1024))
          .add("kernel_size", &HeteroDelayOptions::kernel_size_, "side k of the spatial window",
               between<int64_t>(1, 255))
          .add("seed", &HeteroDelayOptions::seed_, "seed of the initial kernel", at_least<int64_t>(0))
          .add("init_std", &HeteroDelayOptions::init_std_, "standard deviation of the initial kernel",
               at_least(0.0));
  return schema;
}

const OptionSchema<HeteroDelayTrainOptions>& HeteroDelayTrainOptions::schema() {
  static const auto schema =
      OptionSchema<HeteroDelayTrainOptions>("hetero_delays_train")
          .add("steps", &HeteroDelayTrainOptions::steps_, "optimiser steps", at_least<int64_t>(1))
          .add("batch_size", &HeteroDelayTrainOptions::batch_size_, "streams per step", at_least<int64_t>(1))
          .add("lr", &HeteroDelayTrainOptions::lr_, "Adam learning rate (cosine-decayed to lr/10)",
               at_least(0.0, /*inclusive=*/false))
          .add("seed", &HeteroDelayTrainOptions::seed_, "seed of the stream order", at_least<int64_t>(0))
          .add("voxels", &HeteroDelayTrainOptions::voxels_,
               "output voxels trained: 'events' (an input event at the window centre) or 'all'", {"events", "all"})
          .add("log_every", &HeteroDelayTrainOptions::log_every_, "steps between history entries",
               at_least<int64_t>(1))
          .add("verbose", &HeteroDelayTrainOptions::verbose_, "print the history to stderr");
  return schema;
}

HeteroDelayLayerImpl::HeteroDelayLayerImpl(const HeteroDelayOptions& options) : options_(options) {
  HeteroDelayOptions::schema().validate(options_);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(
      derive_seed(static_cast<uint64_t>(options_.seed()), "hetero-delays/init"));
  const int64_t k = options_.kernel_size();
  at::Tensor w = at::normal(0.0, 1.0, {options_.classes(), options_.polarities(), options_.delays(), k, k}, gen) *
                 options_.init_std();
  // The bias starts at the prior log-odds of a one-hot target, log(1 / (C - 1)), so that the first
  // steps learn the kernel rather than the class frequencies.
  const double prior = options_.classes() > 1 ? std::log(1.0 / static_cast<double>(options_.classes() - 1)) : 0.0;
  weight = register_parameter("weight", w);
  bias = register_parameter("bias", torch::full({options_.classes()}, prior, torch::kFloat32));
}

at::Tensor HeteroDelayLayerImpl::forward(const at::Tensor& events) { return causal_delay_conv(events, weight, bias); }

at::Tensor causal_delay_conv(const at::Tensor& events, const at::Tensor& weight, const at::Tensor& bias) {
  GOLGI_CHECK(weight.defined() && weight.dim() == 5, "hetero-delays: the kernel must be [C, P, D, k, k], got ",
              weight.defined() ? weight.sizes() : at::IntArrayRef{});
  GOLGI_CHECK(events.defined() && events.dim() == 5, "hetero-delays: events must be [B, P, T, H, W], got ",
              events.defined() ? events.sizes() : at::IntArrayRef{});
  GOLGI_CHECK(events.size(1) == weight.size(1), "hetero-delays: events have ", events.size(1),
              " polarities but the kernel expects ", weight.size(1));
  const int64_t D = weight.size(2), k = weight.size(3);
  GOLGI_CHECK(weight.size(4) == k, "hetero-delays: the spatial window must be square, got ", weight.sizes());
  GOLGI_CHECK(events.size(3) >= k && events.size(4) >= k, "hetero-delays: the ", events.size(3), "x", events.size(4),
              " image is smaller than the ", k, "x", k, " spatial window");
  GOLGI_CHECK(events.size(2) >= 1, "hetero-delays: events have no time steps");
  if (bias.defined())
    GOLGI_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "hetero-delays: bias must be [", weight.size(0),
                "], got ", bias.sizes());
  // Causal: D - 1 zero steps before the stream, none after, so output t sees inputs t - D + 1 .. t.
  at::Tensor x = torch::constant_pad_nd(events.to(weight.scalar_type()), {0, 0, 0, 0, D - 1, 0});
  // conv3d correlates: output t uses padded input t + j for kernel index j, i.e. original step
  // t - (D - 1 - j); flipping the delay axis makes index d the input d steps back.
  return torch::conv3d(x, weight.flip({2}), bias);
}

at::Tensor output_gate(const at::Tensor& events, int64_t kernel_size, const std::string& voxels) {
  GOLGI_CHECK(events.defined() && events.dim() == 5, "hetero-delays: events must be [B, P, T, H, W], got ",
              events.defined() ? events.sizes() : at::IntArrayRef{});
  GOLGI_CHECK(voxels == "events" || voxels == "all", "hetero-delays: voxels must be 'events' or 'all', got '", voxels,
              "'");
  GOLGI_CHECK(kernel_size >= 1 && kernel_size <= events.size(3) && kernel_size <= events.size(4),
              "hetero-delays: kernel_size ", kernel_size, " does not fit the ", events.size(3), "x", events.size(4),
              " image");
  const int64_t h = events.size(3) - kernel_size + 1, w = events.size(4) - kernel_size + 1, c = kernel_size / 2;
  if (voxels == "all") return torch::ones({events.size(0), events.size(2), h, w}, torch::kFloat32);
  at::Tensor centre = events.narrow(3, c, h).narrow(4, c, w);
  return centre.sum(1).gt(0).to(torch::kFloat32);
}

namespace {
void check_gate(const at::Tensor& logits, const at::Tensor& gate) {
  if (!gate.defined()) return;
  GOLGI_CHECK(gate.dim() == 4 && gate.size(0) == logits.size(0) && gate.size(1) == logits.size(2) &&
                  gate.size(2) == logits.size(3) && gate.size(3) == logits.size(4),
              "hetero-delays: the gate must be [B, T, H', W'] = [", logits.size(0), ", ", logits.size(2), ", ",
              logits.size(3), ", ", logits.size(4), "], got ", gate.sizes());
}
}  // namespace

at::Tensor one_hot_bce(const at::Tensor& logits, const at::Tensor& labels, const at::Tensor& gate) {
  GOLGI_CHECK(logits.dim() == 5, "hetero-delays: logits must be [B, C, T, H, W], got ", logits.sizes());
  GOLGI_CHECK(labels.dim() == 2 && labels.size(0) == logits.size(0) && labels.size(1) == logits.size(2),
              "hetero-delays: labels must be [B, T] = [", logits.size(0), ", ", logits.size(2), "], got ",
              labels.sizes());
  check_gate(logits, gate);
  const int64_t B = logits.size(0), C = logits.size(1), T = logits.size(2), h = logits.size(3), w = logits.size(4);
  GOLGI_CHECK(labels.numel() == 0 || (labels.min().item<int64_t>() >= 0 && labels.max().item<int64_t>() < C),
              "hetero-delays: labels must lie in 0..", C - 1);
  // With a one-hot target, sum_c BCE = sum_c softplus(z_c) - z_label: no [B, C, T, H', W'] target
  // tensor is built (3x faster than binary_cross_entropy_with_logits on an expanded one-hot).
  at::Tensor index = labels.to(torch::kLong).view({B, 1, T, 1, 1}).expand({B, 1, T, h, w});
  at::Tensor per_voxel = torch::softplus(logits).sum(1) - logits.gather(1, index).squeeze(1);  // [B, T, h, w]
  if (!gate.defined()) return per_voxel.sum() / static_cast<double>(per_voxel.numel() * C);
  const at::Tensor g = gate.to(logits.scalar_type());
  return (per_voxel * g).sum() / (g.sum().clamp_min(1.0) * static_cast<double>(C));
}

at::Tensor class_evidence(const at::Tensor& logits, const std::string& kind, const at::Tensor& gate) {
  GOLGI_CHECK(logits.dim() == 5, "hetero-delays: logits must be [B, C, T, H, W], got ", logits.sizes());
  GOLGI_CHECK(kind == "probability" || kind == "logit", "hetero-delays: evidence must be 'probability' or 'logit', got '",
              kind, "'");
  check_gate(logits, gate);
  const at::Tensor x = kind == "probability" ? torch::sigmoid(logits) : logits;
  if (!gate.defined()) return x.mean({3, 4});
  const at::Tensor g = gate.to(logits.scalar_type()).unsqueeze(1);  // [B, 1, T, h, w]
  return (x * g).sum({3, 4}) / g.sum({3, 4}).clamp_min(1.0);
}

at::Tensor counted_steps(const at::Tensor& labels, int64_t skip) {
  GOLGI_CHECK(labels.dim() == 2, "hetero-delays: labels must be [N, T], got ", labels.sizes());
  GOLGI_CHECK(skip >= 0, "hetero-delays: skip_steps must be >= 0, got ", skip);
  at::Tensor y = labels.to(torch::kLong).contiguous();
  const int64_t N = y.size(0), T = y.size(1);
  at::Tensor out = torch::zeros({N, T}, torch::kBool);
  auto ya = y.accessor<int64_t, 2>();
  auto oa = out.accessor<bool, 2>();
  for (int64_t n = 0; n < N; ++n) {
    int64_t since = 0;  // steps since the stream start or the last change, the change step being 0
    for (int64_t t = 0; t < T; ++t) {
      since = (t == 0 || ya[n][t] != ya[n][t - 1]) ? 0 : since + 1;
      oa[n][t] = since >= skip;
    }
  }
  return out;
}

at::Tensor magnitude_mask(const at::Tensor& weight, double keep) {
  GOLGI_CHECK(weight.defined() && weight.numel() > 0, "hetero-delays: cannot prune an empty kernel");
  GOLGI_CHECK(keep >= 0 && keep <= 1, "hetero-delays: the kept fraction must be in [0, 1], got ", keep);
  const int64_t n = weight.numel();
  const auto kept = static_cast<int64_t>(std::llround(keep * static_cast<double>(n)));
  at::Tensor magnitude = weight.detach().abs().reshape({-1}).to(torch::kFloat64).contiguous();
  GOLGI_CHECK(torch::isfinite(magnitude).all().item<bool>(), "hetero-delays: the kernel has NaN or infinite weights");
  const double* m = magnitude.data_ptr<double>();
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  // A total order (magnitude, then index) so that the mask does not depend on the sort algorithm.
  std::stable_sort(order.begin(), order.end(), [m](int64_t a, int64_t b) { return m[a] > m[b]; });
  at::Tensor mask = torch::zeros({n}, torch::kFloat32);
  auto ma = mask.accessor<float, 1>();
  for (int64_t i = 0; i < kept; ++i) ma[order[static_cast<size_t>(i)]] = 1.0f;
  return mask.view(weight.sizes());
}

int64_t kept_delays(int64_t delays, double keep) {
  GOLGI_CHECK(delays >= 1, "hetero-delays: delays must be >= 1, got ", delays);
  GOLGI_CHECK(keep > 0 && keep <= 1, "hetero-delays: the kept fraction of delays must be in (0, 1], got ", keep);
  return std::max<int64_t>(1, std::llround(keep * static_cast<double>(delays)));
}

at::Tensor shortest_delay_mask(const at::Tensor& weight, double keep) {
  GOLGI_CHECK(weight.defined() && weight.dim() == 5, "hetero-delays: the kernel must be [C, P, D, k, k], got ",
              weight.defined() ? weight.sizes() : at::IntArrayRef{});
  const int64_t n = kept_delays(weight.size(2), keep);
  at::Tensor mask = torch::zeros(weight.sizes(), torch::kFloat32);
  mask.narrow(2, 0, n).fill_(1.0f);
  return mask;
}

Json HeteroDelayEval::to_json() const {
  Json pc = Json::array();
  for (double a : per_class) pc.push_back(std::isnan(a) ? Json(nullptr) : Json(a));
  return {{"accuracy", accuracy},        {"accuracy_logit_evidence", accuracy_logit},
          {"accuracy_all_steps", accuracy_all_steps}, {"bce", loss},
          {"counted_steps", counted},    {"steps", steps}, {"active_voxels", active_voxels},
          {"per_class_accuracy", pc}};
}

HeteroDelayEval evaluate_hetero_delays(const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& events,
                                       const at::Tensor& labels, int64_t skip_steps, const std::string& voxels,
                                       int64_t batch_size) {
  GOLGI_CHECK(events.dim() == 5, "hetero-delays: events must be [N, T, P, H, W], got ", events.sizes());
  GOLGI_CHECK(labels.dim() == 2 && labels.size(0) == events.size(0) && labels.size(1) == events.size(1),
              "hetero-delays: labels must be [N, T] = [", events.size(0), ", ", events.size(1), "], got ",
              labels.sizes());
  GOLGI_CHECK(batch_size >= 1, "hetero-delays: batch_size must be >= 1, got ", batch_size);
  torch::NoGradGuard no_grad;
  const int64_t N = events.size(0), T = events.size(1), C = weight.size(0);
  const at::Tensor counted = counted_steps(labels, skip_steps);
  std::vector<int64_t> class_hits(static_cast<size_t>(C), 0), class_total(static_cast<size_t>(C), 0);
  int64_t hits = 0, hits_logit = 0, hits_all = 0, n_counted = 0;
  double loss_sum = 0, active = 0;
  for (int64_t b0 = 0; b0 < N; b0 += batch_size) {
    const int64_t nb = std::min(batch_size, N - b0);
    at::Tensor x = events.narrow(0, b0, nb).permute({0, 2, 1, 3, 4}).contiguous();
    at::Tensor y = labels.narrow(0, b0, nb).to(torch::kLong);
    at::Tensor z = causal_delay_conv(x, weight, bias);
    at::Tensor gate = output_gate(x, weight.size(3), voxels);
    loss_sum += one_hot_bce(z, y, gate).item<double>() * static_cast<double>(nb);
    active += gate.mean().item<double>() * static_cast<double>(nb);
    at::Tensor pred = class_evidence(z, "probability", gate).argmax(1);  // [nb, T]
    at::Tensor pred_logit = class_evidence(z, "logit", gate).argmax(1);
    at::Tensor ok = pred.eq(y), ok_logit = pred_logit.eq(y);
    at::Tensor mask = counted.narrow(0, b0, nb);
    hits += ok.logical_and(mask).sum().item<int64_t>();
    hits_logit += ok_logit.logical_and(mask).sum().item<int64_t>();
    hits_all += ok.sum().item<int64_t>();
    n_counted += mask.sum().item<int64_t>();
    auto ya = y.accessor<int64_t, 2>();
    auto oka = ok.accessor<bool, 2>();
    auto ma = mask.accessor<bool, 2>();
    for (int64_t i = 0; i < nb; ++i)
      for (int64_t t = 0; t < T; ++t)
        if (ma[i][t]) {
          class_total[static_cast<size_t>(ya[i][t])] += 1;
          class_hits[static_cast<size_t>(ya[i][t])] += oka[i][t] ? 1 : 0;
        }
  }
  HeteroDelayEval out;
  out.counted = n_counted;
  out.steps = N * T;
  out.accuracy = n_counted ? static_cast<double>(hits) / static_cast<double>(n_counted) : 0.0;
  out.accuracy_logit = n_counted ? static_cast<double>(hits_logit) / static_cast<double>(n_counted) : 0.0;
  out.accuracy_all_steps = static_cast<double>(hits_all) / static_cast<double>(N * T);
  out.loss = loss_sum / static_cast<double>(N);
  out.active_voxels = active / static_cast<double>(N);
  for (int64_t c = 0; c < C; ++c)
    out.per_class.push_back(class_total[static_cast<size_t>(c)]
                                ? static_cast<double>(class_hits[static_cast<size_t>(c)]) /
                                      static_cast<double>(class_total[static_cast<size_t>(c)])
                                : std::numeric_limits<double>::quiet_NaN());
  return out;
}

Json HeteroDelayTraining::to_json() const {
  return {{"history", history}, {"final_loss", final_loss}, {"seconds", seconds}};
}

HeteroDelayTraining train_hetero_delays(HeteroDelayLayer& layer, const at::Tensor& events, const at::Tensor& labels,
                                        const HeteroDelayTrainOptions& options) {
  HeteroDelayTrainOptions::schema().validate(options);
  GOLGI_CHECK(events.dim() == 5, "hetero-delays: events must be [N, T, P, H, W], got ", events.sizes());
  GOLGI_CHECK(labels.dim() == 2 && labels.size(0) == events.size(0) && labels.size(1) == events.size(1),
              "hetero-delays: labels must be [N, T] = [", events.size(0), ", ", events.size(1), "], got ",
              labels.sizes());
  const auto start = std::chrono::steady_clock::now();
  const int64_t N = events.size(0);
  torch::optim::Adam optimizer(layer->parameters(), torch::optim::AdamOptions(options.lr()));
  HeteroDelayTraining out;
  std::vector<int64_t> order;
  size_t cursor = 0;
  int64_t epoch = 0;
  double running = 0;
  int64_t running_n = 0;
  layer->train();
  for (int64_t step = 0; step < options.steps(); ++step) {
    std::vector<int64_t> batch;
    while (static_cast<int64_t>(batch.size()) < std::min(options.batch_size(), N)) {
      if (cursor >= order.size()) {
        order = permutation(N, derive_seed(static_cast<uint64_t>(options.seed()), "hetero-delays/order",
                                           static_cast<uint64_t>(epoch++)));
        cursor = 0;
      }
      batch.push_back(order[cursor++]);
    }
    at::Tensor index = torch::tensor(batch, torch::kLong);
    at::Tensor x = events.index_select(0, index).permute({0, 2, 1, 3, 4}).contiguous();
    at::Tensor y = labels.index_select(0, index);
    at::Tensor gate = output_gate(x, layer->options().kernel_size(), options.voxels());
    // Cosine decay from lr to lr / 10: late steps refine rather than jump.
    const double progress = static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, options.steps() - 1));
    const double lr = options.lr() * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * progress)));
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
    at::Tensor loss = one_hot_bce(layer->forward(x), y, gate);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    running += loss.item<double>();
    ++running_n;
    if ((step + 1) % options.log_every() == 0 || step + 1 == options.steps()) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double mean = running / static_cast<double>(running_n);
      out.history.push_back({{"step", step + 1}, {"loss", mean}, {"seconds", seconds}});
      if (options.verbose())
        std::fprintf(stderr, "hetero-delays D=%lld step %lld: loss %.5f (%.1f s)\n",
                     static_cast<long long>(layer->options().delays()), static_cast<long long>(step + 1), mean, seconds);
      out.final_loss = mean;
      running = 0;
      running_n = 0;
    }
  }
  layer->eval();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace golgi::methods
