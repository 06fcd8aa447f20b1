#include "golgi/core/runtime.h"

#include <dlfcn.h>

#include <fstream>
#include <thread>

#include <torch/torch.h>

namespace golgi {

int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

namespace {

// OpenBLAS's thread-count setter, looked up at run time: the BLAS is chosen by Debian's
// alternatives, and another implementation has no such symbol (then only LibTorch is set).
void set_openblas_threads(int n) {
  using Setter = void (*)(int);
  static const auto setter = reinterpret_cast<Setter>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (setter) setter(n);
}

}  // namespace

int set_threads(int n) {
  if (n <= 0) n = hardware_threads();
  at::set_num_threads(n);
  set_openblas_threads(n);
  return at::get_num_threads();
}

ScopedThreads::ScopedThreads(int n) : previous_(threads()) { set_threads(n); }
ScopedThreads::~ScopedThreads() { set_threads(previous_); }

int threads() { return at::get_num_threads(); }

BlasInfo detect_blas() {
  // Make sure the BLAS has been loaded and used at least once.
  auto a = torch::ones({64, 64});
  (void)a.mm(a).sum().item<float>();

  BlasInfo info;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    bool blas = path.find("libblas.so") != std::string::npos || path.find("libopenblas") != std::string::npos ||
                path.find("libblis") != std::string::npos || path.find("libmkl_rt") != std::string::npos;
    if (!blas) continue;
    info.path = path;
    if (path.find("openblas-pthread") != std::string::npos) {
      info.name = "openblas-pthread";
    } else if (path.find("openblas-openmp") != std::string::npos) {
      info.name = "openblas-openmp";
    } else if (path.find("openblas-serial") != std::string::npos) {
      info.name = "openblas-serial";
    } else if (path.find("openblas") != std::string::npos) {
      info.name = "openblas";
    } else if (path.find("blis") != std::string::npos) {
      info.name = "blis";
    } else if (path.find("mkl") != std::string::npos) {
      info.name = "mkl";
    } else if (path.find("/blas/") != std::string::npos) {
      info.name = "reference";
    } else {
      info.name = "unknown";
    }
    if (info.name != "unknown") break;
  }
  if (info.path.empty()) info.name = "unknown";
  info.reference = info.name == "reference";
  if (info.reference)
    info.warning = "LibTorch is using the reference BLAS (" + info.path +
                   "): matrix products run ~8x slower; install libopenblas0-pthread (scripts/setup.sh does)";
  return info;
}

}  // namespace golgi
