// InterventionSet: a composable list of neuron interventions (zero, set/clamp to a value, scale,
// add a vector) that is applied to a model as one scoped unit.
//
//   InterventionSet set;
//   set.zero(NeuronRef::parse("blocks.0.mlp.hook_post:12"));
//   set.scale(NeuronRef::parse("blocks.3.mlp.hook_post:7"), 4.0);
//   {
//     HookGuards guards = set.apply(model);   // active for every forward pass and generation step
//     ...
//   }                                         // all removed
//
// Interventions run in the order they were added. Consecutive interventions of the same kind and
// value on one hook point (without positions) become one hook with an index list, so zeroing a few
// hundred neurons costs one masked write per hook point, not hundreds of hooks.
//
// Text forms (CLI flags and JSON):
//   zero  REF          set  REF=VALUE          scale  REF=FACTOR          add  HOOK=FILE.npy
// JSON file: {"interventions": [{"op": "zero", "neuron": "blocks.0.mlp.hook_post:12"},
//   {"op": "set", "neuron": "...", "value": 3.5}, {"op": "scale", "neuron": "...", "value": 2},
//   {"op": "add", "hook": "blocks.2.hook_resid_post", "vector": [..d floats..] or "file.npy"}]}
// ("clamp" is accepted as a synonym of "set": a neuron clamped to a value, as in steering papers.)
#pragma once

#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/hooks/neuron_ref.h"
#include "golgi/hooks/scoped_hooks.h"

namespace golgi::hooks {

class InterventionSet {
 public:
  enum class Op { kZero, kSet, kScale, kAdd };
  struct Item {
    Op op = Op::kZero;
    NeuronRef ref;        // for kAdd only ref.hook is used
    double value = 0.0;   // kSet: the value; kScale: the factor
    at::Tensor vector;    // kAdd: broadcastable to the activation (usually [d] for [batch, pos, d])
  };

  InterventionSet& zero(const NeuronRef& ref);
  InterventionSet& set(const NeuronRef& ref, double value);
  InterventionSet& scale(const NeuronRef& ref, double factor);
  InterventionSet& add(const std::string& hook, at::Tensor vector);
  // Zeroes neurons `indices` of `hook` at every position.
  InterventionSet& zero_all(const std::string& hook, const std::vector<int64_t>& indices);
  // Appends every item of `other` after this set's own.
  InterventionSet& extend(const InterventionSet& other);

  // Parses one text form: op is "zero", "set", "clamp", "scale" or "add"; text "REF", "REF=VALUE"
  // or "HOOK=FILE.npy". Throws golgi::Error naming the flag and the expected form.
  void add_text(const std::string& op, const std::string& text);
  // Reads the JSON form above (relative .npy paths are resolved next to the file).
  static InterventionSet from_json_file(const std::string& path);
  static InterventionSet from_json(const Json& doc, const std::string& base_dir = ".");

  // Validates every hook name and index against the model (indices again against the activation
  // shapes seen at run time), then attaches the hooks. Throws golgi::Error before attaching any.
  HookGuards apply(const HookedModule& model) const;

  const std::vector<Item>& items() const { return items_; }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  // {"interventions": [...]} in the JSON form (add vectors are written inline).
  Json to_json() const;

 private:
  std::vector<Item> items_;
};

}  // namespace golgi::hooks
