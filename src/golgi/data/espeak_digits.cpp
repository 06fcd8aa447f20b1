// espeak-digits: the offline build (espeak-ng -> sox -> cochlea -> spikes) and the cache loader.
// The contract (classes, voices, alignment, split rule, cache layout) is in espeak_digits.h.
#include "golgi/data/espeak_digits.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <cerrno>
#include <filesystem>
#include <limits>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/runtime.h"
#include "golgi/core/seed.h"
#include "golgi/data/registry.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/npy.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/io/wav.h"
#include "golgi/spiking/cochlea.h"

extern char** environ;

namespace golgi::data {

namespace {

constexpr int64_t kFormatVersion = 1;
constexpr double kPi = 3.14159265358979323846;
constexpr int64_t kSampleRate = 16000;
constexpr int64_t kLanguages = 2, kDigits = 10, kClasses = kLanguages * kDigits;
constexpr const char* kLanguageCodes[kLanguages] = {"en", "de"};
constexpr const char* kWords[kLanguages][kDigits] = {
    {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"},
    {"null", "eins", "zwei", "drei", "vier", "f\xc3\xbcnf", "sechs", "sieben", "acht", "neun"}};
constexpr const char* kVariants[] = {"m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1",
                                     "f2", "f3", "f4", "f5", "klatt", "klatt2", "klatt3"};
constexpr int64_t kVariantCount = sizeof(kVariants) / sizeof(kVariants[0]);
constexpr int64_t kSpeedMin = 130, kSpeedMax = 200, kPitchMin = 25, kPitchMax = 75;
// Onset: first sample at 2% of the peak; the window opens 50 ms before it; peak scaled to 0.9.
constexpr double kOnsetFraction = 0.02, kPeak = 0.9;
// Per-sample augmentation: the window opens lead_ms before the onset, lead_ms uniform in
// [kLeadMinMs, kLeadMinMs + shift_ms]; white Gaussian noise at an SNR uniform in [snr_db, snr_db + 20].
constexpr double kLeadMinMs = 20.0, kSnrSpanDb = 20.0;
constexpr const char* kInstallHint = "install them with `apt-get install espeak-ng sox` or run scripts/setup.sh";
constexpr const char* kBuildHint = "run `golgi data build espeak-digits` (add --out DIR to build elsewhere)";

struct SampleSpec {
  int64_t label = 0;
  int64_t variant = 0, speed = 0, pitch = 0;
  double lead_ms = 0, snr_db = 0;  // snr_db: +inf without noise
  uint64_t noise_seed = 0;
  // Filled by the synthesis.
  double speech_ms = 0;
  bool cropped = false;

  int64_t language() const { return label / kDigits; }
  int64_t digit() const { return label % kDigits; }
  std::string voice() const { return std::string(kLanguageCodes[language()]) + "+" + kVariants[variant]; }
  std::string word() const { return kWords[language()][digit()]; }
};

std::string class_name(int64_t label) {
  return std::string(kLanguageCodes[label / kDigits]) + "-" + std::to_string(label % kDigits);
}

std::string hash_string(uint64_t hash) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "fnv1a64:%016" PRIx64, hash);
  return buf;
}

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  return "";
}

std::string describe_argv(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + (a.find(' ') == std::string::npos ? a : "'" + a + "'");
  return out;
}

// Runs argv[0] (an absolute path) with argv, stdout to `stdout_path` and stderr to `stderr_path`,
// without a shell; throws golgi::Error with the command and its stderr unless it exits 0.
void run_tool(const std::vector<std::string>& argv, const std::string& stdout_path, const std::string& stderr_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  GOLGI_CHECK(rc == 0, "could not start `", describe_argv(argv), "`: ", std::strerror(rc), "; ", kInstallHint);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    GOLGI_CHECK(errno == EINTR, "waitpid for `", describe_argv(argv), "` failed: ", std::strerror(errno));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  std::string err;
  try {
    err = io::read_file(stderr_path);
  } catch (const Error&) {
  }
  if (err.size() > 500) err = "..." + err.substr(err.size() - 500);
  while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
  if (WIFEXITED(status))
    GOLGI_FAIL("`", describe_argv(argv), "` exited with status ", WEXITSTATUS(status), err.empty() ? "" : ": ", err);
  GOLGI_FAIL("`", describe_argv(argv), "` was killed by signal ", WTERMSIG(status), err.empty() ? "" : ": ", err);
}

