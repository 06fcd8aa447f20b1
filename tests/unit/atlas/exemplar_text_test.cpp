// Display strings per token keep alignment when characters span several byte tokens.
#include <gtest/gtest.h>

#include "golgi/atlas/exemplar_text.h"
#include "golgi/tokenize/tokenizer.h"
#include "test_support.h"

namespace {

std::unique_ptr<golgi::tokenize::Tokenizer> byte_tokenizer() {
  auto dir = golgi::testing::scratch_dir("atlas_exemplar_text_tok");
  golgi::tokenize::save_byte_tokenizer(dir, {"<|bos|>", "<|eos|>"});
  return golgi::tokenize::load_tokenizer(dir);
}

TEST(AtlasExemplarText, MultiByteCharactersShowOnTheirLastByte) {
  auto tok = byte_tokenizer();
  std::string text = "a\xC3\xA9\xD0\x96!";  // a é Ж !
  auto ids = tok->encode(text);
  ASSERT_EQ(ids.size(), 6u);
  auto shown = golgi::atlas::display_tokens(*tok, ids);
  ASSERT_EQ(shown.size(), ids.size());
  EXPECT_EQ(shown[0], "a");
  EXPECT_EQ(shown[1], "");
  EXPECT_EQ(shown[2], "\xC3\xA9");
  EXPECT_EQ(shown[3], "");
  EXPECT_EQ(shown[4], "\xD0\x96");
  EXPECT_EQ(shown[5], "!");
}

TEST(AtlasExemplarText, SpecialAndBrokenBytesStayAligned) {
  auto tok = byte_tokenizer();
  const int64_t eos = *tok->special_id("<|eos|>");
  // A lead byte cut off by a special token, then a stray continuation byte.
  std::vector<int64_t> ids{0xC3, eos, 0xA9, 'b'};
  auto shown = golgi::atlas::display_tokens(*tok, ids);
  ASSERT_EQ(shown.size(), 4u);
  EXPECT_EQ(shown[0], "\xEF\xBF\xBD");
  EXPECT_EQ(shown[1], "<|eos|>");
  EXPECT_EQ(shown[2], "\xEF\xBF\xBD");
  EXPECT_EQ(shown[3], "b");
}

}  // namespace
