// The dataset registry (datasets.def) and loading by name.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "golgi/core/registry.h"
#include "golgi/data/dataset.h"

namespace golgi::data {

struct DataOptions {
  std::string split = "train";  // "train" or "test"
  std::string data_dir;         // empty: the dataset's default location
  uint64_t seed = 0;            // for generated datasets
};

struct DatasetEntry {
  std::string name;
  std::function<std::shared_ptr<Dataset>(const DataOptions&)> load;
  std::string description;
};

const Registry<DatasetEntry>& dataset_registry();
// Throws golgi::Error for an unknown name (with suggestions), split or missing files.
std::shared_ptr<Dataset> load_dataset(const std::string& name, const DataOptions& options);

// Loaders (listed in datasets.def).
std::shared_ptr<Dataset> load_fashion_mnist(const DataOptions& options);
std::shared_ptr<Dataset> load_synthetic_blobs(const DataOptions& options);
std::shared_ptr<Dataset> load_burst_order(const DataOptions& options);
std::shared_ptr<Dataset> load_espeak_digits(const DataOptions& options);
std::shared_ptr<Dataset> load_dvs_textures(const DataOptions& options);

}  // namespace golgi::data
