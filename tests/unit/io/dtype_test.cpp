#include "golgi/io/dtype.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "golgi/core/error.h"

namespace golgi::io {
namespace {

using ::testing::HasSubstr;

TEST(DType, SizesMatchTheFormatSpec) {
  EXPECT_EQ(dtype_size(DType::F64), 8u);
  EXPECT_EQ(dtype_size(DType::F32), 4u);
  EXPECT_EQ(dtype_size(DType::F16), 2u);
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_size(DType::I64), 8u);
  EXPECT_EQ(dtype_size(DType::I32), 4u);
  EXPECT_EQ(dtype_size(DType::I16), 2u);
  EXPECT_EQ(dtype_size(DType::I8), 1u);
  EXPECT_EQ(dtype_size(DType::U8), 1u);
  EXPECT_EQ(dtype_size(DType::BOOL), 1u);
}

TEST(DType, NamesRoundTripForEveryDType) {
  std::set<std::string> seen;
  for (DType dtype : all_dtypes()) {
    const std::string name = dtype_name(dtype);
    EXPECT_TRUE(seen.insert(name).second) << name;
    auto back = dtype_from_name(name);
    ASSERT_TRUE(back.has_value()) << name;
    EXPECT_EQ(*back, dtype);
  }
  EXPECT_EQ(all_dtypes().size(), 10u);
  EXPECT_STREQ(dtype_name(DType::BF16), "BF16");
  EXPECT_STREQ(dtype_name(DType::BOOL), "BOOL");
}

TEST(DType, UnknownNamesAreRejected) {
  EXPECT_FALSE(dtype_from_name("f32").has_value());  // safetensors spelling is upper case
  EXPECT_FALSE(dtype_from_name("U16").has_value());
  EXPECT_FALSE(dtype_from_name("").has_value());
  EXPECT_FALSE(dtype_from_name("F32 ").has_value());
}

TEST(DType, ElementCount) {
  EXPECT_EQ(element_count({}), 1u);  // a scalar
  EXPECT_EQ(element_count({0}), 0u);
  EXPECT_EQ(element_count({2, 3, 4}), 24u);
  // Zero elements, whatever the other dimensions, must not be reported as an overflow.
  EXPECT_EQ(element_count({int64_t{1} << 40, int64_t{1} << 40, 0}), 0u);
}

TEST(DType, ElementCountRejectsNegativeDimensions) {
  try {
    element_count({2, -1});
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("negative"));
    EXPECT_THAT(e.what(), HasSubstr("[2, -1]"));
  }
}

TEST(DType, ElementCountRejectsOverflow) {
  try {
    element_count({int64_t{1} << 40, int64_t{1} << 40});
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("64 bits"));
  }
}

TEST(DType, ShapeString) {
  EXPECT_EQ(shape_string({}), "[]");
  EXPECT_EQ(shape_string({3}), "[3]");
  EXPECT_EQ(shape_string({2, 3}), "[2, 3]");
}

TEST(DType, RawTensorViewBorrowsItsBytes) {
  RawTensor tensor;
  tensor.dtype = DType::I16;
  tensor.shape = {2};
  tensor.data = {1, 0, 2, 0};
  TensorView view = tensor.view();
  EXPECT_EQ(view.dtype, DType::I16);
  EXPECT_EQ(view.shape, tensor.shape);
  EXPECT_EQ(view.data, tensor.data.data());
  EXPECT_EQ(view.nbytes, 4u);
}

}  // namespace
}  // namespace golgi::io
