#include "golgi/io/torch_bridge.h"

#include <torch/torch.h>

#include <cstring>

#include "golgi/core/error.h"
#include "golgi/io/npy.h"
#include "golgi/io/safetensors.h"

namespace golgi::io {

DType dtype_of(const at::Tensor& tensor) {
  switch (tensor.scalar_type()) {
    case at::kDouble: return DType::F64;
    case at::kFloat: return DType::F32;
    case at::kHalf: return DType::F16;
    case at::kBFloat16: return DType::BF16;
    case at::kLong: return DType::I64;
    case at::kInt: return DType::I32;
    case at::kShort: return DType::I16;
    case at::kChar: return DType::I8;
    case at::kByte: return DType::U8;
    case at::kBool: return DType::BOOL;
    default:
      GOLGI_FAIL("tensors of type ", c10::toString(tensor.scalar_type()),
                 " cannot be stored; convert to one of float64, float32, float16, bfloat16, int64, int32, "
                 "int16, int8, uint8 or bool first");
  }
}

c10::ScalarType scalar_type_of(DType dtype) {
  switch (dtype) {
    case DType::F64: return at::kDouble;
    case DType::F32: return at::kFloat;
    case DType::F16: return at::kHalf;
    case DType::BF16: return at::kBFloat16;
    case DType::I64: return at::kLong;
    case DType::I32: return at::kInt;
    case DType::I16: return at::kShort;
    case DType::I8: return at::kChar;
    case DType::U8: return at::kByte;
    case DType::BOOL: return at::kBool;
  }
  GOLGI_ASSERT(false, "unknown DType ", static_cast<int>(dtype));
}

at::Tensor to_torch(const TensorView& view) {
  const size_t nbytes = byte_size(view.shape, view.dtype);
  GOLGI_CHECK(nbytes == view.nbytes, "cannot make a tensor of shape ", shape_string(view.shape), " x ",
              dtype_name(view.dtype), " = ", nbytes, " bytes from a view of ", view.nbytes, " bytes");
  at::Tensor out = torch::empty(view.shape, torch::TensorOptions().dtype(scalar_type_of(view.dtype)));
  if (nbytes == 0) return out;
  if (view.dtype == DType::BOOL) {
    // Files may hold any byte in a bool; LibTorch assumes 0 or 1, so normalise instead of copying.
    auto* dst = static_cast<uint8_t*>(out.data_ptr());
    for (size_t i = 0; i < nbytes; ++i) dst[i] = view.data[i] != 0;
  } else {
    // memcpy rather than from_blob: the view may be unaligned inside a memory mapping, and the
    // tensor must outlive the file it came from.
    std::memcpy(out.data_ptr(), view.data, nbytes);
  }
  return out;
}

TensorView view_of(const at::Tensor& tensor) {
  GOLGI_CHECK(tensor.defined(), "cannot view an undefined tensor");
  GOLGI_CHECK(tensor.device().is_cpu(), "cannot view a tensor on ", tensor.device().str(),
              "; move it to the CPU first");
  GOLGI_CHECK(tensor.is_contiguous(), "cannot view a non-contiguous tensor of shape ", tensor.sizes(),
              "; call .contiguous() first");
  TensorView view;
  view.dtype = dtype_of(tensor);
  view.shape.assign(tensor.sizes().begin(), tensor.sizes().end());
  view.data = static_cast<const uint8_t*>(tensor.data_ptr());
  view.nbytes = static_cast<size_t>(tensor.numel()) * tensor.element_size();
  return view;
}

namespace {
// A CPU, contiguous, non-autograd version of `tensor` whose bytes can be written as they are.
at::Tensor writable(const at::Tensor& tensor) {
  GOLGI_CHECK(tensor.defined(), "cannot save an undefined tensor");
  return tensor.detach().to(at::kCPU).contiguous();
}
}  // namespace

void save_tensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                  const std::map<std::string, std::string>& metadata) {
  // The converted tensors must stay alive until the file is written, as the views borrow them.
  std::vector<at::Tensor> keep;
  keep.reserve(tensors.size());
  std::vector<std::pair<std::string, TensorView>> views;
  views.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    try {
      keep.push_back(writable(tensor));
      views.emplace_back(name, view_of(keep.back()));
    } catch (const Error& e) {
      GOLGI_FAIL("cannot write '", path, "': tensor '", name, "': ", e.what());
    }
  }
  write_safetensors(path, views, metadata);
}

std::vector<std::pair<std::string, at::Tensor>> load_tensors(const std::string& path,
                                                             std::map<std::string, std::string>* metadata) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  std::vector<std::pair<std::string, at::Tensor>> out;
  out.reserve(file.entries().size());
  for (const auto& entry : file.entries()) out.emplace_back(entry.name, to_torch(file.view(entry.name)));
  if (metadata) *metadata = file.metadata();
  return out;
}

void save_npy(const std::string& path, const at::Tensor& tensor) {
  at::Tensor cpu;
  try {
    cpu = writable(tensor);
    write_npy(path, view_of(cpu));
  } catch (const Error& e) {
    const std::string message = e.what();
    // write_npy already names the path; conversions before it do not.
    if (message.find(path) != std::string::npos) throw;
    GOLGI_FAIL("cannot write '", path, "': ", message);
  }
}

at::Tensor load_npy(const std::string& path) { return to_torch(read_npy(path).view()); }

}  // namespace golgi::io
