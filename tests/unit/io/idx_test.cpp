#include "golgi/io/idx.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "golgi/core/error.h"
#include "golgi/io/atomic_file.h"

namespace golgi::io {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// An IDX file: two zero bytes, the type code, the dimension count, big-endian u32 dimensions, then
// the big-endian payload given here already in file order.
std::string idx_bytes(uint8_t code, const std::vector<uint32_t>& dims, const std::string& payload) {
  std::string out = {0, 0, static_cast<char>(code), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((d >> shift) & 0xff);
  return out + payload;
}

// Big-endian bytes of `values`.
template <typename T>
std::string big_endian(const std::vector<T>& values) {
  std::string out;
  for (T v : values) {
    char bytes[sizeof(T)];
    std::memcpy(bytes, &v, sizeof(T));
    for (size_t b = sizeof(T); b-- > 0;) out += bytes[b];
  }
  return out;
}

template <typename T>
std::vector<T> values_of(const RawTensor& t) {
  std::vector<T> out(t.data.size() / sizeof(T));
  std::memcpy(out.data(), t.data.data(), t.data.size());
  return out;
}

RawTensor parse(const std::string& bytes) {
  return parse_idx(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "test.idx");
}

std::string error_of(const std::string& bytes) {
  try {
    parse(bytes);
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_THAT(message, HasSubstr("test.idx"));
    EXPECT_EQ(message.find('\n'), std::string::npos) << "messages are one line: " << message;
    return message;
  }
  ADD_FAILURE() << "expected golgi::Error";
  return "";
}

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "golgi_idx_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Compresses `content` into `path` with zlib's own gzip writer, as gzip(1) would.
  void write_gzip(const std::string& path, const std::string& content) {
    gzFile file = gzopen(path.c_str(), "wb9");
    ASSERT_NE(file, nullptr);
    ASSERT_EQ(gzwrite(file, content.data(), static_cast<unsigned>(content.size())), static_cast<int>(content.size()));
    ASSERT_EQ(gzclose(file), Z_OK);
  }
  std::string dir_;
};

TEST_F(IdxTest, RawUnsignedBytes) {
  const std::string path = dir_ + "/raw-images-idx3-ubyte";
  std::string payload;
  for (int i = 0; i < 2 * 3 * 4; ++i) payload += static_cast<char>(i * 10);
  write_file_atomic(path, idx_bytes(0x08, {2, 3, 4}, payload));
  RawTensor t = read_idx(path);
  EXPECT_EQ(t.dtype, DType::U8);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 3, 4}));
  ASSERT_EQ(t.data.size(), 24u);
  EXPECT_EQ(t.data[23], 230);
}

TEST_F(IdxTest, GzippedIsDetectedByMagicNotName) {
  const std::string content = idx_bytes(0x0B, {3}, big_endian<int16_t>({-2, 258, 32767}));
  const std::string path = dir_ + "/no-gz-suffix.idx";
  write_gzip(path, content);
  ASSERT_NE(read_file(path), content);  // really compressed
  RawTensor t = read_idx(path);
  EXPECT_EQ(t.dtype, DType::I16);
  EXPECT_EQ(values_of<int16_t>(t), (std::vector<int16_t>{-2, 258, 32767}));
}

