// A small RAII layer over the SQLite C API: one Database per connection, prepared Statements with
// bound parameters only (no SQL is ever built from values), and transactions as scoped guards.
// Every failure throws golgi::Error naming the file and SQLite's message.
//
// Thread safety: a Database is used by one thread at a time (the server opens one read-only
// connection per worker thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace golgi::atlas {

class Statement;

class Database {
 public:
  enum class Mode { ReadOnly, ReadWrite, Create };
  // ReadOnly: SQLITE_OPEN_READONLY (the file must exist); ReadWrite: existing file; Create: created
  // when missing. Throws golgi::Error when the file is missing or not a database.
  Database(const std::string& path, Mode mode);
  ~Database();
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements without parameters (DDL, PRAGMA). Throws on error.
  void exec(const std::string& sql);
  Statement prepare(const std::string& sql);
  int64_t last_insert_id() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// A prepared statement. Bind with 1-based indices, then step() until it returns false.
class Statement {
 public:
  Statement(Database& db, const std::string& sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, const char* value) { return bind(index, std::string(value)); }
  Statement& bind_blob(int index, const void* data, size_t bytes);
  Statement& bind_null(int index);
  // Binds a value or NULL.
  Statement& bind(int index, const std::optional<double>& value);
  Statement& bind(int index, const std::optional<int64_t>& value);

  // Advances; true while a row is available. Throws on error.
  bool step();
  // step() for statements that return no rows, then reset() so the statement can run again.
  void run();
  void reset();  // also clears bindings

  int columns() const;
  bool is_null(int column) const;  // 0-based column
  int64_t integer(int column) const;
  double real(int column) const;
  std::string text(int column) const;
  std::vector<uint8_t> blob(int column) const;
  std::optional<double> optional_real(int column) const;
  std::optional<int64_t> optional_integer(int column) const;

 private:
  void check(int rc, const char* what) const;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
};

// BEGIN IMMEDIATE on construction, ROLLBACK on destruction unless commit() ran.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  void commit();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace golgi::atlas
