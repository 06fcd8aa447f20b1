// Display strings of a token sequence, one per token, for highlighting text exemplars.
//
// Byte-level and BPE tokens may split a UTF-8 character; the viewer needs one string per token to
// keep activations aligned, so the bytes of a character split over several tokens are shown on the
// token that completes it, and the tokens before it in that character get "" (docs/atlas.md).
// Special tokens show as their text ("<|eos|>"); invalid bytes as U+FFFD.
#pragma once

#include <cstdint>
#include <vector>

#include "golgi/core/json.h"

namespace golgi::tokenize {
class Tokenizer;
}

namespace golgi::atlas {

// A JSON array of strings, the same length as `ids`.
Json display_tokens(const tokenize::Tokenizer& tokenizer, const std::vector<int64_t>& ids);

}  // namespace golgi::atlas
