// The `sae` annotator: reads MODEL_DIR/sae.json (golgi sae train|eval --annotate) and writes one
// `sae_latent` annotation per (neuron, live latent) listed in "per_neuron", plus a model-level
// summary; it does not apply to other hooks or sizes. Also the streaming top examples behind that
// file (methods/sae/sae.h sae_top_rows, sae_latent_summaries): they equal a full sort of the codes,
// whatever the chunk size.
#include <algorithm>
#include <cmath>
#include <numeric>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "golgi/atlas/annotator.h"
#include "golgi/atlas/schema.h"
#include "golgi/atlas/sqlite.h"
#include "golgi/hooks/activation_store.h"
#include "golgi/io/json_file.h"
#include "golgi/methods/sae/sae.h"
#include "test_support.h"

namespace {

using namespace golgi::atlas;
using golgi::Json;

// Three latents: 4 and 7 live, 9 listed for neuron 1 but not live (the annotator skips it).
Json sae_doc(const std::string& hook, int64_t d_in) {
  Json per_latent = Json::array();
  per_latent.push_back({{"latent", 4},
                        {"frequency", 0.25},
                        {"top_examples",
                         {{{"row", 3}, {"context", "ab[[c]]d"}}, {{"row", 9}, {"context", "x[[c]]"}}}},
                        {"summary", "\"c\" · en 2/2"},
                        {"neurons", {{{"neuron", 0}, {"weight", -0.8}}}}});
  per_latent.push_back({{"latent", 7},
                        {"frequency", 0.5},
                        {"top_examples", {{{"row", 1}, {"sample", 0}, {"value", 2.0}}}},
                        {"summary", "fires on 50.00% of rows"},
                        {"neurons", {{{"neuron", 1}, {"weight", 0.6}}}}});
  Json per_neuron = Json::array();
  per_neuron.push_back({{{"latent", 4}, {"weight", -0.8}, {"score", 1.0}}, {{"latent", 7}, {"weight", 0.3}, {"score", 0.5}}});
  per_neuron.push_back({{{"latent", 9}, {"weight", 0.9}, {"score", 1.0}}, {{"latent", 7}, {"weight", 0.6}, {"score", 1.0}}});
  for (int64_t j = 2; j < d_in; ++j) per_neuron.push_back(Json::array());
  return {{"format", "golgi-sae-features"},
          {"hook", hook},
          {"d_in", d_in},
          {"latents", 16},
          {"k", 2},
          {"kind", "topk"},
          {"metrics", {{"fvu", 0.125}, {"l0", 2.0}, {"dead_fraction", 0.5}}},
          {"scanned_rows", 12},
          {"per_latent", per_latent},
          {"per_neuron", per_neuron}};
}

AtlasContext context_for(const std::string& dir, const std::string& hook_name, int64_t neurons) {
  AtlasContext context;
  context.model_dir = dir;
  AtlasHook hook;
  hook.name = hook_name;
  hook.neurons = neurons;
  hook.first_neuron_id = 100;
  context.hooks = {hook};
  return context;
}

TEST(SaeAnnotator, OneAnnotationPerNeuronAndLiveLatent) {
  const std::string dir = golgi::testing::scratch_dir("sae_annotator");
  golgi::io::write_json_file(dir + "/sae.json", sae_doc("blocks.1.mlp.hook_post", 4));
  Database db(dir + "/atlas.db", Database::Mode::Create);
  create_schema(db);
  const AtlasContext context = context_for(dir, "blocks.1.mlp.hook_post", 4);
  auto annotator = make_sae_annotator();
  ASSERT_TRUE(annotator->applies(context));
  AtlasWriter writer(db, 1, "sae");
  const Json summary = annotator->annotate(context, writer);
  EXPECT_EQ(summary["live_latents"], 2);
  EXPECT_EQ(summary["annotations"], 3);
  EXPECT_EQ(writer.written(), 3);
  auto q = db.prepare("SELECT neuron_id, kind, label, score, value_json FROM annotations ORDER BY neuron_id, label");
  std::vector<std::tuple<int64_t, std::string, double, Json>> rows;
  while (q.step()) {
    EXPECT_EQ(q.text(1), "sae_latent");
    rows.emplace_back(q.integer(0), q.text(2), q.real(3), Json::parse(q.text(4)));
  }
  ASSERT_EQ(rows.size(), 3u);
  // Neuron 0: latent 4 (its strongest neuron) and latent 7 at half its column's maximum.
  EXPECT_EQ(std::get<0>(rows[0]), 100);
  EXPECT_EQ(std::get<1>(rows[0]), "sae 4: \"c\" · en 2/2");
  EXPECT_DOUBLE_EQ(std::get<2>(rows[0]), 1.0);
  EXPECT_DOUBLE_EQ(std::get<3>(rows[0])["weight"].get<double>(), -0.8);
  EXPECT_DOUBLE_EQ(std::get<3>(rows[0])["frequency"].get<double>(), 0.25);
  EXPECT_EQ(std::get<3>(rows[0])["top_examples"], Json({"ab[[c]]d", "x[[c]]"}));
  EXPECT_DOUBLE_EQ(std::get<3>(rows[0])["fvu"].get<double>(), 0.125);
  EXPECT_EQ(std::get<0>(rows[1]), 100);
  EXPECT_EQ(std::get<1>(rows[1]), "sae 7: fires on 50.00% of rows");
  EXPECT_DOUBLE_EQ(std::get<2>(rows[1]), 0.5);
  // Neuron 1: only latent 7 (latent 9 is not live); an example without text shows its row.
  EXPECT_EQ(std::get<0>(rows[2]), 101);
  EXPECT_EQ(std::get<3>(rows[2])["latent"], 7);
  EXPECT_EQ(std::get<3>(rows[2])["top_examples"], Json({"row 1"}));
  auto model = db.prepare("SELECT kind, value_json FROM model_annotations WHERE method = 'sae'");
  ASSERT_TRUE(model.step());
  EXPECT_EQ(model.text(0), "sae_latent");
  const Json m = Json::parse(model.text(1));
  EXPECT_EQ(m["per_latent"].size(), 2u);
  EXPECT_EQ(m["latents"], 16);
  EXPECT_DOUBLE_EQ(m["metrics"]["dead_fraction"].get<double>(), 0.5);
}

TEST(SaeAnnotator, AppliesOnlyToTheEncodedHook) {
  const std::string dir = golgi::testing::scratch_dir("sae_annotator_applies");
  const AtlasContext context = context_for(dir, "blocks.1.mlp.hook_post", 4);
  auto annotator = make_sae_annotator();
  EXPECT_FALSE(annotator->applies(context));  // no sae.json
  golgi::io::write_json_file(dir + "/sae.json", sae_doc("blocks.0.mlp.hook_post", 4));
  EXPECT_FALSE(annotator->applies(context));  // another hook
  golgi::io::write_json_file(dir + "/sae.json", sae_doc("blocks.1.mlp.hook_post", 8));
  EXPECT_FALSE(annotator->applies(context));  // another width
  Json wrong = sae_doc("blocks.1.mlp.hook_post", 4);
  wrong["format"] = "golgi-sae";  // an SAE folder's own sae.json, not the annotation file
  golgi::io::write_json_file(dir + "/sae.json", wrong);
  ASSERT_TRUE(annotator->applies(context));
  Database db(dir + "/atlas.db", Database::Mode::Create);
  create_schema(db);
  AtlasWriter writer(db, 1, "sae");
  EXPECT_NE(golgi::testing::error_of([&] { annotator->annotate(context, writer); }).find("--annotate"),
            std::string::npos);
}

// A small untrained SAE (seeded) and rows with structure, so codes are sparse with ties at 0.
golgi::methods::SparseAutoencoder small_sae(int64_t d, const std::string& kind) {
  golgi::methods::SaeOptions options;
  options.kind(kind).latents(12).k(3).seed(5);
  return golgi::methods::SparseAutoencoder(d, options);
}

at::Tensor small_rows(int64_t n, int64_t d) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  return torch::randn({n, d}, gen, torch::kFloat);
}

