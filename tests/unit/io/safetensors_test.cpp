#include "golgi/io/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>

#include "golgi/core/error.h"
#include "golgi/io/atomic_file.h"

namespace golgi::io {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// 8-byte little-endian header length, the header text, then the data buffer.
std::string assemble(const std::string& header, const std::string& data = "") {
  std::string out;
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

// Runs from_bytes on `bytes` and returns the error message, failing the test if nothing is thrown.
std::string error_of(const std::string& bytes) {
  try {
    SafetensorsFile::from_bytes(bytes, "hostile.safetensors");
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_THAT(message, HasSubstr("hostile.safetensors"));  // every message names the file
    EXPECT_EQ(message.find('\n'), std::string::npos) << "messages are one line: " << message;
    return message;
  }
  ADD_FAILURE() << "expected golgi::Error";
  return "";
}

// Deterministic, distinct bytes of a tensor of `dtype` and `shape`, with meaningful values for the
// float types (negative, NaN, infinities) so that nothing is normalised on the way.
RawTensor sample(DType dtype, std::vector<int64_t> shape, int seed) {
  RawTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  const size_t n = element_count(t.shape);
  t.data.resize(n * dtype_size(dtype));
  for (size_t i = 0; i < n; ++i) {
    uint8_t* p = t.data.data() + i * dtype_size(dtype);
    const double v = (static_cast<double>(i) - 3.5) * (seed + 1);
    if (dtype == DType::F64) {
      double x = i == 1 ? std::nan("") : i == 2 ? -INFINITY : v;
      std::memcpy(p, &x, 8);
    } else if (dtype == DType::F32) {
      float x = i == 1 ? NAN : i == 2 ? INFINITY : static_cast<float>(v);
      std::memcpy(p, &x, 4);
    } else if (dtype == DType::BOOL) {
      p[0] = (i + seed) % 3 == 0;
    } else {
      for (size_t b = 0; b < dtype_size(dtype); ++b) p[b] = static_cast<uint8_t>(i * 31 + b * 7 + seed * 13);
    }
  }
  return t;
}

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "golgi_safetensors_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(SafetensorsTest, RoundTripsEveryDType) {
  std::vector<RawTensor> tensors;
  std::vector<std::pair<std::string, TensorView>> views;
  int seed = 0;
  for (DType dtype : all_dtypes()) {
    tensors.push_back(sample(dtype, {2, 3}, seed++));
  }
  tensors.push_back(sample(DType::F32, {}, 7));         // a scalar
  tensors.push_back(sample(DType::I64, {0, 4}, 8));     // empty
  tensors.push_back(sample(DType::U8, {2, 1, 3}, 9));   // odd size, misaligning what follows
  tensors.push_back(sample(DType::F64, {5}, 10));
  for (size_t i = 0; i < tensors.size(); ++i)
    views.emplace_back("t" + std::to_string(i) + "." + dtype_name(tensors[i].dtype), tensors[i].view());

  const std::string path = dir_ + "/all.safetensors";
  write_safetensors(path, views);
  for (int mode = 0; mode < 2; ++mode) {
    SafetensorsFile file = mode == 0 ? SafetensorsFile::open(path) : SafetensorsFile::from_bytes(read_file(path), path);
    ASSERT_EQ(file.entries().size(), tensors.size());
    EXPECT_EQ(file.source(), path);
    EXPECT_TRUE(file.metadata().empty());
    for (size_t i = 0; i < tensors.size(); ++i) {
      const std::string& name = views[i].first;
      ASSERT_TRUE(file.contains(name)) << name;
      // Entries come back in data-offset order, which is the order written.
      EXPECT_EQ(file.entries()[i].name, name);
      TensorView v = file.view(name);
      EXPECT_EQ(v.dtype, tensors[i].dtype) << name;
      EXPECT_EQ(v.shape, tensors[i].shape) << name;
      ASSERT_EQ(v.nbytes, tensors[i].data.size()) << name;
      EXPECT_EQ(std::memcmp(v.data, tensors[i].data.data(), v.nbytes), 0) << name;
    }
  }
}

TEST_F(SafetensorsTest, MetadataRoundTrips) {
  RawTensor t = sample(DType::F32, {3}, 1);
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"seed", "42"}, {"command", "golgi train --model mlp"}, {"empty", ""},
      {"unicode", "neur\xc3\xb3n \xe2\x9c\x93"}, {"quotes", "a \"b\" \\ c\nnew line"}};
  const std::string path = dir_ + "/meta.safetensors";
  write_safetensors(path, {{"w", t.view()}}, metadata);
  SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.metadata(), metadata);
  EXPECT_EQ(file.names(), std::vector<std::string>{"w"});
}

