#include "golgi/serve/atlas_queries.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <unordered_map>
#include <variant>

#include <sqlite3.h>

#include "golgi/atlas/schema.h"
#include "golgi/atlas/sqlite.h"
#include "golgi/core/strings.h"
#include "golgi/hooks/neuron_ref.h"
#include "golgi/serve/api_error.h"

namespace golgi::serve {

using atlas::Database;
using atlas::Statement;

// Read-only connections to one file, handed out one per thread at a time and kept for reuse with
// their prepared statements: a busy server pays for opening a connection once per concurrent
// request and for compiling a fixed query once per connection, not once per request.
class AtlasQueries::Pool {
 public:
  // Connections kept open when idle; more are opened under load and closed when returned.
  static constexpr size_t kKeepIdle = 16;

  explicit Pool(std::string path) : path_(std::move(path)) {
    // SQLite counts every allocation in global statistics behind one process-wide mutex; with
    // many server threads that mutex, not the queries, bounds the request rate. The statistics
    // can only be turned off before SQLite initialises, so this is a no-op (SQLITE_MISUSE) when
    // something in the process opened a database first.
    static std::once_flag once;
    std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  }

  struct Connection {
    explicit Connection(Database opened) : db(std::move(opened)) {}
    Database db;
    // Fixed SQL text -> its compiled statement (declared after db: finalized before it closes).
    std::unordered_map<std::string, std::unique_ptr<Statement>> statements;
  };

  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> connection) : pool_(pool), connection_(std::move(connection)) {}
    ~Lease() {
      if (connection_) pool_->give_back(std::move(connection_));
    }
    Lease(Lease&&) = default;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Database& operator*() { return connection_->db; }
    Database* operator->() { return &connection_->db; }
    // The statement for fixed SQL text, compiled on first use and reset (bindings cleared) on
    // later ones. Only for SQL that takes few forms (not for text built per request, such as an
    // IN list), and one use at a time per SQL text.
    Statement& cached(const std::string& sql) {
      auto found = connection_->statements.find(sql);
      if (found != connection_->statements.end()) {
        found->second->reset();
        return *found->second;
      }
      // Compiled before it is stored, so SQL that fails to compile leaves no empty entry behind.
      auto statement = std::make_unique<Statement>(connection_->db, sql);
      return *connection_->statements.emplace(sql, std::move(statement)).first->second;
    }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> connection_;
  };

  Lease acquire() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        auto connection = std::move(idle_.back());
        idle_.pop_back();
        return Lease(this, std::move(connection));
      }
    }
    auto connection = std::make_unique<Connection>(atlas::open_atlas(path_, /*writable=*/false));
    // Read-only twice over: the connection flag, and SQLite refusing any statement that writes.
    connection->db.exec("PRAGMA query_only = ON");
    return Lease(this, std::move(connection));
  }

 private:
  void give_back(std::unique_ptr<Connection> connection) {
    // A statement left mid-result would hold its read transaction open while the connection idles.
    for (auto& [sql, statement] : connection->statements) statement->reset();
    std::lock_guard<std::mutex> lock(mutex_);
    if (idle_.size() < kKeepIdle) idle_.push_back(std::move(connection));
  }

  std::string path_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

namespace {

// Stored JSON text, parsed; null for NULL or text that does not parse (an old or hand-edited
// file should show what it can rather than fail the request).
Json stored_json(const Statement& row, int column) {
  if (row.is_null(column)) return nullptr;
  Json value = Json::parse(row.text(column), nullptr, /*allow_exceptions=*/false);
  return value.is_discarded() ? Json(nullptr) : value;
}

Json optional_real(const Statement& row, int column) {
  if (row.is_null(column)) return nullptr;
  return row.real(column);
}

Json optional_integer(const Statement& row, int column) {
  if (row.is_null(column)) return nullptr;
  return row.integer(column);
}

Json optional_text(const Statement& row, int column) {
  if (row.is_null(column)) return nullptr;
  return row.text(column);
}

// Escapes LIKE's wildcards (and the escape character) in user text: used with ESCAPE '\'.
std::string like_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '%' || c == '_') out += '\\';
    out += c;
  }
  return out;
}

