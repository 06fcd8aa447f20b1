#include "golgi/io/npy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "golgi/core/error.h"
#include "golgi/io/atomic_file.h"

namespace golgi::io {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// An NPY file built by hand: magic, version, little-endian header length, header, payload.
std::string npy_bytes(int major, const std::string& header, const std::string& payload, int minor = 0) {
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += static_cast<char>(minor);
  const size_t length_bytes = major == 1 ? 2 : 4;
  for (size_t i = 0; i < length_bytes; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + payload;
}

RawTensor parse(const std::string& bytes) {
  return parse_npy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "test.npy");
}

// The error message parse_npy gives for `bytes`; fails the test if nothing is thrown.
std::string error_of(const std::string& bytes) {
  try {
    parse(bytes);
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_THAT(message, HasSubstr("test.npy"));
    EXPECT_EQ(message.find('\n'), std::string::npos) << "messages are one line: " << message;
    return message;
  }
  ADD_FAILURE() << "expected golgi::Error";
  return "";
}

std::string header_for(const std::string& descr, const std::string& shape, bool fortran = false) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape +
         ", }";
}

template <typename T>
std::string payload_of(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

template <typename T>
std::vector<T> values_of(const RawTensor& t) {
  std::vector<T> out(t.data.size() / sizeof(T));
  std::memcpy(out.data(), t.data.data(), t.data.size());
  return out;
}

RawTensor sample(DType dtype, std::vector<int64_t> shape) {
  RawTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.data.resize(element_count(t.shape) * dtype_size(dtype));
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = static_cast<uint8_t>(i * 37 + 11);
  if (dtype == DType::BOOL)
    for (auto& b : t.data) b &= 1;
  if (dtype == DType::F32 && t.data.size() >= 8) {
    const float special[2] = {NAN, -INFINITY};
    std::memcpy(t.data.data(), special, 8);
  }
  return t;
}

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "golgi_npy_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(NpyTest, RoundTripsEveryNumpyDType) {
  for (DType dtype : all_dtypes()) {
    if (dtype == DType::BF16) continue;
    for (const auto& shape : std::vector<std::vector<int64_t>>{{}, {0}, {5}, {2, 3}, {2, 1, 3}}) {
      RawTensor t = sample(dtype, shape);
      const std::string path = dir_ + "/" + dtype_name(dtype) + ".npy";
      write_npy(path, t.view());
      RawTensor back = read_npy(path);
      EXPECT_EQ(back.dtype, dtype) << dtype_name(dtype);
      EXPECT_EQ(back.shape, shape) << dtype_name(dtype) << " " << shape_string(shape);
      EXPECT_EQ(back.data, t.data) << dtype_name(dtype) << " " << shape_string(shape);
    }
  }
}

TEST_F(NpyTest, DescrsAreNumpys) {
  EXPECT_EQ(npy_descr(DType::F64), "<f8");
  EXPECT_EQ(npy_descr(DType::F32), "<f4");
  EXPECT_EQ(npy_descr(DType::F16), "<f2");
  EXPECT_EQ(npy_descr(DType::I64), "<i8");
  EXPECT_EQ(npy_descr(DType::I32), "<i4");
  EXPECT_EQ(npy_descr(DType::I16), "<i2");
  EXPECT_EQ(npy_descr(DType::I8), "|i1");
  EXPECT_EQ(npy_descr(DType::U8), "|u1");
  EXPECT_EQ(npy_descr(DType::BOOL), "|b1");
  try {
    npy_descr(DType::BF16);
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("BF16 has no numpy dtype"));
  }
}

TEST_F(NpyTest, WritingBF16IsAClearErrorNamingThePath) {
  RawTensor t = sample(DType::BF16, {2});
  const std::string path = dir_ + "/bf16.npy";
  try {
    write_npy(path, t.view());
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));
    EXPECT_THAT(e.what(), HasSubstr("convert the tensor to F32"));
  }
  EXPECT_FALSE(file_exists(path));
}

