#include "golgi/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "golgi/core/error.h"
#include "golgi/core/strings.h"
#include "golgi/io/atomic_file.h"

namespace golgi::io {

namespace {

// Headers of real checkpoints are a few hundred KB; anything near this is hostile or corrupt and
// would otherwise make us allocate the JSON DOM for it. The reference implementation uses 100 MB too.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr int kMaxHeaderDepth = 32;
constexpr const char* kMetadataKey = "__metadata__";

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

std::string supported_dtype_list() {
  std::vector<std::string> names;
  for (DType dtype : all_dtypes()) names.emplace_back(dtype_name(dtype));
  return join(names, ", ");
}

// JSON text of a value for an error message, cut short so that one hostile value cannot flood it.
std::string brief(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

// Text from the file made safe for a one-line error message: control characters escaped, and cut
// short so that one hostile value cannot flood the message.
std::string one_line(std::string_view text, size_t limit) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > limit) out += "...";
  return out;
}

std::string quote_name(std::string_view name) { return "'" + one_line(name, 100) + "'"; }

}  // namespace

struct SafetensorsFile::Impl {
  std::string source;
  std::vector<SafetensorsEntry> entries;
  std::unordered_map<std::string, size_t> index;  // name -> position in entries
  std::map<std::string, std::string> metadata;
  // Exactly one of these holds the bytes: an owned copy (from_bytes) or a read-only mapping (open).
  std::string owned;
  void* mapping = nullptr;
  size_t mapping_size = 0;
  const uint8_t* buffer = nullptr;  // start of the data buffer, after the header
  size_t buffer_size = 0;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (mapping) ::munmap(mapping, mapping_size);
  }

  void parse(const uint8_t* data, size_t size);
  void parse_entry(const std::string& name, const nlohmann::json& value);
  void check_layout();
};

void SafetensorsFile::Impl::parse(const uint8_t* data, size_t size) {
  const std::string& src = source;
  GOLGI_CHECK(size >= 8, src, ": not a safetensors file: it has ", size,
              " bytes, fewer than the 8-byte header length that starts every safetensors file");
  const uint64_t header_size = read_u64_le(data);
  GOLGI_CHECK(header_size <= kMaxHeaderBytes, src, ": safetensors header of ",
              format_bytes(static_cast<double>(header_size)), " exceeds the limit of ",
              format_bytes(static_cast<double>(kMaxHeaderBytes)), "; the file is corrupt or not a safetensors file");
  GOLGI_CHECK(header_size <= size - 8, src, ": corrupt safetensors file: the header length is ",
              header_size, " bytes but only ", size - 8,
              " bytes follow it (truncated download, or not a safetensors file?)");
  const char* header_begin = reinterpret_cast<const char*>(data + 8);
  const char* header_end = header_begin + header_size;
  buffer = data + 8 + header_size;
  buffer_size = size - 8 - static_cast<size_t>(header_size);

  // nlohmann keeps the last of two equal keys; a duplicate tensor name would then silently hide a
  // tensor, so the parser callback records every object's keys and reports the first repeat.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto on_event = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    // A valid header nests three deep ({name: {shape: [...]}}); deep nesting only costs memory.
    GOLGI_CHECK(depth <= kMaxHeaderDepth, src, ": corrupt safetensors file: the header nests JSON more than ",
                kMaxHeaderDepth, " levels deep");
    if (event == Event::object_start) {
      open_objects.emplace_back();
    } else if (event == Event::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == Event::key && !open_objects.empty() && parsed.is_string()) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_begin, header_end, on_event);
  } catch (const nlohmann::json::exception& e) {
    GOLGI_FAIL(src, ": corrupt safetensors file: the ", header_size,
               "-byte header is not valid JSON (", one_line(e.what(), 300), ")");
  }
  GOLGI_CHECK(duplicate.empty(), src, ": corrupt safetensors file: the header has the name ",
              quote_name(duplicate), " twice; names must be unique");
  GOLGI_CHECK(header.is_object(), src, ": corrupt safetensors file: the header must be a JSON object ",
              "of tensors, got a JSON ", header.type_name());

  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      GOLGI_CHECK(value.is_object(), src, ": corrupt safetensors file: '", kMetadataKey,
                  "' must be an object of string values, got a JSON ", value.type_name());
      for (const auto& [key, text] : value.items()) {
        GOLGI_CHECK(text.is_string(), src, ": corrupt safetensors file: metadata value of ", quote_name(key),
                    " must be a string, got a JSON ", text.type_name(), " ", brief(text),
                    " (the format allows only string metadata)");
        metadata.emplace(key, text.get<std::string>());
      }
      continue;
    }
    parse_entry(name, value);
  }
  check_layout();
  for (size_t i = 0; i < entries.size(); ++i) index.emplace(entries[i].name, i);
}