std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

struct Tools {
  std::string espeak, sox;
  std::string espeak_version, sox_version;
};

Tools find_tools(const std::string& scratch) {
  std::string missing = espeak_digits_missing_tools();
  GOLGI_CHECK(missing.empty(), missing);
  Tools tools{find_on_path("espeak-ng"), find_on_path("sox"), "", ""};
  const std::string out = scratch + "/version.out", err = scratch + "/version.err";
  run_tool({tools.espeak, "--version"}, out, err);
  tools.espeak_version = first_line(io::read_file(out));
  run_tool({tools.sox, "--version"}, out, err);
  tools.sox_version = first_line(io::read_file(out));
  // "sox:      SoX v14.4.2": keep the part that names the version.
  if (auto at = tools.sox_version.find("SoX"); at != std::string::npos) tools.sox_version = tools.sox_version.substr(at);
  return tools;
}

// Plans every sample's parameters (see the split rule in espeak_digits.h): one SplitMix64 stream
// per (split, class), redrawing a combination the dataset already holds.
std::vector<SampleSpec> plan_split(uint64_t seed, const std::string& split, int64_t per_class,
                                   const EspeakDigitsOptions& options,
                                   std::vector<std::set<std::tuple<int64_t, int64_t, int64_t>>>& used) {
  std::vector<SampleSpec> out;
  for (int64_t label = 0; label < kClasses; ++label) {
    SplitMix64 rng(derive_seed(seed, "espeak-digits-" + split, static_cast<uint64_t>(label)));
    for (int64_t j = 0; j < per_class; ++j) {
      SampleSpec s;
      s.label = label;
      do {
        s.variant = static_cast<int64_t>(rng.below(kVariantCount));
        s.speed = kSpeedMin + static_cast<int64_t>(rng.below(kSpeedMax - kSpeedMin + 1));
        s.pitch = kPitchMin + static_cast<int64_t>(rng.below(kPitchMax - kPitchMin + 1));
      } while (!used[static_cast<size_t>(label)].insert({s.variant, s.speed, s.pitch}).second);
      // Whole milliseconds and tenths of a dB keep the manifest exact and readable.
      s.lead_ms = kLeadMinMs + static_cast<double>(rng.below(static_cast<uint64_t>(options.shift_ms()) + 1));
      s.snr_db = options.noise() ? options.snr_db() + 0.1 * static_cast<double>(rng.below(static_cast<uint64_t>(kSnrSpanDb * 10) + 1))
                                 : std::numeric_limits<double>::infinity();
      s.noise_seed = rng.next();
      out.push_back(s);
    }
  }
  // Class-interleaved order (sample i has class i mod 20 within each round), so head(n) of a
  // split is balanced.
  std::vector<SampleSpec> ordered;
  for (int64_t j = 0; j < per_class; ++j)
    for (int64_t label = 0; label < kClasses; ++label) ordered.push_back(out[static_cast<size_t>(label * per_class + j)]);
  return ordered;
}

