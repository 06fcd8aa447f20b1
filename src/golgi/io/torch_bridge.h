// Conversions between golgi's torch-free tensor files and LibTorch tensors.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/io/dtype.h"

namespace golgi::io {

DType dtype_of(const at::Tensor& tensor);  // throws golgi::Error for unsupported scalar types
c10::ScalarType scalar_type_of(DType dtype);

// Copies a view into a new CPU tensor.
at::Tensor to_torch(const TensorView& view);
// A view of a contiguous CPU tensor's bytes; valid while `tensor` lives. Checks contiguity.
TensorView view_of(const at::Tensor& tensor);

// Named tensors <-> safetensors file. Order is preserved on write (map order = name order).
void save_tensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                  const std::map<std::string, std::string>& metadata = {});
std::vector<std::pair<std::string, at::Tensor>> load_tensors(const std::string& path,
                                                             std::map<std::string, std::string>* metadata = nullptr);

void save_npy(const std::string& path, const at::Tensor& tensor);
at::Tensor load_npy(const std::string& path);

}  // namespace golgi::io