// Sort keys of /api/neurons and the SQL each stands for. The SQL text comes only from this table.
struct SortKey {
  const char* name;
  const char* column;  // nullptr: the neuron's position (hook order, then index)
};
constexpr SortKey kSortKeys[] = {{"index", nullptr},           {"mean", "n.mean"}, {"max", "n.max"},
                                 {"prob_active", "n.prob_active"}, {"selectivity", "n.selectivity"},
                                 {"std", "n.std"},             {"min", "n.min"}};

// Parameters bound in order to the '?' placeholders of a statement built from fixed fragments.
using Param = std::variant<int64_t, std::string>;
void bind_all(Statement& statement, const std::vector<Param>& params) {
  int index = 1;
  for (const auto& p : params) {
    if (std::holds_alternative<int64_t>(p))
      statement.bind(index++, std::get<int64_t>(p));
    else
      statement.bind(index++, std::get<std::string>(p));
  }
}

// The columns every neuron answer shares, and their JSON.
constexpr const char* kNeuronColumns =
    "n.id, n.ref, h.name, n.idx, n.layer, n.mean, n.std, n.min, n.max, n.prob_active, l.name, "
    "n.selectivity, n.histogram_json, n.top_label_mean";
constexpr const char* kNeuronJoins =
    "FROM neurons n JOIN hooks h ON h.id = n.hook_id "
    "LEFT JOIN labels l ON l.model_id = n.model_id AND l.id = n.top_label";

Json neuron_json(const Statement& row) {
  return Json{{"ref", row.text(1)},
              {"hook", row.text(2)},
              {"idx", row.integer(3)},
              {"layer", row.integer(4)},
              {"mean", optional_real(row, 5)},
              {"std", optional_real(row, 6)},
              {"min", optional_real(row, 7)},
              {"max", optional_real(row, 8)},
              {"prob_active", optional_real(row, 9)},
              {"top_label", optional_text(row, 10)},
              {"selectivity", optional_real(row, 11)},
              {"histogram", stored_json(row, 12)},
              {"top_label_mean", optional_real(row, 13)}};
}

std::vector<std::string> names_of(Database& db, const std::string& sql, int64_t model_id) {
  auto statement = db.prepare(sql);
  statement.bind(1, model_id);
  std::vector<std::string> names;
  while (statement.step()) names.push_back(statement.text(0));
  return names;
}

// "a, b, c" (at most `max` names, then "...").
std::string list_names(const std::vector<std::string>& names, size_t max = 12) {
  std::vector<std::string> shown(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(std::min(max, names.size())));
  if (names.size() > max) shown.push_back("...");
  return shown.empty() ? "none" : join(shown, ", ");
}

// The example text around the first case-insensitive (ASCII) match of `needle`, for search hits.
std::string snippet(const std::string& text, const std::string& needle) {
  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  const size_t at = lower(text).find(lower(needle));
  if (at == std::string::npos) return text.substr(0, 60);
  const size_t begin = at > 24 ? at - 24 : 0;
  return text.substr(begin, needle.size() + 48);
}

}  // namespace

AtlasQueries::AtlasQueries(const std::string& path) : pool_(std::make_unique<Pool>(path)), path_(path) {
  auto db = pool_->acquire();
  auto model = db->prepare(
      "SELECT id, name, architecture, task, source_path, dataset, split, examples, positions FROM models ORDER BY id");
  GOLGI_CHECK(model.step(), "atlas '", path, "' holds no model (its models table is empty): the build did not finish; "
              "rebuild it with `golgi atlas build`");
  model_id_ = model.integer(0);
  name_ = model.text(1);
  architecture_ = model.text(2);
  task_ = model.text(3);
  source_path_ = model.text(4);
  dataset_ = model.text(5);
  split_ = model.text(6);
  examples_ = model.integer(7);
  positions_ = model.integer(8);
  GOLGI_CHECK(!model.step(), "atlas '", path, "' holds more than one model; an atlas holds exactly one (docs/atlas.md)");
  auto counts = db->prepare(
      "SELECT (SELECT count(*) FROM hooks WHERE model_id = ?1), (SELECT count(*) FROM neurons WHERE model_id = ?1)");
  counts.bind(1, model_id_);
  counts.step();
  hooks_ = counts.integer(0);
  neurons_ = counts.integer(1);
}

