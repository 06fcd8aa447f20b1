#include "golgi/atlas/exemplar_text.h"

#include <string>

#include "golgi/data/text_corpus.h"
#include "golgi/tokenize/tokenizer.h"

namespace golgi::atlas {

namespace {

// Length of the UTF-8 sequence a lead byte starts (0 for a continuation or invalid byte).
int sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 0;
}

}  // namespace

Json display_tokens(const tokenize::Tokenizer& tokenizer, const std::vector<int64_t>& ids) {
  Json out = Json::array();
  std::string pending;          // bytes of an unfinished character
  std::vector<size_t> waiting;  // tokens whose bytes are in `pending`
  const std::string replacement = "\xEF\xBF\xBD";
  std::string shown;  // what the current token shows so far
  auto flush_invalid = [&]() {
    // Unfinished bytes that never completed: show a replacement character where they began.
    if (pending.empty()) return;
    if (waiting.empty()) {
      shown += replacement;
    } else {
      out[waiting.front()] = out[waiting.front()].get<std::string>() + replacement;
    }
    pending.clear();
    waiting.clear();
  };
  for (size_t i = 0; i < ids.size(); ++i) {
    out.push_back("");
    if (tokenizer.is_special(ids[i])) {
      shown.clear();
      flush_invalid();
      out[i] = tokenizer.id_to_token(ids[i]);
      continue;
    }
    std::string bytes = tokenizer.decode({ids[i]});
    shown.clear();
    for (unsigned char c : bytes) {
      if (!pending.empty() && (c & 0xC0) == 0x80) {
        pending.push_back(static_cast<char>(c));
        if (static_cast<int>(pending.size()) == sequence_length(static_cast<unsigned char>(pending[0]))) {
          std::string done = data::is_valid_utf8(pending) ? pending : replacement;
          pending.clear();
          waiting.clear();
          shown += done;
        }
        continue;
      }
      flush_invalid();
      int n = sequence_length(c);
      if (n == 1) {
        shown.push_back(static_cast<char>(c));
      } else if (n == 0) {
        shown += replacement;
      } else {
        pending.assign(1, static_cast<char>(c));
      }
    }
    if (!pending.empty()) waiting.push_back(i);
    out[i] = shown;
  }
  shown.clear();
  flush_invalid();
  return out;
}

}  // namespace golgi::atlas