// One utterance: synthesise, resample, align, scale, encode. Writes [steps, channels] spikes.
void synthesise(SampleSpec& s, const Tools& tools, const spiking::Cochlea& cochlea, const std::string& scratch,
                uint8_t* spikes_out) {
  const std::string raw = scratch + "/raw.wav", resampled = scratch + "/16k.wav";
  const std::string log_out = scratch + "/tool.out", log_err = scratch + "/tool.err";
  run_tool({tools.espeak, "-v", s.voice(), "-s", std::to_string(s.speed), "-p", std::to_string(s.pitch), "-w", raw,
            s.word()},
           log_out, log_err);
  // -R: repeatable mode (fixed seeds inside sox); float output needs no dither.
  run_tool({tools.sox, "-R", "-V1", raw, "-r", std::to_string(kSampleRate), "-c", "1", "-e", "floating-point", "-b",
            "32", resampled},
           log_out, log_err);
  io::Wav wav = io::read_wav(resampled);
  GOLGI_CHECK(wav.sample_rate == kSampleRate, "sox wrote '", resampled, "' at ", wav.sample_rate, " Hz, expected ",
              kSampleRate);
  std::vector<float> x = wav.mono();
  float peak = 0.0f;
  for (float v : x) peak = std::max(peak, std::abs(v));
  GOLGI_CHECK(peak > 0.0f, "espeak-ng produced silence for '", s.word(), "' with voice ", s.voice());
  int64_t onset = -1, end = -1;
  for (size_t i = 0; i < x.size(); ++i)
    if (std::abs(x[i]) >= kOnsetFraction * peak) {
      if (onset < 0) onset = static_cast<int64_t>(i);
      end = static_cast<int64_t>(i);
    }
  const int64_t window = cochlea.steps() * cochlea.samples_per_step();
  const int64_t start = onset - static_cast<int64_t>(std::llround(s.lead_ms * kSampleRate / 1000.0));
  std::vector<float> aligned(static_cast<size_t>(window), 0.0f);
  const float scale = static_cast<float>(kPeak) / peak;
  for (int64_t k = 0; k < window; ++k) {
    const int64_t i = start + k;
    if (i >= 0 && i < static_cast<int64_t>(x.size())) aligned[static_cast<size_t>(k)] = x[static_cast<size_t>(i)] * scale;
  }
  if (std::isfinite(s.snr_db)) {
    // White Gaussian noise (Box-Muller on SplitMix64) over the whole window, scaled to the
    // speech's RMS between onset and end.
    double power = 0.0;
    for (int64_t i = onset; i <= end; ++i) power += static_cast<double>(x[static_cast<size_t>(i)]) * x[static_cast<size_t>(i)];
    const double rms = std::sqrt(power / static_cast<double>(end - onset + 1)) * scale;
    const double sigma = rms * std::pow(10.0, -s.snr_db / 20.0);
    SplitMix64 rng(s.noise_seed);
    for (size_t k = 0; k < aligned.size(); k += 2) {
      const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
      const double r = sigma * std::sqrt(-2.0 * std::log(u1));
      aligned[k] += static_cast<float>(r * std::cos(2.0 * kPi * u2));
      if (k + 1 < aligned.size()) aligned[k + 1] += static_cast<float>(r * std::sin(2.0 * kPi * u2));
    }
  }
  s.speech_ms = 1000.0 * static_cast<double>(end - onset + 1) / kSampleRate;
  s.cropped = end - start >= window;
  std::vector<uint8_t> out = cochlea.spikes(aligned);
  std::copy(out.begin(), out.end(), spikes_out);
}

Json sample_json(const SampleSpec& s) {
  return Json{{"label", s.label},       {"class", class_name(s.label)}, {"word", s.word()},
              {"voice", s.voice()},     {"speed", s.speed},             {"pitch", s.pitch},
              {"lead_ms", s.lead_ms},   {"snr_db", std::isfinite(s.snr_db) ? Json(std::round(s.snr_db * 10.0) / 10.0) : Json()},
              {"speech_ms", std::round(s.speech_ms * 100.0) / 100.0}, {"cropped", s.cropped}};
}

std::vector<std::string> class_names() {
  std::vector<std::string> out;
  for (int64_t k = 0; k < kClasses; ++k) out.push_back(class_name(k));
  return out;
}

}  // namespace

uint64_t fnv1a64(const void* data, size_t size, uint64_t hash) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < size; ++i) {
    hash ^= p[i];
    hash *= 1099511628211ull;
  }
  return hash;
}

const OptionSchema<EspeakDigitsOptions>& EspeakDigitsOptions::schema() {
  static const auto schema =
      OptionSchema<EspeakDigitsOptions>("espeak_digits")
          .add("out", &EspeakDigitsOptions::out_, "cache folder to write (default: the dataset's cache folder)")
          .add("seed", &EspeakDigitsOptions::seed_, "picks every sample's voice, speed, pitch, onset shift and noise", at_least<int64_t>(0))
          .add("per_class", &EspeakDigitsOptions::per_class_, "training samples per class (20 classes)",
               between<int64_t>(1, 2000))
          .add("test_per_class", &EspeakDigitsOptions::test_per_class_,
               "test samples per class (-1: a quarter of per-class, at least 1)", between<int64_t>(-1, 2000))
          .add("shift_ms", &EspeakDigitsOptions::shift_ms_,
               "random onset shift: each word starts 20 + U[0, shift_ms] ms into its 1 s window", between<int64_t>(0, 500))
          .add("noise", &EspeakDigitsOptions::noise_, "add white Gaussian noise to every sample")
          .add("snr_db", &EspeakDigitsOptions::snr_db_, "lowest SNR of the noise; each sample's is U[snr_db, snr_db + 20] dB",
               between(-20.0, 60.0))
          .add("threads", &EspeakDigitsOptions::threads_, "parallel synthesis workers (0: all cores)",
               between<int64_t>(0, 256))
          .add("progress", &EspeakDigitsOptions::progress_, "show a progress bar");
  return schema;
}