AtlasQueries::~AtlasQueries() = default;

std::vector<std::string> AtlasQueries::sort_keys() {
  std::vector<std::string> keys;
  for (const auto& key : kSortKeys) keys.emplace_back(key.name);
  return keys;
}

Json AtlasQueries::summary(bool steerable) const {
  return Json{{"name", name_},         {"architecture", architecture_}, {"task", task_},
              {"dataset", dataset_},   {"split", split_},               {"hooks", hooks_},
              {"neurons", neurons_},   {"examples", examples_},         {"steerable", steerable}};
}

Json AtlasQueries::overview(bool steerable) const {
  auto db = pool_->acquire();
  Json out;
  {
    auto row = db->prepare(
        "SELECT name, architecture, task, card_json, config_json, dataset, split, examples, positions FROM models "
        "WHERE id = ?");
    row.bind(1, model_id_);
    row.step();
    out["model"] = Json{{"name", row.text(0)},        {"architecture", row.text(1)}, {"task", row.text(2)},
                        {"card", stored_json(row, 3)}, {"config", stored_json(row, 4)}, {"dataset", row.text(5)},
                        {"split", row.text(6)},       {"examples", row.integer(7)},  {"positions", row.integer(8)},
                        {"steerable", steerable},     {"hooks", hooks_},             {"neurons", neurons_}};
  }
  out["labels"] = Json::array();
  {
    auto row = db->prepare("SELECT id, name, examples, positions FROM labels WHERE model_id = ? ORDER BY id");
    row.bind(1, model_id_);
    while (row.step())
      out["labels"].push_back(
          {{"id", row.integer(0)}, {"name", row.text(1)}, {"examples", row.integer(2)}, {"positions", row.integer(3)}});
  }
  out["hooks"] = Json::array();
  {
    auto row = db->prepare(
        "SELECT name, layer, kind, neurons, positions_per_example FROM hooks WHERE model_id = ? ORDER BY ord, id");
    row.bind(1, model_id_);
    while (row.step())
      out["hooks"].push_back({{"name", row.text(0)},
                              {"layer", row.integer(1)},
                              {"kind", row.text(2)},
                              {"neurons", row.integer(3)},
                              {"positions_per_example", row.integer(4)}});
  }
  out["annotation_counts"] = Json::array();
  {
    auto row = db->prepare(
        "SELECT a.method, a.kind, n.layer, a.label, count(*) AS c FROM annotations a JOIN neurons n ON n.id = "
        "a.neuron_id WHERE n.model_id = ? GROUP BY a.method, a.kind, n.layer, a.label "
        "ORDER BY a.method, a.kind, n.layer, c DESC, a.label LIMIT ?");
    row.bind(1, model_id_).bind(2, kMaxAnnotationCounts + 1);
    while (row.step())
      out["annotation_counts"].push_back({{"method", row.text(0)},
                                          {"kind", row.text(1)},
                                          {"layer", row.integer(2)},
                                          {"label", optional_text(row, 3)},
                                          {"count", row.integer(4)}});
    const bool truncated = static_cast<int64_t>(out["annotation_counts"].size()) > kMaxAnnotationCounts;
    if (truncated) out["annotation_counts"].erase(out["annotation_counts"].size() - 1);
    out["annotation_counts_truncated"] = truncated;
  }
  out["model_annotations"] = Json::array();
  {
    auto row = db->prepare("SELECT method, kind, value_json FROM model_annotations WHERE model_id = ? ORDER BY rowid");
    row.bind(1, model_id_);
    while (row.step())
      out["model_annotations"].push_back({{"method", row.text(0)}, {"kind", row.text(1)}, {"value", stored_json(row, 2)}});
  }
  out["build_info"] = Json::object();
  {
    auto row = db->prepare("SELECT key, value FROM build_info ORDER BY key");
    while (row.step()) out["build_info"][row.text(0)] = stored_json(row, 1);
  }
  return out;
}

