#include "golgi/tokenize/bpe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "golgi/core/error.h"
#include "golgi/core/json.h"
#include "golgi/io/atomic_file.h"
#include "golgi/tokenize/tokenizer.h"
#include "golgi/tokenize/unicode.h"
#include "test_support.h"

namespace golgi::tokenize {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using golgi::testing::error_of;
using golgi::testing::scratch_dir;

// The 256 byte tokens in byte order (byte b is id b) plus `extra` from id 256.
std::map<std::string, int64_t> byte_vocab(const std::vector<std::string>& extra) {
  std::map<std::string, int64_t> vocab;
  for (int b = 0; b < 256; ++b) vocab[byte_to_unicode()[b]] = b;
  for (const auto& token : extra) vocab[token] = static_cast<int64_t>(vocab.size());
  return vocab;
}

// A tokenizer small enough to follow by hand: ab=256, abc=257, Ġa=258, <|endoftext|>=259.
BpeTokenizer tiny() {
  return BpeTokenizer(byte_vocab({"ab", "abc", "Ġa", "<|endoftext|>"}), {{"a", "b"}, {"ab", "c"}, {"Ġ", "a"}}, "tiny");
}

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> out;
  for (auto piece : pretokenize(text)) out.emplace_back(piece);
  return out;
}

TEST(BpeByteMap, MatchesGpt2Definition) {
  const auto& table = byte_to_unicode();
  EXPECT_EQ(table['a'], "a");
  EXPECT_EQ(table['!'], "!");
  EXPECT_EQ(table[' '], "Ġ");   // U+0120: the 33rd non-printable byte
  EXPECT_EQ(table['\n'], "Ċ");  // U+010A
  EXPECT_EQ(table[0], "Ā");     // U+0100
  EXPECT_EQ(table[0xAD], "Ń");  // U+0143, soft hyphen is not kept as itself
  EXPECT_EQ(table[0xE9], "é");
  std::set<std::string> distinct(table.begin(), table.end());
  EXPECT_EQ(distinct.size(), 256u);
}

TEST(BpePretokenize, SplitsKnownStrings) {
  EXPECT_THAT(split("Hello world"), ElementsAre("Hello", " world"));
  EXPECT_THAT(split("I'm here's they'll"), ElementsAre("I", "'m", " here", "'s", " they", "'ll"));
  EXPECT_THAT(split("a  b"), ElementsAre("a", " ", " b"));
  EXPECT_THAT(split("x   \n"), ElementsAre("x", "   \n"));
  EXPECT_THAT(split("123abc 45"), ElementsAre("123", "abc", " 45"));
  EXPECT_THAT(split("hi !!?'s"), ElementsAre("hi", " !!?'", "s"));
  EXPECT_THAT(split("\t\tx"), ElementsAre("\t", "\t", "x"));
  EXPECT_THAT(split("Привет мир"), ElementsAre("Привет", " мир"));
  EXPECT_THAT(split("日本語 テスト ½"), ElementsAre("日本語", " テスト", " ½"));
  EXPECT_THAT(split("café 😀😀"), ElementsAre("café", " 😀😀"));
  EXPECT_THAT(split("'S'T"), ElementsAre("'", "S", "'", "T"));  // contractions are lower case only
  EXPECT_TRUE(split("").empty());
}

TEST(BpePretokenize, PiecesConcatenateToTheInput) {
  const std::string text = "  mixed\t\ttext 😀 Ünïcödé,  Ελληνικά 1234 \xff\xfe broken  \n\n";
  std::string joined;
  for (const auto& piece : split(text)) joined += piece;
  EXPECT_EQ(joined, text);
}

TEST(BpeUnicode, ClassesOfKnownCodePoints) {
  EXPECT_TRUE(is_letter(U'é'));
  EXPECT_TRUE(is_letter(U'Ж'));
  EXPECT_TRUE(is_letter(U'λ'));
  EXPECT_TRUE(is_letter(U'中'));
  EXPECT_TRUE(is_letter(U'ש'));
  EXPECT_TRUE(is_letter(U'ب'));
  EXPECT_TRUE(is_letter(U'क'));
  EXPECT_FALSE(is_letter(0x0301));  // combining acute accent: a mark
  EXPECT_FALSE(is_letter(U'😀'));
  EXPECT_TRUE(is_number(U'7'));
  EXPECT_TRUE(is_number(U'²'));
  EXPECT_TRUE(is_number(0x0663));  // Arabic-Indic three
  EXPECT_FALSE(is_number(U'x'));
  EXPECT_TRUE(is_whitespace(0x3000));
  EXPECT_FALSE(is_whitespace(0x85));
}

