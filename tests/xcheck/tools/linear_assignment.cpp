// Helper for tests/xcheck/linear_assignment_scipy.sh: golgi's side of the convergent cross-check.
//
//   golgi_xcheck_assignment DIR
//
// 1. Real matrices: two seeded, untrained CNNs of different widths (A: conv 8, 16; B: conv 12, 16)
//    record conv1.hook_post and conv2.hook_post on 64 seeded, smoothed random images
//    (methods/convergent record_unit_samples, 4,000 rows per hook). Writes, float64 .npy:
//      DIR/samples_<hook>_a.npy [S, nA], DIR/samples_<hook>_b.npy [S, nB]  (the recorded samples, as float64)
//      DIR/corr_<hook>_aa.npy, _bb.npy, _ab.npy                               (golgi's correlations)
//      DIR/assign_real_<hook>.npy = corr_ab, and its transpose assign_real_<hook>_t.npy
//    (hook: conv1, conv2). conv2 of A gets one unit forced dead (constant) to exercise the 0 rule.
// 2. Every DIR/assign_*.npy (float64 [rows, cols], including those the Python side wrote) is solved
//    both ways; DIR/assign_<name>.golgi.json = {"min_total", "max_total", "min_rows", "max_rows"}
//    (rows: the matched column of each row, -1 unmatched).
// 3. Every DIR/dead_*.npy (float64 [S, n]) gets DIR/dead_<name>.corr.npy (correlation_matrix).
// Exit status 0 on success, 2 with a one-line message on golgi::Error or bad arguments.
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>

#include <torch/torch.h>

#include "golgi/analysis/linear_assignment.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/data/dataset.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/methods/convergent/convergent.h"
#include "golgi/models/registry.h"

namespace fs = std::filesystem;
namespace m = golgi::methods;

namespace {

void save(const std::string& path, const at::Tensor& t) {
  golgi::io::save_npy(path, t.to(torch::kDouble).contiguous());
}

void real_matrices(const std::string& dir) {
  torch::manual_seed(11);
  auto a = golgi::models::make_model("cnn", {{"channels", {8, 16}}, {"hidden", {16}}});
  torch::manual_seed(12);
  auto b = golgi::models::make_model("cnn", {{"channels", {12, 16}}, {"hidden", {16}}});
  // Smoothed noise: neighbouring pixels correlate, as in natural images.
  at::Tensor images = torch::avg_pool2d(torch::rand({64, 1, 32, 32}), 5, 1).narrow(2, 0, 28).narrow(3, 0, 28);
  golgi::data::Dataset data("smoothed-noise", "test", images.contiguous(), torch::zeros({64}, torch::kLong));
  const auto options = m::RecordOptions().max_samples(4000).seed(5);
  const std::vector<std::string> hooks = {"conv1.hook_post", "conv2.hook_post"};
  auto ra = m::record_unit_samples(*a, data, hooks, options);
  auto rb = m::record_unit_samples(*b, data, hooks, options);
  for (const std::string layer : {"conv1", "conv2"}) {
    at::Tensor sa = ra.at(layer + ".hook_post").to(torch::kDouble), sb = rb.at(layer + ".hook_post").to(torch::kDouble);
    if (layer == "conv2") sa.select(1, 3).fill_(0.25);
    save(dir + "/samples_" + layer + "_a.npy", sa);
    save(dir + "/samples_" + layer + "_b.npy", sb);
    save(dir + "/corr_" + layer + "_aa.npy", m::correlation_matrix(sa));
    save(dir + "/corr_" + layer + "_bb.npy", m::correlation_matrix(sb));
    at::Tensor ab = m::cross_correlation(sa, sb);
    save(dir + "/corr_" + layer + "_ab.npy", ab);
    save(dir + "/assign_real_" + layer + ".npy", ab);
    save(dir + "/assign_real_" + layer + "_t.npy", ab.t());
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    GOLGI_CHECK(argc == 2, "usage: golgi_xcheck_assignment DIR (an existing folder)");
    const std::string dir = argv[1];
    GOLGI_CHECK(fs::is_directory(dir), "golgi_xcheck_assignment: '", dir, "' is not a folder");
    golgi::set_progress_quiet(true);
    real_matrices(dir);
    int solved = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      const std::string stem = entry.path().stem().string();
      if (entry.path().extension() != ".npy") continue;
      if (name.rfind("assign_", 0) == 0) {
        at::Tensor w = golgi::io::load_npy(entry.path().string()).to(torch::kDouble).contiguous();
        GOLGI_CHECK(w.dim() == 2, name, " must be a matrix");
        std::vector<double> values(w.data_ptr<double>(), w.data_ptr<double>() + w.numel());
        const auto lo = golgi::analysis::linear_assignment(values, w.size(0), w.size(1), false);
        const auto hi = golgi::analysis::linear_assignment(values, w.size(0), w.size(1), true);
        golgi::io::write_json_file(dir + "/" + stem + ".golgi.json", {{"min_total", lo.total},
                                                                      {"max_total", hi.total},
                                                                      {"min_rows", lo.row_to_col},
                                                                      {"max_rows", hi.row_to_col}});
        ++solved;
      } else if (name.rfind("dead_", 0) == 0 && name.find(".corr.") == std::string::npos) {
        save(dir + "/" + stem + ".corr.npy", m::correlation_matrix(golgi::io::load_npy(entry.path().string())));
      }
    }
    std::cout << "golgi_xcheck_assignment: solved " << solved << " matrices\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "golgi_xcheck_assignment: " << e.what() << "\n";
    return 2;
  }
}