Json AtlasQueries::neurons(const NeuronListQuery& query) const {
  const SortKey* sort = nullptr;
  for (const auto& key : kSortKeys)
    if (query.sort == key.name) sort = &key;
  GOLGI_API_CHECK(sort, 400, "unknown sort '", query.sort, "': expected one of ", join(sort_keys(), ", "));
  GOLGI_API_CHECK(query.limit >= 1 && query.limit <= kMaxNeuronsLimit, 400, "limit must be in [1, ",
                  kMaxNeuronsLimit, "], got ", query.limit);
  GOLGI_API_CHECK(query.offset >= 0, 400, "offset must be >= 0, got ", query.offset);

  auto db = pool_->acquire();
  std::string where = "n.model_id = ?";
  std::vector<Param> params{model_id_};
  if (!query.hook.empty()) {
    Statement& hook = db.cached("SELECT id FROM hooks WHERE model_id = ? AND name = ?");
    hook.bind(1, model_id_).bind(2, query.hook);
    if (!hook.step()) {
      const auto hooks = names_of(*db, "SELECT name FROM hooks WHERE model_id = ? ORDER BY ord, id", model_id_);
      const std::string close = did_you_mean(query.hook, hooks);
      throw ApiError(404, detail::concat("hook '", query.hook, "' is not in the atlas of model '", name_, "'",
                                         close.empty() ? "" : " (" + close + ")", "; its hooks: ", list_names(hooks)));
    }
    where += " AND n.hook_id = ?";
    params.emplace_back(hook.integer(0));
  }
  if (!query.label.empty()) {
    Statement& label = db.cached("SELECT id FROM labels WHERE model_id = ? AND name = ?");
    label.bind(1, model_id_).bind(2, query.label);
    if (!label.step()) {
      const auto labels = names_of(*db, "SELECT name FROM labels WHERE model_id = ? ORDER BY id", model_id_);
      throw ApiError(404, detail::concat("label '", query.label, "' is not a label of model '", name_,
                                         "'; its labels: ", list_names(labels)));
    }
    where += " AND n.top_label = ?";
    params.emplace_back(label.integer(0));
  }
  if (!query.annotation.empty()) {
    // Annotation kinds are an open set (annotators add their own), so an unknown kind is simply
    // one that no neuron has: an empty page, not an error.
    where += " AND EXISTS (SELECT 1 FROM annotations a WHERE a.neuron_id = n.id AND a.kind = ?)";
    params.emplace_back(query.annotation);
  }

  Json out{{"offset", query.offset}, {"limit", query.limit}, {"neurons", Json::array()}};
  {
    // The filters and sort keys make a bounded set of SQL texts, so these two are cached too.
    Statement& count = db.cached("SELECT count(*) FROM neurons n WHERE " + where);
    bind_all(count, params);
    count.step();
    out["total"] = count.integer(0);
  }
  const std::string direction = query.descending ? " DESC" : " ASC";
  const std::string order = sort->column ? std::string(sort->column) + direction + " NULLS LAST, h.ord, n.idx"
                                         : "h.ord" + direction + ", n.idx" + direction;
  Statement& page = db.cached(std::string("SELECT ") + kNeuronColumns + " " + kNeuronJoins + " WHERE " + where +
                          " ORDER BY " + order + " LIMIT ? OFFSET ?");
  auto page_params = params;
  page_params.emplace_back(query.limit);
  page_params.emplace_back(query.offset);
  bind_all(page, page_params);
  std::vector<int64_t> ids;
  std::map<int64_t, size_t> slot;
  while (page.step()) {
    ids.push_back(page.integer(0));
    slot[page.integer(0)] = out["neurons"].size();
    Json neuron = neuron_json(page);
    neuron["tags"] = Json::array();
    out["neurons"].push_back(std::move(neuron));
  }
  if (!ids.empty()) {
    // One query for the whole page's tags (a page holds at most kMaxNeuronsLimit neurons, far under
    // SQLite's parameter limit).
    std::string placeholders;
    for (size_t i = 0; i < ids.size(); ++i) placeholders += i ? ",?" : "?";
    auto tags = db->prepare("SELECT neuron_id, kind, label FROM annotations WHERE neuron_id IN (" + placeholders +
                            ") ORDER BY neuron_id, score DESC NULLS LAST, id");
    for (size_t i = 0; i < ids.size(); ++i) tags.bind(static_cast<int>(i + 1), ids[i]);
    while (tags.step()) {
      Json& list = out["neurons"][slot[tags.integer(0)]]["tags"];
      if (static_cast<int64_t>(list.size()) < kTagsPerNeuron)
        list.push_back({{"kind", tags.text(1)}, {"label", optional_text(tags, 2)}});
    }
  }
  return out;
}

