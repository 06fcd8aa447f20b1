// Wall-clock seconds for progress lines and result reports (not for benchmarks: bench/ has its
// own timing with warm-up and rounds).
#pragma once

#include <chrono>

namespace golgi {

// Seconds elapsed since `start` (steady clock).
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace golgi
