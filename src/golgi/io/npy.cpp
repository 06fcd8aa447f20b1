#include "golgi/io/npy.h"

#include <cctype>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>

#include "golgi/core/error.h"
#include "golgi/core/strings.h"
#include "golgi/io/atomic_file.h"

namespace golgi::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// numpy aligns the data to 64 bytes so that it can be memory-mapped for any dtype.
constexpr size_t kAlign = 64;

struct Descr {
  const char* text;
  DType dtype;
};
// The descrs numpy writes on a little-endian machine for the dtypes golgi supports.
constexpr Descr kDescrs[] = {{"<f8", DType::F64}, {"<f4", DType::F32}, {"<f2", DType::F16},
                             {"<i8", DType::I64}, {"<i4", DType::I32}, {"<i2", DType::I16},
                             {"|i1", DType::I8},  {"|u1", DType::U8},  {"|b1", DType::BOOL}};

std::string supported_descrs() {
  std::vector<std::string> names;
  for (const auto& d : kDescrs) names.push_back(std::string("'") + d.text + "'");
  return join(names, ", ");
}

// Header text made safe for a one-line error message.
std::string one_line(std::string_view text, size_t limit = 80) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f) {
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

// The header is a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3,), }.
// numpy reads it with ast.literal_eval; golgi reads the small subset numpy writes (strings, True,
// False, tuples of integers), which is all a valid header contains.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  struct Value {
    enum Kind { kString, kBool, kTuple } kind = kString;
    std::string string;
    bool boolean = false;
    std::vector<int64_t> tuple;
  };

  std::map<std::string, Value> parse_dict() {
    std::map<std::string, Value> dict;
    skip_space();
    expect('{', "the header must start with '{'");
    while (true) {
      skip_space();
      if (peek() == '}') {
        ++pos_;
        break;
      }
      std::string key = parse_string("a quoted key");
      skip_space();
      expect(':', "expected ':' after key '" + one_line(key) + "'");
      skip_space();
      Value value = parse_value(key);
      if (!dict.emplace(key, std::move(value)).second) fail("the key '" + one_line(key) + "' appears twice");
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      expect('}', "expected ',' or '}' after the value of '" + one_line(key) + "'");
      break;
    }
    // numpy pads the dict with spaces and a newline; anything else after it is corruption.
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the closing '}'");
    return dict;
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    GOLGI_FAIL(source_, ": corrupt NPY header: ", problem, " at offset ", pos_, " of '", one_line(text_),
               "'");
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r'))
      ++pos_;
  }
  void expect(char c, const std::string& problem) {
    if (peek() != c || pos_ >= text_.size()) fail(problem);
    ++pos_;
  }
  bool consume_word(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    // "Falsey" is not False: the word must end here.
    const size_t after = pos_ + word.size();
    if (after < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[after])) || text_[after] == '_'))
      return false;
    pos_ = after;
    return true;
  }

  std::string parse_string(const char* what) {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail(std::string("expected ") + what);
    ++pos_;
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) fail("unterminated string");
      const char c = text_[pos_++];
      if (c == quote) return out;
      if (c == '\\') {
        // The descrs and keys numpy writes never need escapes; take the escaped character as is.
        if (pos_ >= text_.size()) fail("unterminated string");
        out += text_[pos_++];
        continue;
      }
      out += c;
    }
  }

  int64_t parse_int() {
    const size_t start = pos_;
    uint64_t value = 0;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      const auto digit = static_cast<uint64_t>(text_[pos_] - '0');
      if (value > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - digit) / 10)
        fail("a shape dimension is too large for int64");
      value = value * 10 + digit;
      ++pos_;
    }
    if (pos_ == start) {
      if (peek() == '-') fail("a shape dimension is negative");
      fail("expected a non-negative integer in the shape");
    }
    // Python 2 numpy wrote long integers as "3L".
    if (peek() == 'L') ++pos_;
    return static_cast<int64_t>(value);
  }

  Value parse_value(const std::string& key) {
    Value value;
    const char c = peek();
    if (c == '\'' || c == '"') {
      value.kind = Value::kString;
      value.string = parse_string("a string");
    } else if (consume_word("True")) {
      value.kind = Value::kBool;
      value.boolean = true;
    } else if (consume_word("False")) {
      value.kind = Value::kBool;
      value.boolean = false;
    } else if (c == '(' || c == '[') {
      // A list as descr is a structured dtype; a list as shape is not what numpy writes either.
      const char close = c == '(' ? ')' : ']';
      if (c == '[') fail("the value of '" + one_line(key) + "' is a list (structured dtypes are not supported)");
      ++pos_;
      value.kind = Value::kTuple;
      bool needs_comma = false;
      while (true) {
        skip_space();
        if (peek() == close) {
          ++pos_;
          break;
        }
        if (needs_comma) fail("expected ',' or ')' in a tuple");
        value.tuple.push_back(parse_int());
        skip_space();
        if (peek() == ',') {
          ++pos_;
        } else {
          needs_comma = true;
        }
      }
      // In Python "(3)" is the integer 3, not a tuple; only "(3,)" is a 1-tuple.
      if (value.tuple.size() == 1 && needs_comma) fail("'(n)' is not a tuple; a 1-d shape is written '(n,)'");
    } else {
      fail("unsupported value for key '" + one_line(key) + "'");
    }
    return value;
  }

  std::string_view text_;
  const std::string& source_;
  size_t pos_ = 0;
};