Json AtlasQueries::neuron(const std::string& ref_text) const {
  hooks::NeuronRef ref;
  try {
    ref = hooks::NeuronRef::parse(ref_text);
  } catch (const Error& e) {
    throw ApiError(400, e.what());
  }
  auto db = pool_->acquire();
  Statement& row = db.cached(std::string("SELECT ") + kNeuronColumns + " " + kNeuronJoins +
                             " WHERE n.model_id = ? AND n.ref = ?");
  row.bind(1, model_id_).bind(2, ref.str());
  if (!row.step()) {
    Statement& hook = db.cached("SELECT neurons FROM hooks WHERE model_id = ? AND name = ?");
    hook.bind(1, model_id_).bind(2, ref.hook);
    if (hook.step()) {
      const int64_t count = hook.integer(0);
      std::string why = !ref.position.empty()  ? "the atlas stores neurons without positions (drop the @...)"
                        : ref.index >= count ? detail::concat("hook '", ref.hook, "' has ", count,
                                                               " neurons (indices 0 to ", count - 1, ")")
                                             : "the build stored no statistics for it";
      throw ApiError(404, detail::concat("neuron '", ref.str(), "' is not in the atlas of model '", name_, "': ", why));
    }
    const auto hooks = names_of(*db, "SELECT name FROM hooks WHERE model_id = ? ORDER BY ord, id", model_id_);
    const std::string close = did_you_mean(ref.hook, hooks);
    throw ApiError(404, detail::concat("neuron '", ref.str(), "' is not in the atlas of model '", name_, "': no hook '",
                                       ref.hook, "'", close.empty() ? "" : " (" + close + ")",
                                       "; its hooks: ", list_names(hooks)));
  }
  const int64_t neuron_id = row.integer(0);
  Json out = neuron_json(row);

  out["labels"] = Json::array();
  Statement& labels = db.cached(
      "SELECT l.name, nl.mean, nl.prob_active, nl.max FROM neuron_labels nl JOIN labels l ON l.model_id = ? AND "
      "l.id = nl.label_id WHERE nl.neuron_id = ? ORDER BY l.id");
  labels.bind(1, model_id_).bind(2, neuron_id);
  while (labels.step())
    out["labels"].push_back({{"name", labels.text(0)},
                             {"mean", optional_real(labels, 1)},
                             {"prob_active", optional_real(labels, 2)},
                             {"max", optional_real(labels, 3)}});

  out["exemplars"] = Json::array();
  // An exemplar's tokens are the window of its example that its acts cover (docs/atlas.md:
  // tokens[i] is token window_start + i): cut in SQL, so only the window is parsed, not the whole
  // example. Without a window (or with text that is not JSON) the stored list comes whole.
  Statement& exemplars = db.cached(
      "SELECT x.rank, x.activation, x.example_id, l.name, x.position, x.window_start, "
      "CASE WHEN x.window_start IS NULL OR NOT json_valid(x.acts_json) OR NOT json_valid(e.tokens_json) "
      "THEN e.tokens_json ELSE (SELECT json_group_array(t.value) FROM json_each(e.tokens_json) t "
      "WHERE t.key >= x.window_start AND t.key < x.window_start + json_array_length(x.acts_json)) END, "
      "x.acts_json, e.image_id, x.mask_image_id "
      "FROM exemplars x LEFT JOIN examples e ON e.model_id = ?1 AND e.id = x.example_id "
      "LEFT JOIN labels l ON l.model_id = ?1 AND l.id = e.label_id WHERE x.neuron_id = ?2 ORDER BY x.rank");
  exemplars.bind(1, model_id_).bind(2, neuron_id);
  while (exemplars.step())
    out["exemplars"].push_back({{"rank", exemplars.integer(0)},
                                {"activation", exemplars.real(1)},
                                {"example_id", exemplars.integer(2)},
                                {"label", optional_text(exemplars, 3)},
                                {"position", exemplars.integer(4)},
                                {"window_start", optional_integer(exemplars, 5)},
                                {"tokens", stored_json(exemplars, 6)},
                                {"acts", stored_json(exemplars, 7)},
                                {"image_id", optional_integer(exemplars, 8)},
                                {"mask_image_id", optional_integer(exemplars, 9)}});

  out["annotations"] = Json::array();
  Statement& annotations = db.cached(
      "SELECT method, kind, label, score, value_json FROM annotations WHERE neuron_id = ? "
      "ORDER BY method, kind, score DESC NULLS LAST, id");
  annotations.bind(1, neuron_id);
  while (annotations.step())
    out["annotations"].push_back({{"method", annotations.text(0)},
                                  {"kind", annotations.text(1)},
                                  {"label", optional_text(annotations, 2)},
                                  {"score", optional_real(annotations, 3)},
                                  {"value", stored_json(annotations, 4)}});
  return out;
}

