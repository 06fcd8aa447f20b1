// Helper for tests/xcheck/safetensors_npy_numpy.sh: golgi's side of the safetensors/NPY cross-check
// against numpy. Until the golgi CLI can write and dump tensor files, this small program does.
//
//   golgi_xcheck_write_samples write DIR   writes DIR/samples.safetensors (one tensor per dtype),
//                                          DIR/<DTYPE>.npy (one per numpy dtype) and
//                                          DIR/expected.json: {"<DTYPE>": {"shape": [...],
//                                          "values": [...]}}; non-finite floats as "nan", "inf", "-inf"
//   golgi_xcheck_write_samples dump FILE...  prints {"<FILE>": {"<name>": {"dtype", "shape",
//                                          "values"}}, ...}: the tensors of each .safetensors file
//                                          (plus "__metadata__"), or {"array": {...}} for a .npy file.
//                                          One process for many files, as each start loads LibTorch.
// Exit status 0 on success, 2 with a one-line message on golgi::Error.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "golgi/core/error.h"
#include "golgi/core/strings.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/npy.h"
#include "golgi/io/safetensors.h"

namespace {

using golgi::io::DType;
using golgi::io::RawTensor;
using golgi::io::TensorView;
using nlohmann::json;

// IEEE 754 binary16 -> double, written from the bit layout (1 sign, 5 exponent, 10 fraction bits)
// so that numpy's own decoding is an independent check of it.
double half_to_double(uint16_t bits) {
  const int sign = bits >> 15;
  const int exponent = (bits >> 10) & 0x1f;
  const int fraction = bits & 0x3ff;
  double magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(fraction, -24);  // subnormal: fraction * 2^-14 / 2^10
  } else if (exponent == 31) {
    magnitude = fraction ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else {
    magnitude = std::ldexp(1024 + fraction, exponent - 25);
  }
  return sign ? -magnitude : magnitude;
}

// bfloat16 is the top half of a float32.
double bf16_to_double(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, 4);
  return value;
}

json number(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return value;
}

// Element i of `view` as JSON: exact integers for integer types, doubles for floats.
json element(const TensorView& view, size_t i) {
  const uint8_t* p = view.data + i * golgi::io::dtype_size(view.dtype);
  auto load = [p](auto value) {
    std::memcpy(&value, p, sizeof value);
    return value;
  };
  switch (view.dtype) {
    case DType::F64: return number(load(double{}));
    case DType::F32: return number(load(float{}));
    case DType::F16: return number(half_to_double(load(uint16_t{})));
    case DType::BF16: return number(bf16_to_double(load(uint16_t{})));
    case DType::I64: return load(int64_t{});
    case DType::I32: return load(int32_t{});
    case DType::I16: return load(int16_t{});
    case DType::I8: return load(int8_t{});
    case DType::U8: return load(uint8_t{});
    case DType::BOOL: return p[0] != 0;
  }
  return nullptr;
}

json describe(const TensorView& view) {
  json values = json::array();
  const size_t n = golgi::io::element_count(view.shape);
  for (size_t i = 0; i < n; ++i) values.push_back(element(view, i));
  return {{"dtype", golgi::io::dtype_name(view.dtype)}, {"shape", view.shape}, {"values", values}};
}

template <typename T>
RawTensor make(DType dtype, std::vector<int64_t> shape, const std::vector<T>& values) {
  RawTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.data.resize(values.size() * sizeof(T));
  std::memcpy(t.data.data(), values.data(), t.data.size());
  GOLGI_ASSERT(golgi::io::element_count(t.shape) == values.size(), "sample shape and values disagree");
  return t;
}

// One deterministic tensor per dtype, covering extremes, negatives, NaN and infinities.
std::vector<RawTensor> samples() {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<RawTensor> out;
  out.push_back(make<double>(DType::F64, {2, 4},
                             {0.0, -1.5, 0.1, 1e300, -4.9406564584124654e-324, nan, inf, -inf}));
  out.push_back(make<float>(DType::F32, {2, 4},
                            {0.0f, -2.25f, 0.1f, 3.4028235e38f, 1.4e-45f, static_cast<float>(nan),
                             static_cast<float>(inf), static_cast<float>(-inf)}));
  // F16 and BF16 as bit patterns: 1, -2, max, smallest subnormal, -0, inf, -inf, NaN, 0.1-ish.
  out.push_back(make<uint16_t>(DType::F16, {3, 3},
                               {0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x2e66}));
  out.push_back(make<uint16_t>(DType::BF16, {3, 3},
                               {0x3f80, 0xc010, 0x7f7f, 0x0001, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0x3dcd}));
  out.push_back(make<int64_t>(DType::I64, {5},
                              {0, -1, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                               123456789012345}));
  out.push_back(make<int32_t>(DType::I32, {2, 2},
                              {std::numeric_limits<int32_t>::min(), -7, 7, std::numeric_limits<int32_t>::max()}));
  out.push_back(make<int16_t>(DType::I16, {4}, {-32768, -1, 258, 32767}));
  out.push_back(make<int8_t>(DType::I8, {4}, {-128, -1, 1, 127}));
  out.push_back(make<uint8_t>(DType::U8, {1, 4}, {0, 1, 128, 255}));
  out.push_back(make<uint8_t>(DType::BOOL, {2, 2}, {1, 0, 0, 1}));
  return out;
}

int write_samples(const std::string& dir) {
  golgi::io::make_dirs(dir);
  const std::vector<RawTensor> tensors = samples();
  std::vector<std::pair<std::string, TensorView>> named;
  json expected = json::object();
  for (const auto& t : tensors) {
    const std::string name = golgi::io::dtype_name(t.dtype);
    named.emplace_back(name, t.view());
    expected[name] = describe(t.view());
    if (t.dtype != DType::BF16) golgi::io::write_npy(dir + "/" + name + ".npy", t.view());
  }
  golgi::io::write_safetensors(dir + "/samples.safetensors", named, {{"writer", "golgi"}});
  golgi::io::write_file_atomic(dir + "/expected.json", expected.dump(1) + "\n");
  return 0;
}

json dump_one(const std::string& path) {
  json out = json::object();
  if (golgi::ends_with(path, ".npy")) {
    out["array"] = describe(golgi::io::read_npy(path).view());
  } else {
    const auto file = golgi::io::SafetensorsFile::open(path);
    for (const auto& entry : file.entries()) out[entry.name] = describe(file.view(entry.name));
    out["__metadata__"] = file.metadata();
  }
  return out;
}

int dump(const std::vector<std::string>& paths) {
  json out = json::object();
  for (const auto& path : paths) out[path] = dump_one(path);
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string usage = "usage: golgi_xcheck_write_samples write DIR | dump FILE...";
  if (argc < 3) {
    std::cerr << usage << "\n";
    return 2;
  }
  try {
    const std::string command = argv[1];
    if (command == "write" && argc == 3) return write_samples(argv[2]);
    if (command == "dump") return dump(std::vector<std::string>(argv + 2, argv + argc));
    std::cerr << usage << "\n";
    return 2;
  } catch (const golgi::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
}
