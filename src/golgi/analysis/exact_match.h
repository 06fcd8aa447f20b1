// Exact-match accuracy of greedy answers: does the model, decoding greedily after a prompt,
// produce exactly the expected answer tokens? The shared measurement behind factual-recall
// experiments (relation neurons, knowledge editing): accuracy before and after an intervention.
//
// Definition. Example e = (prompt p, answer a = a_1..a_T), T >= 1. With g_1, g_2, ... the greedy
// continuation of p (argmax of the next-token logits, ties to the lowest id, as models/generate.h),
//
//   correct[e] = 1  iff  g_t = a_t for t = 1..T,
//
// i.e. the first T generated tokens equal the answer. To require that the answer also ends there
// ("the text up to the first separator equals the target"), append the end token (newline,
// end-of-document) to the answer.
//
// Two ways to compute it, which agree:
//   kTeacherForced (default): one forward pass over p + a_1..a_{T-1} per example; correct iff the
//     argmax at every answer position equals the answer token. Greedy decoding reaches position t
//     with exactly the context p + a_1..a_{t-1} as long as all earlier tokens matched, so this is
//     the same test. Sequences are right-padded, which a causal model never sees from an earlier
//     position; examples are sorted by length so batches carry little padding.
//   kGenerate: greedy generation with the KV cache (models/generate.h), batching prompts of equal
//     length (the generator takes no padding mask).
// Both run with whatever hooks are attached to the model (an InterventionSet applied by the caller
// stays active), so interventions act during the answer as in generation. The two modes can differ
// only where floating-point differences between the cached and the full pass flip a near tie, or
// for hooks that are not position-wise (a hook that mixes positions sees the padding in
// kTeacherForced and only the new position per step in kGenerate). Teacher forcing is much faster
// for short answers (one pass instead of T; tests/unit/analysis/exact_match_test.cpp checks they
// agree, bench numbers in docs/methods/relation-neurons.md).
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::models {
class TransformerLM;
}

namespace golgi::analysis {

struct AnswerExample {
  std::vector<int64_t> prompt;  // token ids, non-empty
  std::vector<int64_t> answer;  // token ids, non-empty
};

enum class ExactMatchMode { kTeacherForced, kGenerate };

struct ExactMatchOptions {
  GOLGI_ARG(int64_t, batch_size) = 64;
  GOLGI_ARG(ExactMatchMode, mode) = ExactMatchMode::kTeacherForced;
};

struct ExactMatchResult {
  std::vector<uint8_t> correct;  // [E] 1 = the greedy answer matches, in the order given
  int64_t n_correct = 0;
  double accuracy() const;  // n_correct / E (0 for no examples)
  // Accuracy over the examples whose group[e] == k, for k in 0..groups-1 (NaN for an empty group).
  std::vector<double> accuracy_by(const std::vector<int64_t>& group, int64_t groups) const;
  at::Tensor correct_tensor() const;  // [E] bool
};

// Runs `examples` through `model` (eval mode, no gradients; the mode is restored). Throws
// golgi::Error for empty prompts or answers, tokens outside the vocabulary, sequences longer than
// the model's context (n_ctx), or batch_size < 1. No examples gives an empty result.
ExactMatchResult exact_match(models::TransformerLM& model, const std::vector<AnswerExample>& examples,
                             const ExactMatchOptions& options = {});

}  // namespace golgi::analysis
