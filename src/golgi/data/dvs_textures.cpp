// dvs-textures: the synthetic event camera over moving 1/f textures (dvs_textures.h), and its
// dataset loader.
#include "golgi/data/dvs_textures.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/data/registry.h"

namespace golgi::data {

const OptionSchema<DvsTextureOptions>& DvsTextureOptions::schema() {
  static const auto schema =
      OptionSchema<DvsTextureOptions>("dvs_textures")
          .add("height", &DvsTextureOptions::height_, "image height H in pixels", between<int64_t>(2, 1024))
          .add("width", &DvsTextureOptions::width_, "image width W in pixels", between<int64_t>(2, 1024))
          .add("steps", &DvsTextureOptions::steps_, "time steps T per stream", between<int64_t>(1, 100000))
          .add("segment_steps", &DvsTextureOptions::segment_steps_,
               "steps per motion segment (the label changes at each segment boundary)", at_least<int64_t>(1))
          .add("directions", &DvsTextureOptions::directions_, "motion directions, evenly spaced in angle",
               between<int64_t>(1, 64))
          .add("speeds", &DvsTextureOptions::speeds_, "motion speeds, linearly spaced from min_speed to max_speed",
               between<int64_t>(1, 16))
          .add("min_speed", &DvsTextureOptions::min_speed_, "slowest speed in pixels per step",
               at_least(0.0, /*inclusive=*/false))
          .add("max_speed", &DvsTextureOptions::max_speed_, "fastest speed in pixels per step (>= min_speed)",
               at_least(0.0, /*inclusive=*/false))
          .add("threshold", &DvsTextureOptions::threshold_,
               "ON/OFF threshold on the change of log intensity since the pixel's last event",
               at_least(0.0, /*inclusive=*/false))
          .add("contrast", &DvsTextureOptions::contrast_, "standard deviation of the log intensity",
               at_least(0.0, /*inclusive=*/false))
          .add("spectrum_exponent", &DvsTextureOptions::spectrum_exponent_,
               "alpha of the isotropic amplitude spectrum |f|^-alpha", between(0.0, 4.0))
          .add("peak_frequency", &DvsTextureOptions::peak_frequency_,
               "centre f0 of the log-Gaussian spectral band in cycles/pixel (0: pure 1/f^alpha)", between(0.0, 0.5))
          .add("bandwidth_octaves", &DvsTextureOptions::bandwidth_octaves_,
               "standard deviation of the spectral band in octaves", at_least(0.0, /*inclusive=*/false))
          .add("texture_size", &DvsTextureOptions::texture_size_,
               "side S of the periodic texture, at least max(height, width)", between<int64_t>(4, 4096))
          .add("seed", &DvsTextureOptions::seed_, "seed of textures, start offsets and segment classes",
               at_least<int64_t>(0));
  return schema;
}

namespace {

void validate(const DvsTextureOptions& o) {
  DvsTextureOptions::schema().validate(o);
  GOLGI_CHECK(o.max_speed() >= o.min_speed(), "option 'dvs_textures.max_speed' (", o.max_speed(),
              ") must be >= min_speed (", o.min_speed(), ")");
  GOLGI_CHECK(o.texture_size() >= std::max(o.height(), o.width()), "option 'dvs_textures.texture_size' (",
              o.texture_size(), ") must be at least max(height, width) = ", std::max(o.height(), o.width()));
}

double speed_of(int64_t s, const DvsTextureOptions& o) {
  if (o.speeds() == 1) return o.min_speed();
  return o.min_speed() + (o.max_speed() - o.min_speed()) * static_cast<double>(s) / static_cast<double>(o.speeds() - 1);
}

// Frequencies in cycles per pixel of an rfft2 grid [S, S/2 + 1]: fy varies along rows, fx along columns.
std::pair<at::Tensor, at::Tensor> rfft_grid(int64_t size) {
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  at::Tensor fy = torch::fft::fftfreq(size, f64).view({size, 1});
  at::Tensor fx = torch::fft::rfftfreq(size, f64).view({1, size / 2 + 1});
  return {fx, fy};
}

}  // namespace

std::pair<double, double> dvs_class_velocity(int64_t c, const DvsTextureOptions& options) {
  GOLGI_CHECK(c >= 0 && c < options.classes(), "dvs-textures: class ", c, " is outside 0..", options.classes() - 1);
  const int64_t direction = c % options.directions(), s = c / options.directions();
  const double angle = 2.0 * M_PI * static_cast<double>(direction) / static_cast<double>(options.directions());
  const double v = speed_of(s, options);
  // Rounding cos/sin of multiples of 45 degrees to exact 0 keeps axis-aligned motion exactly on the axis.
  auto clean = [](double x) { return std::abs(x) < 1e-12 ? 0.0 : x; };
  return {clean(v * std::cos(angle)), clean(v * std::sin(angle))};
}

at::Tensor texture_1f(int64_t size, double exponent, uint64_t seed, double peak_frequency, double bandwidth_octaves) {
  GOLGI_CHECK(size >= 4, "dvs-textures: texture size must be >= 4, got ", size);
  GOLGI_CHECK(peak_frequency >= 0 && peak_frequency <= 0.5, "dvs-textures: peak_frequency must be in [0, 0.5], got ",
              peak_frequency);
  GOLGI_CHECK(bandwidth_octaves > 0, "dvs-textures: bandwidth_octaves must be > 0, got ", bandwidth_octaves);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor noise = at::normal(0.0, 1.0, {size, size}, gen).to(torch::kFloat64);
  at::Tensor spectrum = torch::fft::rfft2(noise);
  auto [fx, fy] = rfft_grid(size);
  at::Tensor f = (fx * fx + fy * fy).sqrt();
  at::Tensor envelope = f.clamp_min(1e-12).pow(-exponent);
  if (peak_frequency > 0) {
    const at::Tensor octaves = (f.clamp_min(1e-12) / peak_frequency).log2();
    envelope = envelope * (-(octaves * octaves) / (2.0 * bandwidth_octaves * bandwidth_octaves)).exp();
  }
  // Zero DC and the Nyquist row/column (see the header: they cannot be shifted sub-pixel).
  envelope.index_put_({0, 0}, 0.0);
  if (size % 2 == 0) {
    envelope.select(0, size / 2).zero_();
    envelope.select(1, size / 2).zero_();
  }
  at::Tensor texture = torch::fft::irfft2(spectrum * envelope, std::vector<int64_t>{size, size});
  texture = texture - texture.mean();
  const double sd = texture.pow(2).mean().sqrt().item<double>();
  GOLGI_ASSERT(sd > 0, "degenerate texture");
  return texture / sd;
}

at::Tensor shifted_frames(const at::Tensor& texture, const at::Tensor& offsets, int64_t height, int64_t width) {
  GOLGI_CHECK(texture.dim() == 2 && texture.size(0) == texture.size(1), "dvs-textures: texture must be [S, S], got ",
              texture.sizes());
  const int64_t S = texture.size(0);
  GOLGI_CHECK(offsets.dim() == 2 && offsets.size(1) == 2, "dvs-textures: offsets must be [K, 2], got ",
              offsets.sizes());
  GOLGI_CHECK(height >= 1 && width >= 1 && height <= S && width <= S, "dvs-textures: crop ", height, "x", width,
              " does not fit the ", S, "x", S, " texture");
  at::Tensor spectrum = torch::fft::rfft2(texture.to(torch::kFloat64));  // [S, S/2+1]
  auto [fx, fy] = rfft_grid(S);
  at::Tensor o = offsets.to(torch::kFloat64);
  const int64_t K = o.size(0);
  // Shift theorem: g(x) = h(x - o)  <=>  G(f) = H(f) exp(-2 pi i f . o).
  at::Tensor angle = -2.0 * M_PI * (o.select(1, 0).view({K, 1, 1}) * fx.unsqueeze(0) + o.select(1, 1).view({K, 1, 1}) * fy.unsqueeze(0));
  at::Tensor phase = torch::polar(torch::ones_like(angle), angle);
  at::Tensor frames = torch::fft::irfft2(spectrum.unsqueeze(0) * phase, std::vector<int64_t>{S, S});
  return frames.slice(1, 0, height).slice(2, 0, width).contiguous();
}

at::Tensor dvs_events(const at::Tensor& log_intensity, double threshold) {
  GOLGI_CHECK(log_intensity.dim() == 3 && log_intensity.size(0) >= 2,
              "dvs-textures: log intensity must be [T + 1 >= 2, H, W], got ", log_intensity.sizes());
  GOLGI_CHECK(threshold > 0, "dvs-textures: the event threshold must be > 0, got ", threshold);
  at::Tensor L = log_intensity.to(torch::kFloat64).contiguous();
  GOLGI_CHECK(torch::isfinite(L).all().item<bool>(), "dvs-textures: log intensity has NaN or infinite values");
  const int64_t T = L.size(0) - 1, H = L.size(1), W = L.size(2);
  at::Tensor events = torch::zeros({T, 2, H, W}, torch::kFloat32);
  auto la = L.accessor<double, 3>();
  auto ea = events.accessor<float, 4>();
  std::vector<double> ref(static_cast<size_t>(H * W));
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) ref[static_cast<size_t>(y * W + x)] = la[0][y][x];
  for (int64_t t = 0; t < T; ++t)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        double& r = ref[static_cast<size_t>(y * W + x)];
        const double now = la[t + 1][y][x];
        if (now - r >= threshold) {
          ea[t][0][y][x] = 1.0f;
          r = now;
        } else if (r - now >= threshold) {
          ea[t][1][y][x] = 1.0f;
          r = now;
        }
      }
  return events;
}

