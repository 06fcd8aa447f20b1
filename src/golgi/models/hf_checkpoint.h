// Hugging Face checkpoint folders: config.json plus model.safetensors, or shards listed in
// model.safetensors.index.json ({"weight_map": {tensor name: shard file}}), as
// `save_pretrained` writes them. A user's real GPT-2 or Llama folder loads as is; golgi writes
// its own transformer models in the same layout (plus model.json, its model card), so tools that
// read Hugging Face folders can read golgi's.
//
// Weights may be stored in any floating dtype (F32, F16, BF16, F64); they are converted to
// float32, the dtype golgi computes in.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "golgi/core/json.h"
#include "golgi/models/transformer.h"

namespace golgi::models {

// True when `dir` holds a config.json with a "model_type".
bool is_hf_model_dir(const std::string& dir);

// Builds the model config.json describes (model_type "gpt2" or "llama"); throws golgi::Error
// naming the type and the supported ones otherwise.
std::shared_ptr<TransformerLM> make_from_hf_config(const Json& config, const std::string& source);

// Every tensor of the folder: model.safetensors, or the shards of model.safetensors.index.json
// (each shard must exist; the index must name every tensor the shards hold).
std::vector<std::pair<std::string, at::Tensor>> read_hf_weights(const std::string& dir);

// config.json + weights -> a model in eval mode.
std::shared_ptr<TransformerLM> load_hf_model(const std::string& dir);

// Writes dir/config.json and dir/model.safetensors (Hugging Face names, float32), atomically.
void save_hf_model(const std::string& dir, const TransformerLM& model);

// config.json accessors with errors naming the key and the file.
int64_t hf_int(const Json& config, const std::string& key, const std::string& source);
int64_t hf_int_or(const Json& config, const std::string& key, int64_t fallback, const std::string& source);
double hf_double_or(const Json& config, const std::string& key, double fallback, const std::string& source);
bool hf_bool_or(const Json& config, const std::string& key, bool fallback, const std::string& source);

}  // namespace golgi::models