void SafetensorsFile::Impl::parse_entry(const std::string& name, const nlohmann::json& value) {
  const std::string& src = source;
  const std::string where = src + ": corrupt safetensors file: tensor " + quote_name(name);
  GOLGI_CHECK(value.is_object(), where, " must be an object with dtype, shape and data_offsets, got a JSON ",
              value.type_name());
  for (const char* field : {"dtype", "shape", "data_offsets"})
    GOLGI_CHECK(value.contains(field), where, " has no '", field,
                "' (each tensor needs dtype, shape and data_offsets)");

  SafetensorsEntry entry;
  entry.name = name;
  const auto& dtype_value = value["dtype"];
  GOLGI_CHECK(dtype_value.is_string(), where, " has a non-string dtype ", brief(dtype_value));
  const auto& dtype_text = dtype_value.get_ref<const std::string&>();
  auto dtype = dtype_from_name(dtype_text);
  if (!dtype) {
    std::vector<std::string> known;
    for (DType d : all_dtypes()) known.emplace_back(dtype_name(d));
    const std::string hint = did_you_mean(dtype_text, known);
    GOLGI_FAIL(src, ": tensor ", quote_name(name), " has dtype ", quote_name(dtype_text), ", which golgi does not support",
               hint.empty() ? "" : "; " + hint, " (supported: ", supported_dtype_list(), ")");
  }
  entry.dtype = *dtype;

  const auto& shape = value["shape"];
  GOLGI_CHECK(shape.is_array(), where, " has shape ", brief(shape), ", expected a list of integers");
  for (const auto& dim : shape) {
    GOLGI_CHECK(dim.is_number_integer(), where, " has shape ", brief(shape),
                " with a non-integer dimension ", brief(dim));
    if (dim.is_number_unsigned()) {
      GOLGI_CHECK(dim.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                  where, " has shape ", brief(shape), " with a dimension too large for int64");
    } else {
      GOLGI_CHECK(dim.get<int64_t>() >= 0, where, " has shape ", brief(shape),
                  " with a negative dimension ", dim.get<int64_t>());
    }
    entry.shape.push_back(dim.get<int64_t>());
  }

  const auto& offsets = value["data_offsets"];
  GOLGI_CHECK(offsets.is_array() && offsets.size() == 2, where, " has data_offsets ", brief(offsets),
              ", expected [begin, end]");
  for (const auto& offset : offsets)
    GOLGI_CHECK(offset.is_number_unsigned(), where, " has data_offsets ", brief(offsets),
                ", expected two non-negative integers");
  const uint64_t begin = offsets[0].get<uint64_t>();
  const uint64_t end = offsets[1].get<uint64_t>();
  GOLGI_CHECK(begin <= end, where, " has data_offsets [", begin, ", ", end, "] whose end is before its begin");
  GOLGI_CHECK(end <= buffer_size, where, " has data_offsets [", begin, ", ", end,
              "] out of range: the data buffer has only ", buffer_size, " bytes (truncated file?)");
  entry.begin = static_cast<size_t>(begin);
  entry.end = static_cast<size_t>(end);

  size_t nbytes = 0;
  try {
    nbytes = byte_size(entry.shape, entry.dtype);
  } catch (const Error& e) {
    GOLGI_FAIL(where, ": ", e.what());
  }
  GOLGI_CHECK(nbytes == entry.end - entry.begin, where, " has shape ", shape_string(entry.shape), " x ",
              dtype_name(entry.dtype), " = ", nbytes, " bytes but data_offsets [", begin, ", ", end,
              "] span ", end - begin, " bytes");
  entries.push_back(std::move(entry));
}