Json EspeakDigitsBuild::to_json() const {
  return Json{{"dataset", "espeak-digits"}, {"dir", dir},         {"train", train},
              {"test", test},               {"content_hash", content_hash}, {"manifest_hash", manifest_hash},
              {"seconds", seconds},         {"workers", workers}};
}

std::string default_espeak_digits_dir() {
  if (const char* dir = std::getenv("GOLGI_DATA_DIR"); dir && *dir) return std::string(dir) + "/espeak-digits";
  if (const char* dir = std::getenv("XDG_CACHE_HOME"); dir && *dir) return std::string(dir) + "/golgi/espeak-digits";
  const char* home = std::getenv("HOME");
  GOLGI_CHECK(home && *home, "espeak-digits: cannot choose a cache folder (HOME, XDG_CACHE_HOME and GOLGI_DATA_DIR are "
                             "unset); pass --out / --data-dir");
  return std::string(home) + "/.cache/golgi/espeak-digits";
}

std::string espeak_digits_missing_tools() {
  std::vector<std::string> missing;
  for (const char* tool : {"espeak-ng", "sox"})
    if (find_on_path(tool).empty()) missing.emplace_back(tool);
  if (missing.empty()) return "";
  std::string names = missing.size() == 2 ? "espeak-ng and sox are" : missing[0] + " is";
  return "espeak-digits needs espeak-ng and sox, but " + names + " not on PATH; " + kInstallHint;
}

