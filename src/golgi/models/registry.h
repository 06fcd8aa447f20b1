// The model registry (models.def), construction by name, and saving/loading with model cards.
//
// On disk a model is a folder:
//   model.safetensors   parameters and buffers under their module paths ("conv1.weight")
//   model.json          the model card: {"format": "golgi-model", "version": 1,
//                       "architecture": "cnn", "options": {...}, "card": {"command": ...,
//                       "seed": ..., "dataset": {...}, "metrics": {...}}}
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "golgi/core/json.h"
#include "golgi/core/registry.h"
#include "golgi/models/model.h"

namespace golgi::models {

struct ModelEntry {
  std::string name;
  std::string description;
  // Builds the model from options JSON (missing fields take defaults; unknown fields are errors).
  std::function<std::shared_ptr<Model>(const Json& options)> make;
  std::function<Json()> default_options;
  // One line per option: name, type, accepted values, help.
  std::function<std::vector<std::string>()> describe_options;
};

const Registry<ModelEntry>& model_registry();
std::shared_ptr<Model> make_model(const std::string& architecture, const Json& options = Json::object());

// All parameters and buffers, by module path (what save_model writes).
std::vector<std::pair<std::string, at::Tensor>> model_state(const Model& model);
// Copies `state` into the model; every name must match with the same shape, and none may be
// missing or extra. Throws golgi::Error listing the differences.
void load_model_state(Model& model, const std::vector<std::pair<std::string, at::Tensor>>& state,
                      const std::string& source);

// Writes DIR/model.safetensors and DIR/model.json atomically. `card` is free-form provenance.
void save_model(const std::string& dir, const Model& model, const Json& card);

struct LoadedModel {
  std::shared_ptr<Model> model;
  Json card;  // the whole model.json
};
// `path` is a model folder (or its model.json / model.safetensors). Throws golgi::Error.
LoadedModel load_model(const std::string& path);
// The model folder `path` names: the folder itself, or the folder of its model.json,
// model.safetensors or config.json.
std::string model_folder(const std::string& path);
// True when `path` looks like a golgi model folder.
bool is_model_dir(const std::string& path);

}  // namespace golgi::models