TEST(BpeTokenizer, EncodesHandComputedIds) {
  auto tok = tiny();
  // "abc": a b c -> (a,b) rank 0 -> ab c -> (ab,c) rank 1 -> abc.
  // " ab": Ġ a b -> (a,b) rank 0 beats (Ġ,a) rank 2 -> Ġ ab; no merge for (Ġ,ab).
  EXPECT_THAT(tok.encode("abc ab"), ElementsAre(257, 32, 256));
  // " a": only (Ġ,a) applies.
  EXPECT_THAT(tok.encode(" a"), ElementsAre(258));
  EXPECT_EQ(tok.vocab_size(), 260);
  EXPECT_EQ(tok.token_to_id("Ġa"), 258);
  EXPECT_EQ(tok.id_to_token(257), "abc");
  EXPECT_FALSE(tok.token_to_id("zzz").has_value());
}

TEST(BpeTokenizer, RecognisesSpecialTokensWhenEnabled) {
  auto tok = tiny();
  EXPECT_EQ(tok.special_id("<|endoftext|>"), 259);
  EXPECT_THAT(tok.encode("ab<|endoftext|>ab"), ElementsAre(256, 259, 256));
  EXPECT_EQ(tok.decode({256, 259, 256}), "ab<|endoftext|>ab");
  tok.set_recognise_special(false);
  auto ids = tok.encode("ab<|endoftext|>");
  // "ab", "<|", "endoftext", "|>": 1 + 2 + 9 + 2 tokens (no merges apply beyond a b), no special id.
  EXPECT_EQ(ids.size(), 14u);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 259), 0);
  EXPECT_EQ(tok.decode(ids), "ab<|endoftext|>");
}

TEST(BpeTokenizer, RoundTripsMixedText) {
  auto tok = tiny();
  const std::vector<std::string> texts = {
      "", "plain ascii", "émoji 😀🚀👍🏽 and 🇫🇷", "accents: crème brûlée, naïve", "Кириллица и ещё",
      "日本語と中文", "   runs\t\t of \n\n whitespace   ", "digits 0123456789 3.14", "\xff\xfe\x80 invalid",
      "ab abc abab cab"};
  for (const auto& text : texts) EXPECT_EQ(tok.decode(tok.encode(text)), text) << text;
}

TEST(BpeTokenizer, RejectsBadVocabulariesAndIds) {
  EXPECT_THAT(error_of([] { BpeTokenizer(byte_vocab({"ab"}), {{"a", "q!"}}, "v.json"); }),
              HasSubstr("'q!', which is not in the vocabulary"));
  EXPECT_THAT(error_of([] { BpeTokenizer(byte_vocab({}), {{"a", "b"}}, "v.json"); }),
              HasSubstr("makes 'ab', which is not in the vocabulary"));
  EXPECT_THAT(error_of([] { BpeTokenizer({{"a", 0}}, {}, "v.json"); }), HasSubstr("single-byte token"));
  EXPECT_THAT(error_of([] {
                auto v = byte_vocab({});
                v["extra"] = 3;
                BpeTokenizer(v, {}, "v.json");
              }),
              HasSubstr("v.json"));
  auto tok = tiny();
  EXPECT_THAT(error_of([&] { tok.decode({1, 260}); }), HasSubstr("token id 260 is outside"));
  EXPECT_THAT(error_of([&] { tok.decode({-1}); }), HasSubstr("token id -1"));
}

TEST(BpeFiles, LoadsVocabAndMergesWithVersionHeader) {
  const std::string dir = scratch_dir("bpe_files");
  tiny().save(dir);
  EXPECT_EQ(io::read_file(dir + "/merges.txt"), "#version: 0.2\na b\nab c\nĠ a\n");
  auto tok = load_tokenizer(dir);
  EXPECT_EQ(tok->kind(), "bpe");
  EXPECT_THAT(tok->encode("abc ab<|endoftext|>"), ElementsAre(257, 32, 256, 259));
}

TEST(BpeFiles, LoadsTokenizerJsonWithBothMergeForms) {
  const std::string dir = scratch_dir("bpe_tokenizer_json");
  Json vocab = Json::object();
  for (const auto& [token, id] : byte_vocab({"ab", "abc", "Ġa"})) vocab[token] = id;
  for (const Json& merges : {Json::array({"a b", "ab c", "Ġ a"}),
                             Json::array({Json::array({"a", "b"}), Json::array({"ab", "c"}), Json::array({"Ġ", "a"})})}) {
    Json doc = {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}},
                {"added_tokens", Json::array({Json{{"id", 259}, {"content", "<eot>"}, {"special", true}}})}};
    io::write_file_atomic(dir + "/tokenizer.json", doc.dump());
    auto tok = load_tokenizer(dir);
    EXPECT_THAT(tok->encode("abc ab<eot>"), ElementsAre(257, 32, 256, 259));
    EXPECT_EQ(tok->decode({257, 259}), "abc<eot>");
  }
}

