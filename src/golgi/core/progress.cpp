#include "golgi/core/progress.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "golgi/core/strings.h"

namespace golgi {

namespace {
std::atomic<bool> g_quiet{false};
}

void set_progress_quiet(bool quiet) { g_quiet = quiet; }
bool progress_quiet() { return g_quiet; }

Progress::Progress(std::string label, int64_t total, std::string unit, int log_every_percent)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      log_every_percent_(log_every_percent < 1 ? 1 : log_every_percent),
      tty_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { finish(); }

void Progress::advance(int64_t count) { set(done_ + count); }

void Progress::set(int64_t done) {
  done_ = done;
  if (g_quiet) return;
  auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (now - last_draw_ > std::chrono::milliseconds(100)) {
      last_draw_ = now;
      render(false);
    }
  } else if (total_ > 0) {
    // Logs: one line each time another log_every_percent of the work is done.
    int bucket = static_cast<int>(100 * done_ / total_) / log_every_percent_;
    if (bucket > last_logged_bucket_ && done_ < total_) {
      last_logged_bucket_ = bucket;
      if (bucket > 0) render(false);
    }
  }
}

void Progress::set_postfix(std::string postfix) { postfix_ = std::move(postfix); }

void Progress::message(const std::string& text) {
  if (g_quiet) return;
  if (tty_) {
    std::fprintf(stderr, "\r\033[2K%s\n", text.c_str());
    render(false);
  } else {
    std::fprintf(stderr, "%s\n", text.c_str());
  }
  std::fflush(stderr);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (!g_quiet) render(true);
}

void Progress::render(bool final) {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed > 0 ? done_ / elapsed : 0;
  char line[512];
  if (total_ > 0) {
    double fraction = static_cast<double>(done_) / total_;
    if (fraction > 1) fraction = 1;
    const int width = 24;
    int filled = static_cast<int>(fraction * width);
    std::string bar(filled, '#');
    bar += std::string(width - filled, '.');
    double eta = rate > 0 ? (total_ - done_) / rate : -1;
    std::snprintf(line, sizeof line, "%s [%s] %3.0f%% %lld/%lld %s, %.1f %s/s, %s %s%s%s", label_.c_str(),
                  bar.c_str(), 100 * fraction, static_cast<long long>(done_), static_cast<long long>(total_),
                  unit_.c_str(), rate, unit_.c_str(), final ? "took" : "eta",
                  format_duration(final ? elapsed : eta).c_str(), postfix_.empty() ? "" : ", ",
                  postfix_.c_str());
  } else {
    std::snprintf(line, sizeof line, "%s %lld %s, %.1f %s/s, %s%s%s", label_.c_str(),
                  static_cast<long long>(done_), unit_.c_str(), rate, unit_.c_str(),
                  format_duration(elapsed).c_str(), postfix_.empty() ? "" : ", ", postfix_.c_str());
  }
  if (tty_) {
    std::fprintf(stderr, "\r\033[2K%s%s", line, final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line);
  }
  std::fflush(stderr);
}

}  // namespace golgi