TEST_F(SafetensorsTest, EmptyFileOfZeroTensorsIsValid) {
  const std::string path = dir_ + "/empty.safetensors";
  write_safetensors(path, {});
  SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_TRUE(file.entries().empty());
  EXPECT_TRUE(file.names().empty());
  // And as written by other tools, without padding.
  EXPECT_TRUE(SafetensorsFile::from_bytes(assemble("{}")).entries().empty());
  EXPECT_TRUE(SafetensorsFile::from_bytes(assemble("{\"__metadata__\":{\"a\":\"b\"}}")).entries().empty());
}

TEST_F(SafetensorsTest, UnicodeNamesRoundTrip) {
  RawTensor t = sample(DType::I8, {4}, 2);
  const std::string name = "caf\xc3\xa9.\xe7\xa5\x9e\xe7\xb5\x8c.weight";
  const std::string path = dir_ + "/u.safetensors";
  write_safetensors(path, {{name, t.view()}});
  EXPECT_TRUE(SafetensorsFile::open(path).contains(name));
}

TEST_F(SafetensorsTest, WriterLayoutPadsTheHeaderToEightBytes) {
  RawTensor a = sample(DType::U8, {3}, 1);
  RawTensor b = sample(DType::F64, {2}, 2);
  const std::string path = dir_ + "/layout.safetensors";
  write_safetensors(path, {{"b_second_alphabetically", a.view()}, {"a", b.view()}}, {{"k", "v"}});
  const std::string bytes = read_file(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  ASSERT_EQ(bytes.size(), 8 + n + 3 + 16);
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  // Padding is spaces after the closing brace.
  const size_t close = header.rfind('}');
  EXPECT_EQ(header.find_first_not_of(' ', close + 1), std::string::npos);
  EXPECT_LT(header.size() - close - 1, 8u);
  EXPECT_THAT(header, HasSubstr("\"data_offsets\":[0,3]"));
  EXPECT_THAT(header, HasSubstr("\"data_offsets\":[3,19]"));
  EXPECT_THAT(header, HasSubstr("\"__metadata__\":{\"k\":\"v\"}"));
  EXPECT_EQ(bytes.substr(8 + n, 3), std::string(a.data.begin(), a.data.end()));
  // Data order is the caller's order, not the alphabetical order of names.
  SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.names(), (std::vector<std::string>{"b_second_alphabetically", "a"}));
}

