// Learning-rate schedules, as pure functions of the step (so resuming needs no schedule state).
//
// All start with `warmup_steps` of linear warm-up from lr/warmup_steps to lr (except one-cycle,
// which has its own warm-up phase), then:
//   constant   lr
//   step       lr * gamma^floor((t - warmup) / step_size)
//   cosine     min_lr + (lr - min_lr) (1 + cos(pi p)) / 2, p = (t - warmup) / (total - warmup)
//   onecycle   cosine rise from lr/25 to lr over the first 30% of steps, then cosine decay to
//              lr/(25*1e4) (Smith & Topin 2019; PyTorch's OneCycleLR defaults)
#pragma once

#include <cstdint>
#include <string>

#include "golgi/core/options.h"

namespace golgi::train {

struct ScheduleOptions {
  GOLGI_ARG(std::string, name) = "cosine";
  GOLGI_ARG(double, lr) = 1e-3;
  GOLGI_ARG(double, min_lr) = 0.0;
  GOLGI_ARG(int64_t, warmup_steps) = 0;
  GOLGI_ARG(int64_t, step_size) = 1000;
  GOLGI_ARG(double, gamma) = 0.1;
};

// Learning rate for 0-based step `step` of `total_steps`. Throws golgi::Error on bad options.
double learning_rate(const ScheduleOptions& options, int64_t step, int64_t total_steps);

}  // namespace golgi::train
