// WAV reading: round trips, the float and extensible formats, and clear errors on bad files.
#include <gtest/gtest.h>

#include <cstring>

#include "golgi/core/error.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/wav.h"
#include "test_support.h"

namespace {

using golgi::io::Wav;

std::string bytes_le(uint64_t v, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

// A hand-made WAV: fmt chunk body `fmt`, then optional extra chunk, then data.
std::string make_wav(const std::string& fmt, const std::string& data, const std::string& extra = "",
                     int64_t data_size = -1) {
  std::string body = "WAVE";
  body += "fmt " + bytes_le(fmt.size(), 4) + fmt;
  body += extra;
  body += "data" + bytes_le(data_size >= 0 ? static_cast<uint64_t>(data_size) : data.size(), 4) + data;
  return "RIFF" + bytes_le(body.size(), 4) + body;
}

std::string fmt_chunk(uint16_t tag, uint16_t channels, uint32_t rate, uint16_t bits) {
  return bytes_le(tag, 2) + bytes_le(channels, 2) + bytes_le(rate, 4) + bytes_le(rate * channels * bits / 8, 4) +
         bytes_le(channels * bits / 8, 2) + bytes_le(bits, 2);
}

Wav parse(const std::string& bytes) {
  return golgi::io::parse_wav(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "test.wav");
}

TEST(Wav, Pcm16RoundTripThroughAFile) {
  Wav wav;
  wav.sample_rate = 22050;
  wav.channels = 2;
  wav.samples = {0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 0.25f};
  const std::string path = golgi::testing::scratch_dir("wav_roundtrip") + "/a.wav";
  golgi::io::write_wav(path, wav);
  EXPECT_EQ(golgi::io::read_file(path).size(), 44u + 12u);
  Wav back = golgi::io::read_wav(path);
  EXPECT_EQ(back.sample_rate, 22050);
  EXPECT_EQ(back.channels, 2);
  ASSERT_EQ(back.frames(), 3);
  EXPECT_FLOAT_EQ(back.samples[1], 0.5f);
  EXPECT_FLOAT_EQ(back.samples[2], -0.5f);
  EXPECT_FLOAT_EQ(back.samples[3], 32767.0f / 32768.0f);  // +1 clamps to the largest int16
  EXPECT_FLOAT_EQ(back.samples[4], -1.0f);
  auto mono = back.mono();
  ASSERT_EQ(mono.size(), 3u);
  EXPECT_FLOAT_EQ(mono[0], 0.25f);
  EXPECT_NEAR(back.seconds(), 3.0 / 22050.0, 1e-12);
}

TEST(Wav, FloatExtensibleAndSkippedChunks) {
  float values[3] = {0.125f, -0.75f, 0.5f};
  std::string data(reinterpret_cast<const char*>(values), sizeof values);
  Wav a = parse(make_wav(fmt_chunk(3, 1, 16000, 32), data, "LIST" + bytes_le(3, 4) + "abc" + std::string(1, '\0')));
  ASSERT_EQ(a.samples.size(), 3u);
  EXPECT_FLOAT_EQ(a.samples[1], -0.75f);
  EXPECT_EQ(a.sample_rate, 16000);
  // WAVE_FORMAT_EXTENSIBLE wrapping IEEE float (sub-format GUID starts with 03 00).
  std::string ext = fmt_chunk(0xFFFE, 1, 16000, 32) + bytes_le(22, 2) + bytes_le(32, 2) + bytes_le(4, 4) +
                    bytes_le(3, 2) + std::string(14, '\x01');
  Wav b = parse(make_wav(ext, data));
  EXPECT_EQ(b.samples, a.samples);
  // A streaming writer's 0xFFFFFFFF data size: the data runs to the end of the file.
  Wav c = parse(make_wav(fmt_chunk(3, 1, 16000, 32), data, "", 0xFFFFFFFFll));
  EXPECT_EQ(c.samples, a.samples);
}

TEST(Wav, BadFilesAreClearErrors) {
  std::string pcm = std::string("\x00\x40\x00\xc0", 4);
  EXPECT_NO_THROW(parse(make_wav(fmt_chunk(1, 1, 8000, 16), pcm)));
  auto error = [](const std::string& bytes) { return golgi::testing::error_of([&] { parse(bytes); }); };
  EXPECT_NE(error("RIFF").find("shorter than a RIFF header"), std::string::npos);
  EXPECT_NE(error(std::string("RIFX") + std::string(8, '\0')).find("RIFX"), std::string::npos);
  EXPECT_NE(error(std::string("RIFF\x04\x00\x00\x00WAVX", 12)).find("not a WAV file"), std::string::npos);
  EXPECT_NE(error(make_wav(fmt_chunk(1, 1, 8000, 24), pcm)).find("24-bit integer PCM"), std::string::npos);
  EXPECT_NE(error(make_wav(fmt_chunk(6, 1, 8000, 8), pcm)).find("A-law"), std::string::npos);
  EXPECT_NE(error(make_wav(fmt_chunk(1, 1, 8000, 16), pcm, "", 400)).find("truncated"), std::string::npos);
  EXPECT_NE(error(make_wav(fmt_chunk(1, 0, 8000, 16), pcm)).find("0 channels"), std::string::npos);
  std::string no_data = "RIFF" + bytes_le(4 + 8 + 16, 4) + "WAVEfmt " + bytes_le(16, 4) + fmt_chunk(1, 1, 8000, 16);
  EXPECT_NE(error(no_data).find("no data chunk"), std::string::npos);
  std::string path = golgi::testing::scratch_dir("wav_missing") + "/nope.wav";
  EXPECT_NE(golgi::testing::error_of([&] { golgi::io::read_wav(path); }).find("nope.wav"), std::string::npos);
  Wav bad;
  bad.sample_rate = 8000;
  bad.channels = 2;
  bad.samples = {0.0f, 0.1f, 0.2f};
  EXPECT_THROW(golgi::io::encode_wav_pcm16(bad), golgi::Error);
}

}  // namespace
