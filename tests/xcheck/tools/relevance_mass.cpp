// Helper for tests/xcheck/relevance_mass_numpy.sh: golgi's side of the relevance-mass cross-check.
//
//   golgi_xcheck_relevance_mass DIR [SEED]
//
// 1. Generates attribution-like maps with their ROIs and writes, as .npy in DIR:
//      gen_maps.npy  [B, 64, 64] float64   smooth signed noise, sparse peaks inside and outside the
//                                          ROI, peaks on the image border (the 'reflect' boundary),
//                                          synthetic-brain images as maps, and an all-zero map
//      gen_rois.npy  [B, 64, 64] uint8     the target-region ROIs of synthetic brains (some
//                                          touching the border)
//      rect_maps.npy [B, 30, 41] float64, rect_rois.npy [B, 30, 41] uint8   non-square maps
// 2. Scores every set NAME present in DIR (NAME_maps.npy + NAME_rois.npy: the generated ones and
//    any the script wrote, e.g. "py") with golgi's defaults (FWHM 2 px, 99th percentile, two
//    dilations) and writes NAME_rma.npy [B] float64, NAME_fp.npy [B] uint8 (false positives),
//    NAME_chance.npy [B] float64 and NAME_kept.npy [B, H, W] float64 (steps 1-3).
// Exit status 0 on success, 2 with a one-line message on golgi::Error or bad arguments.
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/data/synthetic_brains.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/methods/xai_validation/relevance_mass.h"

namespace fs = std::filesystem;
namespace m = golgi::methods;

namespace {

void generate(const std::string& dir, uint64_t seed) {
  torch::manual_seed(seed);
  const int64_t S = 64;
  const auto brains = golgi::data::generate_synthetic_brains(
      golgi::data::SyntheticBrainsOptions().count(48).seed(static_cast<int64_t>(seed)));
  at::Tensor rois = brains.rois.clone();
  // Move a few ROIs to the border so the dilation's edge handling is exercised.
  rois[40].zero_();
  rois[40].narrow(0, 0, 5).narrow(1, 0, 6).fill_(true);
  rois[41].zero_();
  rois[41].narrow(0, 60, 4).narrow(1, 50, 14).fill_(true);
  std::vector<at::Tensor> maps;
  for (int64_t i = 0; i < 48; ++i) {
    at::Tensor map;
    switch (i % 6) {
      case 0:  // smooth signed noise
        map = m::gaussian_filter2d(torch::randn({S, S}, torch::kDouble), 1.0 + static_cast<double>(i % 5));
        break;
      case 1: {  // sparse peaks: some inside the ROI, some outside
        // A little noise breaks the exact ties an isolated peak's symmetric blur would make at
        // the percentile, where one rounding difference could flip a pixel.
        map = 1e-3 * torch::rand({S, S}, torch::kDouble);
        auto idx = torch::randint(0, S * S, {12}, torch::kLong);
        map.view({-1}).index_put_({idx}, torch::randn({12}, torch::kDouble));
        map.masked_fill_(rois[i].logical_and(torch::rand({S, S}) < 0.2), 3.0);
        break;
      }
      case 2: {  // peaks on the border
        map = 0.01 * torch::rand({S, S}, torch::kDouble);
        map[0][i % S] = 5.0;
        map[S - 1][(3 * i) % S] = -4.0;
        map[(5 * i) % S][0] = 2.0;
        map[0][0] = 3.0;
        break;
      }
      case 3:  // the brain image itself
        map = brains.images[i][0].to(torch::kDouble);
        break;
      case 4:  // white noise
        map = torch::randn({S, S}, torch::kDouble);
        break;
      default:  // ROI-shaped mass plus noise, or nothing at all
        map = i == 47 ? torch::zeros({S, S}, torch::kDouble)
                      : rois[i].to(torch::kDouble) * torch::rand({S, S}, torch::kDouble) + 0.3 * torch::rand({S, S}, torch::kDouble);
    }
    maps.push_back(map);
  }
  golgi::io::save_npy(dir + "/gen_maps.npy", torch::stack(maps).contiguous());
  golgi::io::save_npy(dir + "/gen_rois.npy", rois.to(torch::kUInt8).contiguous());

  const int64_t H = 30, W = 41, B = 8;
  auto rect_maps = m::gaussian_filter2d(torch::randn({B, H, W}, torch::kDouble), 1.5);
  auto rect_rois = torch::zeros({B, H, W}, torch::kUInt8);
  for (int64_t b = 0; b < B; ++b) rect_rois[b].narrow(0, (3 * b) % (H - 6), 6).narrow(1, (7 * b) % (W - 8), 8).fill_(1);
  golgi::io::save_npy(dir + "/rect_maps.npy", rect_maps.contiguous());
  golgi::io::save_npy(dir + "/rect_rois.npy", rect_rois.contiguous());
}

void score(const std::string& dir, const std::string& name) {
  const at::Tensor maps = golgi::io::load_npy(dir + "/" + name + "_maps.npy");
  const at::Tensor rois = golgi::io::load_npy(dir + "/" + name + "_rois.npy");
  golgi::io::save_npy(dir + "/" + name + "_rma.npy", m::relevance_mass_accuracy(maps, rois).contiguous());
  golgi::io::save_npy(dir + "/" + name + "_fp.npy", m::relevance_false_positives(maps, rois).to(torch::kUInt8).contiguous());
  golgi::io::save_npy(dir + "/" + name + "_chance.npy", m::relevance_chance(rois).contiguous());
  golgi::io::save_npy(dir + "/" + name + "_kept.npy", m::relevance_mass_map(maps).contiguous());
  std::cout << "golgi_xcheck_relevance_mass: scored " << maps.size(0) << " maps of set '" << name << "'\n";
}

}  // namespace

int main(int argc, char** argv) {
  try {
    GOLGI_CHECK(argc == 2 || argc == 3, "usage: golgi_xcheck_relevance_mass DIR [SEED] (DIR an existing folder)");
    const std::string dir = argv[1];
    GOLGI_CHECK(fs::is_directory(dir), "golgi_xcheck_relevance_mass: '", dir, "' is not a folder");
    const uint64_t seed = argc == 3 ? std::stoull(argv[2]) : 0;
    generate(dir, seed);
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string file = entry.path().filename().string();
      const std::string suffix = "_maps.npy";
      if (file.size() > suffix.size() && file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0)
        score(dir, file.substr(0, file.size() - suffix.size()));
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "golgi_xcheck_relevance_mass: " << e.what() << "\n";
    return 2;
  }
}
