#include "golgi/tokenize/tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "golgi/core/error.h"
#include "golgi/core/json.h"
#include "golgi/io/atomic_file.h"
#include "test_support.h"

namespace golgi::tokenize {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using golgi::testing::error_of;
using golgi::testing::run_cli;
using golgi::testing::scratch_dir;

TEST(ByteTokenizer, BytesAreIdsAndSpecialsFollow) {
  ByteTokenizer tok;
  EXPECT_EQ(tok.vocab_size(), 259);
  EXPECT_THAT(tok.encode("A\xff"), ElementsAre(65, 255));
  EXPECT_EQ(tok.special_id("<|bos|>"), 256);
  EXPECT_EQ(tok.special_id("<|pad|>"), 258);
  EXPECT_THAT(tok.encode("<|bos|>hi<|eos|>"), ElementsAre(256, 'h', 'i', 257));
  tok.set_recognise_special(false);
  EXPECT_EQ(tok.encode("<|bos|>").size(), 7u);
  EXPECT_EQ(tok.id_to_token(257), "<|eos|>");
}

TEST(ByteTokenizer, RoundTripsAnyBytes) {
  ByteTokenizer tok;
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (const std::string& text : {all, std::string("😀 café Привет 日本 \t\n  12")})
    EXPECT_EQ(tok.decode(tok.encode(text)), text);
  EXPECT_THAT(error_of([&] { tok.decode({259}); }), HasSubstr("token id 259 is outside"));
  EXPECT_THAT(error_of([] { ByteTokenizer({"<a>", "<a>"}); }), HasSubstr("listed twice"));
}

TEST(TokenizerLoad, ByteMarkerFolder) {
  const std::string dir = scratch_dir("tokenizer_byte");
  save_byte_tokenizer(dir, {"<s>", "</s>"});
  auto tok = load_tokenizer(dir);
  EXPECT_EQ(tok->kind(), "byte");
  EXPECT_EQ(tok->vocab_size(), 258);
  EXPECT_THAT(tok->encode("<s>a"), ElementsAre(256, 'a'));
  io::write_file_atomic(dir + "/tokenizer_config.json", R"({"type": "wordpiece"})");
  EXPECT_THAT(error_of([&] { load_tokenizer(dir); }), HasSubstr("'type' must be \"byte\""));
  io::write_file_atomic(dir + "/tokenizer_config.json", R"({"type": "byte", "special_tokens": "x"})");
  EXPECT_THAT(error_of([&] { load_tokenizer(dir); }), HasSubstr("'special_tokens' must be an array"));
}

TEST(TokenizerCli, TrainTokenizeAndDecode) {
  const std::string dir = scratch_dir("tokenizer_cli");
  std::string corpus;
  for (int k = 0; k < 30; ++k) corpus += "low lower lowest newer newest wider " + std::to_string(k) + "\n";
  io::write_file_atomic(dir + "/corpus.txt", corpus);
  auto trained = run_cli("tokenizer train --corpus " + dir + "/corpus.txt --vocab-size 300 --out " + dir + "/tok");
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  EXPECT_TRUE(io::file_exists(dir + "/tok/vocab.json"));
  io::write_file_atomic(dir + "/text.txt", "lowest newer\nwider low 😀\n");
  auto encoded = run_cli("tokenize --tokenizer " + dir + "/tok --text-file " + dir + "/text.txt");
  ASSERT_EQ(encoded.exit_code, 0) << encoded.out;
  auto tok = load_tokenizer(dir + "/tok");
  auto line_json = [&](const std::string& text) { return Json(tok->encode(text)).dump(); };
  EXPECT_EQ(encoded.out, line_json("lowest newer") + "\n" + line_json("wider low 😀") + "\n");
  io::write_file_atomic(dir + "/ids.txt", encoded.out);
  auto decoded = run_cli("tokenize --decode --tokenizer " + dir + "/tok --text-file " + dir + "/ids.txt");
  ASSERT_EQ(decoded.exit_code, 0) << decoded.out;
  EXPECT_EQ(decoded.out, "lowest newer\nwider low 😀\n");

  io::write_file_atomic(dir + "/bad.txt", "[1, \"x\"]\n");
  auto bad = run_cli("tokenize --decode --tokenizer " + dir + "/tok --text-file " + dir + "/bad.txt");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.out, HasSubstr("bad.txt line 1: token ids must be integers"));
  auto missing = run_cli("tokenize --tokenizer " + dir + "/nothing --text-file " + dir + "/text.txt");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.out, HasSubstr("holds no tokenizer"));
}

}  // namespace
}  // namespace golgi::tokenize