DType dtype_from_descr(const std::string& descr, const std::string& source) {
  for (const auto& d : kDescrs)
    if (descr == d.text) return d.dtype;
  // A single byte has no byte order, so numpy may spell it with any order character.
  if (descr.size() == 3 && (descr[0] == '<' || descr[0] == '>' || descr[0] == '=' || descr[0] == '|')) {
    const std::string rest = descr.substr(1);
    if (rest == "i1") return DType::I8;
    if (rest == "u1") return DType::U8;
    if (rest == "b1") return DType::BOOL;
    if (descr[0] == '>' || descr[0] == '=')
      for (const auto& d : kDescrs)
        if (rest == d.text + 1) {
          GOLGI_CHECK(descr[0] != '>', source, ": NPY descr '", descr,
                      "' is big-endian, which golgi does not read; convert it in numpy with "
                      "arr.astype('<", rest, "') and save again");
          // '=' is native order, which is how numpy spells little-endian on the machines we run on.
          return d.dtype;
        }
  }
  GOLGI_FAIL(source, ": unsupported NPY descr '", one_line(descr), "'; golgi reads ", supported_descrs());
}

uint32_t read_le(const uint8_t* p, int bytes) {
  uint32_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

// Rearranges column-major (Fortran) elements into row-major (C) order.
std::vector<uint8_t> fortran_to_c(const uint8_t* data, const std::vector<int64_t>& shape, size_t count,
                                  size_t element_size) {
  std::vector<uint8_t> out(count * element_size);
  const size_t ndim = shape.size();
  if (count == 0) return out;
  // Fortran strides, in elements: the first index varies fastest.
  std::vector<size_t> strides(ndim);
  size_t stride = 1;
  for (size_t d = 0; d < ndim; ++d) {
    strides[d] = stride;
    stride *= static_cast<size_t>(shape[d]);
  }
  // Walk C order with an odometer over the index, keeping the Fortran offset in step.
  std::vector<int64_t> index(ndim, 0);
  size_t source_offset = 0;
  for (size_t i = 0; i < count; ++i) {
    std::memcpy(out.data() + i * element_size, data + source_offset * element_size, element_size);
    for (size_t d = ndim; d-- > 0;) {
      if (++index[d] < shape[d]) {
        source_offset += strides[d];
        break;
      }
      source_offset -= strides[d] * static_cast<size_t>(index[d] - 1);
      index[d] = 0;
    }
  }
  return out;
}

std::string shape_tuple(const std::vector<int64_t>& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  if (shape.size() == 1) out += ",";
  return out + ")";
}

}  // namespace

std::string npy_descr(DType dtype) {
  GOLGI_CHECK(dtype != DType::BF16,
              "BF16 has no numpy dtype, so it cannot be written as NPY; convert the tensor to F32 first");
  for (const auto& d : kDescrs)
    if (d.dtype == dtype) return d.text;
  GOLGI_ASSERT(false, "no NPY descr for dtype ", dtype_name(dtype));
}