// A file built byte by byte, independent of golgi's writer: two F32 values and an I16 pair.
TEST_F(SafetensorsTest, ParsesHandBuiltBytes) {
  const std::string header =
      R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("y":{"dtype":"I16","shape":[1,2],"data_offsets":[8,12]},"__metadata__":{"format":"pt"}})";
  const std::string data("\x00\x00\x80\x3f"   // 1.0f
                         "\x00\x00\x20\xc0"   // -2.5f
                         "\xff\xff\x02\x01",  // -1, 258
                         12);
  SafetensorsFile file = SafetensorsFile::from_bytes(assemble(header, data), "hand.safetensors");
  ASSERT_EQ(file.names(), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(file.metadata().at("format"), "pt");
  const SafetensorsEntry& y = file.entry("y");
  EXPECT_EQ(y.dtype, DType::I16);
  EXPECT_EQ(y.shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(y.begin, 8u);
  EXPECT_EQ(y.end, 12u);
  TensorView x = file.view("x");
  float xs[2];
  std::memcpy(xs, x.data, 8);
  EXPECT_EQ(xs[0], 1.0f);
  EXPECT_EQ(xs[1], -2.5f);
  int16_t ys[2];
  std::memcpy(ys, file.view("y").data, 4);
  EXPECT_EQ(ys[0], -1);
  EXPECT_EQ(ys[1], 258);
}

TEST_F(SafetensorsTest, ZeroSizeTensorsMayShareAnOffset) {
  const std::string header =
      R"({"e1":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
      R"("e2":{"dtype":"I64","shape":[3,0],"data_offsets":[2,2]}})";
  SafetensorsFile file = SafetensorsFile::from_bytes(assemble(header, "ab"));
  EXPECT_EQ(file.entries().size(), 3u);
  EXPECT_EQ(file.view("e2").nbytes, 0u);
}

TEST_F(SafetensorsTest, MissingNameSuggestsTheClosest) {
  RawTensor t = sample(DType::F32, {1}, 0);
  const std::string path = dir_ + "/names.safetensors";
  write_safetensors(path, {{"blocks.0.mlp.weight", t.view()}, {"blocks.0.attn.weight", t.view()}});
  SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_FALSE(file.contains("blocks.0.mlp.wieght"));
  try {
    file.entry("blocks.0.mlp.wieght");
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));
    EXPECT_THAT(e.what(), HasSubstr("no tensor named 'blocks.0.mlp.wieght'"));
    EXPECT_THAT(e.what(), HasSubstr("did you mean 'blocks.0.mlp.weight'"));
  }
  EXPECT_THROW(file.view("nope"), Error);
}

TEST_F(SafetensorsTest, ViewsStayValidWhileACopyOfTheFileLives) {
  RawTensor t = sample(DType::I32, {4}, 3);
  const std::string path = dir_ + "/copy.safetensors";
  write_safetensors(path, {{"t", t.view()}});
  TensorView view;
  SafetensorsFile copy = [&] {
    SafetensorsFile file = SafetensorsFile::open(path);
    view = file.view("t");
    return file;
  }();
  EXPECT_EQ(std::memcmp(view.data, t.data.data(), t.data.size()), 0);
}

TEST_F(SafetensorsTest, OpenErrorsNameThePath) {
  const std::string missing = dir_ + "/missing.safetensors";
  try {
    SafetensorsFile::open(missing);
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(missing));
    EXPECT_THAT(e.what(), HasSubstr("No such file"));
  }
  const std::string empty = dir_ + "/empty.safetensors";
  write_file_atomic(empty, "");
  try {
    SafetensorsFile::open(empty);
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(empty));
    EXPECT_THAT(e.what(), HasSubstr("0 bytes"));
  }
  try {
    SafetensorsFile::open(dir_);
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("not a regular file"));
  }
}

TEST_F(SafetensorsTest, WriterRejectsBadInput) {
  RawTensor t = sample(DType::F32, {2}, 0);
  const std::string path = dir_ + "/bad.safetensors";
  auto message = [&](const std::vector<std::pair<std::string, TensorView>>& tensors) {
    try {
      write_safetensors(path, tensors);
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(path));
      return std::string(e.what());
    }
    ADD_FAILURE() << "expected golgi::Error";
    return std::string();
  };
  EXPECT_THAT(message({{"a", t.view()}, {"a", t.view()}}), HasSubstr("twice"));
  EXPECT_THAT(message({{"", t.view()}}), HasSubstr("empty name"));
  EXPECT_THAT(message({{"__metadata__", t.view()}}), HasSubstr("reserved"));
  TensorView wrong = t.view();
  wrong.shape = {3};
  EXPECT_THAT(message({{"w", wrong}}), HasSubstr("holds 8 bytes"));
  EXPECT_THAT(message({{"bad\xff", t.view()}}), HasSubstr("UTF-8"));
  // Nothing was left behind by the failed writes.
  EXPECT_FALSE(file_exists(path));
  EXPECT_TRUE(fs::is_empty(dir_));
}

