#include "golgi/io/wav.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "golgi/core/error.h"
#include "golgi/io/atomic_file.h"

namespace golgi::io {

namespace {

constexpr uint16_t kFormatPcm = 1, kFormatFloat = 3, kFormatExtensible = 0xFFFE;

uint16_t u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
void put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}
void put32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string format_name(uint16_t tag) {
  switch (tag) {
    case 1: return "integer PCM";
    case 2: return "Microsoft ADPCM";
    case 3: return "IEEE float";
    case 6: return "A-law";
    case 7: return "mu-law";
    case 0x11: return "IMA ADPCM";
    case 0x55: return "MP3";
    default: return "format tag " + std::to_string(tag);
  }
}

}  // namespace

std::vector<float> Wav::mono() const {
  if (channels <= 1) return samples;
  const int64_t n = frames();
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double sum = 0.0;
    for (int64_t c = 0; c < channels; ++c) sum += samples[static_cast<size_t>(i * channels + c)];
    out[static_cast<size_t>(i)] = static_cast<float>(sum / static_cast<double>(channels));
  }
  return out;
}

Wav parse_wav(const uint8_t* data, size_t size, const std::string& source) {
  GOLGI_CHECK(size >= 12, "'", source, "' is not a WAV file: ", size, " bytes is shorter than a RIFF header");
  if (std::memcmp(data, "RIFX", 4) == 0 || std::memcmp(data, "RF64", 4) == 0)
    GOLGI_FAIL("'", source, "' is a ", std::string(reinterpret_cast<const char*>(data), 4),
               " file; only little-endian RIFF WAV is supported");
  GOLGI_CHECK(std::memcmp(data, "RIFF", 4) == 0 && std::memcmp(data + 8, "WAVE", 4) == 0, "'", source,
              "' is not a WAV file (no RIFF/WAVE header)");
  bool have_fmt = false;
  uint16_t tag = 0, channels = 0, bits = 0, block_align = 0;
  uint32_t rate = 0;
  size_t pos = 12;
  while (pos + 8 <= size) {
    const uint8_t* chunk = data + pos;
    const std::string id(reinterpret_cast<const char*>(chunk), 4);
    const uint32_t declared = u32(chunk + 4);
    const size_t body = pos + 8, available = size - body;
    if (id == "fmt ") {
      GOLGI_CHECK(declared >= 16 && declared <= available, "'", source, "': the fmt chunk is ", declared,
                  " bytes (", available, " left in the file); expected at least 16");
      tag = u16(chunk + 8);
      channels = u16(chunk + 10);
      rate = u32(chunk + 12);
      block_align = u16(chunk + 20);
      bits = u16(chunk + 22);
      if (tag == kFormatExtensible) {
        GOLGI_CHECK(declared >= 40, "'", source, "': WAVE_FORMAT_EXTENSIBLE fmt chunk of ", declared,
                    " bytes is shorter than 40");
        // The sub-format GUID's first two bytes are the plain format tag.
        tag = u16(chunk + 8 + 24);
      }
      have_fmt = true;
    } else if (id == "data") {
      GOLGI_CHECK(have_fmt, "'", source, "': the data chunk comes before any fmt chunk");
      GOLGI_CHECK(tag == kFormatPcm || tag == kFormatFloat, "'", source, "' holds ", format_name(tag),
                  " samples; supported are 16-bit integer PCM and 32/64-bit IEEE float");
      GOLGI_CHECK((tag == kFormatPcm && bits == 16) || (tag == kFormatFloat && (bits == 32 || bits == 64)), "'",
                  source, "' holds ", bits, "-bit ", format_name(tag),
                  " samples; supported are 16-bit integer PCM and 32/64-bit IEEE float");
      GOLGI_CHECK(channels >= 1, "'", source, "' declares 0 channels");
      GOLGI_CHECK(rate >= 1, "'", source, "' declares a sample rate of 0 Hz");
      const size_t bytes_per_sample = bits / 8u;
      GOLGI_CHECK(block_align == channels * bytes_per_sample, "'", source, "': block align ", block_align,
                  " does not match ", channels, " channels of ", bits, " bits");
      size_t length = declared;
      if (declared == 0xFFFFFFFFu || declared == 0) {
        length = available;  // a streaming writer's placeholder: the data runs to the end of the file
      } else {
        GOLGI_CHECK(declared <= available, "'", source, "' is truncated: the data chunk declares ", declared,
                    " bytes but only ", available, " follow");
      }
      length -= length % block_align;
      const size_t count = length / bytes_per_sample;
      Wav wav;
      wav.sample_rate = rate;
      wav.channels = channels;
      wav.samples.resize(count);
      const uint8_t* p = data + body;
      for (size_t i = 0; i < count; ++i, p += bytes_per_sample) {
        float v;
        if (tag == kFormatPcm) {
          v = static_cast<float>(static_cast<int16_t>(u16(p))) / 32768.0f;
        } else if (bits == 32) {
          uint32_t raw = u32(p);
          std::memcpy(&v, &raw, 4);
        } else {
          uint64_t raw = static_cast<uint64_t>(u32(p)) | (static_cast<uint64_t>(u32(p + 4)) << 32);
          double d;
          std::memcpy(&d, &raw, 8);
          v = static_cast<float>(d);
        }
        GOLGI_CHECK(std::isfinite(v), "'", source, "': sample ", i, " is not finite");
        wav.samples[i] = v;
      }
      return wav;
    }
    if (declared > available) break;
    pos = body + declared + (declared & 1u);
  }
  GOLGI_FAIL("'", source, "' has no data chunk", have_fmt ? "" : " (and no fmt chunk)");
}

