// Atlas schema: creation, version checks with clear errors, and files that are not atlases.
#include <gtest/gtest.h>

#include <fstream>

#include "golgi/atlas/schema.h"
#include "golgi/atlas/sqlite.h"
#include "test_support.h"

namespace {

using golgi::atlas::Database;
using golgi::testing::error_of;

std::string fresh_atlas(const std::string& dir, int version) {
  std::string path = dir + "/atlas.db";
  Database db(path, Database::Mode::Create);
  golgi::atlas::create_schema(db);
  db.prepare("UPDATE schema_version SET version = ?").bind(1, version).run();
  return path;
}

TEST(AtlasSchema, CreatesEveryTableAtTheCurrentVersion) {
  auto dir = golgi::testing::scratch_dir("atlas_schema_create");
  std::string path = fresh_atlas(dir, golgi::atlas::kSchemaVersion);
  Database db = golgi::atlas::open_atlas(path);
  EXPECT_EQ(golgi::atlas::schema_version(db), golgi::atlas::kSchemaVersion);
  for (const char* table : {"build_info", "models", "labels", "hooks", "neurons", "neuron_labels", "examples", "exemplars",
                            "annotations", "model_annotations", "images", "annotator_runs"}) {
    auto q = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
    q.bind(1, table);
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.integer(0), 1) << table;
  }
}

TEST(AtlasSchema, ReadOnlyConnectionsCannotWrite) {
  auto dir = golgi::testing::scratch_dir("atlas_schema_readonly");
  Database db = golgi::atlas::open_atlas(fresh_atlas(dir, golgi::atlas::kSchemaVersion));
  EXPECT_NE(error_of([&] { db.exec("DELETE FROM neurons"); }).find("readonly"), std::string::npos);
}

TEST(AtlasSchema, NewerVersionSaysUpgradeGolgi) {
  auto dir = golgi::testing::scratch_dir("atlas_schema_newer");
  std::string path = fresh_atlas(dir, golgi::atlas::kSchemaVersion + 1);
  std::string message = error_of([&] { golgi::atlas::open_atlas(path); });
  EXPECT_NE(message.find("newer than this golgi"), std::string::npos) << message;
}

TEST(AtlasSchema, OlderVersionWithoutMigrationSaysRebuild) {
  auto dir = golgi::testing::scratch_dir("atlas_schema_older");
  std::string path = fresh_atlas(dir, 0);
  std::string read_only = error_of([&] { golgi::atlas::open_atlas(path); });
  EXPECT_NE(read_only.find("schema version 0"), std::string::npos) << read_only;
  std::string writable = error_of([&] { golgi::atlas::open_atlas(path, true); });
  EXPECT_NE(writable.find("no migration"), std::string::npos) << writable;
  EXPECT_NE(writable.find("golgi atlas build"), std::string::npos) << writable;
}

TEST(AtlasSchema, OtherFilesGetOneClearError) {
  auto dir = golgi::testing::scratch_dir("atlas_schema_other");
  EXPECT_NE(error_of([&] { golgi::atlas::open_atlas(dir + "/missing.db"); }).find("does not exist"), std::string::npos);
  {
    Database other(dir + "/other.db", Database::Mode::Create);
    other.exec("CREATE TABLE t (x INTEGER)");
  }
  EXPECT_NE(error_of([&] { golgi::atlas::open_atlas(dir + "/other.db"); }).find("not a golgi atlas"), std::string::npos);
  std::ofstream(dir + "/junk.db") << "this is not an SQLite file at all, just text that is long enough to read";
  std::string junk = error_of([&] { golgi::atlas::open_atlas(dir + "/junk.db"); });
  EXPECT_NE(junk.find("not a database"), std::string::npos) << junk;
}

TEST(AtlasSqlite, ValuesAreBoundNeverSpliced) {
  auto dir = golgi::testing::scratch_dir("atlas_sqlite_bind");
  Database db(dir + "/t.db", Database::Mode::Create);
  db.exec("CREATE TABLE t (name TEXT)");
  const std::string hostile = "x'); DROP TABLE t; --";
  db.prepare("INSERT INTO t (name) VALUES (?)").bind(1, hostile).run();
  auto q = db.prepare("SELECT name FROM t WHERE name = ?");
  q.bind(1, hostile);
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.text(0), hostile);
}

}  // namespace
