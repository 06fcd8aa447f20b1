// Progress bars for long work: TTY-aware, with rate and ETA.
//
// On a terminal the bar redraws in place (at most ~10 times a second). When stderr is not a
// terminal (CI logs, pipes) it prints one line each time another `log_every_percent` of the work
// is done. set_progress_quiet(true) (the CLI's --quiet) silences every bar.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace golgi {

void set_progress_quiet(bool quiet);
bool progress_quiet();

class Progress {
 public:
  // `total` <= 0 means unknown (no percentage or ETA). `unit` names what is counted ("img", "step").
  Progress(std::string label, int64_t total, std::string unit = "it", int log_every_percent = 10);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t count = 1);
  void set(int64_t done);
  // Short trailing text, e.g. "loss 0.412".
  void set_postfix(std::string postfix);
  // Prints a line of text above the bar (on a terminal the bar is redrawn below it).
  void message(const std::string& text);
  // Prints the final line (idempotent; the destructor calls it).
  void finish();
  int64_t done() const { return done_; }

 private:
  void render(bool final);

  std::string label_, unit_, postfix_;
  int64_t total_, done_ = 0;
  int log_every_percent_;
  int last_logged_bucket_ = -1;
  bool tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace golgi