// ---- Hostile files: one test per way a file can lie. ----

const char* const kGoodEntry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";

TEST(SafetensorsHostile, TruncatedBelowEightBytes) {
  EXPECT_THAT(error_of(""), HasSubstr("fewer than the 8-byte header length"));
  EXPECT_THAT(error_of(std::string("\x02\x00\x00\x00\x00", 5)), HasSubstr("5 bytes"));
}

TEST(SafetensorsHostile, HeaderLengthBeyondTheFile) {
  std::string bytes = assemble("{}");
  bytes[0] = 100;
  EXPECT_THAT(error_of(bytes), HasSubstr("header length is 100 bytes but only 2 bytes follow"));
}

TEST(SafetensorsHostile, HeaderLengthAboveTheLimit) {
  std::string bytes = assemble("{}");
  const uint64_t huge = uint64_t{1} << 60;
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((huge >> (8 * i)) & 0xff);
  EXPECT_THAT(error_of(bytes), HasSubstr("exceeds the limit"));
}

TEST(SafetensorsHostile, HeaderNotJson) {
  EXPECT_THAT(error_of(assemble("{\"a\": ", std::string(8, '\0'))), HasSubstr("not valid JSON"));
  EXPECT_THAT(error_of(assemble("")), HasSubstr("not valid JSON"));
  EXPECT_THAT(error_of(assemble("{\"\xff\": 1}")), HasSubstr("not valid JSON"));  // invalid UTF-8
}

TEST(SafetensorsHostile, HeaderNotAnObject) {
  EXPECT_THAT(error_of(assemble("[1, 2]")), HasSubstr("must be a JSON object"));
  EXPECT_THAT(error_of(assemble("\"text\"")), HasSubstr("got a JSON string"));
}

TEST(SafetensorsHostile, EntryNotAnObject) {
  EXPECT_THAT(error_of(assemble(R"({"a": [0, 8]})")), HasSubstr("tensor 'a' must be an object"));
}

