#include "golgi/atlas/schema.h"

#include "golgi/core/error.h"

namespace golgi::atlas {

namespace {

// Version 1. A change to any table is a new version with a migration in migrate().
const char* const kSchemaV1 = R"SQL(
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE build_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE models (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  architecture TEXT NOT NULL,
  task TEXT NOT NULL,
  source_path TEXT NOT NULL,
  card_json TEXT NOT NULL,
  config_json TEXT NOT NULL,
  dataset TEXT NOT NULL,
  split TEXT NOT NULL,
  examples INTEGER NOT NULL DEFAULT 0,
  positions INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE labels (
  model_id INTEGER NOT NULL REFERENCES models(id),
  id INTEGER NOT NULL,
  name TEXT NOT NULL,
  examples INTEGER NOT NULL DEFAULT 0,
  positions INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (model_id, id)
);
CREATE TABLE hooks (
  id INTEGER PRIMARY KEY,
  model_id INTEGER NOT NULL REFERENCES models(id),
  name TEXT NOT NULL,
  layer INTEGER NOT NULL,
  kind TEXT NOT NULL,
  neurons INTEGER NOT NULL,
  positions_per_example INTEGER NOT NULL,
  ord INTEGER NOT NULL,
  UNIQUE (model_id, name)
);
CREATE TABLE neurons (
  id INTEGER PRIMARY KEY,
  model_id INTEGER NOT NULL REFERENCES models(id),
  hook_id INTEGER NOT NULL REFERENCES hooks(id),
  idx INTEGER NOT NULL,
  layer INTEGER NOT NULL,
  ref TEXT NOT NULL,
  mean REAL, std REAL, min REAL, max REAL,
  prob_active REAL,
  top_label INTEGER,
  top_label_mean REAL,
  selectivity REAL,
  histogram_json TEXT,
  UNIQUE (model_id, ref)
);
CREATE INDEX neurons_by_hook ON neurons (hook_id, idx);
CREATE TABLE neuron_labels (
  neuron_id INTEGER NOT NULL REFERENCES neurons(id),
  label_id INTEGER NOT NULL,
  mean REAL, prob_active REAL, max REAL,
  PRIMARY KEY (neuron_id, label_id)
);
CREATE TABLE examples (
  model_id INTEGER NOT NULL REFERENCES models(id),
  id INTEGER NOT NULL,
  label_id INTEGER,
  text TEXT,
  tokens_json TEXT,
  image_id INTEGER,
  PRIMARY KEY (model_id, id)
);
CREATE TABLE exemplars (
  neuron_id INTEGER NOT NULL REFERENCES neurons(id),
  rank INTEGER NOT NULL,
  activation REAL NOT NULL,
  example_id INTEGER NOT NULL,
  position INTEGER NOT NULL,
  window_start INTEGER,
  acts_json TEXT,
  mask_image_id INTEGER,
  PRIMARY KEY (neuron_id, rank)
);
CREATE TABLE annotations (
  id INTEGER PRIMARY KEY,
  neuron_id INTEGER NOT NULL REFERENCES neurons(id),
  method TEXT NOT NULL,
  kind TEXT NOT NULL,
  label TEXT,
  score REAL,
  value_json TEXT NOT NULL
);
CREATE INDEX annotations_by_neuron ON annotations (neuron_id);
CREATE INDEX annotations_by_label ON annotations (label COLLATE NOCASE);
CREATE INDEX annotations_by_kind ON annotations (kind, neuron_id);
CREATE TABLE model_annotations (
  model_id INTEGER NOT NULL REFERENCES models(id),
  method TEXT NOT NULL,
  kind TEXT NOT NULL,
  value_json TEXT NOT NULL
);
CREATE TABLE images (
  id INTEGER PRIMARY KEY,
  model_id INTEGER NOT NULL REFERENCES models(id),
  kind TEXT NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  png BLOB NOT NULL
);
CREATE TABLE annotator_runs (
  model_id INTEGER NOT NULL REFERENCES models(id),
  name TEXT NOT NULL,
  seconds REAL NOT NULL,
  summary_json TEXT NOT NULL,
  PRIMARY KEY (model_id, name)
);
)SQL";

}  // namespace

void create_schema(Database& db) {
  Transaction transaction(db);
  db.exec(kSchemaV1);
  db.prepare("INSERT INTO schema_version (version) VALUES (?)").bind(1, kSchemaVersion).run();
  transaction.commit();
}

int schema_version(Database& db) {
  auto has_table = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
  has_table.step();
  GOLGI_CHECK(has_table.integer(0) == 1, "'", db.path(),
              "' is an SQLite file but not a golgi atlas (no schema_version table); build one with "
              "`golgi atlas build`");
  auto version = db.prepare("SELECT version FROM schema_version");
  GOLGI_CHECK(version.step(), "atlas '", db.path(), "' has an empty schema_version table: the file is damaged; rebuild it");
  return static_cast<int>(version.integer(0));
}

void migrate(Database& db, int from) {
  // Each future version adds one step here: `if (from == N) { ...ALTER/CREATE...; from = N + 1; }`.
  GOLGI_CHECK(from == kSchemaVersion, "atlas '", db.path(), "' has schema version ", from,
              " and no migration to version ", kSchemaVersion, " exists; rebuild it with `golgi atlas build`");
}

Database open_atlas(const std::string& path, bool writable) {
  Database db(path, writable ? Database::Mode::ReadWrite : Database::Mode::ReadOnly);
  int version = schema_version(db);
  GOLGI_CHECK(version <= kSchemaVersion, "atlas '", path, "' has schema version ", version,
              ", newer than this golgi understands (", kSchemaVersion, "): upgrade golgi or rebuild the atlas");
  if (version < kSchemaVersion) {
    GOLGI_CHECK(writable, "atlas '", path, "' has schema version ", version, " (current: ", kSchemaVersion,
                "); migrate it with `golgi atlas migrate ", path, "` or rebuild it");
    migrate(db, version);
  }
  return db;
}

}  // namespace golgi::atlas