TEST_F(NpyTest, EncodedHeaderIsAlignedAndExact) {
  RawTensor t = sample(DType::F32, {2, 3});
  const std::string bytes = encode_npy(t.view());
  ASSERT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t header_size = static_cast<uint8_t>(bytes[8]) | static_cast<uint8_t>(bytes[9]) << 8;
  EXPECT_EQ((10 + header_size) % 64, 0u);
  const std::string header = bytes.substr(10, header_size);
  EXPECT_EQ(header.back(), '\n');
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  EXPECT_EQ(header.substr(0, dict.size()), dict);
  EXPECT_EQ(header.find_first_not_of(' ', dict.size()), header.size() - 1);
  EXPECT_EQ(bytes.size(), 10 + header_size + 24);
  EXPECT_EQ(bytes.substr(10 + header_size), std::string(t.data.begin(), t.data.end()));
  // Tuples: () for a scalar, (n,) for one dimension.
  EXPECT_THAT(encode_npy(sample(DType::U8, {}).view()), HasSubstr("'shape': (), }"));
  EXPECT_THAT(encode_npy(sample(DType::U8, {7}).view()), HasSubstr("'shape': (7,), }"));
}

TEST_F(NpyTest, VeryLongHeadersUseVersionTwo) {
  // A shape of 30000 ones needs a header longer than a u16 can count.
  RawTensor t = sample(DType::U8, std::vector<int64_t>(30000, 1));
  const std::string bytes = encode_npy(t.view());
  EXPECT_EQ(bytes[6], 2);
  const uint32_t header_size = static_cast<uint8_t>(bytes[8]) | static_cast<uint8_t>(bytes[9]) << 8 |
                               static_cast<uint8_t>(bytes[10]) << 16 | static_cast<uint32_t>(static_cast<uint8_t>(bytes[11])) << 24;
  EXPECT_EQ((12 + header_size) % 64, 0u);
  RawTensor back = parse(bytes);
  EXPECT_EQ(back.shape.size(), 30000u);
  EXPECT_EQ(back.data, t.data);
}

// Headers written by hand, as numpy 1.0 and 2.0 files lay them out.
TEST(NpyKnownBytes, VersionOneHeader) {
  std::string header = header_for("<i2", "(3,)");
  header += std::string(128 - 10 - header.size() - 1, ' ') + "\n";
  RawTensor t = parse(npy_bytes(1, header, payload_of<int16_t>({-1, 2, 300})));
  EXPECT_EQ(t.dtype, DType::I16);
  EXPECT_EQ(t.shape, std::vector<int64_t>{3});
  EXPECT_EQ(values_of<int16_t>(t), (std::vector<int16_t>{-1, 2, 300}));
}

TEST(NpyKnownBytes, VersionTwoHeader) {
  std::string header = header_for("<f8", "(2, 1)");
  header += std::string(128 - 12 - header.size() - 1, ' ') + "\n";
  RawTensor t = parse(npy_bytes(2, header, payload_of<double>({1.5, -0.25})));
  EXPECT_EQ(t.dtype, DType::F64);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(values_of<double>(t), (std::vector<double>{1.5, -0.25}));
}

TEST(NpyKnownBytes, VersionThreeHeader) {
  RawTensor t = parse(npy_bytes(3, header_for("|u1", "(2,)") + "\n", "\x07\xff"));
  EXPECT_EQ(t.dtype, DType::U8);
  EXPECT_EQ(values_of<uint8_t>(t), (std::vector<uint8_t>{7, 255}));
}

TEST(NpyKnownBytes, ScalarShape) {
  RawTensor t = parse(npy_bytes(1, header_for("<i8", "()") + "\n", payload_of<int64_t>({-42})));
  EXPECT_TRUE(t.shape.empty());
  EXPECT_EQ(values_of<int64_t>(t), std::vector<int64_t>{-42});
}