TEST_F(IdxTest, EveryTypeCodeIsConvertedToLittleEndian) {
  EXPECT_EQ(values_of<int8_t>(parse(idx_bytes(0x09, {2}, "\xff\x05"))), (std::vector<int8_t>{-1, 5}));
  RawTensor i32 = parse(idx_bytes(0x0C, {2}, big_endian<int32_t>({-100000, 0x01020304})));
  EXPECT_EQ(i32.dtype, DType::I32);
  EXPECT_EQ(values_of<int32_t>(i32), (std::vector<int32_t>{-100000, 0x01020304}));
  RawTensor f32 = parse(idx_bytes(0x0D, {1, 2}, big_endian<float>({1.5f, -0.125f})));
  EXPECT_EQ(f32.dtype, DType::F32);
  EXPECT_EQ(f32.shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(values_of<float>(f32), (std::vector<float>{1.5f, -0.125f}));
  RawTensor f64 = parse(idx_bytes(0x0E, {1}, big_endian<double>({-3.25})));
  EXPECT_EQ(f64.dtype, DType::F64);
  EXPECT_EQ(values_of<double>(f64), std::vector<double>{-3.25});
  // Known bytes, independent of the helper: 0x0102 big-endian is 258.
  EXPECT_EQ(values_of<int16_t>(parse(std::string("\0\0\x0b\x01\0\0\0\x01\x01\x02", 10))), std::vector<int16_t>{258});
}

TEST_F(IdxTest, ConcatenatedGzipMembersAreOneFile) {
  const std::string content = idx_bytes(0x08, {4}, "abcd");
  write_gzip(dir_ + "/a.gz", content.substr(0, 6));
  write_gzip(dir_ + "/b.gz", content.substr(6));
  const std::string joined = read_file(dir_ + "/a.gz") + read_file(dir_ + "/b.gz");
  EXPECT_EQ(parse(joined).data, (std::vector<uint8_t>{'a', 'b', 'c', 'd'}));
}

TEST_F(IdxTest, TruncatedGzip) {
  std::string payload(5000, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * i % 251);
  write_gzip(dir_ + "/t.gz", idx_bytes(0x08, {5000}, payload));
  const std::string gz = read_file(dir_ + "/t.gz");
  EXPECT_THAT(error_of(gz.substr(0, gz.size() / 2)), HasSubstr("truncated gzip"));
  // Without the 8-byte CRC and length trailer the data is complete but unverified: still refused.
  EXPECT_THAT(error_of(gz.substr(0, gz.size() - 4)), HasSubstr("truncated gzip"));
}

TEST_F(IdxTest, CorruptGzip) {
  write_gzip(dir_ + "/c.gz", idx_bytes(0x08, {64}, std::string(64, 'x')));
  std::string gz = read_file(dir_ + "/c.gz");
  gz[gz.size() - 6] ^= 0x55;  // inside the CRC32
  EXPECT_THAT(error_of(gz), HasSubstr("corrupt gzip"));
  EXPECT_THAT(error_of(std::string("\x1f\x8b\x08\x00garbage", 11)), HasSubstr("gzip"));
}

TEST(IdxHostile, TruncatedMagic) { EXPECT_THAT(error_of(std::string("\0\0\x08", 3)), HasSubstr("3 bytes")); }

TEST(IdxHostile, BadMagic) { EXPECT_THAT(error_of("P5\n28 28\n"), HasSubstr("not an IDX file")); }

TEST(IdxHostile, UnknownTypeCode) {
  EXPECT_THAT(error_of(idx_bytes(0x0A, {1}, "x")), HasSubstr("unsupported IDX type code 0xa"));
}

TEST(IdxHostile, TruncatedDimensions) {
  EXPECT_THAT(error_of(idx_bytes(0x08, {2, 3}, "").substr(0, 9)), HasSubstr("2 dimensions need a 12-byte header"));
}

TEST(IdxHostile, TruncatedPayload) {
  EXPECT_THAT(error_of(idx_bytes(0x0C, {2, 2}, std::string(15, 'x'))), HasSubstr("needs 16 data bytes but only 15"));
}

TEST(IdxHostile, TrailingBytes) {
  EXPECT_THAT(error_of(idx_bytes(0x08, {2}, "abc")), HasSubstr("1 unexpected bytes"));
}

TEST(IdxHostile, HugeDeclaredShapeIsRefusedWithoutAllocating) {
  EXPECT_THAT(error_of(idx_bytes(0x0E, {0xffffffff, 0xffffffff, 0xffffffff}, "")), HasSubstr("64 bits"));
  EXPECT_THAT(error_of(idx_bytes(0x0E, {0xffffffff, 0xffffffff}, "")), HasSubstr("too large"));
  EXPECT_THAT(error_of(idx_bytes(0x08, {0xffffffff, 0xffffffff}, "")), HasSubstr("needs"));
}

TEST(IdxFashionMnist, TestLabelsAndImages) {
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  if (!file_exists(dir + "t10k-labels-idx1-ubyte.gz")) GTEST_SKIP() << "Fashion-MNIST is not installed in " << dir;
  RawTensor labels = read_idx(dir + "t10k-labels-idx1-ubyte.gz");
  EXPECT_EQ(labels.dtype, DType::U8);
  EXPECT_EQ(labels.shape, std::vector<int64_t>{10000});
  ASSERT_EQ(labels.data.size(), 10000u);
  std::vector<int> counts(10, 0);
  for (uint8_t label : labels.data) {
    ASSERT_LE(label, 9);
    ++counts[label];
  }
  // The test split is balanced: 1000 images per class.
  for (int c = 0; c < 10; ++c) EXPECT_EQ(counts[c], 1000) << "class " << c;

  RawTensor images = read_idx(dir + "t10k-images-idx3-ubyte.gz");
  EXPECT_EQ(images.dtype, DType::U8);
  EXPECT_EQ(images.shape, (std::vector<int64_t>{10000, 28, 28}));
  ASSERT_EQ(images.data.size(), 10000u * 28 * 28);
  // Real images: mostly black background, some full-intensity pixels.
  uint8_t max_pixel = 0;
  for (uint8_t p : images.data) max_pixel = std::max(max_pixel, p);
  EXPECT_EQ(max_pixel, 255);
}

}  // namespace
}  // namespace golgi::io
