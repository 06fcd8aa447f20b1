// golgi inspect: what is in a safetensors file, .npy, activation store, model folder or checkpoint.
#include <sys/stat.h>

#include <cstdio>

#include <torch/torch.h>

#include "cli.h"
#include "golgi/core/json.h"
#include "golgi/core/strings.h"
#include "golgi/hooks/activation_store.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/npy.h"
#include "golgi/io/safetensors.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/models/registry.h"

namespace golgi::cli {

namespace {

struct InspectArgs {
  std::string path;
  bool stats = false, json = false;
};

Json tensor_stats(const at::Tensor& tensor) {
  at::Tensor t = tensor.to(torch::kDouble);
  int64_t n = t.numel();
  Json s = {{"numel", n}};
  if (n == 0) return s;
  at::Tensor finite = torch::isfinite(t);
  int64_t nan = torch::isnan(t).sum().item<int64_t>();
  int64_t inf = n - nan - finite.sum().item<int64_t>();
  at::Tensor values = t.masked_select(finite);
  s["nan"] = nan;
  s["inf"] = inf;
  if (values.numel()) {
    s["min"] = values.min().item<double>();
    s["max"] = values.max().item<double>();
    s["mean"] = values.mean().item<double>();
    s["std"] = values.numel() > 1 ? values.std().item<double>() : 0.0;
    s["zero_fraction"] = values.eq(0).to(torch::kDouble).mean().item<double>();
  }
  return s;
}

Json describe_safetensors(const std::string& path, bool stats) {
  auto file = io::SafetensorsFile::open(path);
  Json tensors = Json::array();
  for (const auto& e : file.entries()) {
    Json t = {{"name", e.name}, {"dtype", io::dtype_name(e.dtype)}, {"shape", e.shape}, {"bytes", e.end - e.begin}};
    if (stats) t["stats"] = tensor_stats(io::to_torch(file.view(e.name)));
    tensors.push_back(t);
  }
  Json metadata = Json::object();
  for (const auto& [k, v] : file.metadata()) metadata[k] = v.size() > 200 ? v.substr(0, 200) + "..." : v;
  std::string kind = "safetensors";
  auto format = file.metadata().find("format");
  if (format != file.metadata().end() && format->second == "golgi-checkpoint") kind = "checkpoint";
  return {{"kind", kind}, {"path", path}, {"tensors", tensors}, {"metadata", metadata}};
}

Json describe_npy(const std::string& path, bool stats) {
  auto raw = io::read_npy(path);
  Json t = {{"name", path}, {"dtype", io::dtype_name(raw.dtype)}, {"shape", raw.shape}, {"bytes", raw.data.size()}};
  if (stats) t["stats"] = tensor_stats(io::to_torch(raw.view()));
  return {{"kind", "npy"}, {"path", path}, {"tensors", Json::array({t})}};
}

Json describe_store(const std::string& path, bool stats) {
  hooks::ActivationStoreReader store(path);
  Json tensors = Json::array();
  for (const auto& h : store.index()["hooks"]) {
    std::vector<int64_t> shape{store.rows()};
    for (const auto& d : h["shape"]) shape.push_back(d.get<int64_t>());
    Json t = {{"name", h["name"]}, {"dtype", store.index()["dtype"]}, {"shape", shape}};
    if (stats) t["stats"] = tensor_stats(store.read(h["name"].get<std::string>()));
    tensors.push_back(t);
  }
  return {{"kind", "activation-store"},
          {"path", path},
          {"rows", store.rows()},
          {"complete", store.complete()},
          {"shards", store.index()["shards"].size()},
          {"dataset", store.index()["dataset"]},
          {"model", store.index()["model"]},
          {"tensors", tensors}};
}

Json describe_model(const std::string& dir, bool stats) {
  auto loaded = models::load_model(dir);
  Json out = describe_safetensors(dir + "/model.safetensors", stats);
  out["kind"] = "model";
  out["path"] = dir;
  out["architecture"] = loaded.model->architecture();
  out["options"] = loaded.model->options();
  out["parameters"] = loaded.model->parameter_count();
  Json hooks = Json::array();
  for (const auto& name : loaded.model->hook_names())
    hooks.push_back({{"name", name}, {"shape", loaded.model->hook_point(name).shape()}});
  out["hooks"] = hooks;
  out["card"] = loaded.card["card"];
  return out;
}

void print_text(const Json& d) {
  std::printf("%s: %s\n", d["kind"].get<std::string>().c_str(), d["path"].get<std::string>().c_str());
  for (const char* key : {"architecture", "parameters", "rows", "complete", "shards"})
    if (d.contains(key)) std::printf("  %-13s %s\n", key, d[key].dump().c_str());
  if (d.contains("options")) std::printf("  %-13s %s\n", "options", d["options"].dump().c_str());
  if (d.contains("dataset")) std::printf("  %-13s %s\n", "dataset", d["dataset"].dump().c_str());
  if (d.contains("metadata") && !d["metadata"].empty()) {
    std::printf("  metadata\n");
    for (auto it = d["metadata"].begin(); it != d["metadata"].end(); ++it)
      std::printf("    %-20s %s\n", it.key().c_str(), it.value().get<std::string>().c_str());
  }
  if (d.contains("card") && d["card"].contains("metrics"))
    std::printf("  %-13s %s\n", "metrics", d["card"]["metrics"].dump().c_str());
  if (d.contains("hooks")) {
    std::printf("  hook points (%zu)\n", d["hooks"].size());
    for (const auto& h : d["hooks"])
      std::printf("    %-32s %s\n", h["name"].get<std::string>().c_str(), h["shape"].get<std::string>().c_str());
  }
  std::printf("  tensors (%zu)\n", d["tensors"].size());
  for (const auto& t : d["tensors"]) {
    std::printf("    %-36s %-5s %s", t["name"].get<std::string>().c_str(), t["dtype"].get<std::string>().c_str(),
                t["shape"].dump().c_str());
    if (t.contains("stats")) {
      const Json& s = t["stats"];
      if (s.contains("mean"))
        std::printf("  min %.4g max %.4g mean %.4g std %.4g zeros %.1f%%", s["min"].get<double>(), s["max"].get<double>(),
                    s["mean"].get<double>(), s["std"].get<double>(), 100 * s["zero_fraction"].get<double>());
      if (s.value("nan", 0) || s.value("inf", 0))
        std::printf("  NaN %lld inf %lld", s["nan"].get<long long>(), s["inf"].get<long long>());
    }
    std::printf("\n");
  }
}

}  // namespace

Command add_inspect(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  auto* sub = app.add_subcommand("inspect", "Show what a file holds: a .safetensors file, a training checkpoint, a "
                                            ".npy array, an activation store folder or a model folder (tensor names, "
                                            "dtypes, shapes, metadata, hook points).");
  sub->add_option("path", args->path, "file or folder")->required();
  sub->add_flag("--stats", args->stats, "add min/max/mean/std/zero fraction and NaN/inf counts per tensor");
  sub->add_flag("--json", args->json, "print JSON");
  return {sub, [args] {
            const std::string& path = args->path;
            struct stat st {};
            GOLGI_CHECK(::stat(path.c_str(), &st) == 0, "'", path, "' does not exist");
            Json d;
            if (S_ISDIR(st.st_mode)) {
              if (hooks::is_activation_store(path)) {
                d = describe_store(path, args->stats);
              } else if (models::is_model_dir(path)) {
                d = describe_model(path, args->stats);
              } else {
                GOLGI_FAIL("'", path, "' is a folder but neither an activation store (index.json) nor a model ",
                           "(model.json)");
              }
            } else if (ends_with(path, ".npy")) {
              d = describe_npy(path, args->stats);
            } else if (ends_with(path, "model.json")) {
              auto slash = path.rfind('/');
              d = describe_model(slash == std::string::npos ? "." : path.substr(0, slash), args->stats);
            } else {
              // Anything else is tried as safetensors: the parser names the problem if it is not.
              d = describe_safetensors(path, args->stats);
            }
            if (args->json) {
              std::printf("%s\n", d.dump(2).c_str());
            } else {
              print_text(d);
            }
            return kExitOk;
          }};
}

}  // namespace golgi::cli