TEST(NpyKnownBytes, LenientButValidSpellings) {
  // Other key order, double quotes, no trailing comma, Python 2 long suffix, a 1-byte type with
  // another byte-order character.
  RawTensor t = parse(npy_bytes(1, "{\"shape\": (2L, 2L), \"fortran_order\": False, \"descr\": \">i1\"}\n", "\x01\x02\x03\xfd"));
  EXPECT_EQ(t.dtype, DType::I8);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(values_of<int8_t>(t), (std::vector<int8_t>{1, 2, 3, -3}));
  EXPECT_EQ(parse(npy_bytes(1, header_for("|b1", "(1,)"), "\x01")).dtype, DType::BOOL);
  EXPECT_EQ(parse(npy_bytes(1, header_for("<f2", "(1,)"), std::string("\x00\x3c", 2))).dtype, DType::F16);
}

TEST(NpyFortranOrder, TwoDimensionsAreTransposedToCOrder) {
  // numpy.asfortranarray([[0, 1, 2], [3, 4, 5]]) stores its columns one after another.
  RawTensor t = parse(npy_bytes(1, header_for("<i4", "(2, 3)", true), payload_of<int32_t>({0, 3, 1, 4, 2, 5})));
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(values_of<int32_t>(t), (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));
}

TEST(NpyFortranOrder, ThreeDimensionsMatchTheIndexFormula) {
  const int64_t d0 = 2, d1 = 3, d2 = 4;
  // Element (i, j, k) has value 100 i + 10 j + k; in Fortran order it lives at i + d0 (j + d1 k).
  std::vector<int32_t> fortran(d0 * d1 * d2);
  for (int64_t i = 0; i < d0; ++i)
    for (int64_t j = 0; j < d1; ++j)
      for (int64_t k = 0; k < d2; ++k) fortran[i + d0 * (j + d1 * k)] = static_cast<int32_t>(100 * i + 10 * j + k);
  RawTensor t = parse(npy_bytes(1, header_for("<i4", "(2, 3, 4)", true), payload_of(fortran)));
  std::vector<int32_t> c = values_of<int32_t>(t);
  for (int64_t i = 0; i < d0; ++i)
    for (int64_t j = 0; j < d1; ++j)
      for (int64_t k = 0; k < d2; ++k) EXPECT_EQ(c[(i * d1 + j) * d2 + k], 100 * i + 10 * j + k);
}

TEST(NpyFortranOrder, OneDimensionAndEmptyAreUnchanged) {
  EXPECT_EQ(values_of<int16_t>(parse(npy_bytes(1, header_for("<i2", "(3,)", true), payload_of<int16_t>({1, 2, 3})))),
            (std::vector<int16_t>{1, 2, 3}));
  EXPECT_TRUE(parse(npy_bytes(1, header_for("<i2", "(0, 3)", true), "")).data.empty());
}

// ---- Hostile files ----

TEST(NpyHostile, BadMagic) {
  EXPECT_THAT(error_of("PK\x03\x04 not numpy at all"), HasSubstr("not an NPY file"));
  EXPECT_THAT(error_of(""), HasSubstr("magic"));
}

TEST(NpyHostile, TruncatedHeader) {
  EXPECT_THAT(error_of(std::string("\x93NUMPY\x01", 7)), HasSubstr("truncated"));
  EXPECT_THAT(error_of(std::string("\x93NUMPY\x02\x00\x10\x00", 10)), HasSubstr("header length"));
  std::string bytes = npy_bytes(1, header_for("<f4", "(1,)"), "1234");
  EXPECT_THAT(error_of(bytes.substr(0, 30)), HasSubstr("the header claims"));
}

TEST(NpyHostile, UnsupportedVersion) {
  EXPECT_THAT(error_of(npy_bytes(4, header_for("<f4", "(1,)"), "1234")), HasSubstr("unsupported NPY format version 4.0"));
  EXPECT_THAT(error_of(npy_bytes(1, header_for("<f4", "(1,)"), "1234", 1)), HasSubstr("version 1.1"));
}

