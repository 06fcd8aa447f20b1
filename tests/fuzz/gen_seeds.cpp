// Writes small valid safetensors, NPY and IDX files as seed corpora for the fuzzers, so that they
// start from inputs that reach deep into the parsers instead of dying at the magic bytes.
//   golgi_fuzz_seeds OUT_DIR   -> OUT_DIR/{safetensors,npy,idx}/<seed files>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "golgi/core/error.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/npy.h"
#include "golgi/io/safetensors.h"

namespace {

using golgi::io::DType;
using golgi::io::RawTensor;

RawTensor tensor(DType dtype, std::vector<int64_t> shape) {
  RawTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.data.resize(golgi::io::element_count(t.shape) * golgi::io::dtype_size(dtype));
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = static_cast<uint8_t>(i * 29 + 3);
  return t;
}

std::string gzip(const std::string& content) {
  z_stream stream{};
  if (deflateInit2(&stream, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return "";
  std::string out(deflateBound(&stream, content.size()) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(content.data()));
  stream.avail_in = static_cast<uInt>(content.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

std::string idx(uint8_t code, const std::vector<uint32_t>& dims, size_t element_size) {
  std::string out = {0, 0, static_cast<char>(code), static_cast<char>(dims.size())};
  size_t count = 1;
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((d >> shift) & 0xff);
    count *= d;
  }
  for (size_t i = 0; i < count * element_size; ++i) out += static_cast<char>(i * 7 + 1);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: golgi_fuzz_seeds OUT_DIR\n");
    return 2;
  }
  try {
    const std::string out = argv[1];
    for (const char* sub : {"safetensors", "npy", "idx"}) golgi::io::make_dirs(out + "/" + sub);

    const std::string st = out + "/safetensors/";
    golgi::io::write_safetensors(st + "empty", {});
    golgi::io::write_safetensors(st + "metadata_only", {}, {{"format", "pt"}});
    std::vector<RawTensor> all;
    for (DType dtype : golgi::io::all_dtypes()) all.push_back(tensor(dtype, {2, 3}));
    std::vector<std::pair<std::string, golgi::io::TensorView>> views;
    for (const auto& t : all) views.emplace_back(golgi::io::dtype_name(t.dtype), t.view());
    golgi::io::write_safetensors(st + "every_dtype", views, {{"seed", "0"}, {"note", "fuzz seed"}});
    RawTensor scalar = tensor(DType::F32, {}), empty = tensor(DType::I64, {0, 3}), odd = tensor(DType::U8, {3});
    golgi::io::write_safetensors(st + "shapes", {{"s", scalar.view()}, {"e", empty.view()}, {"o", odd.view()}});

    const std::string npy = out + "/npy/";
    for (DType dtype : golgi::io::all_dtypes()) {
      if (dtype == DType::BF16) continue;
      golgi::io::write_npy(npy + golgi::io::dtype_name(dtype), tensor(dtype, {2, 3}).view());
    }
    golgi::io::write_npy(npy + "scalar", tensor(DType::F64, {}).view());
    golgi::io::write_npy(npy + "empty", tensor(DType::I16, {0}).view());
    // Fortran order and the longer-header versions, which golgi's writer never produces.
    std::string fortran = golgi::io::encode_npy(tensor(DType::I32, {2, 3, 2}).view());
    const size_t flag = fortran.find("False");
    fortran.replace(flag, 5, "True ");
    golgi::io::write_file_atomic(npy + "fortran", fortran);
    const std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
    for (char major : {'\x02', '\x03'}) {
      std::string file = std::string("\x93NUMPY", 6) + major + '\0';
      for (int i = 0; i < 4; ++i) file += static_cast<char>((header.size() >> (8 * i)) & 0xff);
      golgi::io::write_file_atomic(npy + "version" + std::to_string(major), file + header + "12345678");
    }

    const std::string id = out + "/idx/";
    golgi::io::write_file_atomic(id + "u8_images", idx(0x08, {2, 3, 3}, 1));
    golgi::io::write_file_atomic(id + "u8_labels.gz", gzip(idx(0x08, {10}, 1)));
    golgi::io::write_file_atomic(id + "i16", idx(0x0B, {4}, 2));
    golgi::io::write_file_atomic(id + "f64.gz", gzip(idx(0x0E, {2, 2}, 8)));
    golgi::io::write_file_atomic(id + "i32", idx(0x0C, {3}, 4));
    golgi::io::write_file_atomic(id + "f32", idx(0x0D, {1, 2}, 4));
    golgi::io::write_file_atomic(id + "i8.gz", gzip(idx(0x09, {5}, 1)));
  } catch (const golgi::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 0;
}
