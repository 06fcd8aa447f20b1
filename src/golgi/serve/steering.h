// Steering: the playground behind POST /api/steer (docs/atlas.md). One language model, loaded
// once; each request continues the same prompt twice with the same seed, without and with a list
// of neuron interventions, and reports both continuations and both next-token distributions.
//
// Request (JSON object; unknown fields are refused):
//   "prompt"          text, at most max_prompt_bytes bytes (the model's end-of-document token is
//                     put in front, as in `golgi generate`, because training documents follow it)
//   "interventions"   [{"ref": NeuronRef without @position, "op": "clamp"|"zero"|"scale"|"add",
//                       "value": finite number (not for "zero")}], at most max_interventions
//                     clamp: the neuron is set to value at every position of every pass
//                     zero:  set to 0;  scale: multiplied by value
//                     add:   value is added to the neuron's coordinate (value times the unit
//                            vector along the hook's neuron dimension)
//   "max_new_tokens"  1..max_new_tokens (default 32); prompt + new tokens must fit the context
//   "temperature"     0..2 (default 0: greedy); sampling uses top_p 0.95 like `golgi generate`
//   "seed"            0..2^53 (default 0)
//   "top_n"           1..max_top_n (default 10): next-token probabilities reported
// Answer: {"model", "prompt_tokens", "base": {"text", "continuation", "tokens": [ids]},
//          "steered": {...}, "next_tokens": {"base": [{"token", "id", "prob"}], "steered": [...]},
//          "interventions": [the validated list], "seconds"}
//
// Errors (ApiError): 400 for anything wrong with the request, checked before the request queues
// (every ref is validated against the model's hook points and the neuron counts seen in a probe
// pass, so a bad index never reaches a generation); 503 when `queue` requests already wait, or
// when a request waited longer than the time limit for its turn; 504 when a generation runs past
// the time limit (it is stopped at the next forward pass: at most one token late).
//
// Concurrency: one generation at a time (the interventions are hooks on the one shared model), at
// most `queue` more waiting; run() is safe to call from any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::serve {

struct SteeringOptions {
  GOLGI_ARG(int64_t, queue) = 4;              // requests that may wait while one runs
  GOLGI_ARG(double, timeout_seconds) = 20.0;  // for the wait, and again for the run
  GOLGI_ARG(int64_t, max_prompt_bytes) = 2000;
  GOLGI_ARG(int64_t, max_new_tokens) = 128;
  GOLGI_ARG(int64_t, max_top_n) = 20;
  GOLGI_ARG(int64_t, max_interventions) = 64;
  static const OptionSchema<SteeringOptions>& schema();
};

class Steering {
 public:
  // Loads the language model in `model_dir` and the tokenizer saved next to it. Throws
  // golgi::Error when the folder holds no model, the model is not a language model (gpt2, llama),
  // or there is no tokenizer.
  explicit Steering(const std::string& model_dir, SteeringOptions options = {});
  ~Steering();
  Steering(const Steering&) = delete;
  Steering& operator=(const Steering&) = delete;

  // The model folder as given, and its name (the folder's last component), which `golgi serve`
  // matches against the atlases' model names.
  const std::string& folder() const;
  const std::string& name() const;
  const SteeringOptions& options() const;

  // Validates and runs one request (see the top of this file).
  Json run(const Json& request);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace golgi::serve
