// sae: the sparse-autoencoder latents each neuron writes into.
//
// Gao et al. 2024, "Scaling and evaluating sparse autoencoders" (TopK) and Bricken et al. 2023,
// "Towards Monosemanticity" (ReLU + L1); methods/sae/sae.h. `golgi sae train|eval --annotate
// MODEL_DIR` writes MODEL_DIR/sae.json (format "golgi-sae-features": each live latent's
// top-activating examples and, per hook neuron, the latents whose decoder columns weigh it most).
// This annotator applies when the atlas's model folder holds that file and it names a hook the atlas
// recorded with the SAE's d_in neurons. Per neuron j it writes one annotation of kind `sae_latent`
// for each of the (up to 3) live latents l with the largest |W_dec[j, l]| / max_i |W_dec[i, l]|:
// label "sae <l>: <summary of the latent's top tokens and language>", score = that ratio (1 for the
// column's strongest neuron), value {latent, weight, frequency, top_examples (the first 5 contexts),
// fvu}. The model-level summary holds the hook, the SAE, its metrics and each live latent's summary.
#include <cmath>
#include <filesystem>
#include <map>

#include "golgi/atlas/annotator.h"
#include "golgi/core/error.h"
#include "golgi/io/json_file.h"

namespace golgi::atlas {
namespace {

constexpr int64_t kExamplesPerAnnotation = 5;

std::string file_of(const AtlasContext& context) {
  return (std::filesystem::path(context.model_dir) / "sae.json").string();
}

class SaeLatents : public Annotator {
 public:
  bool applies(const AtlasContext& context) const override {
    if (context.model_dir.empty() || !std::filesystem::exists(file_of(context))) return false;
    const Json doc = io::read_json_file(file_of(context));
    const AtlasHook* hook = context.find_hook(doc.value("hook", ""));
    return hook && hook->neurons == doc.value("d_in", int64_t{-1});
  }

  Json annotate(const AtlasContext& context, AtlasWriter& writer) override {
    const Json doc = io::read_json_file(file_of(context));
    GOLGI_CHECK(doc.value("format", "") == "golgi-sae-features", file_of(context),
                " is not a golgi sae --annotate file (format '", doc.value("format", ""),
                "'); rerun golgi sae train or golgi sae eval with --annotate");
    const std::string name = doc.at("hook");
    const AtlasHook* hook = context.find_hook(name);
    GOLGI_CHECK(hook && hook->neurons == doc.at("d_in").get<int64_t>(), file_of(context), " is for hook '", name,
                "' with ", doc.at("d_in").dump(), " neurons, which this atlas does not record");
    const Json metrics = doc.value("metrics", Json::object());
    const double fvu = metrics.value("fvu", 0.0);

    // The annotation pieces of every live latent, looked up by the per-neuron lists.
    struct Latent {
      std::string label;
      double frequency = 0;
      Json examples;
    };
    std::map<int64_t, Latent> latents;
    Json per_latent = Json::array();
    for (const auto& l : doc.at("per_latent")) {
      const int64_t index = l.at("latent");
      Latent entry;
      const std::string summary = l.value("summary", std::string());
      entry.label = "sae " + std::to_string(index) + (summary.empty() ? "" : ": " + summary);
      entry.frequency = l.value("frequency", 0.0);
      entry.examples = Json::array();
      for (const auto& e : l.value("top_examples", Json::array())) {
        if (static_cast<int64_t>(entry.examples.size()) >= kExamplesPerAnnotation) break;
        entry.examples.push_back(e.contains("context") ? e["context"] : Json("row " + e.at("row").dump()));
      }
      latents[index] = std::move(entry);
      per_latent.push_back({{"latent", index}, {"frequency", l.value("frequency", 0.0)}, {"summary", summary}});
    }

    const Json& per_neuron = doc.at("per_neuron");
    GOLGI_CHECK(per_neuron.is_array() && static_cast<int64_t>(per_neuron.size()) == hook->neurons, file_of(context),
                " has ", per_neuron.size(), " per_neuron lists for the ", hook->neurons,
                " neurons of its hook; rerun golgi sae with --annotate");
    int64_t written = 0;
    for (int64_t j = 0; j < hook->neurons; ++j)
      for (const auto& entry : per_neuron[static_cast<size_t>(j)]) {
        const int64_t index = entry.at("latent");
        const auto found = latents.find(index);
        if (found == latents.end()) continue;  // not live on the scanned rows
        const double weight = entry.at("weight");
        if (weight == 0) continue;
        writer.annotate(context.neuron_id(*hook, j), "sae_latent", found->second.label, entry.at("score").get<double>(),
                        Json{{"latent", index},
                             {"weight", weight},
                             {"frequency", found->second.frequency},
                             {"top_examples", found->second.examples},
                             {"fvu", fvu}});
        ++written;
      }

    Json summary = {{"hook", name},
                    {"sae", doc.value("sae", std::string())},
                    {"store", doc.value("store", std::string())},
                    {"kind", doc.value("kind", std::string())},
                    {"latents", doc.value("latents", int64_t{0})},
                    {"live_latents", latents.size()},
                    {"k", doc.value("k", int64_t{0})},
                    {"metrics", metrics},
                    {"scanned_rows", doc.value("scanned_rows", int64_t{0})},
                    {"per_latent", per_latent}};
    writer.annotate_model("sae_latent", summary);
    return {{"hook", name}, {"live_latents", latents.size()}, {"annotations", written}};
  }
};

}  // namespace

std::unique_ptr<Annotator> make_sae_annotator() { return std::make_unique<SaeLatents>(); }

}  // namespace golgi::atlas
