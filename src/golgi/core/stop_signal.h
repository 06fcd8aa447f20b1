// Graceful stop on Ctrl-C / SIGTERM for long runs that checkpoint (training, SAE training).
//
// While a StopSignalScope lives, SIGINT and SIGTERM only set a flag; the run polls
// stop_requested() between steps, writes its checkpoint and returns, and the command exits 130
// with a hint to resume. The previous handlers come back when the scope ends, so a second Ctrl-C
// after it (or outside any run) behaves as usual.
#pragma once

#include <signal.h>

namespace golgi {

class StopSignalScope {
 public:
  StopSignalScope();  // clears any earlier request
  ~StopSignalScope();
  StopSignalScope(const StopSignalScope&) = delete;
  StopSignalScope& operator=(const StopSignalScope&) = delete;

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

// The signal that asked to stop (SIGINT or SIGTERM) since the innermost scope began, else 0.
int stop_requested();

}  // namespace golgi
