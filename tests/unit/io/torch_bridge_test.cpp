#include "golgi/io/torch_bridge.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>

#include "golgi/core/error.h"
#include "golgi/io/npy.h"
#include "golgi/io/safetensors.h"

namespace golgi::io {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class TorchBridgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "golgi_bridge_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

// A deterministic tensor of every supported type, with negatives and (for floats) NaN and inf.
at::Tensor sample(c10::ScalarType type, std::vector<int64_t> shape = {3, 4}) {
  at::Tensor values = torch::linspace(-7.5, 9.25, c10::multiply_integers(shape), torch::kDouble).reshape(shape);
  if (type == at::kBool) return values.gt(0);
  at::Tensor out = values.to(type);
  if (at::isFloatingType(type) && out.numel() >= 3) {
    auto flat = out.view({-1});
    flat[0] = std::numeric_limits<double>::quiet_NaN();
    flat[1] = std::numeric_limits<double>::infinity();
    flat[2] = -std::numeric_limits<double>::infinity();
  }
  return out;
}

const std::vector<c10::ScalarType> kTypes = {at::kDouble, at::kFloat, at::kHalf, at::kBFloat16, at::kLong,
                                             at::kInt,    at::kShort, at::kChar, at::kByte,     at::kBool};

TEST(TorchBridge, DTypeMappingIsABijection) {
  ASSERT_EQ(kTypes.size(), all_dtypes().size());
  for (size_t i = 0; i < kTypes.size(); ++i) {
    const DType dtype = all_dtypes()[i];
    EXPECT_EQ(scalar_type_of(dtype), kTypes[i]) << dtype_name(dtype);
    EXPECT_EQ(dtype_of(torch::zeros({1}, kTypes[i])), dtype) << dtype_name(dtype);
    EXPECT_EQ(static_cast<size_t>(c10::elementSize(kTypes[i])), dtype_size(dtype)) << dtype_name(dtype);
  }
  EXPECT_EQ(scalar_type_of(DType::BOOL), at::kBool);
  EXPECT_EQ(scalar_type_of(DType::BF16), at::kBFloat16);
  EXPECT_EQ(scalar_type_of(DType::F16), at::kHalf);
}

TEST(TorchBridge, UnsupportedScalarTypeIsAClearError) {
  try {
    dtype_of(torch::zeros({1}, torch::kComplexFloat));
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("ComplexFloat"));
    EXPECT_THAT(e.what(), HasSubstr("convert"));
  }
}

TEST(TorchBridge, ToTorchCopiesTheBytes) {
  RawTensor raw;
  raw.dtype = DType::I16;
  raw.shape = {2, 2};
  raw.data = {1, 0, 0xff, 0xff, 0x00, 0x01, 0x10, 0x00};
  at::Tensor t = to_torch(raw.view());
  raw.data.assign(raw.data.size(), 0);  // the tensor owns its copy
  EXPECT_EQ(t.scalar_type(), at::kShort);
  EXPECT_EQ(t.sizes(), (std::vector<int64_t>{2, 2}));
  EXPECT_TRUE(torch::equal(t, torch::tensor({1, -1, 256, 16}, torch::kShort).reshape({2, 2})));
}

TEST(TorchBridge, ToTorchNormalisesBools) {
  RawTensor raw;
  raw.dtype = DType::BOOL;
  raw.shape = {3};
  raw.data = {0, 1, 7};
  at::Tensor t = to_torch(raw.view());
  EXPECT_TRUE(torch::equal(t, torch::tensor({false, true, true})));
  EXPECT_EQ(t.sum().item<int64_t>(), 2);
}

TEST(TorchBridge, ToTorchRejectsAViewOfTheWrongSize) {
  RawTensor raw;
  raw.dtype = DType::F32;
  raw.shape = {3};
  raw.data.resize(8);
  EXPECT_THROW(to_torch(raw.view()), Error);
}

TEST(TorchBridge, ViewOfBorrowsContiguousTensors) {
  at::Tensor t = torch::arange(6, torch::kInt).reshape({2, 3});
  TensorView view = view_of(t);
  EXPECT_EQ(view.dtype, DType::I32);
  EXPECT_EQ(view.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(view.data, t.data_ptr());
  EXPECT_EQ(view.nbytes, 24u);
  try {
    view_of(t.t());
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("non-contiguous"));
  }
  EXPECT_THROW(view_of(at::Tensor()), Error);
}

TEST_F(TorchBridgeTest, SafetensorsRoundTripOfEveryType) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (auto type : kTypes) tensors.emplace_back(std::string("t.") + c10::toString(type), sample(type));
  tensors.emplace_back("scalar", torch::tensor(3.5));
  tensors.emplace_back("empty", torch::zeros({0, 5}));
  tensors.emplace_back("transposed", sample(at::kFloat).t());  // saved through a contiguous copy
  tensors.emplace_back("grad", torch::ones({2}, torch::requires_grad()));
  const std::string path = dir_ + "/model.safetensors";
  save_tensors(path, tensors, {{"seed", "0"}});

  std::map<std::string, std::string> metadata;
  auto loaded = load_tensors(path, &metadata);
  EXPECT_EQ(metadata.at("seed"), "0");
  ASSERT_EQ(loaded.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(loaded[i].first, tensors[i].first);
    const at::Tensor& want = tensors[i].second;
    const at::Tensor& got = loaded[i].second;
    EXPECT_EQ(got.scalar_type(), want.scalar_type()) << tensors[i].first;
    EXPECT_EQ(got.sizes(), want.sizes()) << tensors[i].first;
    EXPECT_TRUE(torch::equal(got.isnan(), want.detach().isnan())) << tensors[i].first;
    // NaN != NaN, so compare with NaNs zeroed out on both sides.
    EXPECT_TRUE(torch::equal(torch::nan_to_num(got, 0), torch::nan_to_num(want.detach(), 0))) << tensors[i].first;
  }
}

TEST_F(TorchBridgeTest, NpyRoundTripOfEveryNumpyType) {
  for (auto type : kTypes) {
    if (type == at::kBFloat16) continue;
    at::Tensor t = sample(type, {2, 3, 2});
    const std::string path = dir_ + "/t.npy";
    save_npy(path, t);
    at::Tensor back = load_npy(path);
    EXPECT_EQ(back.scalar_type(), type);
    EXPECT_TRUE(torch::equal(torch::nan_to_num(back, 0), torch::nan_to_num(t, 0))) << c10::toString(type);
  }
}

TEST_F(TorchBridgeTest, SaveNpyOfBFloat16NamesThePath) {
  const std::string path = dir_ + "/bf.npy";
  try {
    save_npy(path, torch::zeros({2}, torch::kBFloat16));
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));
    EXPECT_THAT(e.what(), HasSubstr("BF16"));
  }
  try {
    save_npy(path, torch::zeros({2}, torch::kComplexDouble));
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));
  }
}

TEST_F(TorchBridgeTest, SaveTensorsNamesTheBadTensor) {
  try {
    save_tensors(dir_ + "/bad.safetensors", {{"ok", torch::zeros({1})}, {"bad", torch::zeros({1}, torch::kComplexFloat)}});
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("'bad'"));
    EXPECT_THAT(e.what(), HasSubstr("bad.safetensors"));
  }
  EXPECT_TRUE(fs::is_empty(dir_));
}

}  // namespace
}  // namespace golgi::io
