// Annotators: how a method contributes what it knows about neurons to an atlas.
//
// An annotator is one small class: applies() says whether it can run on this model (a language
// model, a hook kind it understands), annotate() reads the AtlasContext (model, data, streamed
// statistics, the neuron ids of each hook) and writes through AtlasWriter. Registration is one line
// in annotators.def. docs/adding-an-annotator.md walks through an example. Each annotator runs in
// its own transaction and is recorded in `annotator_runs`, so a resumed build skips finished ones.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/registry.h"

namespace golgi::models {
class Model;
}
namespace golgi::data {
class Dataset;
}
namespace golgi::tokenize {
class Tokenizer;
}

namespace golgi::atlas {

class Database;
struct AtlasBuildOptions;

// One hook point of the atlas, with the geometry the stream found.
struct AtlasHook {
  std::string name;      // "blocks.2.mlp.hook_post"
  int64_t layer = -1;    // the block index, or the hook's order for models without blocks
  std::string kind;      // "mlp", "conv", "dense", "logits", ...
  int64_t neurons = 0;
  int64_t positions = 1;       // per example: tokens, or height * width, or 1
  int64_t height = 0, width = 0;  // conv maps (0 otherwise)
  int64_t id = 0;              // hooks.id
  int64_t first_neuron_id = 0; // neurons.id of index 0 (ids of one hook are consecutive)
};

struct AtlasContext {
  const AtlasBuildOptions* options = nullptr;
  std::string model_dir, model_name;
  models::Model* model = nullptr;
  Json card;                  // the model folder's model.json
  bool language_model = false;
  // The streamed examples: language models: windows [n, seq_len + 1] int64 token ids (-1 padding);
  // classifiers: inputs [n, ...]. Targets are the label indices.
  std::shared_ptr<data::Dataset> data;
  std::vector<std::string> labels;
  const tokenize::Tokenizer* tokenizer = nullptr;  // language models only
  std::vector<AtlasHook> hooks;
  // Per hook (same order): per-label mean activation [K, neurons] and activation probability.
  std::vector<at::Tensor> label_means, label_probability;
  // Per hook: the stream's top label [neurons] int64 (-1: none) and class-selectivity index
  // [neurons] float32 (NaN: fewer than two labels seen), as stored in the neurons table.
  std::vector<at::Tensor> top_label, selectivity;
  int64_t model_id = 0;

  const AtlasHook* find_hook(const std::string& name) const;
  int64_t neuron_id(const AtlasHook& hook, int64_t index) const { return hook.first_neuron_id + index; }
};

// Writes annotations of one annotator (its name is the `method` column).
class AtlasWriter {
 public:
  AtlasWriter(Database& db, int64_t model_id, std::string method);
  // kind: see docs/atlas.md "Annotation kinds"; label: short searchable text; value: JSON object.
  void annotate(int64_t neuron_id, const std::string& kind, const std::string& label, std::optional<double> score,
                const Json& value);
  // A model-level summary (e.g. language neurons per layer) for the overview.
  void annotate_model(const std::string& kind, const Json& value);
  // Stores a PNG; returns its images.id.
  int64_t add_image(const std::string& kind, const std::string& png, int64_t width, int64_t height);
  int64_t written() const { return written_; }

 private:
  Database& db_;
  int64_t model_id_;
  std::string method_;
  int64_t written_ = 0;
};

class Annotator {
 public:
  virtual ~Annotator() = default;
  // Whether it can say anything about this model (checked before the build starts).
  virtual bool applies(const AtlasContext& context) const = 0;
  // Writes annotations; returns a summary stored in annotator_runs and printed by the build.
  virtual Json annotate(const AtlasContext& context, AtlasWriter& writer) = 0;
};

struct AnnotatorEntry {
  std::string name;         // the method's paper id or a plain name
  std::string description;  // one line, with the citation
  std::unique_ptr<Annotator> (*make)();
};

const Registry<AnnotatorEntry>& annotator_registry();

// Factories (annotators.def).
std::unique_ptr<Annotator> make_label_selectivity_annotator();
std::unique_ptr<Annotator> make_lmhead_decode_annotator();
std::unique_ptr<Annotator> make_language_neurons_annotator();
std::unique_ptr<Annotator> make_convergent_annotator();
std::unique_ptr<Annotator> make_lottery_annotator();
std::unique_ptr<Annotator> make_nap_annotator();
std::unique_ptr<Annotator> make_snmf_annotator();
std::unique_ptr<Annotator> make_sae_annotator();
std::unique_ptr<Annotator> make_variance_explained_annotator();
std::unique_ptr<Annotator> make_feature_vis_annotator();

}  // namespace golgi::atlas
