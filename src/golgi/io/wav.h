// WAV (RIFF/WAVE) reading and writing. Torch-free.
//
// Reads the sample formats golgi's audio tools produce: 16-bit integer PCM (format tag 1) and
// 32- or 64-bit IEEE float (tag 3), also when wrapped as WAVE_FORMAT_EXTENSIBLE (tag 0xFFFE with
// the PCM or float sub-format GUID). Anything else (8/24/32-bit integer PCM, A-law, ADPCM, RF64,
// big-endian RIFX) is rejected with an error naming the file and the format. Unknown chunks (LIST,
// fact, ...) are skipped; chunks are word-aligned (a pad byte follows an odd-sized chunk). A data
// chunk that claims more bytes than the file holds is an error ("truncated"), except for the
// 0xFFFFFFFF / 0 sizes streaming writers put in a header they cannot seek back to: then the data
// runs to the end of the file.
//
// Samples are returned as float in [-1, 1): int16 values are divided by 32768.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace golgi::io {

struct Wav {
  int64_t sample_rate = 0;  // Hz
  int64_t channels = 0;
  std::vector<float> samples;  // interleaved: frame-major, [frames, channels]

  int64_t frames() const { return channels > 0 ? static_cast<int64_t>(samples.size()) / channels : 0; }
  double seconds() const { return sample_rate > 0 ? static_cast<double>(frames()) / static_cast<double>(sample_rate) : 0.0; }
  // The mean over channels, [frames].
  std::vector<float> mono() const;
};

// Throws golgi::Error naming the path when the file is missing, not a WAV or in a format above
// that is not supported.
Wav read_wav(const std::string& path);
// Parses bytes already in memory; `source` names them in errors.
Wav parse_wav(const uint8_t* data, size_t size, const std::string& source = "<memory>");

// 16-bit PCM file content; samples are clamped to [-1, 1] and rounded to the nearest int16 step.
std::string encode_wav_pcm16(const Wav& wav);
// Writes encode_wav_pcm16(wav) atomically.
void write_wav(const std::string& path, const Wav& wav);

}  // namespace golgi::io
