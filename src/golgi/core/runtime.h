// The process's compute runtime: intra-op threads and which BLAS LibTorch is really using.
#pragma once

#include <string>

namespace golgi {

// Sets LibTorch's intra-op threads and OpenBLAS's own pool (which LibTorch's setting does not
// reach: a 1-thread run still had OpenBLAS spinning its second thread, 3.5x slower on a busy
// 2-core machine); n <= 0 means all cores. Returns the number in effect.
int set_threads(int n);
int threads();
int hardware_threads();

// Sets `n` threads for its lifetime and restores the previous setting. Small models (LeNet-size
// MLPs, batch 64) run faster on one thread: on a busy 2-core machine a second thread's
// synchronisation made training steps 10x slower (measured by the lottery and nap-spec repros).
class ScopedThreads {
 public:
  explicit ScopedThreads(int n);
  ~ScopedThreads();
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;

 private:
  int previous_;
};

struct BlasInfo {
  std::string name;  // "openblas-pthread", "openblas-openmp", "openblas-serial", "blis", "mkl", "reference", "unknown"
  std::string path;  // the shared object actually mapped into the process
  bool reference = false;  // the slow netlib reference BLAS
  std::string warning;     // non-empty when golgi should warn (reference BLAS)
};

// Runs a tiny matrix product (so the BLAS is loaded) and reads /proc/self/maps to find which
// libblas.so.3 the dynamic loader resolved. Debian picks it via update-alternatives, so this is
// the only reliable answer.
BlasInfo detect_blas();

}  // namespace golgi