Json DvsTextures::card() const {
  const double rate = events.numel() ? events.mean().item<double>() : 0.0;
  return {{"source", "generated"},
          {"description",
           "synthetic DVS events (log-intensity change with ON/OFF thresholds) of periodic 1/f-noise textures "
           "translated with piecewise-constant velocity; 8 directions x 2 speeds"},
          {"generator", DvsTextureOptions::schema().to_json(options)},
          {"shape", events.sizes().vec()},
          {"layout", "[stream, step, polarity (0 ON, 1 OFF), y, x]"},
          {"classes", class_names},
          {"class_layout", "class = speed_index * directions + direction; direction k at angle 2*pi*k/directions "
                           "from +x towards +y"},
          {"event_rate_per_pixel_step", rate}};
}

DvsTextures generate_dvs_textures(int64_t streams, const DvsTextureOptions& options) {
  validate(options);
  GOLGI_CHECK(streams >= 1, "dvs-textures: streams must be >= 1, got ", streams);
  const int64_t T = options.steps(), H = options.height(), W = options.width(), S = options.texture_size();
  const int64_t C = options.classes();
  DvsTextures out;
  out.options = options;
  for (int64_t c = 0; c < C; ++c) {
    char name[64];
    std::snprintf(name, sizeof(name), "dir%lld_v%.2f", static_cast<long long>(c % options.directions()),
                  speed_of(c / options.directions(), options));
    out.class_names.emplace_back(name);
  }
  out.events = torch::zeros({streams, T, 2, H, W}, torch::kFloat32);
  out.labels = torch::zeros({streams, T}, torch::kInt64);
  auto la = out.labels.accessor<int64_t, 2>();
  for (int64_t i = 0; i < streams; ++i) {
    const uint64_t stream_seed = derive_seed(static_cast<uint64_t>(options.seed()), "dvs-textures/stream",
                                             static_cast<uint64_t>(i));
    SplitMix64 rng(derive_seed(stream_seed, "motion"));
    at::Tensor texture = texture_1f(S, options.spectrum_exponent(), derive_seed(stream_seed, "texture"),
                                    options.peak_frequency(), options.bandwidth_octaves());
    at::Tensor offsets = torch::zeros({T + 1, 2}, torch::kFloat64);
    auto oa = offsets.accessor<double, 2>();
    oa[0][0] = rng.uniform() * static_cast<double>(S);
    oa[0][1] = rng.uniform() * static_cast<double>(S);
    int64_t label = -1;
    for (int64_t t = 0; t < T; ++t) {
      if (t % options.segment_steps() == 0) {
        if (label < 0 || C == 1) {
          label = static_cast<int64_t>(rng.below(static_cast<uint64_t>(C)));
        } else {
          // Uniform among the other C - 1 classes.
          const auto k = static_cast<int64_t>(rng.below(static_cast<uint64_t>(C - 1)));
          label = k < label ? k : k + 1;
        }
      }
      la[i][t] = label;
      const auto [vx, vy] = dvs_class_velocity(label, options);
      oa[t + 1][0] = oa[t][0] + vx;
      oa[t + 1][1] = oa[t][1] + vy;
    }
    at::Tensor L = options.contrast() * shifted_frames(texture, offsets, H, W);
    out.events[i].copy_(dvs_events(L, options.threshold()));
  }
  return out;
}

// The registered dataset: clips of one motion segment each (segment_steps = steps), so that every
// sample has one class and Dataset's targets [N] are exact. Per-step labels over multi-segment
// streams come from generate_dvs_textures (what the hetero-delays reproduction uses).
std::shared_ptr<Dataset> load_dvs_textures(const DataOptions& options) {
  GOLGI_CHECK(options.split == "train" || options.split == "test", "dvs-textures has splits 'train' and 'test', got '",
              options.split, "'");
  const int64_t n = options.split == "train" ? 128 : 64;
  DvsTextureOptions gen;
  gen.height(24).width(24).steps(40).segment_steps(40).texture_size(48);
  gen.seed(static_cast<int64_t>(derive_seed(options.seed, "dvs-textures-" + options.split) >> 1));
  DvsTextures data = generate_dvs_textures(n, gen);
  Json card = data.card();
  card["samples"] = n;
  card["sample_layout"] = "[step, polarity (0 ON, 1 OFF), y, x]; one motion segment per clip, target = its class";
  return std::make_shared<Dataset>("dvs-textures", options.split, data.events, data.labels.select(1, 0).contiguous(),
                                   card);
}

}  // namespace golgi::data
