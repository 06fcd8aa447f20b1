// A cochlea-like front end: mono audio to spike trains [T steps, channels] (issue 5).
//
// Stages, per channel c = 0..channels-1 (all in double precision, plain C++: no LibTorch):
//
//   1. Band-pass filter. Centres are log-spaced, f_c = f_min (f_max / f_min)^(c / (channels - 1)),
//      100 Hz .. 7 kHz by default. Each channel is a cascade of `stages` identical 2nd-order
//      resonators (the constant-0-dB-peak band-pass biquad of R. Bristow-Johnson's "Audio EQ
//      Cookbook": b = [α, 0, −α], a = [1 + α, −2 cos ω0, 1 − α], ω0 = 2π f_c / fs, α = sin ω0 / 2Q).
//      Two stages give a 4th-order band-pass, a rough digital stand-in for a gammatone filter
//      (Patterson et al. 1992). The gain at f_c is exactly 1 for every channel and stage count.
//      Bandwidth follows the human auditory filter: the cascade's −3 dB bandwidth equals
//      bandwidth_scale · ERB(f_c), ERB(f) = 24.7 (4.37 f / 1000 + 1) Hz (Glasberg & Moore 1990).
//      One stage's −3 dB bandwidth is f_c / Q; N cascaded stages narrow it by sqrt(2^(1/N) − 1),
//      so each stage gets Q = f_c sqrt(2^(1/N) − 1) / (bandwidth_scale · ERB(f_c)). With the
//      defaults (N = 2, scale 1) the cascade's Q_eff = f_c / ERB is 2.8 at 100 Hz, 7.5 at 1 kHz and
//      9.0 at 7 kHz (per-stage Q 1.8, 4.8 and 5.8).
//   2. Half-wave rectification, then the mean over each bin of bin_ms (10 ms): the envelope e.
//      A sine of amplitude A at f_c gives e ≈ A / π.
//   3. Compression to a level in [0, 1], relative to a full-scale (A = 1) sine at f_c:
//        "db"   (default) level = clamp((20 log10(π e) − floor_db) / (−floor_db), 0, 1): a
//               logarithmic (dB) scale with a −floor_db dynamic range; silence and anything
//               below floor_db dBFS is 0.
//        "cbrt" level = min(1, (π e)^(1/3)): Stevens' power-law loudness.
//   4. Spikes: a per-channel sigma-delta (integrate-and-fire with subtraction) over the steps:
//      u += level; if u >= threshold { spike; u −= threshold }, with u starting at threshold / 2
//      (so a constant level L gives L / threshold spikes per step on average, rounded to nearest).
//      A channel fires only on steps whose level is > 0, so silence never spikes, even right
//      after a sound. At most one spike per channel and step (the charge u is capped at
//      threshold): with threshold 1 the maximum rate is 1 / bin (100 Hz).
//
// Alignment: the output covers exactly the first steps · bin_ms (1 s) of the input; a shorter
// input is padded with silence at the end, a longer one is cropped. Step t covers samples
// [t·B, (t+1)·B), B = bin_ms · sample_rate / 1000 (160 at 16 kHz). Filters start at rest, so step
// 0 includes the filters' onset transient. Callers that want utterances aligned (e.g.
// espeak-digits) trim leading silence before calling.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "golgi/core/options.h"

namespace golgi::spiking {

struct CochleaOptions {
  GOLGI_ARG(int64_t, sample_rate) = 16000;  // Hz, of the input samples
  GOLGI_ARG(int64_t, channels) = 64;
  GOLGI_ARG(double, f_min) = 100.0;  // Hz, centre of channel 0
  GOLGI_ARG(double, f_max) = 7000.0;  // Hz, centre of the last channel
  GOLGI_ARG(int64_t, stages) = 2;  // cascaded 2nd-order resonators per channel
  GOLGI_ARG(double, bandwidth_scale) = 1.0;  // −3 dB bandwidth in ERBs
  GOLGI_ARG(int64_t, steps) = 100;  // output time steps T
  GOLGI_ARG(double, bin_ms) = 10.0;  // ms per step
  GOLGI_ARG(std::string, compression) = "db";  // "db" or "cbrt"
  GOLGI_ARG(double, floor_db) = -60.0;  // dB re a full-scale sine: level 0 at and below ("db" only)
  GOLGI_ARG(double, threshold) = 1.0;  // sigma-delta threshold, in level units

  static const OptionSchema<CochleaOptions>& schema();
};

// Glasberg & Moore (1990) equivalent rectangular bandwidth in Hz at frequency f_hz.
double erb_hz(double f_hz);

class Cochlea {
 public:
  // Validates the options (throws golgi::Error naming the field) and designs the filters. Also
  // checks that f_max lies below 0.45 · sample_rate and that bin_ms · sample_rate / 1000 is a
  // whole number of samples.
  explicit Cochlea(CochleaOptions options = {});

  const CochleaOptions& options() const { return options_; }
  int64_t channels() const { return options_.channels(); }
  int64_t steps() const { return options_.steps(); }
  int64_t samples_per_step() const { return bin_; }
  // Centre frequencies in Hz, [channels], increasing.
  const std::vector<double>& centre_hz() const { return centre_hz_; }
  // Per-stage Q of each channel, [channels].
  const std::vector<double>& stage_q() const { return q_; }
  // The channel whose centre is nearest f_hz on a log-frequency axis.
  int64_t nearest_channel(double f_hz) const;

  // Compressed levels in [0, 1], row-major [steps, channels]. `samples`: mono, at sample_rate,
  // full scale ±1 (values outside are allowed and saturate the level at 1).
  std::vector<float> levels(const float* samples, size_t count) const;
  std::vector<float> levels(const std::vector<float>& samples) const { return levels(samples.data(), samples.size()); }
  // 0/1 spikes, row-major [steps, channels].
  std::vector<uint8_t> spikes(const float* samples, size_t count) const;
  std::vector<uint8_t> spikes(const std::vector<float>& samples) const { return spikes(samples.data(), samples.size()); }
  // Stage 4 alone: levels [steps, channels] to spikes [steps, channels].
  std::vector<uint8_t> encode(const std::vector<float>& levels) const;

 private:
  struct Biquad {
    double b0, b2, a1, a2;  // normalised by a0; b1 = 0 for the band-pass
  };
  CochleaOptions options_;
  int64_t bin_ = 0;
  std::vector<double> centre_hz_, q_;
  std::vector<Biquad> filters_;  // one per channel (every stage of a channel is the same biquad)
};

}  // namespace golgi::spiking