EspeakDigitsBuild build_espeak_digits(const EspeakDigitsOptions& options) {
  EspeakDigitsOptions::schema().validate(options);
  const auto start_time = std::chrono::steady_clock::now();
  EspeakDigitsBuild result;
  result.dir = options.out().empty() ? default_espeak_digits_dir() : options.out();
  const int64_t per_class = options.per_class();
  const int64_t test_per_class = options.test_per_class() >= 0 ? options.test_per_class() : std::max<int64_t>(1, per_class / 4);
  GOLGI_CHECK(test_per_class >= 1, "espeak-digits: test_per_class must be >= 1 (or -1), got ", test_per_class);
  namespace fs = std::filesystem;
  std::error_code ec;
  io::make_dirs(result.dir);
  // Scratch folders of builds that were killed (their process is gone) are removed; a live
  // build's folder is left alone.
  for (const auto& entry : fs::directory_iterator(result.dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(".build-", 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + 7, nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(entry.path(), ec);
  }
  const std::string scratch_root = result.dir + "/.build-" + std::to_string(::getpid());
  io::make_dirs(scratch_root);
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      std::error_code error;
      fs::remove_all(path, error);
    }
  } cleanup{scratch_root};
  const Tools tools = find_tools(scratch_root);
  // A half-replaced cache must never look complete: the manifest goes first and comes back last.
  fs::remove(result.dir + "/manifest.json", ec);

  const uint64_t seed = static_cast<uint64_t>(options.seed());
  std::vector<std::set<std::tuple<int64_t, int64_t, int64_t>>> used(static_cast<size_t>(kClasses));
  std::vector<std::vector<SampleSpec>> specs = {plan_split(seed, "train", per_class, options, used),
                                                plan_split(seed, "test", test_per_class, options, used)};
  const std::vector<std::string> split_names = {"train", "test"};
  const spiking::Cochlea cochlea(spiking::CochleaOptions().sample_rate(kSampleRate));
  const int64_t sample_size = cochlea.steps() * cochlea.channels();
  std::vector<std::vector<uint8_t>> spikes(2);
  std::vector<std::pair<size_t, size_t>> jobs;
  for (size_t s = 0; s < 2; ++s) {
    spikes[s].assign(specs[s].size() * static_cast<size_t>(sample_size), 0);
    for (size_t i = 0; i < specs[s].size(); ++i) jobs.emplace_back(s, i);
  }

  int64_t workers = options.threads() > 0 ? options.threads() : hardware_threads();
  workers = std::max<int64_t>(1, std::min<int64_t>(workers, static_cast<int64_t>(jobs.size())));
  result.workers = workers;
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::string first_error;
  std::unique_ptr<Progress> progress;
  if (options.progress()) progress = std::make_unique<Progress>("espeak-digits", static_cast<int64_t>(jobs.size()), "utt");
  auto work = [&](int64_t w) {
    try {
      const std::string scratch = scratch_root + "/w" + std::to_string(w);
      io::make_dirs(scratch);
      for (size_t j = next++; j < jobs.size() && !failed; j = next++) {
        auto [s, i] = jobs[j];
        synthesise(specs[s][i], tools, cochlea, scratch, spikes[s].data() + i * static_cast<size_t>(sample_size));
        if (progress) {
          std::lock_guard<std::mutex> lock(mutex);
          progress->advance();
        }
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!failed.exchange(true)) first_error = e.what();
    }
  };
  std::vector<std::thread> threads;
  for (int64_t w = 1; w < workers; ++w) threads.emplace_back(work, w);
  work(0);
  for (auto& t : threads) t.join();
  if (progress) progress->finish();
  GOLGI_CHECK(!failed, "espeak-digits build failed: ", first_error);

  Json manifest = {{"dataset", "espeak-digits"},
                   {"format_version", kFormatVersion},
                   {"seed", options.seed()},
                   {"per_class", per_class},
                   {"test_per_class", test_per_class},
                   {"classes", class_names()},
                   {"tools", {{"espeak-ng", tools.espeak_version}, {"sox", tools.sox_version}}},
                   {"synthesis",
                    {{"variants", std::vector<std::string>(std::begin(kVariants), std::end(kVariants))},
                     {"speed_wpm", {kSpeedMin, kSpeedMax}},
                     {"pitch", {kPitchMin, kPitchMax}},
                     {"sample_rate", kSampleRate},
                     {"onset_fraction_of_peak", kOnsetFraction},
                     {"lead_ms", {kLeadMinMs, kLeadMinMs + static_cast<double>(options.shift_ms())}},
                     {"noise", options.noise()},
                     {"snr_db", options.noise() ? Json{options.snr_db(), options.snr_db() + kSnrSpanDb} : Json()},
                     {"peak", kPeak}}},
                   {"front_end", spiking::CochleaOptions::schema().to_json(cochlea.options())},
                   {"centre_hz", cochlea.centre_hz()},
                   {"shape", {cochlea.steps(), cochlea.channels()}}};
  uint64_t content = kFnv1a64Basis;
  for (size_t s = 0; s < 2; ++s) {
    const std::string& split = split_names[s];
    const int64_t n = static_cast<int64_t>(specs[s].size());
    std::vector<int64_t> labels;
    for (const auto& spec : specs[s]) labels.push_back(spec.label);
    const std::string spikes_file = split + "_spikes.npy", labels_file = split + "_labels.npy";
    const size_t label_bytes = labels.size() * sizeof(int64_t);
    io::write_npy(result.dir + "/" + spikes_file,
                  io::TensorView{io::DType::U8, {n, cochlea.steps(), cochlea.channels()}, spikes[s].data(), spikes[s].size()});
    io::write_npy(result.dir + "/" + labels_file,
                  io::TensorView{io::DType::I64, {n}, reinterpret_cast<const uint8_t*>(labels.data()), label_bytes});
    uint64_t split_hash = fnv1a64(labels.data(), label_bytes, fnv1a64(spikes[s].data(), spikes[s].size()));
    content = fnv1a64(labels.data(), label_bytes, fnv1a64(spikes[s].data(), spikes[s].size(), content));
    Json samples = Json::array();
    int64_t cropped = 0;
    for (const auto& spec : specs[s]) {
      samples.push_back(sample_json(spec));
      cropped += spec.cropped ? 1 : 0;
    }
    manifest["splits"][split] = {{"samples", n},
                                 {"spikes", spikes_file},
                                 {"labels", labels_file},
                                 {"hash", hash_string(split_hash)},
                                 {"cropped", cropped},
                                 {"mean_spikes_per_sample",
                                  std::round(100.0 * static_cast<double>(std::count(spikes[s].begin(), spikes[s].end(), 1)) /
                                             static_cast<double>(std::max<int64_t>(1, n))) / 100.0}};
    manifest["samples"][split] = samples;
  }
  result.content_hash = hash_string(content);
  manifest["content_hash"] = result.content_hash;
  const std::string text = manifest.dump(1) + "\n";
  io::write_file_atomic(result.dir + "/manifest.json", text);
  result.manifest_hash = hash_string(fnv1a64(text.data(), text.size()));
  result.train = static_cast<int64_t>(specs[0].size());
  result.test = static_cast<int64_t>(specs[1].size());
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
  return result;
}

