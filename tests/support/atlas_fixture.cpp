#include "atlas_fixture.h"

#include <filesystem>
#include <tuple>

#include "golgi/atlas/schema.h"
#include "golgi/atlas/sqlite.h"
#include "golgi/core/json.h"

namespace golgi::testing {

const std::vector<std::string> kToyTokens{" der", " the", " Hund", " dog", "%pct", "_x", " bellt"};

// Signature, IHDR (1x1, 8-bit RGBA), IDAT (one filter byte and four zero bytes, deflated), IEND.
const std::string kToyPng = [] {
  const unsigned char bytes[] = {
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00,
      0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00,
      0x00, 0x00, 0x0b, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x60, 0x00, 0x02, 0x00, 0x00, 0x05, 0x00,
      0x01, 0xe9, 0xfa, 0xdc, 0xd8, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
  return std::string(reinterpret_cast<const char*>(bytes), sizeof(bytes));
}();

void write_toy_atlas(const std::string& path, const std::string& name, const std::string& source_path) {
  std::filesystem::remove(path);
  atlas::Database db(path, atlas::Database::Mode::Create);
  atlas::create_schema(db);
  atlas::Transaction transaction(db);

  auto info = db.prepare("INSERT INTO build_info (key, value) VALUES (?, ?)");
  for (const auto& [key, value] : std::vector<std::pair<std::string, Json>>{
           {"complete", true}, {"stage", "done"}, {"golgi_version", "test"}, {"seconds", 1.5}, {"options", Json::object()}})
    info.bind(1, key).bind(2, value.dump()).run();

  const Json card{{"architecture", "llama"}, {"card", {{"dataset", {{"name", "toy-corpus"}}}}}};
  const Json config{{"n_layers", 2}, {"d_mlp", 8}};
  db.prepare(
        "INSERT INTO models (id, name, architecture, task, source_path, card_json, config_json, dataset, split, "
        "examples, positions) VALUES (1, ?, 'llama', 'language-model', ?, ?, ?, 'toy-corpus', 'val', 3, 9)")
      .bind(1, name)
      .bind(2, source_path)
      .bind(3, card.dump())
      .bind(4, config.dump())
      .run();
  db.exec("INSERT INTO labels (model_id, id, name, examples, positions) VALUES (1, 0, 'en', 2, 6), (1, 1, 'de', 1, 3)");

  auto hook = db.prepare(
      "INSERT INTO hooks (id, model_id, name, layer, kind, neurons, positions_per_example, ord) "
      "VALUES (?, 1, ?, ?, 'mlp', 8, 3, ?)");
  auto neuron = db.prepare(
      "INSERT INTO neurons (id, model_id, hook_id, idx, layer, ref, mean, std, min, max, prob_active, top_label, "
      "top_label_mean, selectivity, histogram_json) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  auto label_stats = db.prepare("INSERT INTO neuron_labels (neuron_id, label_id, mean, prob_active, max) VALUES (?, ?, ?, 0.5, ?)");
  auto exemplar = db.prepare(
      "INSERT INTO exemplars (neuron_id, rank, activation, example_id, position, window_start, acts_json) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)");
  auto annotation = db.prepare(
      "INSERT INTO annotations (neuron_id, method, kind, label, score, value_json) VALUES (?, ?, ?, ?, ?, ?)");

  for (int l = 0; l < 2; ++l) {
    const std::string hook_name = "blocks." + std::to_string(l) + ".mlp.hook_post";
    hook.bind(1, l + 1).bind(2, hook_name).bind(3, l).bind(4, l).run();
    for (int i = 0; i < 8; ++i) {
      const int64_t id = l * 8 + i + 1;
      const double mean = l + 0.1 * i, std = 0.5 + 0.01 * i, min = -1.0 - i, max = 2.0 + i + 10.0 * l;
      const bool silent = l == 1 && i == 7;
      neuron.bind(1, id).bind(2, l + 1).bind(3, i).bind(4, l).bind(5, hook_name + ":" + std::to_string(i));
      if (silent) {
        for (int c = 6; c <= 14; ++c) neuron.bind_null(c);
      } else {
        const Json histogram{{"lo", min}, {"hi", max}, {"counts", {1, 2, 3}}, {"sampled", 6}, {"total", 60}};
        neuron.bind(6, mean).bind(7, std).bind(8, min).bind(9, max).bind(10, 0.05 * (i + 1)).bind(11, i % 2);
        neuron.bind(12, mean + 1).bind(13, 0.1 * i).bind(14, histogram.dump());
      }
      neuron.run();
      if (silent) continue;
      for (int label = 0; label < 2; ++label)
        label_stats.bind(1, id).bind(2, label).bind(3, mean + label).bind(4, max - label).run();
      exemplar.bind(1, id).bind(2, 0).bind(3, max).bind(4, 10 + i % 3).bind(5, i % 3).bind(6, 0)
          .bind(7, Json{0.1, max, 0.2}.dump()).run();
      exemplar.bind(1, id).bind(2, 1).bind(3, max / 2).bind(4, 10 + (i + 1) % 3).bind(5, 1).bind(6, 1)
          .bind(7, Json{max / 2, 0.0}.dump()).run();
      if (l == 1 && i < 7) {
        const Json value{{"side", "input"}, {"tokens", {{{"token", kToyTokens[i]}, {"id", 40 + i}, {"prob", 0.3}}}}};
        annotation.bind(1, id).bind(2, "lmhead-decode").bind(3, "decoded_tokens").bind(4, kToyTokens[i])
            .bind(5, 0.3 + 0.01 * i).bind(6, value.dump()).run();
      }
    }
  }
  auto language = [&](int64_t id, const std::string& code, double p) {
    const Json value{{"language", code}, {"p", p}, {"p_rest_max", 0.12}, {"entropy", 0.4}};
    annotation.bind(1, id).bind(2, "language-neurons").bind(3, "language").bind(4, code).bind(5, p)
        .bind(6, value.dump()).run();
  };
  language(4, "de", 0.81);  // blocks.0.mlp.hook_post:3
  language(6, "en", 0.6);   // blocks.0.mlp.hook_post:5
  const Json selectivity{{"label", "de"}, {"selectivity", 0.74}, {"means", {0.1, 0.9}}};
  annotation.bind(1, 11).bind(2, "label-selectivity").bind(3, "label_selectivity").bind(4, "de").bind(5, 0.74)
      .bind(6, selectivity.dump()).run();  // blocks.1.mlp.hook_post:2

  auto example = db.prepare("INSERT INTO examples (model_id, id, label_id, text, tokens_json) VALUES (1, ?, ?, ?, ?)");
  for (const auto& [id, label, tokens] : std::vector<std::tuple<int, int, std::vector<std::string>>>{
           {10, 1, {"Der", " Hund", " bellt"}}, {11, 0, {"The", " dog", " barks"}}, {12, 0, {"100%", " of_", " cats"}}}) {
    std::string text;
    for (const auto& t : tokens) text += t;
    example.bind(1, id).bind(2, label).bind(3, text).bind(4, Json(tokens).dump()).run();
  }

  db.prepare("INSERT INTO model_annotations (model_id, method, kind, value_json) VALUES (1, ?, ?, ?)")
      .bind(1, "language-neurons")
      .bind(2, "language_summary")
      .bind(3, Json{{"languages", Json::array({"en", "de"})}}.dump())
      .run();
  db.prepare("INSERT INTO images (id, model_id, kind, width, height, png) VALUES (1, 1, 'input', 1, 1, ?)")
      .bind_blob(1, kToyPng.data(), kToyPng.size())
      .run();
  transaction.commit();
}

}  // namespace golgi::testing
