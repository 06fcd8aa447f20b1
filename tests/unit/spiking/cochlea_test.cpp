// The cochlea front end: tonotopy, silence, shapes, determinism and option validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "golgi/core/error.h"
#include "golgi/spiking/cochlea.h"

namespace {

using golgi::spiking::Cochlea;
using golgi::spiking::CochleaOptions;

constexpr double kPi = 3.14159265358979323846;

std::vector<float> tone(double f_hz, double amplitude, double seconds = 1.0, int64_t rate = 16000) {
  std::vector<float> out(static_cast<size_t>(seconds * static_cast<double>(rate)));
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<float>(amplitude * std::sin(2.0 * kPi * f_hz * static_cast<double>(i) / static_cast<double>(rate)));
  return out;
}

// Per-channel sums over steps of a row-major [steps, channels] buffer.
template <typename T>
std::vector<double> per_channel(const std::vector<T>& x, int64_t channels) {
  std::vector<double> out(static_cast<size_t>(channels), 0.0);
  for (size_t i = 0; i < x.size(); ++i) out[i % static_cast<size_t>(channels)] += static_cast<double>(x[i]);
  return out;
}

TEST(Cochlea, CentresAreLogSpacedWithErbBandwidths) {
  Cochlea cochlea;
  const auto& f = cochlea.centre_hz();
  ASSERT_EQ(f.size(), 64u);
  EXPECT_NEAR(f.front(), 100.0, 1e-9);
  EXPECT_NEAR(f.back(), 7000.0, 1e-6);
  const double ratio = std::pow(70.0, 1.0 / 63.0);
  for (size_t c = 1; c < f.size(); ++c) EXPECT_NEAR(f[c] / f[c - 1], ratio, 1e-9);
  // Two stages: per-stage Q = f sqrt(sqrt(2) - 1) / ERB(f); ERB(1 kHz) = 132.639 Hz.
  EXPECT_NEAR(golgi::spiking::erb_hz(1000.0), 132.639, 1e-3);
  EXPECT_NEAR(cochlea.stage_q()[0], 100.0 * std::sqrt(std::sqrt(2.0) - 1.0) / golgi::spiking::erb_hz(100.0), 1e-9);
  EXPECT_EQ(cochlea.nearest_channel(100.0), 0);
  EXPECT_EQ(cochlea.nearest_channel(20000.0), 63);
}

TEST(Cochlea, PureToneExcitesTheNearestChannelMost) {
  Cochlea cochlea;
  for (double f : {150.0, 440.0, 1000.0, 2500.0, 5000.0}) {
    SCOPED_TRACE(f);
    const int64_t nearest = cochlea.nearest_channel(f);
    auto x = tone(f, 0.3);
    // Levels: strictly largest at the nearest channel, falling off on both sides.
    auto level = per_channel(cochlea.levels(x), 64);
    const auto argmax = std::max_element(level.begin(), level.end()) - level.begin();
    EXPECT_EQ(argmax, nearest);
    if (nearest >= 4) {
      EXPECT_LT(level[static_cast<size_t>(nearest - 4)], level[static_cast<size_t>(nearest)] - 1.0);
    }
    if (nearest + 4 < 64) {
      EXPECT_LT(level[static_cast<size_t>(nearest + 4)], level[static_cast<size_t>(nearest)] - 1.0);
    }
    // Spikes: no channel fires more than the nearest one, and channels 8 away fire clearly less.
    auto counts = per_channel(cochlea.spikes(x), 64);
    for (size_t c = 0; c < counts.size(); ++c) EXPECT_LE(counts[c], counts[static_cast<size_t>(nearest)]) << "channel " << c;
    EXPECT_GT(counts[static_cast<size_t>(nearest)], 50.0);
    if (nearest >= 8) {
      EXPECT_LT(counts[static_cast<size_t>(nearest - 8)], counts[static_cast<size_t>(nearest)] - 5.0);
    }
    if (nearest + 8 < 64) {
      EXPECT_LT(counts[static_cast<size_t>(nearest + 8)], counts[static_cast<size_t>(nearest)] - 5.0);
    }
  }
}

TEST(Cochlea, ToneAtACentreHasUnitGainOnlyThere) {
  Cochlea cochlea;
  const int64_t c = 40;
  auto x = tone(cochlea.centre_hz()[c], 1.0);
  auto levels = cochlea.levels(x);
  // A full-scale sine at a centre reaches level ~1 there once the filter has settled (step 50).
  EXPECT_NEAR(levels[static_cast<size_t>(50 * 64 + c)], 1.0, 0.01);
  EXPECT_LT(levels[static_cast<size_t>(50 * 64 + c - 6)], 0.97);
}

TEST(Cochlea, SilenceGivesNoSpikesEvenAfterASound) {
  Cochlea cochlea;
  std::vector<float> silence(16000, 0.0f);
  auto spikes = cochlea.spikes(silence);
  EXPECT_EQ(std::accumulate(spikes.begin(), spikes.end(), 0), 0);
  auto empty = cochlea.spikes(nullptr, 0);
  EXPECT_EQ(empty.size(), 6400u);
  EXPECT_EQ(std::accumulate(empty.begin(), empty.end(), 0), 0);
  // 0.3 s of tone, then silence: nothing fires once the filters have rung down (~50 ms).
  auto x = tone(1000.0, 0.5, 0.3);
  auto after = cochlea.spikes(x);
  int late = 0;
  for (int64_t t = 40; t < 100; ++t)
    for (int64_t c = 0; c < 64; ++c) late += after[static_cast<size_t>(t * 64 + c)];
  EXPECT_EQ(late, 0);
  int early = 0;
  for (int64_t t = 0; t < 30; ++t) early += after[static_cast<size_t>(t * 64 + cochlea.nearest_channel(1000.0))];
  EXPECT_GT(early, 20);
}

TEST(Cochlea, ShapesPaddingCroppingAndDeterminism) {
  Cochlea cochlea;
  EXPECT_EQ(cochlea.samples_per_step(), 160);
  auto x = tone(700.0, 0.2, 0.5);
  auto a = cochlea.spikes(x);
  ASSERT_EQ(a.size(), 100u * 64u);
  EXPECT_TRUE(std::all_of(a.begin(), a.end(), [](uint8_t v) { return v <= 1; }));
  EXPECT_EQ(a, cochlea.spikes(x));
  EXPECT_EQ(a, Cochlea().spikes(x));
  // Padding is silence: an explicit zero tail gives the same result; samples past 1 s are ignored.
  auto padded = x;
  padded.resize(16000, 0.0f);
  EXPECT_EQ(a, cochlea.spikes(padded));
  auto longer = padded;
  longer.resize(24000, 0.7f);
  EXPECT_EQ(a, cochlea.spikes(longer));
  // Other shapes follow the options.
  Cochlea small(CochleaOptions().channels(16).steps(20).bin_ms(5.0).compression("cbrt"));
  EXPECT_EQ(small.spikes(x).size(), 20u * 16u);
  EXPECT_EQ(small.samples_per_step(), 80);
}

TEST(Cochlea, SigmaDeltaRateFollowsTheLevel) {
  Cochlea cochlea(CochleaOptions().channels(2).f_min(500).f_max(1000).steps(100));
  for (float level : {0.0f, 0.1f, 0.25f, 0.5f, 1.0f}) {
    std::vector<float> levels(200, level);
    auto s = cochlea.encode(levels);
    EXPECT_NEAR(std::accumulate(s.begin(), s.end(), 0) / 2.0, 100.0 * level, 1.0) << level;
  }
  EXPECT_THROW(cochlea.encode(std::vector<float>(10, 0.5f)), golgi::Error);
}

TEST(Cochlea, BadOptionsAndInputsAreClear) {
  EXPECT_THROW(Cochlea(CochleaOptions().f_max(7900.0)), golgi::Error);  // above 0.45 fs
  EXPECT_THROW(Cochlea(CochleaOptions().f_min(8000.0).f_max(7000.0).sample_rate(48000)), golgi::Error);
  EXPECT_THROW(Cochlea(CochleaOptions().bin_ms(0.33)), golgi::Error);  // 5.28 samples
  EXPECT_THROW(Cochlea(CochleaOptions().channels(1)), golgi::Error);
  EXPECT_THROW(Cochlea(CochleaOptions().compression("log2")), golgi::Error);
  std::vector<float> bad(100, 0.0f);
  bad[7] = std::nanf("");
  EXPECT_THROW(Cochlea().spikes(bad), golgi::Error);
}

}  // namespace