RawTensor parse_npy(const uint8_t* data, size_t size, const std::string& source) {
  GOLGI_CHECK(size >= kMagicSize && std::memcmp(data, kMagic, kMagicSize) == 0, source,
              ": not an NPY file: it does not start with the magic bytes \\x93NUMPY");
  GOLGI_CHECK(size >= kMagicSize + 4, source, ": truncated NPY file: ", size,
              " bytes end inside the version and header length");
  const int major = data[6];
  const int minor = data[7];
  GOLGI_CHECK((major == 1 || major == 2 || major == 3) && minor == 0, source, ": unsupported NPY format version ",
              major, ".", minor, "; golgi reads versions 1.0, 2.0 and 3.0");
  // Version 1.0 stores the header length as a u16; 2.0 and 3.0 (for longer headers) as a u32.
  const size_t length_bytes = major == 1 ? 2 : 4;
  GOLGI_CHECK(size >= 8 + length_bytes, source, ": truncated NPY file: ", size,
              " bytes end inside the header length");
  const size_t header_size = read_le(data + 8, static_cast<int>(length_bytes));
  const size_t header_start = 8 + length_bytes;
  GOLGI_CHECK(header_size <= size - header_start, source, ": truncated NPY file: the header claims ",
              header_size, " bytes but only ", size - header_start, " follow");
  const std::string_view header(reinterpret_cast<const char*>(data + header_start), header_size);

  auto dict = HeaderParser(header, source).parse_dict();
  for (const char* key : {"descr", "fortran_order", "shape"})
    GOLGI_CHECK(dict.count(key), source, ": corrupt NPY header: no '", key, "' key in '", one_line(header), "'");
  GOLGI_CHECK(dict.size() == 3, source, ": corrupt NPY header: it must have exactly the keys 'descr', ",
              "'fortran_order' and 'shape', got '", one_line(header), "'");
  const auto& descr = dict["descr"];
  const auto& fortran = dict["fortran_order"];
  const auto& shape = dict["shape"];
  GOLGI_CHECK(descr.kind == HeaderParser::Value::kString, source, ": corrupt NPY header: 'descr' must be a string");
  GOLGI_CHECK(fortran.kind == HeaderParser::Value::kBool, source,
              ": corrupt NPY header: 'fortran_order' must be True or False");
  GOLGI_CHECK(shape.kind == HeaderParser::Value::kTuple, source, ": corrupt NPY header: 'shape' must be a tuple");

  RawTensor tensor;
  tensor.dtype = dtype_from_descr(descr.string, source);
  tensor.shape = shape.tuple;
  size_t nbytes = 0;
  try {
    nbytes = byte_size(tensor.shape, tensor.dtype);
  } catch (const Error& e) {
    GOLGI_FAIL(source, ": corrupt NPY header: ", e.what());
  }
  const size_t payload = size - header_start - header_size;
  GOLGI_CHECK(payload >= nbytes, source, ": truncated NPY file: shape ", shape_string(tensor.shape), " of '",
              descr.string, "' needs ", nbytes, " data bytes but only ", payload, " are present");
  GOLGI_CHECK(payload == nbytes, source, ": corrupt NPY file: ", payload - nbytes,
              " unexpected bytes after the data of shape ", shape_string(tensor.shape), " of '", descr.string,
              "' (payload too long)");
  const uint8_t* body = data + header_start + header_size;
  if (fortran.boolean && tensor.shape.size() > 1) {
    tensor.data = fortran_to_c(body, tensor.shape, element_count(tensor.shape), dtype_size(tensor.dtype));
  } else {
    tensor.data.assign(body, body + nbytes);
  }
  return tensor;
}

RawTensor read_npy(const std::string& path) {
  const std::string bytes = read_file(path);
  return parse_npy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);
}

std::string encode_npy(const TensorView& tensor) {
  const std::string descr = npy_descr(tensor.dtype);
  const size_t nbytes = byte_size(tensor.shape, tensor.dtype);
  GOLGI_CHECK(nbytes == tensor.nbytes, "cannot encode NPY: shape ", shape_string(tensor.shape), " x ",
              dtype_name(tensor.dtype), " = ", nbytes, " bytes but the view holds ", tensor.nbytes, " bytes");
  std::string dict =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape_tuple(tensor.shape) + ", }";
  // Pad with spaces and end with '\n' so that magic + version + length + header is a multiple of
  // 64 bytes, as numpy does. Version 2.0 only when the header no longer fits a u16 length.
  int major = 1;
  size_t prefix = 10;
  size_t total = (prefix + dict.size() + 1 + kAlign - 1) / kAlign * kAlign;
  if (total - prefix > 0xffff) {
    major = 2;
    prefix = 12;
    total = (prefix + dict.size() + 1 + kAlign - 1) / kAlign * kAlign;
  }
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';
  std::string out(kMagic, kMagicSize);
  out += static_cast<char>(major);
  out += '\0';
  const size_t header_size = dict.size();
  for (size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((header_size >> (8 * i)) & 0xff);
  out += dict;
  if (nbytes > 0) out.append(reinterpret_cast<const char*>(tensor.data), nbytes);
  return out;
}

void write_npy(const std::string& path, const TensorView& tensor) {
  std::string bytes;
  try {
    bytes = encode_npy(tensor);
  } catch (const Error& e) {
    GOLGI_FAIL("cannot write '", path, "': ", e.what());
  }
  write_file_atomic(path, bytes);
}

}  // namespace golgi::io