Wav read_wav(const std::string& path) {
  std::string bytes = read_file(path);
  return parse_wav(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);
}

std::string encode_wav_pcm16(const Wav& wav) {
  GOLGI_CHECK(wav.channels >= 1 && wav.channels <= 65535, "write_wav: channels must be in [1, 65535], got ", wav.channels);
  GOLGI_CHECK(wav.sample_rate >= 1 && wav.sample_rate <= 0xFFFFFFFFLL / 4, "write_wav: bad sample rate ", wav.sample_rate);
  GOLGI_CHECK(wav.samples.size() % static_cast<size_t>(wav.channels) == 0, "write_wav: ", wav.samples.size(),
              " samples is not a whole number of ", wav.channels, "-channel frames");
  const uint64_t data_bytes = wav.samples.size() * 2u;
  GOLGI_CHECK(data_bytes + 36 <= 0xFFFFFFFFull, "write_wav: ", data_bytes, " bytes of samples do not fit a RIFF file");
  std::string out;
  out.reserve(44 + data_bytes);
  out += "RIFF";
  put32(out, static_cast<uint32_t>(36 + data_bytes));
  out += "WAVEfmt ";
  put32(out, 16);
  put16(out, kFormatPcm);
  put16(out, static_cast<uint16_t>(wav.channels));
  put32(out, static_cast<uint32_t>(wav.sample_rate));
  put32(out, static_cast<uint32_t>(wav.sample_rate * wav.channels * 2));
  put16(out, static_cast<uint16_t>(wav.channels * 2));
  put16(out, 16);
  out += "data";
  put32(out, static_cast<uint32_t>(data_bytes));
  for (float s : wav.samples) {
    GOLGI_CHECK(std::isfinite(s), "write_wav: a sample is not finite");
    const double scaled = std::round(std::clamp(static_cast<double>(s), -1.0, 1.0) * 32768.0);
    put16(out, static_cast<uint16_t>(static_cast<int16_t>(std::clamp(scaled, -32768.0, 32767.0))));
  }
  return out;
}

void write_wav(const std::string& path, const Wav& wav) { write_file_atomic(path, encode_wav_pcm16(wav)); }

}  // namespace golgi::io
