#include "golgi/io/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "golgi/core/error.h"
#include "golgi/core/strings.h"
#include "golgi/io/atomic_file.h"

namespace golgi::io {

namespace {

// The largest IDX file in common use (MNIST-style training images) is ~50 MB uncompressed; a gzip
// stream that inflates past 4 GiB is corrupt or a decompression bomb, and must not exhaust memory.
constexpr uint64_t kMaxDecompressedBytes = uint64_t{4} << 30;

bool is_gzip(const uint8_t* data, size_t size) { return size >= 2 && data[0] == 0x1f && data[1] == 0x8b; }

std::vector<uint8_t> gunzip(const uint8_t* data, size_t size, const std::string& source) {
  z_stream stream{};
  // 16 + MAX_WBITS: expect a gzip wrapper (header and CRC32 trailer), not raw zlib.
  GOLGI_CHECK(inflateInit2(&stream, 16 + MAX_WBITS) == Z_OK, source, ": cannot start gzip decompression: ",
              stream.msg ? stream.msg : "out of memory");
  std::vector<uint8_t> out;
  stream.next_in = const_cast<Bytef*>(data);
  size_t remaining = size;
  int status = Z_OK;
  try {
    while (true) {
      // zlib counts in uInt; feed very large inputs in pieces.
      if (stream.avail_in == 0 && remaining > 0) {
        stream.avail_in = static_cast<uInt>(std::min<size_t>(remaining, 1u << 30));
        remaining -= stream.avail_in;
      }
      const size_t have = out.size();
      GOLGI_CHECK(have < kMaxDecompressedBytes, source, ": gzip data inflates to more than ",
                  format_bytes(static_cast<double>(kMaxDecompressedBytes)),
                  "; refusing it as corrupt or a decompression bomb");
      // Doubling keeps the copies linear in the output; the cap keeps a bomb from allocating more.
      const size_t grow = std::min<size_t>(std::max<size_t>(have, 1 << 16), kMaxDecompressedBytes - have);
      out.resize(have + grow);
      stream.next_out = out.data() + have;
      stream.avail_out = static_cast<uInt>(grow);
      status = inflate(&stream, Z_NO_FLUSH);
      out.resize(have + grow - stream.avail_out);
      if (status == Z_STREAM_END) {
        // Concatenated gzip members are one file to gunzip; continue with the next member if any.
        if (stream.avail_in == 0 && remaining == 0) break;
        GOLGI_CHECK(inflateReset(&stream) == Z_OK, source, ": gzip decompression failed to restart");
        continue;
      }
      if (status == Z_BUF_ERROR && stream.avail_in == 0 && remaining == 0)
        GOLGI_FAIL(source, ": truncated gzip data: the stream ends after ", stream.total_in,
                   " compressed bytes without its end marker (incomplete download?)");
      GOLGI_CHECK(status == Z_OK || status == Z_BUF_ERROR, source, ": corrupt gzip data: ",
                  stream.msg ? stream.msg : "inflate failed", " (zlib status ", status, ")");
    }
  } catch (...) {
    inflateEnd(&stream);
    throw;
  }
  inflateEnd(&stream);
  return out;
}

uint32_t read_u32_be(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// IDX type code -> dtype; nullopt for codes the format does not define.
std::optional<DType> dtype_of_code(uint8_t code) {
  switch (code) {
    case 0x08: return DType::U8;
    case 0x09: return DType::I8;
    case 0x0B: return DType::I16;
    case 0x0C: return DType::I32;
    case 0x0D: return DType::F32;
    case 0x0E: return DType::F64;
    default: return std::nullopt;
  }
}

RawTensor parse_raw_idx(const uint8_t* data, size_t size, const std::string& source) {
  GOLGI_CHECK(size >= 4, source, ": truncated IDX file: ", size, " bytes, fewer than the 4-byte magic number");
  GOLGI_CHECK(data[0] == 0 && data[1] == 0, source,
              ": not an IDX file: it must start with two zero bytes, got 0x", std::hex, int{data[0]}, " 0x",
              int{data[1]});
  auto dtype = dtype_of_code(data[2]);
  GOLGI_CHECK(dtype.has_value(), source, ": unsupported IDX type code 0x", std::hex, int{data[2]},
              std::dec, "; known codes are 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64");
  const size_t ndim = data[3];
  const size_t header_size = 4 + 4 * ndim;
  GOLGI_CHECK(size >= header_size, source, ": truncated IDX file: ", ndim, " dimensions need a ",
              header_size, "-byte header but the file has ", size, " bytes");
  RawTensor tensor;
  tensor.dtype = *dtype;
  for (size_t d = 0; d < ndim; ++d) tensor.shape.push_back(read_u32_be(data + 4 + 4 * d));
  size_t nbytes = 0;
  try {
    nbytes = byte_size(tensor.shape, tensor.dtype);
  } catch (const Error& e) {
    GOLGI_FAIL(source, ": corrupt IDX header: ", e.what());
  }
  const size_t payload = size - header_size;
  GOLGI_CHECK(payload >= nbytes, source, ": truncated IDX file: shape ", shape_string(tensor.shape), " of ",
              dtype_name(tensor.dtype), " needs ", nbytes, " data bytes but only ", payload, " are present");
  GOLGI_CHECK(payload == nbytes, source, ": corrupt IDX file: ", payload - nbytes,
              " unexpected bytes after the data of shape ", shape_string(tensor.shape));
  const uint8_t* body = data + header_size;
  const size_t element_size = dtype_size(tensor.dtype);
  tensor.data.resize(nbytes);
  // IDX is big-endian; golgi tensors are little-endian, so reverse the bytes of each element.
  if (element_size == 1) {
    if (nbytes > 0) std::memcpy(tensor.data.data(), body, nbytes);
  } else {
    for (size_t i = 0; i < nbytes; i += element_size)
      for (size_t b = 0; b < element_size; ++b) tensor.data[i + b] = body[i + element_size - 1 - b];
  }
  return tensor;
}

}  // namespace

RawTensor parse_idx(const uint8_t* data, size_t size, const std::string& source) {
  if (is_gzip(data, size)) {
    const std::vector<uint8_t> inflated = gunzip(data, size, source);
    return parse_raw_idx(inflated.data(), inflated.size(), source + " (after gunzip)");
  }
  return parse_raw_idx(data, size, source);
}

RawTensor read_idx(const std::string& path) {
  const std::string bytes = read_file(path);
  return parse_idx(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);
}

}  // namespace golgi::io
