// Autoregressive generation from a TransformerLM with a KV cache.
//
// The prompt runs once; each new token then costs one single-position forward pass that reads
// the cached keys and values. Hooks attached to the model stay active throughout: they see the
// prompt's positions on the first pass and one position per later pass (TransformerLens's
// behaviour with a past_kv_cache), so interventions steer the whole continuation.
//
// Decoding: temperature 0 is greedy (argmax; ties go to the lowest id). Otherwise logits are
// divided by the temperature, optionally cut to the top_k most likely tokens and then to the
// smallest set whose probability reaches top_p (nucleus sampling, Holtzman et al. 2020), and a
// token is drawn from a generator seeded with `seed`, so the same seed gives the same text.
#pragma once

#include <cstdint>
#include <functional>

#include "golgi/core/options.h"
#include "golgi/models/transformer.h"

namespace golgi::models {

struct GenerateOptions {
  GOLGI_ARG(int64_t, max_new_tokens) = 32;
  GOLGI_ARG(double, temperature) = 0.8;
  GOLGI_ARG(int64_t, top_k) = 0;     // 0: no cut
  GOLGI_ARG(double, top_p) = 0.95;   // 1: no cut
  GOLGI_ARG(int64_t, seed) = 0;
  GOLGI_ARG(int64_t, stop_token) = -1;  // stop once every sequence produced it (-1: never)
  static const OptionSchema<GenerateOptions>& schema();
};

// prompt [batch, pos] int64 -> [batch, pos + new] (new <= max_new_tokens; fewer only when every
// sequence reached stop_token; finished sequences are padded with stop_token). `on_step`, when
// set, receives each step's new tokens [batch] as they are chosen (for streaming).
at::Tensor generate(TransformerLM& model, const at::Tensor& prompt, const GenerateOptions& options,
                    const std::function<void(const at::Tensor& new_tokens)>& on_step = {});

// Picks one token per row of logits [batch, vocab] by the rule above.
at::Tensor choose_next_tokens(const at::Tensor& logits, const GenerateOptions& options, at::Generator& generator);

}  // namespace golgi::models
