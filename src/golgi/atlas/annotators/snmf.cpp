// snmf: the semi-NMF features each neuron takes part in.
//
// Shafran, Geiger & Geva 2025, "Decomposing MLP Activations into Interpretable Features via
// Semi-Nonnegative Matrix Factorization" (arXiv:2506.10920); methods/snmf/snmf.h. The features are
// computed by `golgi snmf --store S --hook H --annotate MODEL_DIR`, which writes MODEL_DIR/snmf.json;
// this annotator applies when the atlas's model folder holds that file and it names a hook the atlas
// recorded with the same number of neurons (d). Per neuron j it writes one annotation of kind
// `snmf_feature` for every feature k whose F[j, k] ≠ 0: label "snmf <k>: <summary of the feature's top
// tokens and language>", score = |F[j, k]| / max_i |F[i, k]| (1 for the feature's strongest neuron),
// value {feature, weight, neurons_in_feature, top_examples (the first 5 contexts), relative_error}.
// The model-level summary holds the hook, K, the relative error and each feature's summary.
#include <cmath>
#include <filesystem>

#include "golgi/atlas/annotator.h"
#include "golgi/core/error.h"
#include "golgi/io/json_file.h"

namespace golgi::atlas {
namespace {

constexpr int64_t kExamplesPerAnnotation = 5;

std::string file_of(const AtlasContext& context) {
  return (std::filesystem::path(context.model_dir) / "snmf.json").string();
}

class SnmfFeatures : public Annotator {
 public:
  bool applies(const AtlasContext& context) const override {
    if (context.model_dir.empty() || !std::filesystem::exists(file_of(context))) return false;
    const Json doc = io::read_json_file(file_of(context));
    const AtlasHook* hook = context.find_hook(doc.value("hook", ""));
    return hook && hook->neurons == doc.value("d", int64_t{-1});
  }

  Json annotate(const AtlasContext& context, AtlasWriter& writer) override {
    const Json doc = io::read_json_file(file_of(context));
    GOLGI_CHECK(doc.value("format", "") == "golgi-snmf", file_of(context), " is not a golgi snmf --annotate file (format '",
                doc.value("format", ""), "'); rerun golgi snmf with --annotate");
    const std::string name = doc.at("hook");
    const AtlasHook* hook = context.find_hook(name);
    GOLGI_CHECK(hook && hook->neurons == doc.at("d").get<int64_t>(), file_of(context), " is for hook '", name, "' with ",
                doc.at("d").dump(), " neurons, which this atlas does not record");
    const double relative_error = doc.value("relative_error", 0.0);
    Json features = Json::array();
    int64_t written = 0;
    for (const auto& f : doc.at("features")) {
      const int64_t k = f.at("feature");
      const auto& neurons = f.at("neurons");
      double largest = 0;
      for (const auto& n : neurons) largest = std::max(largest, std::fabs(n.at("weight").get<double>()));
      Json examples = Json::array();
      for (const auto& e : f.value("top_examples", Json::array())) {
        if (static_cast<int64_t>(examples.size()) >= kExamplesPerAnnotation) break;
        examples.push_back(e.contains("context") ? e["context"] : Json("row " + e.at("row").dump()));
      }
      const std::string summary = f.value("summary", std::string());
      const std::string label = "snmf " + std::to_string(k) + (summary.empty() ? "" : ": " + summary);
      for (const auto& n : neurons) {
        const int64_t j = n.at("neuron");
        const double weight = n.at("weight");
        if (j < 0 || j >= hook->neurons || weight == 0) continue;
        writer.annotate(context.neuron_id(*hook, j), "snmf_feature", label, largest > 0 ? std::fabs(weight) / largest : 0.0,
                        Json{{"feature", k},
                             {"weight", weight},
                             {"neurons_in_feature", neurons.size()},
                             {"top_examples", examples},
                             {"relative_error", relative_error}});
        ++written;
      }
      features.push_back({{"feature", k}, {"neurons", neurons.size()}, {"summary", summary}});
    }
    Json summary = {{"hook", name},
                    {"features", features.size()},
                    {"relative_error", relative_error},
                    {"rows", doc.value("rows", int64_t{0})},
                    {"store", doc.value("store", std::string())},
                    {"per_feature", features}};
    writer.annotate_model("snmf_feature", summary);
    return {{"hook", name}, {"features", features.size()}, {"annotations", written}};
  }
};

}  // namespace

std::unique_ptr<Annotator> make_snmf_annotator() { return std::make_unique<SnmfFeatures>(); }

}  // namespace golgi::atlas
