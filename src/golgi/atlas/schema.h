// The atlas schema (docs/atlas.md "Schema"): one SQLite file per model, versioned by the single
// row of `schema_version`. create_schema() writes version kSchemaVersion; open_atlas() checks the
// version of an existing file and migrates older files when a migration exists, otherwise throws
// golgi::Error naming both versions and how to rebuild.
#pragma once

#include <string>

#include "golgi/atlas/sqlite.h"

namespace golgi::atlas {

inline constexpr int kSchemaVersion = 1;

// Creates every table and index of the current version in an empty database.
void create_schema(Database& db);

// The schema_version of an open database; throws golgi::Error when the file is not an atlas.
int schema_version(Database& db);

// Opens an existing atlas (read-only unless `writable`) and checks its version: a newer file gets
// "built by a newer golgi", an older one is migrated in place when writable and a migration
// exists, else an error that says to rebuild it.
Database open_atlas(const std::string& path, bool writable = false);

// Upgrades `db` from `from` to kSchemaVersion step by step. Throws when no path exists.
void migrate(Database& db, int from);

}  // namespace golgi::atlas
