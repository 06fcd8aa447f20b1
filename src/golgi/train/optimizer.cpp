#include "golgi/train/optimizer.h"

#include <cmath>

#include <torch/torch.h>

#include "golgi/core/error.h"

namespace golgi::train {

Optimizer::Optimizer(std::vector<std::pair<std::string, at::Tensor>> named_parameters, OptimizerOptions options)
    : params_(std::move(named_parameters)), options_(std::move(options)) {
  const auto& name = options_.name();
  GOLGI_CHECK(name == "sgd" || name == "adam" || name == "adamw", "optimizer must be 'sgd', 'adam' or 'adamw', got '",
              name, "'");
  GOLGI_CHECK(options_.weight_decay() >= 0, "weight_decay must be >= 0, got ", options_.weight_decay());
  GOLGI_CHECK(options_.momentum() >= 0 && options_.momentum() < 1, "momentum must be in [0, 1), got ",
              options_.momentum());
  GOLGI_CHECK(options_.beta1() >= 0 && options_.beta1() < 1 && options_.beta2() >= 0 && options_.beta2() < 1,
              "beta1 and beta2 must be in [0, 1), got ", options_.beta1(), " and ", options_.beta2());
  for (const auto& [pname, p] : params_) {
    if (name == "sgd") {
      if (options_.momentum() > 0) buffers_[pname + ".momentum"] = torch::zeros_like(p);
    } else {
      buffers_[pname + ".exp_avg"] = torch::zeros_like(p);
      buffers_[pname + ".exp_avg_sq"] = torch::zeros_like(p);
    }
  }
}

void Optimizer::zero_grad() {
  for (auto& [name, p] : params_)
    if (p.grad().defined()) p.mutable_grad().zero_();
}

void Optimizer::step(double lr) {
  torch::NoGradGuard no_grad;
  ++steps_;
  const double wd = options_.weight_decay();
  for (auto& [name, p] : params_) {
    if (!p.grad().defined()) continue;
    at::Tensor g = p.grad();
    if (options_.name() == "sgd") {
      if (wd > 0) g = g.add(p, wd);
      if (options_.momentum() > 0) {
        at::Tensor& v = buffers_[name + ".momentum"];
        v.mul_(options_.momentum()).add_(g);
        g = options_.nesterov() ? g.add(v, options_.momentum()) : v;
      }
      p.add_(g, -lr);
      continue;
    }
    if (options_.name() == "adamw") {
      if (wd > 0) p.mul_(1 - lr * wd);
    } else if (wd > 0) {
      g = g.add(p, wd);
    }
    at::Tensor& m = buffers_[name + ".exp_avg"];
    at::Tensor& v = buffers_[name + ".exp_avg_sq"];
    const double b1 = options_.beta1(), b2 = options_.beta2();
    m.mul_(b1).add_(g, 1 - b1);
    v.mul_(b2).addcmul_(g, g, 1 - b2);
    const double bias1 = 1 - std::pow(b1, static_cast<double>(steps_));
    const double bias2 = 1 - std::pow(b2, static_cast<double>(steps_));
    at::Tensor denom = (v / bias2).sqrt_().add_(options_.eps());
    p.addcdiv_(m, denom, -lr / bias1);
  }
}

std::vector<std::pair<std::string, at::Tensor>> Optimizer::state() const {
  std::vector<std::pair<std::string, at::Tensor>> out(buffers_.begin(), buffers_.end());
  out.emplace_back("step", torch::tensor({steps_}, torch::kLong));
  return out;
}

void Optimizer::load_state(const std::map<std::string, at::Tensor>& state) {
  torch::NoGradGuard no_grad;
  auto step = state.find("step");
  GOLGI_CHECK(step != state.end(), "optimizer state has no 'step' entry; the checkpoint is incomplete");
  for (auto& [name, buffer] : buffers_) {
    auto it = state.find(name);
    GOLGI_CHECK(it != state.end(), "optimizer state lacks '", name, "'; was the checkpoint written with another ",
                "optimizer or model?");
    GOLGI_CHECK(it->second.sizes() == buffer.sizes(), "optimizer state '", name, "' has shape ", it->second.sizes(),
                ", expected ", buffer.sizes());
    buffer.copy_(it->second);
  }
  steps_ = step->second.item<int64_t>();
}

double clip_grad_norm(const std::vector<at::Tensor>& parameters, double max_norm) {
  torch::NoGradGuard no_grad;
  double total = 0;
  for (const auto& p : parameters)
    if (p.grad().defined()) total += p.grad().pow(2).sum().item<double>();
  double norm = std::sqrt(total);
  if (max_norm > 0 && norm > max_norm) {
    double scale = max_norm / (norm + 1e-6);
    for (const auto& p : parameters)
      if (p.grad().defined()) const_cast<at::Tensor&>(p).mutable_grad().mul_(scale);
  }
  return norm;
}

}  // namespace golgi::train