TEST(BpeFiles, BadFilesGetOneClearError) {
  const std::string dir = scratch_dir("bpe_bad");
  EXPECT_THAT(error_of([&] { load_tokenizer(dir + "/missing"); }), HasSubstr("holds no tokenizer"));
  tiny().save(dir);
  io::write_file_atomic(dir + "/merges.txt", "#version: 0.2\na b\nab c d\n");
  EXPECT_THAT(error_of([&] { load_tokenizer(dir); }), HasSubstr("merges.txt line 3"));
  io::write_file_atomic(dir + "/merges.txt", "a b\nzz y\n");
  EXPECT_THAT(error_of([&] { load_tokenizer(dir); }), HasSubstr("merge 2 'zz y' uses 'zz'"));
  io::write_file_atomic(dir + "/merges.txt", "a b\n");
  io::write_file_atomic(dir + "/vocab.json", "{not json");
  EXPECT_THAT(error_of([&] { load_tokenizer(dir); }), HasSubstr("vocab.json"));
  io::write_file_atomic(dir + "/vocab.json", "{\"a\": \"x\"}");
  EXPECT_THAT(error_of([&] { load_tokenizer(dir); }), HasSubstr("must be an integer"));

  const std::string hf = scratch_dir("bpe_bad_hf");
  io::write_file_atomic(hf + "/tokenizer.json", R"({"model": {"type": "WordPiece", "vocab": {}}})");
  EXPECT_THAT(error_of([&] { load_tokenizer(hf); }), HasSubstr("model.type must be \"BPE\""));
  io::write_file_atomic(hf + "/tokenizer.json", R"({"model": {"type": "BPE", "vocab": {}, "merges": [3]}})");
  EXPECT_THAT(error_of([&] { load_tokenizer(hf); }), HasSubstr("model.merges[0]"));
}

TEST(BpeTrain, LearnsHandCheckableMerges) {
  // Pre-tokens: "ab", " ab", " ab", "abc". Pair counts: (a,b) 4, (Ġ,a) 2, (b,c) 1 -> merge a b.
  // Then (Ġ,ab) 2, (ab,c) 1 -> merge Ġ ab. Then nothing occurs twice.
  auto tok = train_bpe({"ab ab ab", "abc"}, 300);
  EXPECT_EQ(tok->n_merges(), 2);
  EXPECT_EQ(tok->vocab_size(), 259);
  EXPECT_EQ(tok->token_to_id("ab"), 256);
  EXPECT_EQ(tok->token_to_id("Ġab"), 257);
  EXPECT_EQ(tok->special_id("<|endoftext|>"), 258);
  EXPECT_THAT(tok->encode("ab abc"), ElementsAre(256, 257, 'c'));
}

TEST(BpeTrain, BreaksTiesBySmallestTokenStrings) {
  BpeTrainOptions options;
  options.min_frequency = 1;
  options.special_tokens = {};
  auto tok = train_bpe({"zw xy"}, 257, options);  // (z,w), (Ġ,x), (x,y) all occur once
  ASSERT_EQ(tok->vocab_size(), 257);
  EXPECT_EQ(tok->id_to_token(256), "xy");
}

TEST(BpeTrain, IsDeterministicAndRoundTrips) {
  std::vector<std::string> corpus;
  for (int k = 0; k < 50; ++k)
    corpus.push_back("the cat sat on the mat " + std::to_string(k * 37) + " Кот сидел на ковре 😀 café\n");
  auto a = train_bpe(corpus, 400), b = train_bpe(corpus, 400);
  const std::string da = scratch_dir("bpe_det_a"), db = scratch_dir("bpe_det_b");
  a->save(da);
  b->save(db);
  EXPECT_EQ(io::read_file(da + "/merges.txt"), io::read_file(db + "/merges.txt"));
  EXPECT_EQ(io::read_file(da + "/vocab.json"), io::read_file(db + "/vocab.json"));
  EXPECT_GT(a->n_merges(), 20);
  auto loaded = load_tokenizer(da);
  for (const auto& text : corpus) {
    EXPECT_EQ(loaded->encode(text), a->encode(text));
    EXPECT_EQ(loaded->decode(loaded->encode(text)), text);
    EXPECT_LT(a->encode(text).size(), text.size() / 2);
  }
}

TEST(BpeTrain, RejectsTooSmallVocabulary) {
  EXPECT_THAT(error_of([] { train_bpe({"x"}, 256); }), HasSubstr("vocab_size must be at least 256 bytes + 1"));
}

}  // namespace
}  // namespace golgi::tokenize