// The format requires the tensors to tile the data buffer exactly: no byte shared (a write to one
// tensor would change another) and no byte unclaimed (room for smuggled content).
void SafetensorsFile::Impl::check_layout() {
  std::stable_sort(entries.begin(), entries.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const std::string where = source + ": corrupt safetensors file: ";
  size_t expected = 0;
  const SafetensorsEntry* previous = nullptr;
  for (const auto& entry : entries) {
    if (entry.begin < expected)
      GOLGI_FAIL(where, "the data of tensor ", quote_name(entry.name), " [", entry.begin, ", ", entry.end,
                 ") overlaps tensor ", quote_name(previous->name), " [", previous->begin, ", ", previous->end, ")");
    if (entry.begin > expected)
      GOLGI_FAIL(where, "gap of ", entry.begin - expected, " unclaimed bytes in the data buffer at [",
                 expected, ", ", entry.begin, ") before tensor ", quote_name(entry.name),
                 "; tensors must cover the buffer contiguously");
    expected = entry.end;
    previous = &entry;
  }
  GOLGI_CHECK(expected == buffer_size, where, buffer_size - expected,
              " unclaimed bytes at the end of the data buffer [", expected, ", ", buffer_size,
              "); tensors must cover the buffer exactly");
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto impl = std::make_shared<Impl>();
  impl->source = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) GOLGI_FAIL("cannot read '", path, "': ", std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    GOLGI_FAIL("cannot read '", path, "': ", std::strerror(error));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    GOLGI_FAIL("cannot read '", path, "' as safetensors: it is not a regular file");
  }
  const auto size = static_cast<size_t>(info.st_size);
  // mmap refuses zero-length mappings; a file that short is rejected by parse() with the usual message.
  if (size > 0) {
    void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) {
      const int error = errno;
      ::close(fd);
      GOLGI_FAIL("cannot memory-map '", path, "' (", format_bytes(static_cast<double>(size)),
                 "): ", std::strerror(error));
    }
    impl->mapping = mapping;
    impl->mapping_size = size;
  }
  ::close(fd);  // the mapping keeps the file's pages reachable on its own
  impl->parse(static_cast<const uint8_t*>(impl->mapping), size);
  SafetensorsFile file;
  file.impl_ = std::move(impl);
  return file;
}

SafetensorsFile SafetensorsFile::from_bytes(std::string bytes, const std::string& source) {
  auto impl = std::make_shared<Impl>();
  impl->source = source;
  impl->owned = std::move(bytes);
  impl->parse(reinterpret_cast<const uint8_t*>(impl->owned.data()), impl->owned.size());
  SafetensorsFile file;
  file.impl_ = std::move(impl);
  return file;
}

const std::vector<SafetensorsEntry>& SafetensorsFile::entries() const { return impl_->entries; }

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(impl_->entries.size());
  for (const auto& entry : impl_->entries) out.push_back(entry.name);
  return out;
}

bool SafetensorsFile::contains(const std::string& name) const { return impl_->index.count(name) > 0; }

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = impl_->index.find(name);
  if (it == impl_->index.end()) {
    const std::string hint = did_you_mean(name, names());
    GOLGI_FAIL(impl_->source, ": no tensor named ", quote_name(name), " among its ", impl_->entries.size(), " tensors",
               hint.empty() ? "" : "; " + hint);
  }
  return impl_->entries[it->second];
}

TensorView SafetensorsFile::view(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  TensorView out;
  out.dtype = e.dtype;
  out.shape = e.shape;
  out.data = impl_->buffer + e.begin;
  out.nbytes = e.end - e.begin;
  return out;
}

const std::map<std::string, std::string>& SafetensorsFile::metadata() const { return impl_->metadata; }

const std::string& SafetensorsFile::source() const { return impl_->source; }

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, TensorView>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps the caller's order in the header, so a file reads back in the order written
  // even by tools that list the header rather than the data offsets.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    auto& meta = header[kMetadataKey];
    meta = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
  }
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, view] : tensors) {
    GOLGI_CHECK(!name.empty(), "cannot write '", path, "': a tensor has an empty name");
    GOLGI_CHECK(name != kMetadataKey, "cannot write '", path, "': '", kMetadataKey,
                "' is reserved for metadata and cannot name a tensor");
    GOLGI_CHECK(seen.insert(name).second, "cannot write '", path, "': the tensor name '", name,
                "' appears twice");
    size_t nbytes = 0;
    try {
      nbytes = byte_size(view.shape, view.dtype);
    } catch (const Error& e) {
      GOLGI_FAIL("cannot write '", path, "': tensor '", name, "': ", e.what());
    }
    GOLGI_CHECK(nbytes == view.nbytes, "cannot write '", path, "': tensor '", name, "' has shape ",
                shape_string(view.shape), " x ", dtype_name(view.dtype), " = ", nbytes,
                " bytes but its view holds ", view.nbytes, " bytes");
    GOLGI_CHECK(view.data != nullptr || nbytes == 0, "cannot write '", path, "': tensor '", name,
                "' has no data");
    header[name] = {{"dtype", dtype_name(view.dtype)}, {"shape", view.shape},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    GOLGI_FAIL("cannot write '", path, "': a tensor name or metadata string is not valid UTF-8 (", e.what(), ")");
  }
  // Padding the header with spaces to a multiple of 8 bytes aligns the data buffer for every dtype,
  // as the reference writer does; JSON parsers ignore trailing spaces.
  text.append((8 - text.size() % 8) % 8, ' ');
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));

  AtomicFile file(path);
  file.write(length, sizeof length);
  file.write(text);
  for (const auto& [name, view] : tensors)
    if (view.nbytes > 0) file.write(view.data, view.nbytes);
  file.commit();
}

}  // namespace golgi::io