// The reference: each latent's codes sorted in full (value desc, then row asc), zeros dropped.
golgi::methods::TopRows full_sort(const at::Tensor& z, int64_t top) {
  golgi::methods::TopRows out(static_cast<size_t>(z.size(1)));
  const at::Tensor codes = z.to(torch::kDouble).contiguous();
  for (int64_t l = 0; l < z.size(1); ++l) {
    std::vector<int64_t> order(static_cast<size_t>(z.size(0)));
    std::iota(order.begin(), order.end(), 0);
    auto value = [&](int64_t r) { return codes[r][l].item<double>(); };
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return value(a) > value(b); });
    for (int64_t r : order) {
      if (static_cast<int64_t>(out[l].size()) == top || value(r) <= 0) break;
      out[l].emplace_back(r, value(r));
    }
  }
  return out;
}

TEST(SaeLatentSummaries, StreamingTopRowsEqualAFullSortForAnyChunkSize) {
  const int64_t n = 157, d = 6, top = 5;
  for (const std::string kind : {"topk", "relu"}) {
    const auto sae = small_sae(d, kind);
    const at::Tensor h = small_rows(n, d);
    const at::Tensor z = sae.encode(h);
    const auto expected = full_sort(z, top);
    const at::Tensor fired = (z > 0).sum(0).to(torch::kLong);
    // Not trivial: some latents fill all `top` places, and the TopK codes are mostly zero.
    EXPECT_TRUE(std::any_of(expected.begin(), expected.end(), [&](const auto& l) { return int64_t(l.size()) == top; }));
    if (kind == "topk") {
      EXPECT_LE((z > 0).sum().item<int64_t>(), 3 * n);
    }
    golgi::methods::SaeRows rows = [&h](int64_t b, int64_t e) { return h.slice(0, b, e); };
    for (int64_t chunk : {1, 7, 64, 1000}) {
      std::vector<int64_t> progress;
      const auto scan = golgi::methods::sae_top_rows(sae, rows, n, top, chunk,
                                                     [&progress](int64_t done) { progress.push_back(done); });
      EXPECT_EQ(scan.rows, n);
      EXPECT_EQ(progress.back(), n) << kind << " chunk " << chunk;
      EXPECT_EQ(static_cast<int64_t>(progress.size()), (n + chunk - 1) / chunk);
      ASSERT_EQ(scan.top.size(), expected.size());
      for (size_t l = 0; l < expected.size(); ++l) {
        ASSERT_EQ(scan.top[l].size(), expected[l].size()) << kind << " chunk " << chunk << " latent " << l;
        for (size_t i = 0; i < expected[l].size(); ++i) {
          EXPECT_EQ(scan.top[l][i].first, expected[l][i].first) << kind << " chunk " << chunk << " latent " << l;
          EXPECT_DOUBLE_EQ(scan.top[l][i].second, expected[l][i].second);
        }
        EXPECT_EQ(scan.fired[l], fired[static_cast<int64_t>(l)].item<int64_t>());
      }
    }
  }
}

