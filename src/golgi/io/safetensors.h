// safetensors reading (memory-mapped) and writing (atomic). Torch-free.
//
// Format (https://huggingface.co/docs/safetensors): 8-byte little-endian u64 N, then N bytes of
// UTF-8 JSON {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
// "__metadata__": {"key": "value"}}, then the byte buffer; offsets are relative to the buffer.
//
// The reader validates everything a hostile file can get wrong, each with one clear golgi::Error
// naming the file and the problem: file shorter than 8 bytes, header length beyond the file,
// header not JSON or not an object, entry without dtype/shape/data_offsets, unknown dtype,
// negative or non-integer shape, offsets out of the buffer or end < begin, overlapping or
// unordered data ranges (gaps are also rejected, as the format requires), shape x dtype size !=
// byte range, duplicate names, non-string metadata values.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "golgi/io/dtype.h"

namespace golgi::io {

struct SafetensorsEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  size_t begin = 0;  // byte offset into the data buffer
  size_t end = 0;
};

class SafetensorsFile {
 public:
  // Memory-maps `path` and validates its header. Throws golgi::Error.
  static SafetensorsFile open(const std::string& path);
  // Parses an in-memory copy (used by tests and fuzzers). `source` names it in errors.
  static SafetensorsFile from_bytes(std::string bytes, const std::string& source = "<memory>");

  // Entries in data-offset order.
  const std::vector<SafetensorsEntry>& entries() const;
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const;
  // Throws golgi::Error listing the closest names when `name` is absent.
  const SafetensorsEntry& entry(const std::string& name) const;
  // A view into the mapping; valid while this object lives.
  TensorView view(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const;
  const std::string& source() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Writes `tensors` (in the given order) and `metadata` to `path` atomically. Throws golgi::Error
// on duplicate or empty names or a view whose nbytes disagrees with its shape and dtype.
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, TensorView>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace golgi::io
