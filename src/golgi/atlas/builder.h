// golgi atlas build: one pass of a dataset through a model collecting, for every neuron of the
// chosen hook points, statistics, an activation histogram and the top-k exemplars, then the
// exemplars' per-token activations / activation maps, then the annotators (docs/atlas.md).
//
// Bounded memory: batch activations, neurons x exemplars entries, neurons x histogram_sample
// floats per hook, and per-label [labels, neurons] sums; nothing grows with the number of examples
// except the exemplar stage, which holds one batch of the (at most neurons x exemplars) distinct
// exemplar examples at a time.
//
// Atomic and resumable: the build writes OUT.partial (SQLite) and the stream's running state to
// OUT.partial.stream (safetensors, replaced atomically every checkpoint_every batches). A rerun
// with the same options continues from the last checkpoint and skips finished stages and
// annotators; OUT appears (rename) only when everything is done.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::atlas {

struct AtlasBuildOptions {
  GOLGI_ARG(std::string, model) = "";    // model folder
  GOLGI_ARG(std::string, out) = "";      // atlas file to write
  GOLGI_ARG(std::string, name) = "";     // the model's name in the atlas and URLs (default: folder name)
  GOLGI_ARG(std::string, dataset) = "";  // default: the dataset the model card names
  GOLGI_ARG(std::string, split) = "";    // default: "val" for text corpora, "test" otherwise
  GOLGI_ARG(std::string, data_dir) = "";
  GOLGI_ARG(std::vector<std::string>, hooks) = {};  // empty: MLP outputs (LMs) or every *.hook_post + head.hook_out
  GOLGI_ARG(int64_t, limit) = 0;             // examples streamed (0: the whole split; text: limit / languages per language)
  GOLGI_ARG(int64_t, batch_size) = 32;
  GOLGI_ARG(int64_t, exemplars) = 16;        // top-k examples kept per neuron
  GOLGI_ARG(int64_t, histogram_sample) = 4096;  // positions sampled for histograms (per hook)
  GOLGI_ARG(int64_t, histogram_bins) = 32;
  GOLGI_ARG(double, active_above) = 0.0;     // "active" means activation > this
  GOLGI_ARG(int64_t, context_before) = 32;   // tokens of text kept before an exemplar's maximum
  GOLGI_ARG(int64_t, context_after) = 8;     // and after it
  GOLGI_ARG(std::vector<std::string>, annotators) = {"all"};  // "all", "none" or names
  GOLGI_ARG(int64_t, checkpoint_every) = 20;  // batches between resumable checkpoints
  GOLGI_ARG(int64_t, seed) = 0;               // histogram sampling
  GOLGI_ARG(bool, restart) = false;           // discard an unfinished OUT.partial instead of resuming
  GOLGI_ARG(bool, progress) = true;
  static const OptionSchema<AtlasBuildOptions>& schema();
};

struct AtlasBuildResult {
  std::string path;
  double seconds = 0;
  int64_t examples = 0, positions = 0, neurons = 0, exemplar_examples = 0;
  int64_t resumed_at_example = -1;  // -1: started from scratch
  bool already_complete = false;    // OUT existed and was complete: nothing was done
  Json annotators = Json::object(); // name -> summary
  Json to_json() const;
};

AtlasBuildResult build_atlas(const AtlasBuildOptions& options);

// Builds a one-line annotator list for --help: "name: description".
std::vector<std::string> describe_annotators();

}  // namespace golgi::atlas
