#include "golgi/spiking/cochlea.h"

#include <algorithm>
#include <cmath>

#include "golgi/core/error.h"

namespace golgi::spiking {

namespace {
constexpr double kPi = 3.14159265358979323846;
}  // namespace

const OptionSchema<CochleaOptions>& CochleaOptions::schema() {
  static const auto schema =
      OptionSchema<CochleaOptions>("cochlea")
          .add("sample_rate", &CochleaOptions::sample_rate_, "input sample rate in Hz", between<int64_t>(1000, 384000))
          .add("channels", &CochleaOptions::channels_, "band-pass channels", between<int64_t>(2, 1024))
          .add("f_min", &CochleaOptions::f_min_, "centre of the lowest channel in Hz", at_least(1.0, false))
          .add("f_max", &CochleaOptions::f_max_, "centre of the highest channel in Hz", at_least(1.0, false))
          .add("stages", &CochleaOptions::stages_, "cascaded 2nd-order resonators per channel", between<int64_t>(1, 8))
          .add("bandwidth_scale", &CochleaOptions::bandwidth_scale_, "-3 dB bandwidth in ERBs", between(0.05, 20.0))
          .add("steps", &CochleaOptions::steps_, "output time steps", between<int64_t>(1, 100000))
          .add("bin_ms", &CochleaOptions::bin_ms_, "milliseconds per step", between(0.1, 1000.0))
          .add("compression", &CochleaOptions::compression_, "envelope compression", {"db", "cbrt"})
          .add("floor_db", &CochleaOptions::floor_db_, "level floor in dB re a full-scale sine (db compression)",
               between(-200.0, -1.0))
          .add("threshold", &CochleaOptions::threshold_, "sigma-delta threshold in level units", between(0.01, 100.0));
  return schema;
}

double erb_hz(double f_hz) { return 24.7 * (4.37 * f_hz / 1000.0 + 1.0); }

Cochlea::Cochlea(CochleaOptions options) : options_(std::move(options)) {
  CochleaOptions::schema().validate(options_);
  const double fs = static_cast<double>(options_.sample_rate());
  GOLGI_CHECK(options_.f_min() < options_.f_max(), "cochlea: f_min (", options_.f_min(), " Hz) must be below f_max (",
              options_.f_max(), " Hz)");
  // Near Nyquist the bilinear-domain resonator loses its shape; keep a margin.
  GOLGI_CHECK(options_.f_max() < 0.45 * fs, "cochlea: f_max (", options_.f_max(), " Hz) must be below 0.45 x sample_rate (",
              0.45 * fs, " Hz at ", options_.sample_rate(), " Hz)");
  const double bin = options_.bin_ms() * fs / 1000.0;
  bin_ = static_cast<int64_t>(std::llround(bin));
  GOLGI_CHECK(bin_ >= 1 && std::abs(bin - static_cast<double>(bin_)) < 1e-9,
              "cochlea: bin_ms x sample_rate / 1000 must be a whole number of samples, got ", bin, " (bin_ms ",
              options_.bin_ms(), ", sample_rate ", options_.sample_rate(), ")");
  const int64_t n = options_.channels();
  const double narrowing = std::sqrt(std::pow(2.0, 1.0 / static_cast<double>(options_.stages())) - 1.0);
  for (int64_t c = 0; c < n; ++c) {
    const double f = options_.f_min() * std::pow(options_.f_max() / options_.f_min(),
                                                 static_cast<double>(c) / static_cast<double>(n - 1));
    const double q = f * narrowing / (options_.bandwidth_scale() * erb_hz(f));
    const double w0 = 2.0 * kPi * f / fs;
    const double alpha = std::sin(w0) / (2.0 * q);
    const double a0 = 1.0 + alpha;
    centre_hz_.push_back(f);
    q_.push_back(q);
    filters_.push_back({alpha / a0, -alpha / a0, -2.0 * std::cos(w0) / a0, (1.0 - alpha) / a0});
  }
}

int64_t Cochlea::nearest_channel(double f_hz) const {
  GOLGI_CHECK(f_hz > 0, "cochlea: frequency must be > 0 Hz, got ", f_hz);
  int64_t best = 0;
  double best_distance = 1e300;
  for (size_t c = 0; c < centre_hz_.size(); ++c) {
    const double d = std::abs(std::log(f_hz / centre_hz_[c]));
    if (d < best_distance) best_distance = d, best = static_cast<int64_t>(c);
  }
  return best;
}

std::vector<float> Cochlea::levels(const float* samples, size_t count) const {
  GOLGI_CHECK(samples != nullptr || count == 0, "cochlea: null sample buffer with ", count, " samples");
  const int64_t steps = options_.steps(), channels = options_.channels();
  const size_t total = static_cast<size_t>(steps * bin_);
  const size_t used = std::min(count, total);
  for (size_t i = 0; i < used; ++i)
    GOLGI_CHECK(std::isfinite(samples[i]), "cochlea: sample ", i, " is not finite (", samples[i], ")");
  const int64_t stages = options_.stages();
  const bool db = options_.compression() == "db";
  const double floor_db = options_.floor_db();
  std::vector<float> out(static_cast<size_t>(steps * channels), 0.0f);
  std::vector<double> s1(static_cast<size_t>(stages)), s2(static_cast<size_t>(stages));
  for (int64_t c = 0; c < channels; ++c) {
    const Biquad& f = filters_[static_cast<size_t>(c)];
    std::fill(s1.begin(), s1.end(), 0.0);
    std::fill(s2.begin(), s2.end(), 0.0);
    for (int64_t t = 0; t < steps; ++t) {
      double sum = 0.0;
      for (int64_t k = 0; k < bin_; ++k) {
        const size_t i = static_cast<size_t>(t * bin_ + k);
        // The padding after the input is silence; the filters keep ringing into it.
        double y = i < used ? static_cast<double>(samples[i]) : 0.0;
        // Transposed direct form II, one state pair per stage.
        for (int64_t s = 0; s < stages; ++s) {
          const double x = y;
          y = f.b0 * x + s1[static_cast<size_t>(s)];
          s1[static_cast<size_t>(s)] = -f.a1 * y + s2[static_cast<size_t>(s)];
          s2[static_cast<size_t>(s)] = f.b2 * x - f.a2 * y;
        }
        sum += y > 0.0 ? y : 0.0;
      }
      // π e: 1 for a full-scale sine at the centre frequency.
      const double e = kPi * sum / static_cast<double>(bin_);
      double level;
      if (db) {
        level = e > 0.0 ? (20.0 * std::log10(e) - floor_db) / -floor_db : 0.0;
      } else {
        level = std::cbrt(e);
      }
      out[static_cast<size_t>(t * channels + c)] = static_cast<float>(std::clamp(level, 0.0, 1.0));
    }
  }
  return out;
}

std::vector<uint8_t> Cochlea::encode(const std::vector<float>& levels) const {
  const int64_t steps = options_.steps(), channels = options_.channels();
  GOLGI_CHECK(static_cast<int64_t>(levels.size()) == steps * channels, "cochlea: encode expects levels [", steps, ", ",
              channels, "] = ", steps * channels, " values, got ", levels.size());
  const double threshold = options_.threshold();
  std::vector<uint8_t> out(levels.size(), 0);
  for (int64_t c = 0; c < channels; ++c) {
    double u = threshold / 2.0;
    for (int64_t t = 0; t < steps; ++t) {
      const size_t i = static_cast<size_t>(t * channels + c);
      u += static_cast<double>(levels[i]);
      if (levels[i] > 0.0f && u >= threshold) {
        out[i] = 1;
        u -= threshold;
      }
      // One spike per step at most: a level above threshold would otherwise pile up charge that
      // keeps the channel firing long after the sound has stopped.
      u = std::min(u, threshold);
    }
  }
  return out;
}

std::vector<uint8_t> Cochlea::spikes(const float* samples, size_t count) const { return encode(levels(samples, count)); }

}  // namespace golgi::spiking
