// Readouts of time-major outputs [T, batch, classes] (membranes of a non-spiking output layer, or
// spikes) into what a loss takes.
//
//   last_step        y = v_{T−1}
//   mean_over_time   y = (1/T) Σ_t v_t
//   sum_softmax      y = Σ_t softmax(v_t)          (Hammouamri et al. 2023: the loss is CE of this)
//   cumulative_mean  y_t = (1/(t+1)) Σ_{τ<=t} v_τ  [T, batch, classes]: a prediction at every step
//                                                   (per-input early stopping, Dynamic Confidence)
//   spike_counts / spike_rates over T.
#pragma once

#include <ATen/core/Tensor.h>

namespace golgi::spiking {

at::Tensor last_step(const at::Tensor& v);
at::Tensor mean_over_time(const at::Tensor& v);
at::Tensor sum_softmax(const at::Tensor& v);
at::Tensor cumulative_mean(const at::Tensor& v);
at::Tensor spike_counts(const at::Tensor& spikes);
at::Tensor spike_rates(const at::Tensor& spikes);

}  // namespace golgi::spiking