TEST(SaeLatentSummaries, LiveLatentsExamplesAndNeuronsFromAStore) {
  const std::string dir = golgi::testing::scratch_dir("sae_latent_summaries");
  const int64_t n = 90, d = 6;
  const at::Tensor h = small_rows(n, d);
  {
    golgi::hooks::StoreConfig config;
    config.hooks = {{"mlp.hook_post", {d}}};
    config.shard_rows = 32;
    golgi::hooks::ActivationStoreWriter writer(dir + "/store", config);
    writer.append({{"mlp.hook_post", h}}, torch::arange(1000, 1000 + n, torch::kLong));
    writer.finish();
  }
  const golgi::hooks::ActivationStoreReader store(dir + "/store");
  auto sae = small_sae(d, "topk");
  // Latent 0 never fires: its encoder row points nowhere and its bias is very negative.
  sae.W_enc[0].zero_();
  sae.b_enc[0] = -100.0f;
  golgi::methods::SaeRows rows = [&store](int64_t b, int64_t e) { return store.read("mlp.hook_post", b, e); };
  golgi::methods::SaeLatentSummaryOptions options;
  options.top = 4;
  options.rows = 60;  // only the first 60 rows are scanned
  options.chunk_rows = 16;
  options.neurons = 3;
  const Json doc = golgi::methods::sae_latent_summaries(sae, rows, store, nullptr, options);
  EXPECT_EQ(doc["scanned_rows"], 60);
  const at::Tensor z = sae.encode(h.slice(0, 0, 60));
  const auto expected = full_sort(z, 4);
  const at::Tensor fired = (z > 0).sum(0);
  EXPECT_EQ(doc["live_latents"].get<int64_t>(), (fired > 0).sum().item<int64_t>());
  std::vector<int64_t> live;
  for (const auto& l : doc["per_latent"]) {
    const int64_t latent = l["latent"];
    live.push_back(latent);
    EXPECT_NE(latent, 0);
    EXPECT_DOUBLE_EQ(l["frequency"].get<double>(), fired[latent].item<double>() / 60.0);
    ASSERT_EQ(l["top_examples"].size(), expected[latent].size());
    for (size_t i = 0; i < expected[latent].size(); ++i) {
      EXPECT_EQ(l["top_examples"][i]["row"], expected[latent][i].first);
      EXPECT_EQ(l["top_examples"][i]["sample"], 1000 + expected[latent][i].first);
      EXPECT_LT(l["top_examples"][i]["row"].get<int64_t>(), 60);
    }
    // The 3 neurons with the largest |W_dec[j, latent]|, largest first.
    ASSERT_EQ(l["neurons"].size(), 3u);
    const at::Tensor column = sae.W_dec.select(1, latent).abs();
    EXPECT_EQ(l["neurons"][0]["neuron"], column.argmax().item<int64_t>());
    EXPECT_FLOAT_EQ(l["neurons"][0]["weight"].get<float>(), sae.W_dec[column.argmax().item<int64_t>()][latent].item<float>());
    EXPECT_GE(std::fabs(l["neurons"][1]["weight"].get<double>()), std::fabs(l["neurons"][2]["weight"].get<double>()));
  }
  EXPECT_EQ(static_cast<int64_t>(live.size()), doc["live_latents"].get<int64_t>());
  // Per neuron: up to 3 live latents by |W_dec[j, l]| / max_i |W_dec[i, l]|, best first.
  ASSERT_EQ(doc["per_neuron"].size(), static_cast<size_t>(d));
  const at::Tensor magnitude = sae.W_dec.abs().to(torch::kDouble);
  const at::Tensor ratio = magnitude / magnitude.amax(0, true);
  for (int64_t j = 0; j < d; ++j) {
    const Json& entries = doc["per_neuron"][j];
    ASSERT_EQ(entries.size(), std::min<size_t>(3, live.size()));
    double best_live = 0;
    for (int64_t l : live) best_live = std::max(best_live, ratio[j][l].item<double>());
    EXPECT_NEAR(entries[0]["score"].get<double>(), best_live, 1e-12);
    for (const auto& e : entries) {
      const int64_t l = e["latent"];
      EXPECT_NE(std::find(live.begin(), live.end(), l), live.end());
      EXPECT_NEAR(e["score"].get<double>(), ratio[j][l].item<double>(), 1e-12);
    }
    EXPECT_GE(entries[0]["score"].get<double>(), entries[1]["score"].get<double>());
  }
}

}  // namespace
