#include "golgi/models/registry.h"

#include <set>

#include <torch/torch.h>

#include "golgi/core/strings.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/models/cnn.h"
#include "golgi/models/gpt2.h"
#include "golgi/models/hf_checkpoint.h"
#include "golgi/models/llama.h"
#include "golgi/models/mlp.h"
#include "golgi/models/resnet.h"

namespace golgi::models {

namespace {
constexpr const char* kFormat = "golgi-model";
constexpr int kVersion = 1;

template <typename Options, typename ModelType>
ModelEntry make_entry(const char* name, const char* description) {
  ModelEntry e;
  e.name = name;
  e.description = description;
  e.make = [](const Json& json) -> std::shared_ptr<Model> {
    Options options;
    Options::schema().apply(options, json);
    return std::make_shared<ModelType>(options);
  };
  e.default_options = [] { return Options::schema().to_json(Options()); };
  e.describe_options = [] {
    std::vector<std::string> lines;
    Options defaults;
    for (const auto& f : Options::schema().fields())
      lines.push_back(f.name + " (" + f.type + ", " + f.accepted + ", default " + f.get(defaults).dump() + "): " + f.help);
    return lines;
  };
  return e;
}

}  // namespace

const Registry<ModelEntry>& model_registry() {
  static const Registry<ModelEntry> registry("model", {
#define GOLGI_MODEL(name, Options, Type, description) make_entry<Options, Type>(name, description),
#include "golgi/models/models.def"
#undef GOLGI_MODEL
  });
  return registry;
}

std::shared_ptr<Model> make_model(const std::string& architecture, const Json& options) {
  return model_registry().get(architecture).make(options);
}

std::vector<std::pair<std::string, at::Tensor>> model_state(const Model& model) {
  std::vector<std::pair<std::string, at::Tensor>> state;
  for (const auto& p : model.named_parameters()) state.emplace_back(p.key(), p.value().detach());
  for (const auto& b : model.named_buffers()) state.emplace_back(b.key(), b.value().detach());
  return state;
}

void load_model_state(Model& model, const std::vector<std::pair<std::string, at::Tensor>>& state,
                      const std::string& source) {
  std::map<std::string, at::Tensor> given(state.begin(), state.end());
  std::vector<std::string> missing, wrong_shape;
  std::set<std::string> used;
  torch::NoGradGuard no_grad;
  auto assign = [&](const std::string& name, at::Tensor& target) {
    auto it = given.find(name);
    if (it == given.end()) {
      missing.push_back(name);
      return;
    }
    used.insert(name);
    if (it->second.sizes() != target.sizes()) {
      std::ostringstream s;
      s << name << " (file " << it->second.sizes() << ", model " << target.sizes() << ")";
      wrong_shape.push_back(s.str());
      return;
    }
    target.copy_(it->second.to(target.scalar_type()));
  };
  for (auto& p : model.named_parameters()) assign(p.key(), p.value());
  for (auto& b : model.named_buffers()) assign(b.key(), b.value());
  std::vector<std::string> extra;
  for (const auto& [name, t] : given)
    if (!used.count(name)) extra.push_back(name);
  GOLGI_CHECK(missing.empty() && wrong_shape.empty() && extra.empty(), "'", source, "' does not match model '",
              model.architecture(), "' with options ", model.options().dump(), ":",
              missing.empty() ? "" : " missing " + join(missing, ", ") + ";",
              wrong_shape.empty() ? "" : " wrong shape " + join(wrong_shape, ", ") + ";",
              extra.empty() ? "" : " unexpected " + join(extra, ", ") + ";",
              " was it saved from another architecture or with other options?");
}

void save_model(const std::string& dir, const Model& model, const Json& card) {
  io::make_dirs(dir);
  if (const auto* lm = dynamic_cast<const TransformerLM*>(&model)) {
    // Transformers are written in Hugging Face layout (config.json + HF tensor names).
    save_hf_model(dir, *lm);
  } else {
    std::vector<std::pair<std::string, at::Tensor>> state;
    for (auto& [name, t] : model_state(model)) state.emplace_back(name, t.contiguous().cpu());
    io::save_tensors(dir + "/model.safetensors", state,
                     {{"format", kFormat}, {"architecture", model.architecture()}});
  }
  Json doc = {{"format", kFormat},
              {"version", kVersion},
              {"architecture", model.architecture()},
              {"options", model.options()},
              {"parameters", model.parameter_count()},
              {"hooks", model.hook_names()},
              {"card", card}};
  io::write_json_file(dir + "/model.json", doc);
}

std::string model_folder(const std::string& path) {
  for (const std::string file : {"model.json", "model.safetensors", "config.json"}) {
    if (path == file) return ".";
    if (ends_with(path, "/" + file)) return path.substr(0, path.size() - file.size() - 1);
  }
  return path;
}

bool is_model_dir(const std::string& path) {
  std::string dir = model_folder(path);
  return io::file_exists(dir + "/model.json") || is_hf_model_dir(dir);
}

LoadedModel load_model(const std::string& path) {
  std::string dir = model_folder(path);
  std::string json_path = dir + "/model.json";
  if (!io::file_exists(json_path) && is_hf_model_dir(dir)) {
    // A Hugging Face folder: config.json + safetensors weights.
    auto model = load_hf_model(dir);
    return {model, {{"format", "huggingface"}, {"architecture", model->architecture()},
                    {"options", model->options()}, {"config", io::read_json_file(dir + "/config.json")}}};
  }
  GOLGI_CHECK(io::file_exists(json_path), "'", path, "' is not a model folder (no model.json, no Hugging Face ",
              "config.json); train one with `golgi train` or pass the folder that holds model.json and ",
              "model.safetensors (or config.json and model.safetensors)");
  Json doc = io::read_json_file(json_path);
  GOLGI_CHECK(doc.is_object() && doc.value("format", "") == kFormat, "'", json_path, "' is not a golgi model card");
  GOLGI_CHECK(doc.value("version", 0) == kVersion, "'", json_path, "' has model card version ", doc.value("version", 0),
              "; this golgi reads version ", kVersion);
  std::string architecture = json_member(doc, "architecture", json_path).get<std::string>();
  auto model = make_model(architecture, json_member(doc, "options", json_path));
  if (auto* lm = dynamic_cast<TransformerLM*>(model.get())) lm->load_hf_state(read_hf_weights(dir), dir);
  else load_model_state(*model, io::load_tensors(dir + "/model.safetensors"), dir + "/model.safetensors");
  model->eval();
  return {model, doc};
}

}  // namespace golgi::models