TEST(NpyHostile, BadDict) {
  EXPECT_THAT(error_of(npy_bytes(1, "not a dict", "")), HasSubstr("must start with '{'"));
  EXPECT_THAT(error_of(npy_bytes(1, "{'descr': '<f4', 'shape': (1,)}", "1234")), HasSubstr("no 'fortran_order' key"));
  EXPECT_THAT(error_of(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': True}", "1234")),
              HasSubstr("exactly the keys"));
  EXPECT_THAT(error_of(npy_bytes(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "1234")),
              HasSubstr("appears twice"));
  EXPECT_THAT(error_of(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", "1234")),
              HasSubstr("expected ',' or '}'"));
  EXPECT_THAT(error_of(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk", "1234")),
              HasSubstr("after the closing '}'"));
  EXPECT_THAT(error_of(npy_bytes(1, header_for("<f4", "(4)"), "1234")), HasSubstr("not a tuple"));
  EXPECT_THAT(error_of(npy_bytes(1, header_for("<f4", "(-1,)"), "1234")), HasSubstr("negative"));
  EXPECT_THAT(error_of(npy_bytes(1, header_for("<f4", "(1, x)"), "1234")), HasSubstr("non-negative integer"));
  EXPECT_THAT(error_of(npy_bytes(1, header_for("<f4", "(99999999999999999999,)"), "1234")), HasSubstr("too large"));
  EXPECT_THAT(error_of(npy_bytes(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", "1234")),
              HasSubstr("unsupported value for key 'fortran_order'"));
  EXPECT_THAT(error_of(npy_bytes(1, "{'descr': '<f4', 'fortran_order': 'no', 'shape': (1,)}", "1234")),
              HasSubstr("'fortran_order' must be True or False"));
  EXPECT_THAT(error_of(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': 'x'}", "1234")),
              HasSubstr("'shape' must be a tuple"));
  EXPECT_THAT(error_of(npy_bytes(1, "{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", "1234")),
              HasSubstr("corrupt NPY header"));
  EXPECT_THAT(error_of(npy_bytes(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", "1234")),
              HasSubstr("structured dtypes are not supported"));
}

TEST(NpyHostile, UnknownDescr) {
  const std::string message = error_of(npy_bytes(1, header_for("<u2", "(1,)"), "12"));
  EXPECT_THAT(message, HasSubstr("unsupported NPY descr '<u2'"));
  EXPECT_THAT(message, HasSubstr("'<f4'"));  // lists what is supported
  EXPECT_THAT(error_of(npy_bytes(1, header_for("<c8", "(1,)"), "12345678")), HasSubstr("'<c8'"));
  EXPECT_THAT(error_of(npy_bytes(1, header_for("|O", "(1,)"), "12345678")), HasSubstr("'|O'"));
}

TEST(NpyHostile, BigEndian) {
  const std::string message = error_of(npy_bytes(1, header_for(">f4", "(1,)"), "1234"));
  EXPECT_THAT(message, HasSubstr("big-endian"));
  EXPECT_THAT(message, HasSubstr("astype('<f4')"));
  EXPECT_THAT(error_of(npy_bytes(1, header_for(">i8", "(1,)"), "12345678")), HasSubstr("big-endian"));
}

TEST(NpyHostile, PayloadTooShort) {
  EXPECT_THAT(error_of(npy_bytes(1, header_for("<f4", "(2, 2)"), std::string(15, 'x'))),
              HasSubstr("needs 16 data bytes but only 15 are present"));
}

TEST(NpyHostile, PayloadTooLong) {
  EXPECT_THAT(error_of(npy_bytes(1, header_for("<f4", "(2, 2)"), std::string(17, 'x'))),
              HasSubstr("1 unexpected bytes after the data"));
}

TEST(NpyHostile, ShapeOverflow) {
  EXPECT_THAT(error_of(npy_bytes(1, header_for("<f8", "(4294967296, 4294967296)"), "")), HasSubstr("64 bits"));
  EXPECT_THAT(error_of(npy_bytes(1, header_for("<f8", "(4611686018427387904,)"), "")), HasSubstr("too large"));
}

TEST_F(NpyTest, ReadNpyNamesTheMissingPath) {
  const std::string path = dir_ + "/missing.npy";
  try {
    read_npy(path);
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));
  }
}

}  // namespace
}  // namespace golgi::io
