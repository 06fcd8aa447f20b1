// Synapse storage for the simulator: compressed sparse rows by presynaptic neuron (CSR), and the
// per-population ring buffer that holds input until its delay has passed.
//
// A projection's synapses are sorted by (pre, post): row `i` is synapses [row_ptr[i], row_ptr[i+1])
// and its targets are ascending, so a range of targets is a contiguous part of every row (the
// simulator's threads each own a range of targets and need no atomics). Multapses (the same pair
// twice) are allowed. Weights are membrane jumps in mV; delays are whole steps in [0, 65535].
#pragma once

#include <cstdint>
#include <vector>

#include "golgi/core/error.h"

namespace golgi::spiking::sim {

template <typename T>
struct Csr {
  int64_t n_pre = 0, n_post = 0;
  std::vector<int64_t> row_ptr;   // [n_pre + 1]
  std::vector<int32_t> post;      // [n_syn], ascending within a row
  std::vector<T> weight;          // [n_syn], mV
  std::vector<uint16_t> delay;    // [n_syn], steps
  // Incoming synapses by target (build_incoming): col_ptr [n_post + 1], col_syn [n_syn] (synapse ids).
  std::vector<int64_t> col_ptr, col_syn;

  int64_t size() const { return static_cast<int64_t>(post.size()); }
  int64_t row_begin(int64_t pre) const { return row_ptr[pre]; }
  int64_t row_end(int64_t pre) const { return row_ptr[pre + 1]; }
  uint16_t max_delay() const;
  // True when every synapse has the same delay (the propagation loop then skips per-synapse slots).
  bool uniform_delay() const;
  void build_incoming();
};

// Builds a CSR from (pre, post, weight, delay) lists of equal length (any order; stable for equal
// pairs). Throws golgi::Error on an index out of range or a delay outside [0, 65535].
template <typename T>
Csr<T> csr_from_triplets(int64_t n_pre, int64_t n_post, const std::vector<int32_t>& pre,
                         const std::vector<int32_t>& post, const std::vector<double>& weight,
                         const std::vector<int64_t>& delay);

// Each (pre, post) pair independently with probability p, weight `w`, delay `d`. `autapses` false
// drops i -> i (for a projection of a population onto itself). Rows are drawn from independent
// seeded streams (geometric skipping), so the result depends only on the seed.
template <typename T>
Csr<T> csr_fixed_probability(int64_t n_pre, int64_t n_post, double p, bool autapses, double w, int64_t d,
                             uint64_t seed);

// The ring buffer of one target population: `n_slots` x `size` accumulators. Input with delay d
// sent at step n lands in slot (n + d) mod n_slots and is consumed at step n + d, so n_slots must
// exceed the largest delay.
template <typename T>
class RingBuffer {
 public:
  RingBuffer() = default;
  RingBuffer(int64_t n_slots, int64_t size) : n_slots_(n_slots), size_(size), data_(n_slots * size, T(0)) {
    GOLGI_ASSERT(n_slots >= 1 && size >= 0);
  }
  int64_t slots() const { return n_slots_; }
  int64_t size() const { return size_; }
  int64_t slot_of(int64_t step) const { return step % n_slots_; }
  // The accumulators consumed at `step` ([size]).
  T* at_step(int64_t step) { return data_.data() + slot_of(step) * size_; }
  T* slot(int64_t slot) { return data_.data() + slot * size_; }
  void add(int64_t step_now, int64_t delay, int64_t neuron, T value) {
    GOLGI_ASSERT(delay < n_slots_, "delay ", delay, " needs more than ", n_slots_, " slots");
    at_step(step_now + delay)[neuron] += value;
  }

 private:
  int64_t n_slots_ = 0, size_ = 0;
  std::vector<T> data_;
};

}  // namespace golgi::spiking::sim
