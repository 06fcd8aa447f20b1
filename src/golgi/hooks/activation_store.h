// On-disk activation store for activations larger than memory (DESIGN.md "Hook points").
//
// Layout of a store folder:
//   index.json                          what is committed (below)
//   <hook>/shard_00000.npy              [rows, ...per-row shape] float32 (or float16)
//   sample_ids/shard_00000.npy          [rows] int64: dataset sample index of each row
//   positions/shard_00000.npy           [rows] int64: token stores only, the row's position in
//                                       its window (sample)
//
// Token rows (language models): one row per counted token of a window rather than one per sample;
// the hooks' per-row shape is then their last dimension only ([d]), sample_ids holds the window
// index and positions the token's position in it. Such a store has "token_rows": true in
// index.json and a "positions" file per shard; stores without the key (image models, older
// stores) have one row per sample and no positions.
//
// index.json: {"format": "golgi-activation-store", "version": 1, "complete": bool,
//   "rows": committed rows, "shard_rows": N, "dtype": "<f4", "seed": S, "dataset": {...},
//   "model": {...}, "hooks": [{"name": ..., "shape": [per-row shape]}],
//   "shards": [{"rows": [begin, end], "sample_ids": path, "files": {hook: path}}]}
//   (+ "token_rows": true and "positions": path per shard for token stores)
//
// Append-only and crash-safe: a shard's .npy files are each written atomically, then index.json
// is rewritten atomically to include it; anything not in the index is ignored and overwritten on
// resume. Every shard is numpy.load-able, and index.json tells numpy users how to concatenate.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"

namespace golgi::hooks {

struct StoreHook {
  std::string name;
  std::vector<int64_t> shape;  // per row, without the batch dimension
};

struct StoreConfig {
  std::vector<StoreHook> hooks;
  int64_t shard_rows = 4096;
  std::string dtype = "float32";  // or "float16"
  uint64_t seed = 0;
  Json dataset = Json::object();  // e.g. {"name": "fashion-mnist", "split": "test", "size": 10000}
  Json model = Json::object();    // e.g. {"path": ..., "architecture": "cnn"}
  bool token_rows = false;        // one row per token; append() then needs positions
};

class ActivationStoreWriter {
 public:
  // Creates `dir`, or resumes it when it holds an incomplete store with the same hooks, shapes,
  // dtype, shard size and dataset; anything else there is an error (pass a new folder or delete it).
  ActivationStoreWriter(std::string dir, StoreConfig config);
  ~ActivationStoreWriter();

  // Rows already committed: a resumed recording continues from this sample.
  int64_t rows_committed() const { return rows_committed_; }
  int64_t rows_buffered() const { return rows_buffered_; }
  bool resumed() const { return resumed_; }

  // `batch` holds one tensor per configured hook, [rows, ...shape], and `sample_ids` [rows] int64;
  // `positions` [rows] int64 is required for a token store and must be undefined otherwise.
  void append(const std::map<std::string, at::Tensor>& batch, const at::Tensor& sample_ids,
              const at::Tensor& positions = {});
  // Writes the last partial shard and marks the store complete.
  void finish();

 private:
  void flush_shard(int64_t rows);
  void write_index(bool complete);

  std::string dir_;
  StoreConfig config_;
  Json index_;
  int64_t rows_committed_ = 0, rows_buffered_ = 0;
  bool resumed_ = false, finished_ = false;
  std::map<std::string, std::vector<at::Tensor>> buffers_;
  std::vector<at::Tensor> id_buffers_, position_buffers_;
};

class ActivationStoreReader {
 public:
  // Throws golgi::Error when `dir` has no valid index.json.
  explicit ActivationStoreReader(std::string dir);

  const Json& index() const { return index_; }
  std::vector<std::string> hook_names() const;
  int64_t rows() const;
  bool complete() const;
  // Rows [begin, end) of one hook, concatenated across shards, as float32.
  at::Tensor read(const std::string& hook, int64_t begin = 0, int64_t end = -1) const;
  at::Tensor sample_ids(int64_t begin = 0, int64_t end = -1) const;
  // True for a store of one row per token (language models); positions() is only valid then.
  bool token_rows() const;
  // [end − begin] int64: each row's position in its window. Throws golgi::Error for a per-sample store.
  at::Tensor positions(int64_t begin = 0, int64_t end = -1) const;
  // The per-row shape of `hook` (throws golgi::Error naming the hooks when unknown).
  std::vector<int64_t> hook_shape(const std::string& hook) const;

 private:
  at::Tensor read_files(const std::string& key, int64_t begin, int64_t end) const;
  std::string dir_;
  Json index_;
};

// True when `dir` holds an activation store (an index.json with the store's format tag).
bool is_activation_store(const std::string& dir);

}  // namespace golgi::hooks
