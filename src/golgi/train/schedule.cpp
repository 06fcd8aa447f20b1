#include "golgi/train/schedule.h"

#include <algorithm>
#include <cmath>

#include "golgi/core/error.h"

namespace golgi::train {

double learning_rate(const ScheduleOptions& o, int64_t step, int64_t total_steps) {
  const std::string& name = o.name();
  GOLGI_CHECK(name == "constant" || name == "step" || name == "cosine" || name == "onecycle",
              "schedule must be 'constant', 'step', 'cosine' or 'onecycle', got '", name, "'");
  GOLGI_CHECK(total_steps > 0, "total_steps must be > 0, got ", total_steps);
  GOLGI_CHECK(o.warmup_steps() >= 0, "warmup_steps must be >= 0, got ", o.warmup_steps());
  const double pi = 3.14159265358979323846;
  if (name == "onecycle") {
    const double peak = o.lr(), start = peak / 25, end = start / 1e4;
    const double rise = std::max<double>(1, std::floor(0.3 * total_steps));
    double t = static_cast<double>(step);
    if (t < rise) return start + (peak - start) * (1 - std::cos(pi * t / rise)) / 2;
    double p = std::min(1.0, (t - rise) / std::max(1.0, total_steps - rise));
    return end + (peak - end) * (1 + std::cos(pi * p)) / 2;
  }
  if (step < o.warmup_steps()) return o.lr() * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps());
  const int64_t t = step - o.warmup_steps();
  if (name == "constant") return o.lr();
  if (name == "step") {
    GOLGI_CHECK(o.step_size() > 0, "step_size must be > 0, got ", o.step_size());
    return o.lr() * std::pow(o.gamma(), static_cast<double>(t / o.step_size()));
  }
  const double span = std::max<int64_t>(1, total_steps - o.warmup_steps());
  const double p = std::min(1.0, t / span);
  return o.min_lr() + (o.lr() - o.min_lr()) * (1 + std::cos(pi * p)) / 2;
}

}  // namespace golgi::train
