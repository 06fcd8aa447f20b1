#include "golgi/models/hf_checkpoint.h"

#include <map>
#include <set>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/strings.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/models/gpt2.h"
#include "golgi/models/llama.h"

namespace golgi::models {

namespace {
const Json& hf_value(const Json& config, const std::string& key, const std::string& source) {
  GOLGI_CHECK(config.contains(key), "'", source, "' lacks \"", key, "\"");
  return config[key];
}
}  // namespace

int64_t hf_int(const Json& config, const std::string& key, const std::string& source) {
  const Json& v = hf_value(config, key, source);
  GOLGI_CHECK(v.is_number_integer(), "'", source, "': \"", key, "\" must be an integer, got ", v.dump());
  return v.get<int64_t>();
}

int64_t hf_int_or(const Json& config, const std::string& key, int64_t fallback, const std::string& source) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  return hf_int(config, key, source);
}

double hf_double_or(const Json& config, const std::string& key, double fallback, const std::string& source) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  const Json& v = config[key];
  GOLGI_CHECK(v.is_number(), "'", source, "': \"", key, "\" must be a number, got ", v.dump());
  return v.get<double>();
}

bool hf_bool_or(const Json& config, const std::string& key, bool fallback, const std::string& source) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  const Json& v = config[key];
  GOLGI_CHECK(v.is_boolean(), "'", source, "': \"", key, "\" must be true or false, got ", v.dump());
  return v.get<bool>();
}

bool is_hf_model_dir(const std::string& dir) {
  const std::string path = dir + "/config.json";
  if (!io::file_exists(path)) return false;
  try {
    Json config = io::read_json_file(path);
    return config.is_object() && config.contains("model_type");
  } catch (const Error&) {
    return false;
  }
}

std::shared_ptr<TransformerLM> make_from_hf_config(const Json& config, const std::string& source) {
  GOLGI_CHECK(config.is_object(), "'", source, "' is not a JSON object");
  const Json& type = hf_value(config, "model_type", source);
  GOLGI_CHECK(type.is_string(), "'", source, "': \"model_type\" must be a string, got ", type.dump());
  const std::string name = type.get<std::string>();
  if (name == "gpt2") return std::make_shared<Gpt2>(Gpt2Options::from_hf_config(config, source));
  if (name == "llama") return std::make_shared<Llama>(LlamaOptions::from_hf_config(config, source));
  GOLGI_FAIL("'", source, "' has model_type '", name, "', which golgi does not implement; supported: gpt2, llama");
}

std::vector<std::pair<std::string, at::Tensor>> read_hf_weights(const std::string& dir) {
  const std::string single = dir + "/model.safetensors", index_path = dir + "/model.safetensors.index.json";
  if (io::file_exists(single)) return io::load_tensors(single);
  GOLGI_CHECK(io::file_exists(index_path), "'", dir, "' has neither model.safetensors nor model.safetensors.index.json",
              " (PyTorch .bin checkpoints are not read: convert them to safetensors)");
  Json index = io::read_json_file(index_path);
  GOLGI_CHECK(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(), "'", index_path,
              "' lacks a \"weight_map\" object");
  std::map<std::string, std::string> weight_map;
  std::set<std::string> shards;
  for (const auto& [name, file] : index["weight_map"].items()) {
    GOLGI_CHECK(file.is_string(), "'", index_path, "': the shard of '", name, "' must be a file name");
    const std::string f = file.get<std::string>();
    GOLGI_CHECK(f.find('/') == std::string::npos && f != ".." && !f.empty(), "'", index_path, "': shard name '", f,
                "' must be a plain file name in the same folder");
    weight_map[name] = f;
    shards.insert(f);
  }
  std::vector<std::pair<std::string, at::Tensor>> all;
  std::set<std::string> seen;
  for (const auto& shard : shards) {
    const std::string path = dir + "/" + shard;
    GOLGI_CHECK(io::file_exists(path), "'", index_path, "' lists shard '", shard, "', which is missing from '", dir, "'");
    for (auto& [name, t] : io::load_tensors(path)) {
      auto it = weight_map.find(name);
      GOLGI_CHECK(it != weight_map.end() && it->second == shard, "'", path, "' holds tensor '", name, "', which ",
                  it == weight_map.end() ? std::string("the index does not list") : "the index places in '" + it->second + "'");
      GOLGI_CHECK(seen.insert(name).second, "tensor '", name, "' appears in more than one shard of '", dir, "'");
      all.emplace_back(name, std::move(t));
    }
  }
  for (const auto& [name, shard] : weight_map)
    GOLGI_CHECK(seen.count(name), "'", index_path, "' places tensor '", name, "' in '", shard, "', which lacks it");
  return all;
}

std::shared_ptr<TransformerLM> load_hf_model(const std::string& dir) {
  const std::string config_path = dir + "/config.json";
  GOLGI_CHECK(io::file_exists(config_path), "'", dir, "' has no config.json");
  auto model = make_from_hf_config(io::read_json_file(config_path), config_path);
  model->load_hf_state(read_hf_weights(dir), dir);
  model->eval();
  return model;
}

void save_hf_model(const std::string& dir, const TransformerLM& model) {
  io::make_dirs(dir);
  io::save_tensors(dir + "/model.safetensors", model.to_hf_state(), {{"format", "pt"}});
  io::write_json_file(dir + "/config.json", model.hf_config());
}

}  // namespace golgi::models
