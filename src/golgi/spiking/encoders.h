// Encoders: analog inputs [batch, ...] in [0, 1] to time-major spike trains [T, batch, ...].
//
//   rate (Poisson/Bernoulli)  s_t ~ Bernoulli(x) independently per step: firing rate x per step
//   direct                    the analog value itself at every step (the first layer spikes)
//   latency                   one spike at t = round((1 − x) (T − 1)): stronger fires earlier;
//                             x <= threshold never fires (Gütig & Sompolinsky-style time-to-first-spike)
//
// Seeded through their own generator (core/seed.h conventions): the same seed gives the same
// trains on every thread count.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace golgi::spiking {

at::Tensor rate_encode(const at::Tensor& x, int64_t steps, uint64_t seed);
at::Tensor direct_encode(const at::Tensor& x, int64_t steps);
at::Tensor latency_encode(const at::Tensor& x, int64_t steps, double threshold = 0.0);

}  // namespace golgi::spiking
