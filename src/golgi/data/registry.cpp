#include "golgi/data/registry.h"

// Loaders declared in their own headers.
#include "golgi/data/block_fmnist.h"

namespace golgi::data {

const Registry<DatasetEntry>& dataset_registry() {
  static const Registry<DatasetEntry> registry("dataset", {
#define GOLGI_DATASET(name, loader, description) DatasetEntry{name, loader, description},
#include "golgi/data/datasets.def"
#undef GOLGI_DATASET
  });
  return registry;
}

std::shared_ptr<Dataset> load_dataset(const std::string& name, const DataOptions& options) {
  return dataset_registry().get(name).load(options);
}

}  // namespace golgi::data
