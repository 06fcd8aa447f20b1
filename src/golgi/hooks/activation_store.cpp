#include "golgi/hooks/activation_store.h"

#include <cstdio>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/strings.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"

namespace golgi::hooks {

namespace {
constexpr const char* kFormat = "golgi-activation-store";
constexpr int kVersion = 1;

std::string shard_file(const std::string& key, int64_t shard) {
  char name[32];
  std::snprintf(name, sizeof name, "shard_%05lld.npy", static_cast<long long>(shard));
  return key + "/" + name;
}

Json config_json(const StoreConfig& config) {
  Json hooks = Json::array();
  for (const auto& h : config.hooks) hooks.push_back({{"name", h.name}, {"shape", h.shape}});
  Json j = {{"hooks", hooks},
            {"shard_rows", config.shard_rows},
            {"dtype", config.dtype == "float16" ? "<f2" : "<f4"},
            {"dataset", config.dataset}};
  // Only token stores carry the key, so per-sample stores keep the index they always had.
  if (config.token_rows) j["token_rows"] = true;
  return j;
}
}  // namespace

bool is_activation_store(const std::string& dir) {
  std::string path = dir + "/index.json";
  if (!io::file_exists(path)) return false;
  try {
    Json index = io::read_json_file(path);
    return index.is_object() && index.value("format", "") == kFormat;
  } catch (const Error&) {
    return false;
  }
}

ActivationStoreWriter::ActivationStoreWriter(std::string dir, StoreConfig config)
    : dir_(std::move(dir)), config_(std::move(config)) {
  GOLGI_CHECK(!config_.hooks.empty(), "an activation store needs at least one hook");
  GOLGI_CHECK(config_.shard_rows > 0, "shard_rows must be > 0, got ", config_.shard_rows);
  GOLGI_CHECK(config_.dtype == "float32" || config_.dtype == "float16", "activation store dtype must be ",
              "'float32' or 'float16', got '", config_.dtype, "'");
  io::make_dirs(dir_);
  Json wanted = config_json(config_);
  std::string index_path = dir_ + "/index.json";
  if (io::file_exists(index_path)) {
    Json existing = io::read_json_file(index_path);
    GOLGI_CHECK(existing.value("format", "") == kFormat, "'", dir_,
                "' holds an index.json that is not an activation store; choose another --out folder");
    Json existing_config = {{"hooks", existing["hooks"]},
                            {"shard_rows", existing["shard_rows"]},
                            {"dtype", existing["dtype"]},
                            {"dataset", existing["dataset"]}};
    if (existing.value("token_rows", false)) existing_config["token_rows"] = true;
    GOLGI_CHECK(!existing.value("complete", false), "'", dir_,
                "' already holds a complete activation store; record into a new folder or delete it");
    GOLGI_CHECK(existing_config == wanted, "'", dir_,
                "' holds an activation store recorded with different settings (hooks, shard size, dtype or ",
                "dataset); record into a new folder or delete it");
    index_ = existing;
    rows_committed_ = index_.value("rows", int64_t{0});
    resumed_ = true;
  } else {
    index_ = wanted;
    index_["format"] = kFormat;
    index_["version"] = kVersion;
    index_["seed"] = config_.seed;
    index_["model"] = config_.model;
    index_["rows"] = 0;
    index_["complete"] = false;
    index_["shards"] = Json::array();
    write_index(false);
  }
  for (const auto& h : config_.hooks) {
    io::make_dirs(dir_ + "/" + h.name);
    buffers_[h.name];
  }
  io::make_dirs(dir_ + "/sample_ids");
  if (config_.token_rows) io::make_dirs(dir_ + "/positions");
}

ActivationStoreWriter::~ActivationStoreWriter() = default;

void ActivationStoreWriter::append(const std::map<std::string, at::Tensor>& batch, const at::Tensor& sample_ids,
                                   const at::Tensor& positions) {
  GOLGI_CHECK(!finished_, "activation store '", dir_, "' is already finished");
  GOLGI_CHECK(sample_ids.dim() == 1, "sample_ids must be 1-D, got shape ", sample_ids.sizes());
  int64_t rows = sample_ids.size(0);
  if (config_.token_rows) {
    GOLGI_CHECK(positions.defined() && positions.dim() == 1 && positions.size(0) == rows, "a token store needs ",
                "positions [", rows, "] (one per row), got ", positions.defined() ? positions.sizes() : at::IntArrayRef{});
  } else {
    GOLGI_CHECK(!positions.defined(), "positions were given to activation store '", dir_,
                "', which has one row per sample; create it with token_rows = true");
  }
  for (const auto& h : config_.hooks) {
    auto it = batch.find(h.name);
    GOLGI_CHECK(it != batch.end(), "batch for activation store '", dir_, "' lacks hook '", h.name, "'");
    const at::Tensor& t = it->second;
    std::vector<int64_t> expected{rows};
    expected.insert(expected.end(), h.shape.begin(), h.shape.end());
    GOLGI_CHECK(t.sizes().vec() == expected, "activation for '", h.name, "' has shape ", t.sizes(),
                ", expected ", expected);
    buffers_[h.name].push_back(t.detach().to(torch::kCPU, config_.dtype == "float16" ? torch::kHalf : torch::kFloat));
  }
  id_buffers_.push_back(sample_ids.to(torch::kLong).cpu());
  if (config_.token_rows) position_buffers_.push_back(positions.to(torch::kLong).cpu());
  rows_buffered_ += rows;
  while (rows_buffered_ >= config_.shard_rows) flush_shard(config_.shard_rows);
}

void ActivationStoreWriter::flush_shard(int64_t rows) {
  if (rows == 0) return;
  int64_t shard = static_cast<int64_t>(index_["shards"].size());
  Json files = Json::object();
  auto take = [&](std::vector<at::Tensor>& buffer) {
    at::Tensor all = torch::cat(buffer, 0);
    at::Tensor head = all.slice(0, 0, rows).contiguous();
    buffer.clear();
    if (all.size(0) > rows) buffer.push_back(all.slice(0, rows).clone());
    return head;
  };
  for (const auto& h : config_.hooks) {
    std::string rel = shard_file(h.name, shard);
    io::save_npy(dir_ + "/" + rel, take(buffers_[h.name]));
    files[h.name] = rel;
  }
  std::string ids_rel = shard_file("sample_ids", shard);
  io::save_npy(dir_ + "/" + ids_rel, take(id_buffers_));
  Json shard_entry = {{"rows", {rows_committed_, rows_committed_ + rows}}, {"sample_ids", ids_rel}, {"files", files}};
  if (config_.token_rows) {
    std::string positions_rel = shard_file("positions", shard);
    io::save_npy(dir_ + "/" + positions_rel, take(position_buffers_));
    shard_entry["positions"] = positions_rel;
  }
  index_["shards"].push_back(shard_entry);
  rows_committed_ += rows;
  rows_buffered_ -= rows;
  index_["rows"] = rows_committed_;
  write_index(false);
}

void ActivationStoreWriter::finish() {
  if (finished_) return;
  flush_shard(rows_buffered_);
  write_index(true);
  finished_ = true;
}

void ActivationStoreWriter::write_index(bool complete) {
  index_["complete"] = complete;
  io::write_json_file(dir_ + "/index.json", index_);
}

ActivationStoreReader::ActivationStoreReader(std::string dir) : dir_(std::move(dir)) {
  std::string path = dir_ + "/index.json";
  GOLGI_CHECK(io::file_exists(path), "'", dir_, "' is not an activation store (no index.json); record one with `golgi record`");
  index_ = io::read_json_file(path);
  GOLGI_CHECK(index_.is_object() && index_.value("format", "") == kFormat, "'", path,
              "' is not a golgi activation store index");
  GOLGI_CHECK(index_.value("version", 0) == kVersion, "activation store '", dir_, "' has version ",
              index_.value("version", 0), "; this golgi reads version ", kVersion);
}

std::vector<std::string> ActivationStoreReader::hook_names() const {
  std::vector<std::string> out;
  for (const auto& h : index_["hooks"]) out.push_back(h["name"].get<std::string>());
  return out;
}

int64_t ActivationStoreReader::rows() const { return index_.value("rows", int64_t{0}); }
bool ActivationStoreReader::complete() const { return index_.value("complete", false); }

at::Tensor ActivationStoreReader::read_files(const std::string& key, int64_t begin, int64_t end) const {
  if (end < 0) end = rows();
  GOLGI_CHECK(begin >= 0 && begin <= end && end <= rows(), "row range [", begin, ", ", end,
              ") is outside the store's ", rows(), " rows");
  std::vector<at::Tensor> parts;
  for (const auto& shard : index_["shards"]) {
    int64_t lo = shard["rows"][0], hi = shard["rows"][1];
    if (hi <= begin || lo >= end) continue;
    std::string rel = key == "sample_ids" || key == "positions" ? shard[key].get<std::string>()
                                                                : shard["files"][key].get<std::string>();
    at::Tensor t = io::load_npy(dir_ + "/" + rel);
    parts.push_back(t.slice(0, std::max(begin, lo) - lo, std::min(end, hi) - lo));
  }
  if (parts.empty()) return torch::empty({0});
  return torch::cat(parts, 0);
}

std::vector<int64_t> ActivationStoreReader::hook_shape(const std::string& hook) const {
  auto names = hook_names();
  for (const auto& h : index_["hooks"])
    if (h["name"] == hook) return h["shape"].get<std::vector<int64_t>>();
  std::string hint = did_you_mean(hook, names);
  GOLGI_FAIL("activation store '", dir_, "' has no hook '", hook, "'", hint.empty() ? "" : "; " + hint,
             " (it has: ", join(names, ", "), ")");
}

at::Tensor ActivationStoreReader::read(const std::string& hook, int64_t begin, int64_t end) const {
  hook_shape(hook);  // unknown hooks: the error lists the store's hooks
  return read_files(hook, begin, end).to(torch::kFloat);
}

bool ActivationStoreReader::token_rows() const { return index_.value("token_rows", false); }

at::Tensor ActivationStoreReader::positions(int64_t begin, int64_t end) const {
  GOLGI_CHECK(token_rows(), "activation store '", dir_, "' has one row per sample, so its rows have no token ",
              "positions; record a language model to get token rows");
  return read_files("positions", begin, end);
}

at::Tensor ActivationStoreReader::sample_ids(int64_t begin, int64_t end) const {
  return read_files("sample_ids", begin, end);
}

}  // namespace golgi::hooks
