// dvs-textures: a synthetic event camera (DVS) watching 1/f-noise textures that move in 8
// directions at 2 speeds (16 motion classes), for the motion-detection task of paper id
// `hetero-delays` (Grimaldi & Perrinet 2023, "Learning heterogeneous delays in a layer of spiking
// neurons for fast motion detection", Biological Cybernetics; docs/methods/hetero-delays.md). The
// paper drives its layer with event streams made from natural images and "MotionClouds"-like
// textures; this generator is golgi's own, small enough to train on 2 CPU cores.
//
// Texture. A periodic S x S image (S = texture_size) with an isotropic amplitude spectrum and
// uniformly random phases: the real FFT of white Gaussian noise multiplied by
//
//   A(f) = |f|^-alpha * exp(-log2(|f| / f0)^2 / (2 beta^2)),      f = (fx, fy) in cycles/pixel,
//
// alpha = spectrum_exponent (alpha = 1 is the 1/f^2 power spectrum of natural images), f0 =
// peak_frequency and beta = bandwidth_octaves: a log-Gaussian radial band around f0 as in
// "MotionClouds" (Leon, Vanzetta, Masson & Perrinet 2012); peak_frequency = 0 drops the band (pure
// 1/f^alpha). The band keeps the texture's edges at the scale of a small kernel: a pure 1/f
// texture on a 32-pixel image puts most gradient energy at the pixel scale, so events are dense
// (~30% of pixel-steps) and short-range. The DC term and the Nyquist row and column are zeroed
// (the Nyquist terms cannot be shifted by a fraction of a pixel and stay real). It is scaled to unit
// standard deviation, and the log intensity is L = contrast * texture.
//
// Motion. Class c = speed_index * directions + direction. Direction k moves the texture by the
// angle 2*pi*k/directions measured from +x (columns, to the right) towards +y (rows, downwards),
// i.e. direction 0 moves right, 2 (of 8) down, 4 left, 6 up. Speeds are spaced linearly from
// min_speed to max_speed (pixels per step; one speed means min_speed). The texture at step t is
// the periodic texture translated by o(t): frame(x, y, t) = texture(x - o_x(t), y - o_y(t)), done
// exactly (sub-pixel) by the Fourier shift theorem, then cropped to the top-left H x W.
// o(0) is uniform in [0, S)^2, and o(t + 1) = o(t) + v(label[t]). A stream is cut into segments of
// segment_steps steps; each segment draws its class uniformly among the classes other than the
// previous segment's (the first one among all), so the label changes at every segment boundary
// while the texture keeps moving from where it was (no jump in the image).
//
// Events. Each pixel keeps a reference log intensity ref, initialised to the frame L(0). At step t
// (0..T-1) the pixel sees L(t + 1): if L - ref >= threshold it emits an ON event, if
// ref - L >= threshold an OFF event, and in both cases ref = L (the reference is reset to the
// current value, as the issue states; at most one event per pixel and step). Events are 0/1 floats.
//
// Determinism: stream i draws everything from derive_seed(seed, "dvs-textures/stream", i), so a
// stream does not depend on how many streams are generated, the thread count or the machine (the
// FFTs are float64; the event comparison is the only threshold).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::data {

struct DvsTextureOptions {
  GOLGI_ARG(int64_t, height) = 32;  // H, pixels
  GOLGI_ARG(int64_t, width) = 32;   // W, pixels
  GOLGI_ARG(int64_t, steps) = 128;  // T, time steps per stream
  // Steps per motion segment; the label changes at every multiple of segment_steps.
  GOLGI_ARG(int64_t, segment_steps) = 32;
  GOLGI_ARG(int64_t, directions) = 8;
  GOLGI_ARG(int64_t, speeds) = 2;
  GOLGI_ARG(double, min_speed) = 0.5;  // pixels per step
  GOLGI_ARG(double, max_speed) = 1.0;  // pixels per step
  // ON/OFF threshold on the change of log intensity since the pixel's last event.
  GOLGI_ARG(double, threshold) = 1.0;
  // Standard deviation of the log intensity over the texture.
  GOLGI_ARG(double, contrast) = 1.0;
  // alpha in the amplitude spectrum |f|^-alpha.
  GOLGI_ARG(double, spectrum_exponent) = 1.0;
  // f0, the centre of the log-Gaussian band in cycles/pixel; 0: no band (pure 1/f^alpha).
  GOLGI_ARG(double, peak_frequency) = 0.15;
  // beta, the band's standard deviation in octaves.
  GOLGI_ARG(double, bandwidth_octaves) = 1.0;
  // S, the side of the periodic texture; at least max(height, width).
  GOLGI_ARG(int64_t, texture_size) = 64;
  GOLGI_ARG(int64_t, seed) = 0;

  int64_t classes() const { return directions_ * speeds_; }
  static const OptionSchema<DvsTextureOptions>& schema();
};

struct DvsTextures {
  at::Tensor events;  // [N, T, 2, H, W] float32 0/1; polarity 0 = ON (brighter), 1 = OFF (darker)
  at::Tensor labels;  // [N, T] int64 motion class of each step, in 0..classes-1
  std::vector<std::string> class_names;  // e.g. "dir0_v0.50" (direction index, speed in px/step)
  DvsTextureOptions options;
  // Options, shapes, mean event rate per pixel and step, class names.
  Json card() const;
};

// N streams (stream i from derive_seed(seed, "dvs-textures/stream", i)). Throws golgi::Error for
// invalid options or streams < 1.
DvsTextures generate_dvs_textures(int64_t streams, const DvsTextureOptions& options);

// The velocity (v_x, v_y) in pixels per step of class c (layout above).
std::pair<double, double> dvs_class_velocity(int64_t c, const DvsTextureOptions& options);

// The periodic texture [size, size] float64 with amplitude spectrum A(f) above and unit standard
// deviation, seeded. peak_frequency 0: pure |f|^-exponent.
at::Tensor texture_1f(int64_t size, double exponent, uint64_t seed, double peak_frequency = 0.0,
                      double bandwidth_octaves = 1.0);

// Frames [K, height, width] float64 of the periodic texture [S, S] translated by offsets [K, 2]
// (o_x, o_y in pixels, any real values): frame_k(x, y) = texture(x - o_x, y - o_y), by Fourier shift.
at::Tensor shifted_frames(const at::Tensor& texture, const at::Tensor& offsets, int64_t height, int64_t width);

// The event camera on log-intensity frames [T + 1, H, W] (any floating dtype): [T, 2, H, W]
// float32 events by the rule above. threshold > 0.
at::Tensor dvs_events(const at::Tensor& log_intensity, double threshold);

}  // namespace golgi::data
