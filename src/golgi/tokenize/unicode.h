// Unicode pieces the tokenizers need: UTF-8 decoding and the letter / number / whitespace classes
// used by the GPT-2 pre-tokenisation pattern.
//
// The classes are an approximation of the Unicode general categories L* and N*, written as range
// tables (no ICU dependency). They follow Unicode 15 for: ASCII, Latin-1 Supplement, Latin Extended
// A/B/Additional, IPA, Greek (and Greek Extended), Cyrillic, Armenian, Hebrew, Arabic, Devanagari,
// Thai, Georgian, Hangul, Kana, CJK ideographs (BMP and planes 2-3), fullwidth forms and the common
// number forms (superscripts, fractions, Roman numerals, circled digits). Combining marks (Mn/Mc),
// which are neither letters nor numbers, are classed as "other" in those scripts, as Unicode does.
// Code points in scripts not listed are classed as "other"; text in such scripts still round-trips
// exactly, but its pre-tokenisation can differ from a regex engine with full Unicode tables, and so
// can its token ids. Whitespace is the set JavaScript's `\s` matches (the xcheck's reference).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace golgi::tokenize {

// Decodes UTF-8 into code points. Invalid or truncated sequences decode each offending byte to
// U+FFFD so that nothing throws; `byte_offsets` (if given) receives the start byte of each code
// point plus a final entry equal to text.size(), so slices of the input can be taken exactly.
std::vector<char32_t> decode_utf8(std::string_view text, std::vector<size_t>* byte_offsets = nullptr);
// Appends the UTF-8 encoding of `cp` to `out`.
void append_utf8(std::string& out, char32_t cp);

bool is_letter(char32_t cp);      // \p{L}
bool is_number(char32_t cp);      // \p{N}
bool is_whitespace(char32_t cp);  // JavaScript \s

}  // namespace golgi::tokenize