std::shared_ptr<Dataset> load_espeak_digits(const DataOptions& options) {
  GOLGI_CHECK(options.split == "train" || options.split == "test", "espeak-digits has splits 'train' and 'test', got '",
              options.split, "'");
  const std::string dir = options.data_dir.empty() ? default_espeak_digits_dir() : options.data_dir;
  const std::string manifest_path = dir + "/manifest.json";
  GOLGI_CHECK(io::file_exists(manifest_path), "espeak-digits is not built in '", dir, "' (no manifest.json); ",
              kBuildHint, ", or pass --data-dir to a built folder");
  Json manifest;
  std::string split_hash, spikes_file, labels_file;
  int64_t n = 0;
  try {
    manifest = io::read_json_file(manifest_path);
    GOLGI_CHECK(json_member(manifest, "dataset", manifest_path) == "espeak-digits", "it names another dataset");
    GOLGI_CHECK(json_member(manifest, "format_version", manifest_path) == kFormatVersion, "format version ",
                manifest["format_version"].dump(), " is not ", kFormatVersion);
    const Json& split = json_member(json_member(manifest, "splits", manifest_path), options.split, manifest_path);
    n = json_member(split, "samples", manifest_path).get<int64_t>();
    spikes_file = json_member(split, "spikes", manifest_path).get<std::string>();
    labels_file = json_member(split, "labels", manifest_path).get<std::string>();
    split_hash = json_member(split, "hash", manifest_path).get<std::string>();
  } catch (const std::exception& e) {
    GOLGI_FAIL("espeak-digits manifest '", manifest_path, "' is corrupt (", e.what(), "); ", kBuildHint);
  }
  const std::string spikes_path = dir + "/" + spikes_file, labels_path = dir + "/" + labels_file;
  GOLGI_CHECK(io::file_exists(spikes_path) && io::file_exists(labels_path), "espeak-digits in '", dir, "' lacks ",
              spikes_file, " or ", labels_file, "; ", kBuildHint);
  io::RawTensor spikes = io::read_npy(spikes_path);
  io::RawTensor labels = io::read_npy(labels_path);
  GOLGI_CHECK(spikes.dtype == io::DType::U8 && spikes.shape.size() == 3 && spikes.shape[0] == n &&
                  labels.dtype == io::DType::I64 && labels.shape == std::vector<int64_t>{n},
              "espeak-digits in '", dir, "': ", spikes_file, " ", io::shape_string(spikes.shape), " / ", labels_file, " ",
              io::shape_string(labels.shape), " do not match the manifest's ", n, " samples; ", kBuildHint);
  const uint64_t hash = fnv1a64(labels.data.data(), labels.data.size(), fnv1a64(spikes.data.data(), spikes.data.size()));
  GOLGI_CHECK(hash_string(hash) == split_hash, "espeak-digits in '", dir, "': the ", options.split,
              " tensors hash to ", hash_string(hash), " but the manifest says ", split_hash,
              " (a partial or modified build); ", kBuildHint);
  at::Tensor x = io::to_torch(spikes.view()).to(torch::kFloat);
  at::Tensor y = io::to_torch(labels.view()).to(torch::kLong);
  GOLGI_CHECK(n == 0 || (y.min().item<int64_t>() >= 0 && y.max().item<int64_t>() < kClasses), "espeak-digits in '",
              dir, "': labels outside 0..", kClasses - 1, "; ", kBuildHint);
  Json card = {{"source", dir},
               {"built_by", "golgi data build espeak-digits"},
               {"description", "spoken digits (English, German) from espeak-ng through a 64-channel cochlea front end"},
               {"seed", manifest.value("seed", Json())},
               {"tools", manifest.value("tools", Json())},
               {"classes", class_names()},
               {"shape", {spikes.shape[1], spikes.shape[2]}},
               {"bin_ms", manifest.value("front_end", Json::object()).value("bin_ms", Json())},
               {"content_hash", manifest.value("content_hash", Json())},
               {"samples", n}};
  return std::make_shared<Dataset>("espeak-digits", options.split, x, y, card);
}

}  // namespace golgi::data
