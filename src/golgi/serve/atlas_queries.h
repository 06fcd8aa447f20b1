// AtlasQueries: the read-only questions `golgi serve` asks one atlas file (docs/atlas.md, "Schema"
// and "HTTP API"), answered as the JSON documents the API returns.
//
// Contract:
//   - The file is opened with SQLITE_OPEN_READONLY (open_atlas) plus `PRAGMA query_only`, so no
//     query can write to it whatever it says.
//   - Every value that comes from a request is bound as an SQL parameter; the only request text
//     that changes SQL is the sort column and direction, each picked from a fixed table
//     (sort_keys()) and otherwise refused with ApiError 400.
//   - Thread-safe: each call borrows a connection from a small pool (a connection serves one
//     thread at a time, see atlas/sqlite.h), so concurrent requests never share a connection.
//   - Bad parameters throw ApiError 400, unknown hooks, labels, neurons and images ApiError 404,
//     each with a message that names the value and what would be accepted.
//   - JSON text stored in the file (histograms, annotation values, model cards, exemplar tokens)
//     is returned parsed; text that does not parse comes back as null rather than failing the
//     request.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "golgi/core/json.h"

namespace golgi::serve {

// /api/neurons parameters, already parsed and range-checked by the caller.
struct NeuronListQuery {
  std::string hook;        // empty: every hook of the model
  std::string sort = "index";
  bool descending = false;
  int64_t offset = 0;
  int64_t limit = 50;
  std::string label;       // empty: any; else only neurons whose top label has this name
  std::string annotation;  // empty: any; else only neurons with an annotation of this kind
};

class AtlasQueries {
 public:
  static constexpr int64_t kMaxNeuronsLimit = 500;
  static constexpr int64_t kMaxSearchLimit = 200;
  // Tags (annotation kind + label) listed per neuron in /api/neurons, strongest first.
  static constexpr int64_t kTagsPerNeuron = 8;
  // Rows of annotation_counts in /api/overview; more set "annotation_counts_truncated".
  static constexpr int64_t kMaxAnnotationCounts = 5000;
  // Exemplar inputs whose text is matched per search (bounds the scan of examples.tokens_json).
  static constexpr int64_t kMaxExampleMatches = 2000;

  // Opens the atlas and reads its model row. Throws golgi::Error when the file is missing, not an
  // atlas, of another schema version, or holds no model (an atlas holds exactly one).
  explicit AtlasQueries(const std::string& path);
  ~AtlasQueries();
  AtlasQueries(const AtlasQueries&) = delete;
  AtlasQueries& operator=(const AtlasQueries&) = delete;

  const std::string& path() const { return path_; }
  const std::string& model_name() const { return name_; }
  const std::string& source_path() const { return source_path_; }
  const std::string& task() const { return task_; }

  // The sort keys /api/neurons accepts, in documentation order.
  static std::vector<std::string> sort_keys();

  // One entry of /api/models.
  Json summary(bool steerable) const;
  // /api/overview.
  Json overview(bool steerable) const;
  // /api/neurons. Unknown hook or label: 404; unknown sort key or limit outside
  // [1, kMaxNeuronsLimit] or negative offset: 400.
  Json neurons(const NeuronListQuery& query) const;
  // /api/neuron. A malformed ref: 400; a ref not in the atlas: 404.
  Json neuron(const std::string& ref) const;
  // Appends up to `limit` hits for `query` to the array `results`, in this order: an exact
  // NeuronRef, hook names containing the text, annotation labels starting with it (ASCII
  // case-insensitive), exemplar inputs containing it (best activation per neuron). Each hit is
  // {"model", "ref", "kind", "label", "score"}.
  void search(const std::string& query, int64_t limit, Json& results) const;
  // The PNG bytes of image `id`, or nullopt when this atlas has no such image.
  std::optional<std::string> image_png(int64_t id) const;

 private:
  class Pool;
  std::unique_ptr<Pool> pool_;
  std::string path_;
  int64_t model_id_ = 0;
  std::string name_, architecture_, task_, source_path_, dataset_, split_;
  int64_t examples_ = 0, positions_ = 0, hooks_ = 0, neurons_ = 0;
};

}  // namespace golgi::serve
