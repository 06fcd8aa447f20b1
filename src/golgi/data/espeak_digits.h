// espeak-digits: spoken digits in English and German, synthesised offline and turned into spikes
// by the cochlea front end (issue 5; docs/datasets.md).
//
// Classes: 20, class = language · 10 + digit, language 0 = English ("zero".."nine", espeak-ng
// voice "en"), 1 = German ("null".."neun", voice "de"). Class names "en-0".."en-9", "de-0".."de-9".
//
// Each sample is one word spoken by `espeak-ng -v <lang>+<variant> -s <speed> -p <pitch>`, where
// the variant is one of 15 (m1..m7, f1..f5, klatt, klatt2, klatt3), the speed an integer in
// [130, 200] words per minute and the pitch an integer in [25, 75] (espeak's default 175 / 50).
// The WAV espeak-ng writes (22.05 kHz) is resampled by `sox -R` to 16 kHz mono 32-bit float; the
// tools are spawned with an argv array (posix_spawn), never through a shell.
//
// Alignment: the onset is the first sample whose magnitude reaches 2% of the utterance's peak;
// the 1 s window starts lead_ms before it (zeros before the file's start), lead_ms a whole number
// drawn uniformly from [20, 20 + shift_ms] (default 20..120 ms, i.e. the word starts at step 2..12).
// Samples are scaled so the peak is 0.9 (loudness carries no class information). Then, unless
// --noise false, white Gaussian noise is added over the whole window at an SNR (relative to the
// speech's RMS between onset and end) drawn from [snr_db, snr_db + 20] dB (default 10..30 dB):
// without shift and noise a linear classifier on coarse spike counts scores 100% on the test
// split, which makes the set too easy to tell methods apart. Then spiking::Cochlea with its
// defaults: [100 steps of 10 ms, 64 channels] of 0/1 spikes. Words longer than the window are
// cropped (the manifest records it per sample; the longest default words last ~0.8 s).
//
// Determinism: the (variant, speed, pitch, lead, SNR, noise seed) of every sample comes from
// SplitMix64 streams derived from the seed, one per (split, class); the build's bytes do not depend on --threads. Split rule:
// train and test draw from the same ranges with independent streams, and no (class, variant,
// speed, pitch) combination appears twice in the dataset, so every test utterance is one the
// training set never heard (with 15 variants, 71 speeds and 51 pitches there are 54,315
// combinations per class).
//
// Cache layout (DIR, default default_espeak_digits_dir()):
//   DIR/train_spikes.npy  uint8 [N_train, 100, 64]     DIR/train_labels.npy  int64 [N_train]
//   DIR/test_spikes.npy   uint8 [N_test, 100, 64]      DIR/test_labels.npy   int64 [N_test]
//   DIR/manifest.json     seed, tool versions, front-end options, per-sample parameters, file
//                         names and FNV-1a 64 hashes of the tensors; written last, atomically, and
//                         free of timestamps, so two builds with the same seed and tools write
//                         byte-identical manifests.
// The loader (load_espeak_digits, registered as "espeak-digits") re-hashes the tensors and refuses
// a cache whose bytes disagree with its manifest.
#pragma once

#include <cstdint>
#include <string>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::data {

struct EspeakDigitsOptions {
  GOLGI_ARG(std::string, out);  // cache folder; empty: default_espeak_digits_dir()
  GOLGI_ARG(int64_t, seed) = 0;
  GOLGI_ARG(int64_t, per_class) = 60;  // training samples per class
  GOLGI_ARG(int64_t, test_per_class) = -1;  // test samples per class; -1: max(1, per_class / 4)
  GOLGI_ARG(int64_t, shift_ms) = 100;  // onset at 20 + U[0, shift_ms] ms (whole ms)
  GOLGI_ARG(bool, noise) = true;  // white Gaussian noise at a per-sample SNR
  GOLGI_ARG(double, snr_db) = 10.0;  // SNR uniform in [snr_db, snr_db + 20] dB (steps of 0.1 dB)
  GOLGI_ARG(int64_t, threads) = 0;  // parallel synthesis workers; 0: all cores
  GOLGI_ARG(bool, progress) = true;

  static const OptionSchema<EspeakDigitsOptions>& schema();
};

struct EspeakDigitsBuild {
  std::string dir;
  int64_t train = 0, test = 0;  // samples
  std::string content_hash;  // "fnv1a64:<16 hex digits>" over every tensor's bytes
  std::string manifest_hash;  // FNV-1a 64 of manifest.json's bytes
  double seconds = 0;
  int64_t workers = 0;
  Json to_json() const;
};

// $GOLGI_DATA_DIR/espeak-digits when GOLGI_DATA_DIR is set, else
// ${XDG_CACHE_HOME:-$HOME/.cache}/golgi/espeak-digits.
std::string default_espeak_digits_dir();

// "" when espeak-ng and sox are on PATH; otherwise an error message naming the missing tools and
// how to install them (tests GTEST_SKIP with it).
std::string espeak_digits_missing_tools();

// Synthesises the dataset into options.out (made if missing; an existing build there is replaced).
// Throws golgi::Error when a tool is missing or fails (naming the command and its stderr).
EspeakDigitsBuild build_espeak_digits(const EspeakDigitsOptions& options);

// FNV-1a 64 (Fowler, Noll & Vo) of `size` bytes, continuing from `hash` (start: the offset basis).
inline constexpr uint64_t kFnv1a64Basis = 14695981039346656037ull;
uint64_t fnv1a64(const void* data, size_t size, uint64_t hash = kFnv1a64Basis);

}  // namespace golgi::data
