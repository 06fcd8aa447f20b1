#include "cli.h"

#include <sstream>

#include "golgi/core/error.h"
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

std::vector<int64_t> parse_index_list(const std::string& text, const std::string& flag, const std::string& example) {
  std::vector<int64_t> values;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    size_t used = 0;
    int64_t value = -1;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    GOLGI_CHECK(used > 0 && used == item.size(), flag, " '", text, "' is not a comma-separated list of indices (e.g. ",
                example, ")");
    values.push_back(value);
  }
  GOLGI_CHECK(!values.empty(), flag, " is empty; give indices such as ", example);
  return values;
}

}  // namespace golgi::cli
