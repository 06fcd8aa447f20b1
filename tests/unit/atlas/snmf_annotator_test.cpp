// The `snmf` annotator: reads MODEL_DIR/snmf.json (golgi snmf --annotate) and writes one
// `snmf_feature` annotation per (neuron, feature) with F[j, k] != 0, scored relative to the
// feature's strongest neuron, plus a model-level summary; it does not apply to other hooks or sizes.
#include <gtest/gtest.h>

#include "golgi/atlas/annotator.h"
#include "golgi/atlas/schema.h"
#include "golgi/atlas/sqlite.h"
#include "golgi/io/json_file.h"
#include "test_support.h"

namespace {

using namespace golgi::atlas;

golgi::Json snmf_doc(const std::string& hook, int64_t d) {
  golgi::Json features = golgi::Json::array();
  features.push_back({{"feature", 0},
                      {"neurons", {{{"neuron", 2}, {"weight", -4.0}}, {{"neuron", 0}, {"weight", 1.0}}}},
                      {"top_examples",
                       {{{"row", 3}, {"context", "ab[[c]]d"}}, {{"row", 9}, {"context", "x[[c]]"}}}},
                      {"summary", "\"c\" · en 2/2"}});
  features.push_back({{"feature", 1},
                      {"neurons", {{{"neuron", 2}, {"weight", 0.5}}}},
                      {"top_examples", golgi::Json::array()},
                      {"summary", "1 neurons"}});
  return {{"format", "golgi-snmf"}, {"hook", hook}, {"d", d}, {"rows", 10}, {"relative_error", 0.25},
          {"features", features}};
}

TEST(SnmfAnnotator, OneAnnotationPerNeuronAndFeature) {
  const std::string dir = golgi::testing::scratch_dir("snmf_annotator");
  golgi::io::write_json_file(dir + "/snmf.json", snmf_doc("blocks.1.mlp.hook_post", 4));
  Database db(dir + "/atlas.db", Database::Mode::Create);
  create_schema(db);
  AtlasContext context;
  context.model_dir = dir;
  AtlasHook hook;
  hook.name = "blocks.1.mlp.hook_post";
  hook.neurons = 4;
  hook.first_neuron_id = 100;
  context.hooks = {hook};
  auto annotator = make_snmf_annotator();
  ASSERT_TRUE(annotator->applies(context));
  AtlasWriter writer(db, 1, "snmf");
  const golgi::Json summary = annotator->annotate(context, writer);
  EXPECT_EQ(summary["features"], 2);
  EXPECT_EQ(writer.written(), 3);
  auto q = db.prepare("SELECT neuron_id, kind, label, score, value_json FROM annotations ORDER BY neuron_id, label");
  std::vector<std::tuple<int64_t, std::string, double, golgi::Json>> rows;
  while (q.step()) {
    EXPECT_EQ(q.text(1), "snmf_feature");
    rows.emplace_back(q.integer(0), q.text(2), q.real(3), golgi::Json::parse(q.text(4)));
  }
  ASSERT_EQ(rows.size(), 3u);
  // Neuron 0 in feature 0: weight 1 of the feature's largest |4|.
  EXPECT_EQ(std::get<0>(rows[0]), 100);
  EXPECT_EQ(std::get<1>(rows[0]), "snmf 0: \"c\" · en 2/2");
  EXPECT_DOUBLE_EQ(std::get<2>(rows[0]), 0.25);
  EXPECT_EQ(std::get<3>(rows[0])["neurons_in_feature"], 2);
  EXPECT_EQ(std::get<3>(rows[0])["top_examples"], golgi::Json({"ab[[c]]d", "x[[c]]"}));
  EXPECT_DOUBLE_EQ(std::get<3>(rows[0])["relative_error"].get<double>(), 0.25);
  // Neuron 2 in both features, each time its feature's strongest neuron.
  EXPECT_EQ(std::get<0>(rows[1]), 102);
  EXPECT_DOUBLE_EQ(std::get<2>(rows[1]), 1.0);
  EXPECT_DOUBLE_EQ(std::get<3>(rows[1])["weight"].get<double>(), -4.0);
  EXPECT_EQ(std::get<1>(rows[2]), "snmf 1: 1 neurons");
  EXPECT_EQ(std::get<3>(rows[2])["feature"], 1);
  auto model = db.prepare("SELECT kind, value_json FROM model_annotations WHERE method = 'snmf'");
  ASSERT_TRUE(model.step());
  EXPECT_EQ(model.text(0), "snmf_feature");
  EXPECT_EQ(golgi::Json::parse(model.text(1))["per_feature"].size(), 2u);
}

TEST(SnmfAnnotator, AppliesOnlyToTheFactorisedHook) {
  const std::string dir = golgi::testing::scratch_dir("snmf_annotator_applies");
  AtlasContext context;
  context.model_dir = dir;
  AtlasHook hook;
  hook.name = "blocks.1.mlp.hook_post";
  hook.neurons = 4;
  context.hooks = {hook};
  auto annotator = make_snmf_annotator();
  EXPECT_FALSE(annotator->applies(context));  // no snmf.json
  golgi::io::write_json_file(dir + "/snmf.json", snmf_doc("blocks.0.mlp.hook_post", 4));
  EXPECT_FALSE(annotator->applies(context));  // another hook
  golgi::io::write_json_file(dir + "/snmf.json", snmf_doc("blocks.1.mlp.hook_post", 8));
  EXPECT_FALSE(annotator->applies(context));  // another width
  golgi::Json wrong = snmf_doc("blocks.1.mlp.hook_post", 4);
  wrong["format"] = "golgi-compare";
  golgi::io::write_json_file(dir + "/snmf.json", wrong);
  ASSERT_TRUE(annotator->applies(context));
  Database db(dir + "/atlas.db", Database::Mode::Create);
  create_schema(db);
  AtlasWriter writer(db, 1, "snmf");
  EXPECT_NE(golgi::testing::error_of([&] { annotator->annotate(context, writer); }).find("rerun golgi snmf"),
            std::string::npos);
}

}  // namespace
