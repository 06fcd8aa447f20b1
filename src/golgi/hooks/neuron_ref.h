// NeuronRef: the one way to address a neuron anywhere (CLI, atlas, JSON, viewer).
//
// Text form: `HOOK:INDEX[@P1[,P2...]]`
//   conv2.hook_post:12            channel 12 of conv2's output (all spatial positions)
//   conv2.hook_post:12@3,4        channel 12 at row 3, column 4
//   blocks.3.mlp.hook_post:1234@7 neuron 1234 at token position 7
// INDEX runs along the hook point's neuron dimension; the positions index the other non-batch
// dimensions in order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace golgi::hooks {

class HookedModule;

struct NeuronRef {
  std::string hook;
  int64_t index = 0;
  std::vector<int64_t> position;  // empty: every position

  // Throws golgi::Error with the expected syntax on malformed text.
  static NeuronRef parse(const std::string& text);
  std::string str() const;
  bool operator==(const NeuronRef& other) const {
    return hook == other.hook && index == other.index && position == other.position;
  }
};

// Checks the hook exists (suggesting close names) and, when `activation_shape` (with batch) is
// given, that the index and positions are in range. Throws golgi::Error.
void validate(const NeuronRef& ref, const HookedModule& model,
              const std::vector<int64_t>& activation_shape = {});

}  // namespace golgi::hooks
