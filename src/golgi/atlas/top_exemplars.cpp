#include "golgi/atlas/top_exemplars.h"

#include <algorithm>
#include <cmath>

#include "golgi/core/error.h"

namespace golgi::atlas {

TopExemplars::TopExemplars(int64_t neurons, int64_t k) : neurons_(neurons), k_(k) {
  GOLGI_CHECK(neurons >= 0, "exemplar store: neurons must be >= 0, got ", neurons);
  GOLGI_CHECK(k >= 1 && k <= 1000, "exemplars per neuron must be in [1, 1000], got ", k);
  heap_.resize(static_cast<size_t>(neurons * k));
  filled_.assign(static_cast<size_t>(neurons), 0);
}

void TopExemplars::offer_one(int64_t neuron, const Exemplar& candidate) {
  if (std::isnan(candidate.activation)) return;
  Exemplar* heap = heap_.data() + neuron * k_;
  int64_t& n = filled_[static_cast<size_t>(neuron)];
  // The comparator makes std::*_heap a min-heap: the weakest kept exemplar sits at heap[0].
  auto stronger = [](const Exemplar& a, const Exemplar& b) { return weaker(b, a); };
  if (n < k_) {
    heap[n++] = candidate;
    std::push_heap(heap, heap + n, stronger);
    return;
  }
  if (!weaker(heap[0], candidate)) return;  // the common case once the lists fill: rejected in O(1)
  std::pop_heap(heap, heap + n, stronger);
  heap[n - 1] = candidate;
  std::push_heap(heap, heap + n, stronger);
}

void TopExemplars::offer(const float* values, const int64_t* positions, const int64_t* examples, int64_t batch) {
  for (int64_t b = 0; b < batch; ++b) {
    const float* row = values + b * neurons_;
    const int64_t* pos = positions + b * neurons_;
    for (int64_t j = 0; j < neurons_; ++j) {
      const Exemplar* heap = heap_.data() + j * k_;
      // Inline rejection test before the call: most offers lose to a full list.
      if (filled_[static_cast<size_t>(j)] == k_ && !weaker(heap[0], Exemplar{row[j], examples[b], 0})) continue;
      offer_one(j, Exemplar{row[j], examples[b], pos[j]});
    }
  }
}

std::vector<Exemplar> TopExemplars::sorted(int64_t neuron) const {
  GOLGI_ASSERT(neuron >= 0 && neuron < neurons_, "neuron ", neuron, " out of range");
  const Exemplar* heap = heap_.data() + neuron * k_;
  std::vector<Exemplar> out(heap, heap + filled_[static_cast<size_t>(neuron)]);
  std::sort(out.begin(), out.end(), [](const Exemplar& a, const Exemplar& b) { return weaker(b, a); });
  return out;
}

TopExemplars::State TopExemplars::state() const {
  State s;
  s.activation.reserve(heap_.size());
  for (const auto& e : heap_) {
    s.activation.push_back(e.activation);
    s.example.push_back(e.example);
    s.position.push_back(e.position);
  }
  s.filled = filled_;
  return s;
}

void TopExemplars::restore(const State& s) {
  GOLGI_CHECK(s.activation.size() == heap_.size() && s.example.size() == heap_.size() &&
                  s.position.size() == heap_.size() && s.filled.size() == filled_.size(),
              "exemplar checkpoint does not match ", neurons_, " neurons x ", k_,
              " exemplars: it was written by another build; remove the .partial file or pass --restart");
  for (size_t i = 0; i < heap_.size(); ++i) heap_[i] = Exemplar{s.activation[i], s.example[i], s.position[i]};
  filled_ = s.filled;
}

}  // namespace golgi::atlas