void AtlasQueries::search(const std::string& query, int64_t limit, Json& results) const {
  GOLGI_ASSERT(results.is_array(), "search appends to a JSON array");
  auto room = [&] { return limit - static_cast<int64_t>(results.size()); };
  if (room() <= 0) return;
  auto db = pool_->acquire();
  auto hit = [&](const std::string& ref, const std::string& kind, const Json& label, const Json& score) {
    results.push_back({{"model", name_}, {"ref", ref}, {"kind", kind}, {"label", label}, {"score", score}});
  };

  // 1. The text is a NeuronRef of this atlas.
  try {
    const auto ref = hooks::NeuronRef::parse(query);
    Statement& row = db.cached("SELECT ref FROM neurons WHERE model_id = ? AND ref = ?");
    row.bind(1, model_id_).bind(2, ref.str());
    if (row.step()) hit(row.text(0), "neuron", row.text(0), nullptr);
  } catch (const Error&) {
    // Not a ref: the other kinds below still apply.
  }

  // 2. Hook names containing the text.
  if (room() > 0) {
    Statement& row = db.cached(
        "SELECT name FROM hooks WHERE model_id = ? AND name LIKE ? ESCAPE '\\' ORDER BY ord, id LIMIT ?");
    row.bind(1, model_id_).bind(2, "%" + like_escape(query) + "%").bind(3, room());
    while (row.step()) hit(row.text(0), "hook", row.text(0), nullptr);
  }

  // 3. Annotation labels starting with the text (decoded tokens, languages, classes, ...).
  if (room() > 0) {
    Statement& row = db.cached(
        "SELECT n.ref, a.kind, a.label, a.score FROM annotations a JOIN neurons n ON n.id = a.neuron_id "
        "WHERE n.model_id = ? AND a.label LIKE ? ESCAPE '\\' ORDER BY a.score DESC NULLS LAST, a.id LIMIT ?");
    row.bind(1, model_id_).bind(2, like_escape(query) + "%").bind(3, room());
    while (row.step()) hit(row.text(0), row.text(1), optional_text(row, 2), optional_real(row, 3));
  }

  // 4. Exemplar inputs whose text (examples.text, the whole example as one string) contains the
  // query. The scan stops after kMaxExampleMatches matching inputs; each neuron is reported once,
  // with its strongest matching exemplar.
  if (room() > 0) {
    Statement& row = db.cached(
        "SELECT n.ref, max(x.activation), e.text FROM (SELECT id, text FROM examples "
        "WHERE model_id = ?1 AND text LIKE ?2 ESCAPE '\\' LIMIT ?3) e "
        "JOIN exemplars x ON x.example_id = e.id JOIN neurons n ON n.id = x.neuron_id AND n.model_id = ?1 "
        "GROUP BY n.id ORDER BY max(x.activation) DESC LIMIT ?4");
    row.bind(1, model_id_).bind(2, "%" + like_escape(query) + "%").bind(3, kMaxExampleMatches).bind(4, room());
    while (row.step()) hit(row.text(0), "exemplar", snippet(row.text(2), query), row.real(1));
  }
}

std::optional<std::string> AtlasQueries::image_png(int64_t id) const {
  auto db = pool_->acquire();
  Statement& row = db.cached("SELECT png FROM images WHERE id = ? AND model_id = ?");
  row.bind(1, id).bind(2, model_id_);
  if (!row.step()) return std::nullopt;
  const auto bytes = row.blob(0);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace golgi::serve
