// Helper for tests/xcheck/image_ops_sklearn.sh: golgi's side of the image-ops cross-check.
//
//   golgi_xcheck_image_ops DIR
//
// Reads DIR/jobs.json, a list of jobs written by tests/xcheck/image_ops_sklearn.py; every input
// and output is a float64 (labels: int64) .npy file in DIR:
//   {"op": "tv", "input", "output", "weight", "isotropic", "per_channel"}   images [H, W] or
//        [H, W, C] (scikit-image's channels-last layout; transposed to golgi's [C, H, W] and back)
//   {"op": "kmeans", "input", "init", "labels", "centroids", "inertia"}     X [n, d], init [k, d]
//   {"op": "pca", "input", "components", "k", "mean", "variance", "ratio"}  X [n, d]
//   {"op": "tsne", "input", "output", "perplexity", "kl"}                   X [n, d] -> [n, 2]
// Scalars (inertia, kl) are written as 1-element .npy files.
// Exit status 0 on success, 2 with a one-line message on golgi::Error or bad arguments.
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>

#include <torch/torch.h>

#include "golgi/analysis/kmeans.h"
#include "golgi/analysis/pca.h"
#include "golgi/analysis/tsne.h"
#include "golgi/analysis/tv_bregman.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"

namespace fs = std::filesystem;
namespace a = golgi::analysis;

namespace {

std::string dir_;

at::Tensor load(const golgi::Json& job, const char* key) {
  return golgi::io::load_npy(dir_ + "/" + golgi::json_member(job, key, "job").get<std::string>());
}
void save(const golgi::Json& job, const char* key, const at::Tensor& t) {
  golgi::io::save_npy(dir_ + "/" + golgi::json_member(job, key, "job").get<std::string>(), t.contiguous());
}
void save_scalar(const golgi::Json& job, const char* key, double v) {
  save(job, key, torch::tensor({v}, torch::kDouble));
}

void run(const golgi::Json& job) {
  const std::string op = golgi::json_member(job, "op", "job").get<std::string>();
  if (op == "tv") {
    at::Tensor image = load(job, "input").to(torch::kDouble);
    const bool channels = image.dim() == 3;
    if (channels) image = image.permute({2, 0, 1}).contiguous();
    const auto options = a::TvBregmanOptions()
                             .weight(job.at("weight").get<double>())
                             .isotropic(job.at("isotropic").get<bool>())
                             .per_channel(job.at("per_channel").get<bool>());
    at::Tensor out = a::denoise_tv_bregman(image, options);
    save(job, "output", channels ? out.permute({1, 2, 0}) : out);
  } else if (op == "kmeans") {
    const at::Tensor init = load(job, "init");
    const auto r = a::kmeans(load(job, "input"), a::KMeansOptions().clusters(init.size(0)), init);
    save(job, "labels", torch::tensor(r.labels, torch::kLong));
    save(job, "centroids", r.centroids);
    save_scalar(job, "inertia", r.inertia);
  } else if (op == "pca") {
    const auto pca = a::fit_pca(load(job, "input"), a::PcaOptions().components(job.at("k").get<int64_t>()));
    save(job, "components", pca.components);
    save(job, "mean", pca.mean);
    save(job, "variance", pca.explained_variance);
    save(job, "ratio", pca.explained_variance_ratio);
  } else if (op == "tsne") {
    const auto r = a::tsne(load(job, "input"),
                           a::TsneOptions().perplexity(job.at("perplexity").get<double>()).progress(false));
    save(job, "output", r.embedding);
    save_scalar(job, "kl", r.kl_divergence);
  } else {
    GOLGI_FAIL("unknown job op '", op, "' (tv, kmeans, pca, tsne)");
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    GOLGI_CHECK(argc == 2, "usage: golgi_xcheck_image_ops DIR (an existing folder with jobs.json)");
    dir_ = argv[1];
    GOLGI_CHECK(fs::is_directory(dir_), "golgi_xcheck_image_ops: '", dir_, "' is not a folder");
    golgi::set_progress_quiet(true);
    const golgi::Json jobs = golgi::io::read_json_file(dir_ + "/jobs.json");
    GOLGI_CHECK(jobs.is_array(), "jobs.json must be a list of jobs");
    for (const auto& job : jobs) run(job);
    std::cout << "golgi_xcheck_image_ops: ran " << jobs.size() << " jobs\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "golgi_xcheck_image_ops: " << e.what() << "\n";
    return 2;
  }
}
