// convergent: each neuron's matched unit in another network and their correlation.
//
// Li, Yosinski, Clune, Lipson & Hopcroft 2016, "Convergent Learning: Do different neural networks
// learn the same representations?" (ICLR); methods/convergent/convergent.h. The matching is
// computed by `golgi compare --model-a DIR --model-b OTHER --hook H --annotate`, which writes
// DIR/convergent.json; this annotator applies when the atlas's model folder holds that file and it
// names a hook the atlas recorded with the same number of neurons. Per neuron it writes one
// annotation of kind `match`: label "<other model> <hook>:<unit>", score = the correlation of the
// one-to-one match, value {other_model, hook, unit, correlation, semi_unit, semi_correlation}
// (semi: the other network's most correlated unit, which several neurons may share).
#include <cmath>
#include <filesystem>

#include "golgi/atlas/annotator.h"
#include "golgi/core/error.h"
#include "golgi/io/json_file.h"

namespace golgi::atlas {

namespace {

std::string file_of(const AtlasContext& context) {
  return (std::filesystem::path(context.model_dir) / "convergent.json").string();
}

class Convergent : public Annotator {
 public:
  bool applies(const AtlasContext& context) const override {
    if (context.model_dir.empty() || !std::filesystem::exists(file_of(context))) return false;
    const Json doc = io::read_json_file(file_of(context));
    for (const auto& h : doc.value("hooks", Json::array())) {
      const AtlasHook* hook = context.find_hook(h.value("hook", ""));
      if (hook && hook->neurons == h.value("units", int64_t{-1})) return true;
    }
    return false;
  }

  Json annotate(const AtlasContext& context, AtlasWriter& writer) override {
    const Json doc = io::read_json_file(file_of(context));
    GOLGI_CHECK(doc.value("format", "") == "golgi-convergent", file_of(context),
                " is not a golgi compare --annotate file (format '", doc.value("format", ""),
                "'); rerun golgi compare with --annotate");
    const std::string other = doc.value("other_name", doc.value("other_model", std::string("other")));
    Json summary = {{"other_model", doc.value("other_model", "")}, {"hooks", Json::array()}};
    int64_t written = 0;
    for (const auto& h : doc.at("hooks")) {
      const std::string name = h.at("hook");
      const AtlasHook* hook = context.find_hook(name);
      if (!hook || hook->neurons != h.at("units").get<int64_t>()) continue;
      const auto& matching = h.at("matching");
      const auto& corr = h.at("matched_corr");
      const auto& semi = h.at("semi_match");
      const auto& semi_corr = h.at("semi_corr");
      for (int64_t j = 0; j < hook->neurons; ++j) {
        const int64_t unit = matching.at(j).get<int64_t>();
        if (unit < 0 || corr.at(j).is_null()) continue;  // unmatched (the other layer is narrower)
        const double c = corr.at(j).get<double>();
        writer.annotate(context.neuron_id(*hook, j), "match", other + " " + name + ":" + std::to_string(unit), c,
                        Json{{"other_model", other},
                             {"hook", name},
                             {"unit", unit},
                             {"correlation", c},
                             {"semi_unit", semi.at(j)},
                             {"semi_correlation", semi_corr.at(j)}});
        ++written;
      }
      summary["hooks"].push_back({{"hook", name}, {"mean_matched_corr", h.value("mean_matched_corr", Json(nullptr))}});
    }
    writer.annotate_model("match", summary);
    summary["neurons"] = written;
    return summary;
  }
};

}  // namespace

std::unique_ptr<Annotator> make_convergent_annotator() { return std::make_unique<Convergent>(); }

}  // namespace golgi::atlas
