#include "golgi/spiking/sim/plasticity.h"

#include <algorithm>
#include <cmath>

namespace golgi::spiking::sim {

const OptionSchema<StdpOptions>& StdpOptions::schema() {
  static OptionSchema<StdpOptions> s =
      OptionSchema<StdpOptions>("stdp")
          .add("tau_plus", &StdpOptions::tau_plus_, "presynaptic trace time constant [ms]", at_least(0.0, false))
          .add("tau_minus", &StdpOptions::tau_minus_, "postsynaptic trace time constant [ms]", at_least(0.0, false))
          .add("A_plus", &StdpOptions::A_plus_, "potentiation per pairing [mV]", at_least(0.0))
          .add("A_minus", &StdpOptions::A_minus_, "depression per pairing [mV]", at_least(0.0))
          .add("w_min", &StdpOptions::w_min_, "lower weight bound [mV]")
          .add("w_max", &StdpOptions::w_max_, "upper weight bound [mV]");
  return s;
}

template <typename T>
PairStdp<T>::PairStdp(StdpOptions options) : options_(options) {
  StdpOptions::schema().validate(options_);
  GOLGI_CHECK(options_.w_min() <= options_.w_max(), "stdp: w_min (", options_.w_min(), ") must be <= w_max (",
              options_.w_max(), ")");
}

template <typename T>
void PairStdp<T>::attach(Csr<T>& synapses, double dt) {
  decay_plus_ = std::exp(-dt / options_.tau_plus());
  decay_minus_ = std::exp(-dt / options_.tau_minus());
  x_.assign(synapses.n_pre, 0.0);
  x_step_.assign(synapses.n_pre, 0);
  y_.assign(synapses.n_post, 0.0);
  y_step_.assign(synapses.n_post, 0);
  if (synapses.col_ptr.empty()) synapses.build_incoming();
}

template <typename T>
double PairStdp<T>::trace_at(double value, int64_t last, int64_t step, double decay_per_step) {
  return value == 0 ? 0 : value * std::pow(decay_per_step, static_cast<double>(step - last));
}

template <typename T>
void PairStdp<T>::add_pending(int64_t step) {
  if (pending_step_ < 0 || pending_step_ == step) return;
  for (int32_t i : pending_pre_) {
    x_[i] = trace_at(x_[i], x_step_[i], pending_step_, decay_plus_) + 1.0;
    x_step_[i] = pending_step_;
  }
  for (int32_t j : pending_post_) {
    y_[j] = trace_at(y_[j], y_step_[j], pending_step_, decay_minus_) + 1.0;
    y_step_[j] = pending_step_;
  }
  pending_pre_.clear();
  pending_post_.clear();
  pending_step_ = -1;
}

template <typename T>
void PairStdp<T>::on_pre_spikes(int64_t step, const std::vector<int32_t>& pre, Csr<T>& syn) {
  add_pending(step);
  const T lo = static_cast<T>(options_.w_min()), hi = static_cast<T>(options_.w_max());
  for (int32_t i : pre) {
    for (int64_t k = syn.row_begin(i); k < syn.row_end(i); ++k) {
      const int32_t j = syn.post[k];
      double y = trace_at(y_[j], y_step_[j], step, decay_minus_);
      syn.weight[k] = std::clamp(static_cast<T>(syn.weight[k] - options_.A_minus() * y), lo, hi);
    }
    pending_pre_.push_back(i);
  }
  pending_step_ = step;
}

template <typename T>
void PairStdp<T>::on_post_spikes(int64_t step, const std::vector<int32_t>& post, Csr<T>& syn) {
  add_pending(step);
  const T lo = static_cast<T>(options_.w_min()), hi = static_cast<T>(options_.w_max());
  for (int32_t j : post) {
    for (int64_t c = syn.col_ptr[j]; c < syn.col_ptr[j + 1]; ++c) {
      const int64_t k = syn.col_syn[c];
      // The row holding synapse k: the last row_ptr entry <= k.
      const int64_t i = std::upper_bound(syn.row_ptr.begin(), syn.row_ptr.end(), k) - syn.row_ptr.begin() - 1;
      double x = trace_at(x_[i], x_step_[i], step, decay_plus_);
      syn.weight[k] = std::clamp(static_cast<T>(syn.weight[k] + options_.A_plus() * x), lo, hi);
    }
    pending_post_.push_back(j);
  }
  pending_step_ = step;
}

template class PairStdp<float>;
template class PairStdp<double>;

}  // namespace golgi::spiking::sim
