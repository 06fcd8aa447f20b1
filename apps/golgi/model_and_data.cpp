#include "cli.h"
#include "golgi/data/registry.h"
#include "golgi/models/registry.h"

namespace golgi::cli {

ModelAndData load_model_and_data(const std::string& model_dir, std::string dataset, const std::string& split,
                                 const std::string& data_dir, int64_t limit) {
  auto loaded = models::load_model(model_dir);
  if (dataset.empty()) {
    const Json& card = loaded.card["card"];
    GOLGI_CHECK(card.contains("dataset") && card["dataset"].contains("name"), "the card of '", model_dir,
                "' names no dataset; pass --dataset");
    dataset = card["dataset"]["name"].get<std::string>();
  }
  data::DataOptions options;
  options.split = split;
  options.data_dir = data_dir;
  auto data = data::load_dataset(dataset, options);
  if (limit > 0 && limit < data->size()) data = data->head(limit);
  return {loaded.model, loaded.card, dataset, data};
}

}  // namespace golgi::cli
