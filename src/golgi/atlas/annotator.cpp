#include "golgi/atlas/annotator.h"

#include "golgi/atlas/sqlite.h"
#include "golgi/core/error.h"

namespace golgi::atlas {

const AtlasHook* AtlasContext::find_hook(const std::string& name) const {
  for (const auto& hook : hooks)
    if (hook.name == name) return &hook;
  return nullptr;
}

AtlasWriter::AtlasWriter(Database& db, int64_t model_id, std::string method)
    : db_(db), model_id_(model_id), method_(std::move(method)) {}

void AtlasWriter::annotate(int64_t neuron_id, const std::string& kind, const std::string& label,
                           std::optional<double> score, const Json& value) {
  GOLGI_ASSERT(value.is_object(), "annotation values are JSON objects (", method_, "/", kind, ")");
  db_.prepare("INSERT INTO annotations (neuron_id, method, kind, label, score, value_json) VALUES (?, ?, ?, ?, ?, ?)")
      .bind(1, neuron_id)
      .bind(2, method_)
      .bind(3, kind)
      .bind(4, label)
      .bind(5, score)
      .bind(6, value.dump())
      .run();
  ++written_;
}

void AtlasWriter::annotate_model(const std::string& kind, const Json& value) {
  db_.prepare("INSERT INTO model_annotations (model_id, method, kind, value_json) VALUES (?, ?, ?, ?)")
      .bind(1, model_id_)
      .bind(2, method_)
      .bind(3, kind)
      .bind(4, value.dump())
      .run();
}

int64_t AtlasWriter::add_image(const std::string& kind, const std::string& png, int64_t width, int64_t height) {
  db_.prepare("INSERT INTO images (model_id, kind, width, height, png) VALUES (?, ?, ?, ?, ?)")
      .bind(1, model_id_)
      .bind(2, kind)
      .bind(3, width)
      .bind(4, height)
      .bind_blob(5, png.data(), png.size())
      .run();
  return db_.last_insert_id();
}

const Registry<AnnotatorEntry>& annotator_registry() {
  static const Registry<AnnotatorEntry> registry("annotator", {
#define GOLGI_ANNOTATOR(name, description, factory) AnnotatorEntry{name, description, &factory},
#include "golgi/atlas/annotators.def"
#undef GOLGI_ANNOTATOR
  });
  return registry;
}

}  // namespace golgi::atlas
