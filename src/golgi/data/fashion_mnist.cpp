// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) from Debian's dataset-fashion-mnist package.
#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/idx.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/data/registry.h"

namespace golgi::data {

namespace {
constexpr const char* kDefaultDir = "/usr/share/datasets/fashion-mnist";
// Pixel statistics of the training set after scaling to [0, 1] (computed over all 60k images).
constexpr double kMean = 0.2860, kStd = 0.3530;
const char* kClasses[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
}  // namespace

std::shared_ptr<Dataset> load_fashion_mnist(const DataOptions& options) {
  GOLGI_CHECK(options.split == "train" || options.split == "test", "fashion-mnist has splits 'train' and 'test', got '",
              options.split, "'");
  std::string dir = options.data_dir.empty() ? kDefaultDir : options.data_dir;
  std::string prefix = options.split == "train" ? "train" : "t10k";
  std::string images_path = dir + "/" + prefix + "-images-idx3-ubyte.gz";
  std::string labels_path = dir + "/" + prefix + "-labels-idx1-ubyte.gz";
  GOLGI_CHECK(io::file_exists(images_path) && io::file_exists(labels_path), "Fashion-MNIST not found in '", dir,
              "' (looked for ", prefix, "-images-idx3-ubyte.gz and ", prefix,
              "-labels-idx1-ubyte.gz); run scripts/setup.sh (it installs Debian's dataset-fashion-mnist) or pass "
              "--data-dir");
  io::RawTensor images = io::read_idx(images_path);
  io::RawTensor labels = io::read_idx(labels_path);
  GOLGI_CHECK(images.dtype == io::DType::U8 && images.shape.size() == 3 && images.shape[1] == 28 &&
                  images.shape[2] == 28,
              "'", images_path, "' is not a Fashion-MNIST image file (shape ", io::shape_string(images.shape), ")");
  GOLGI_CHECK(labels.dtype == io::DType::U8 && labels.shape.size() == 1 && labels.shape[0] == images.shape[0], "'",
              labels_path, "' does not match its images (shape ", io::shape_string(labels.shape), ")");
  at::Tensor x = io::to_torch(images.view()).to(torch::kFloat).div_(255.0).sub_(kMean).div_(kStd).unsqueeze(1);
  at::Tensor y = io::to_torch(labels.view()).to(torch::kLong);
  GOLGI_CHECK(y.max().item<int64_t>() <= 9, "'", labels_path, "' has labels outside 0..9");
  Json card = {{"source", dir},
               {"package", "dataset-fashion-mnist"},
               {"citation", "Xiao, Rasul & Vollgraf (2017), Fashion-MNIST, arXiv:1708.07747"},
               {"preprocessing", "pixels / 255, then (x - 0.2860) / 0.3530"},
               {"classes", std::vector<std::string>(std::begin(kClasses), std::end(kClasses))},
               {"samples", images.shape[0]}};
  return std::make_shared<Dataset>("fashion-mnist", options.split, x, y, card);
}

}  // namespace golgi::data
