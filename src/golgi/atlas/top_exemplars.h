// Streaming top-k exemplars: for each of N neurons, the k examples with the largest activation,
// kept in bounded memory (N x k entries) while any number of examples streams past.
//
// Order: larger activation first; equal activations keep the smaller example id first, so the
// result is the same for every batch size and after a resume (the stream is offered in a fixed
// order). NaN activations are never kept.
#pragma once

#include <cstdint>
#include <vector>

namespace golgi::atlas {

struct Exemplar {
  float activation = 0;
  int64_t example = 0;   // dataset index of the example
  int64_t position = 0;  // where inside the example the maximum was (token, or row * width + column)
};

class TopExemplars {
 public:
  TopExemplars(int64_t neurons, int64_t k);

  // One batch: `values` [batch, neurons] row-major (each example's maximum over its positions),
  // `positions` [batch, neurons] (the argmax), `examples` [batch] the dataset indices.
  void offer(const float* values, const int64_t* positions, const int64_t* examples, int64_t batch);
  void offer_one(int64_t neuron, const Exemplar& candidate);

  // The kept exemplars of one neuron, strongest first.
  std::vector<Exemplar> sorted(int64_t neuron) const;
  int64_t neurons() const { return neurons_; }
  int64_t k() const { return k_; }

  // Flat state for checkpoints: [neurons, k] arrays plus fill counts; restore() checks the sizes.
  struct State {
    std::vector<float> activation;
    std::vector<int64_t> example, position, filled;
  };
  State state() const;
  void restore(const State& state);

 private:
  // a ranks below b (a would be evicted first).
  static bool weaker(const Exemplar& a, const Exemplar& b) {
    return a.activation < b.activation || (a.activation == b.activation && a.example > b.example);
  }
  int64_t neurons_, k_;
  // Per neuron a min-heap (by `weaker`) of up to k entries, stored in one flat array.
  std::vector<Exemplar> heap_;
  std::vector<int64_t> filled_;
};

}  // namespace golgi::atlas