TEST(SafetensorsHostile, MissingDType) {
  EXPECT_THAT(error_of(assemble(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", std::string(8, 'x'))),
              HasSubstr("tensor 'a' has no 'dtype'"));
}

TEST(SafetensorsHostile, MissingShape) {
  EXPECT_THAT(error_of(assemble(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", std::string(8, 'x'))),
              HasSubstr("has no 'shape'"));
}

TEST(SafetensorsHostile, MissingDataOffsets) {
  EXPECT_THAT(error_of(assemble(R"({"a":{"dtype":"F32","shape":[2]}})", std::string(8, 'x'))),
              HasSubstr("has no 'data_offsets'"));
}

TEST(SafetensorsHostile, UnknownDType) {
  const std::string message =
      error_of(assemble(R"({"a":{"dtype":"F23","shape":[2],"data_offsets":[0,8]}})", std::string(8, 'x')));
  EXPECT_THAT(message, HasSubstr("dtype 'F23', which golgi does not support"));
  EXPECT_THAT(message, HasSubstr("did you mean"));
  EXPECT_THAT(message, HasSubstr("'F32'"));
  EXPECT_THAT(message, HasSubstr("supported: F64, F32"));
  EXPECT_THAT(error_of(assemble(R"({"a":{"dtype":32,"shape":[2],"data_offsets":[0,8]}})", std::string(8, 'x'))),
              HasSubstr("non-string dtype"));
}

TEST(SafetensorsHostile, NegativeShape) {
  EXPECT_THAT(error_of(assemble(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", std::string(8, 'x'))),
              HasSubstr("negative dimension -2"));
}

TEST(SafetensorsHostile, NonIntegerShape) {
  EXPECT_THAT(error_of(assemble(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", std::string(8, 'x'))),
              HasSubstr("non-integer dimension"));
  EXPECT_THAT(error_of(assemble(R"({"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})", std::string(8, 'x'))),
              HasSubstr("expected a list of integers"));
  EXPECT_THAT(error_of(assemble(R"({"a":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]}})")),
              HasSubstr("too large"));
}

TEST(SafetensorsHostile, ShapeOverflow) {
  EXPECT_THAT(
      error_of(assemble(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", "12345678")),
      HasSubstr("64 bits"));
  EXPECT_THAT(error_of(assemble(R"({"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}})",
                                "12345678")),
              HasSubstr("overflows"));
}

TEST(SafetensorsHostile, OffsetsOutOfRange) {
  EXPECT_THAT(error_of(assemble(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(4, 'x'))),
              HasSubstr("out of range"));
  EXPECT_THAT(error_of(assemble(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", std::string(8, 'x'))),
              HasSubstr("two non-negative integers"));
  EXPECT_THAT(error_of(assemble(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", std::string(8, 'x'))),
              HasSubstr("expected [begin, end]"));
}

TEST(SafetensorsHostile, EndBeforeBegin) {
  EXPECT_THAT(error_of(assemble(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", std::string(8, 'x'))),
              HasSubstr("end is before its begin"));
}

TEST(SafetensorsHostile, OverlappingRanges) {
  const std::string message = error_of(assemble(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      std::string(12, 'x')));
  EXPECT_THAT(message, HasSubstr("overlaps"));
  EXPECT_THAT(message, HasSubstr("'b' [4, 12)"));
  // Two names for the same bytes are an overlap too.
  EXPECT_THAT(error_of(assemble(
                  R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                  std::string(8, 'x'))),
              HasSubstr("overlaps"));
}

TEST(SafetensorsHostile, GapBetweenRanges) {
  EXPECT_THAT(error_of(assemble(
                  R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                  std::string(12, 'x'))),
              HasSubstr("gap of 4 unclaimed bytes"));
  // The first tensor must start at 0.
  EXPECT_THAT(error_of(assemble(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, 'x'))),
              HasSubstr("gap"));
}

TEST(SafetensorsHostile, TrailingBytesAfterTheLastTensor) {
  EXPECT_THAT(error_of(assemble(std::string("{") + kGoodEntry + "}", std::string(9, 'x'))),
              HasSubstr("1 unclaimed bytes at the end"));
}

TEST(SafetensorsHostile, ShapeTimesDTypeDisagreesWithTheRange) {
  EXPECT_THAT(error_of(assemble(R"({"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", std::string(8, 'x'))),
              HasSubstr("= 16 bytes but data_offsets [0, 8] span 8 bytes"));
}

TEST(SafetensorsHostile, DuplicateNames) {
  EXPECT_THAT(error_of(assemble(std::string("{") + kGoodEntry + "," + kGoodEntry + "}", std::string(8, 'x'))),
              HasSubstr("has the name 'a' twice"));
  // Inside an entry too: which dtype would be meant?
  EXPECT_THAT(error_of(assemble(R"({"a":{"dtype":"F32","dtype":"I32","shape":[2],"data_offsets":[0,8]}})",
                                std::string(8, 'x'))),
              HasSubstr("'dtype' twice"));
}

TEST(SafetensorsHostile, NonStringMetadata) {
  EXPECT_THAT(error_of(assemble(R"({"__metadata__":{"epoch":3}})")),
              HasSubstr("metadata value of 'epoch' must be a string, got a JSON number"));
  EXPECT_THAT(error_of(assemble(R"({"__metadata__":["a"]})")), HasSubstr("must be an object of string values"));
}

TEST(SafetensorsHostile, DeeplyNestedHeader) {
  EXPECT_THAT(error_of(assemble("{\"a\":" + std::string(10000, '[') + std::string(10000, ']') + "}")),
              HasSubstr("levels deep"));
}

TEST(SafetensorsHostile, ControlCharactersInNamesKeepTheMessageOnOneLine) {
  const std::string message = error_of(assemble(R"({"a\nb":{"dtype":"X","shape":[],"data_offsets":[0,0]}})"));
  EXPECT_THAT(message, HasSubstr("a\\x0ab"));
}

}  // namespace
}  // namespace golgi::io
