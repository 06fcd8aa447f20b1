#include "golgi/data/text_corpus.h"

#include <iconv.h>

#include <cerrno>
#include <cmath>

#include "golgi/core/error.h"

namespace golgi::data {

const Registry<TextCorpusEntry>& text_corpus_registry() {
  static const Registry<TextCorpusEntry> registry("text corpus", {
#define GOLGI_TEXT_CORPUS(name, loader, description) TextCorpusEntry{name, loader, description},
#include "golgi/data/text_corpora.def"
#undef GOLGI_TEXT_CORPUS
  });
  return registry;
}

TextCorpus load_text_corpus(const std::string& name, const TextCorpusOptions& options) {
  return text_corpus_registry().get(name).load(options);
}

bool is_valid_utf8(std::string_view bytes) {
  size_t i = 0, n = bytes.size();
  while (i < n) {
    auto b = static_cast<unsigned char>(bytes[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
      cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      cp = b & 0x07;
    } else {
      return false;  // continuation byte in lead position, C0/C1 overlong lead, or > U+10FFFF
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(bytes[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    // Reject overlong forms the lead-byte ranges above do not already exclude, and surrogates.
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

bool convert_to_utf8(std::string_view bytes, const std::string& encoding, std::string& out) {
  iconv_t cd = iconv_open("UTF-8", encoding.c_str());
  GOLGI_CHECK(cd != reinterpret_cast<iconv_t>(-1), "iconv cannot convert from encoding '", encoding,
              "' (glibc's gconv modules missing?)");
  out.clear();
  std::string in(bytes);
  char* in_ptr = in.data();
  size_t in_left = in.size();
  char buffer[4096];
  bool ok = true;
  while (in_left > 0) {
    char* out_ptr = buffer;
    size_t out_left = sizeof(buffer);
    size_t r = iconv(cd, &in_ptr, &in_left, &out_ptr, &out_left);
    out.append(buffer, static_cast<size_t>(out_ptr - buffer));
    if (r == static_cast<size_t>(-1) && errno != E2BIG) {
      ok = false;  // EILSEQ or EINVAL: not text in this encoding
      break;
    }
  }
  iconv_close(cd);
  return ok && is_valid_utf8(out);
}

void check_split_fractions(double val_fraction, double test_fraction) {
  GOLGI_CHECK(std::isfinite(val_fraction) && val_fraction >= 0 && val_fraction < 1,
              "val_fraction must be in [0, 1), got ", val_fraction);
  GOLGI_CHECK(std::isfinite(test_fraction) && test_fraction >= 0 && test_fraction < 1,
              "test_fraction must be in [0, 1), got ", test_fraction);
  GOLGI_CHECK(val_fraction + test_fraction < 1, "val_fraction + test_fraction must be below 1, got ",
              val_fraction, " + ", test_fraction);
}

}  // namespace golgi::data
