#include "golgi/atlas/builder.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "golgi/atlas/annotator.h"
#include "golgi/atlas/exemplar_text.h"
#include "golgi/atlas/hook_stream.h"
#include "golgi/atlas/schema.h"
#include "golgi/atlas/sqlite.h"
#include "golgi/atlas/top_exemplars.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/version.h"
#include "golgi/data/dataset.h"
#include "golgi/data/registry.h"
#include "golgi/hooks/scoped_hooks.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/png.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/models/registry.h"
#include "golgi/models/transformer.h"
#include "golgi/tokenize/tokenizer.h"
#include "golgi/train/language_model.h"

namespace golgi::atlas {

namespace fs = std::filesystem;

const OptionSchema<AtlasBuildOptions>& AtlasBuildOptions::schema() {
  static const auto schema =
      OptionSchema<AtlasBuildOptions>("atlas_build")
          .add("model", &AtlasBuildOptions::model_, "model folder")
          .add("out", &AtlasBuildOptions::out_, "atlas file to write")
          .add("name", &AtlasBuildOptions::name_, "the model's name in the atlas and in URLs (default: its folder name)")
          .add("dataset", &AtlasBuildOptions::dataset_, "dataset to stream (default: the one the model card names)")
          .add("split", &AtlasBuildOptions::split_, "split (default: val for text corpora, test otherwise)")
          .add("data_dir", &AtlasBuildOptions::data_dir_, "dataset folder (default: the dataset's own)")
          .add("limit", &AtlasBuildOptions::limit_, "examples to stream (0: the whole split); text corpora: limit / languages windows of every language", at_least<int64_t>(0))
          .add("batch_size", &AtlasBuildOptions::batch_size_, "examples per forward pass", between<int64_t>(1, 4096))
          .add("exemplars", &AtlasBuildOptions::exemplars_, "top examples kept per neuron", between<int64_t>(1, 1000))
          .add("histogram_sample", &AtlasBuildOptions::histogram_sample_,
               "positions sampled per hook for the activation histograms (reservoir)", between<int64_t>(1, 1 << 20))
          .add("histogram_bins", &AtlasBuildOptions::histogram_bins_, "histogram bins", between<int64_t>(2, 512))
          .add("active_above", &AtlasBuildOptions::active_above_, "a neuron is active where its activation > this")
          .add("context_before", &AtlasBuildOptions::context_before_,
               "text exemplars: tokens kept before the maximum", between<int64_t>(0, 4096))
          .add("context_after", &AtlasBuildOptions::context_after_, "text exemplars: tokens kept after the maximum",
               between<int64_t>(0, 4096))
          .add("checkpoint_every", &AtlasBuildOptions::checkpoint_every_,
               "batches between resumable checkpoints of the stream", at_least<int64_t>(1))
          .add("seed", &AtlasBuildOptions::seed_, "seed of the histogram sampling", at_least<int64_t>(0))
          .add("restart", &AtlasBuildOptions::restart_, "discard an unfinished OUT.partial instead of resuming it")
          .add("progress", &AtlasBuildOptions::progress_, "progress bars on stderr");
  return schema;
}

Json AtlasBuildResult::to_json() const {
  return Json{{"path", path},
              {"seconds", seconds},
              {"examples", examples},
              {"positions", positions},
              {"neurons", neurons},
              {"exemplar_examples", exemplar_examples},
              {"resumed_at_example", resumed_at_example},
              {"already_complete", already_complete},
              {"annotators", annotators}};
}

std::vector<std::string> describe_annotators() {
  std::vector<std::string> out;
  for (const auto& entry : annotator_registry().entries()) out.push_back(entry.name + ": " + entry.description);
  return out;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Hook geometry

// The block index of "blocks.3.mlp.hook_post", else -1.
int64_t block_of(const std::string& hook) {
  if (hook.rfind("blocks.", 0) != 0) return -1;
  size_t end = hook.find('.', 7);
  try {
    return std::stoll(hook.substr(7, end - 7));
  } catch (...) {
    return -1;
  }
}

// "mlp" for blocks.3.mlp.hook_post, "conv" for conv2.hook_post, "dense" for fc1.hook_post,
// "logits" for head.hook_out, otherwise the component before the hook's last part.
std::string kind_of(const std::string& hook) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = hook.find('.', start);
    parts.push_back(hook.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  std::string owner = parts.size() >= 2 ? parts[parts.size() - 2] : parts[0];
  std::string stem = owner;
  while (!stem.empty() && std::isdigit(static_cast<unsigned char>(stem.back()))) stem.pop_back();
  if (stem == "fc" || stem == "linear" || stem == "dense") return "dense";
  if (stem == "head") return "logits";
  return stem.empty() ? owner : stem;
}

// [batch, ...] activation -> [batch, positions, neurons] (contiguous float): the neuron dimension is
// the channel dimension of 4-D maps and the last dimension otherwise (docs/hooks.md).
at::Tensor positions_by_neurons(const at::Tensor& act) {
  at::Tensor a = act.detach().to(torch::kFloat);
  if (a.dim() == 2) return a.unsqueeze(1).contiguous();
  if (a.dim() == 3) return a.contiguous();
  if (a.dim() == 4) return a.permute({0, 2, 3, 1}).reshape({a.size(0), a.size(2) * a.size(3), a.size(1)}).contiguous();
  GOLGI_FAIL("atlas: hook activations must be [batch, neurons], [batch, pos, neurons] or [batch, C, H, W], got ",
             a.sizes());
}

std::vector<std::string> default_hooks(const models::Model& model, bool language_model) {
  std::vector<std::string> out;
  for (const auto& name : model.hook_names()) {
    bool take = language_model ? (name.size() > 14 && name.compare(name.size() - 14, 14, ".mlp.hook_post") == 0)
                               : ((name.size() > 10 && name.compare(name.size() - 10, 10, ".hook_post") == 0 &&
                                   name.rfind("blocks.", 0) != 0) ||
                                  name == "head.hook_out");
    if (take) out.push_back(name);
  }
  GOLGI_CHECK(!out.empty(), "atlas: the model has no default hook points to record; pass --hooks (known: ",
              fmt::format("{}", fmt::join(model.hook_names(), ", ")), ")");
  return out;
}

// ---------------------------------------------------------------------------------------------
// The model, its data and the hooks

struct Subject {
  models::LoadedModel loaded;
  std::string model_dir, name;
  bool language_model = false;
  std::shared_ptr<data::Dataset> data;
  std::vector<std::string> labels;
  std::string dataset, split;
  std::shared_ptr<tokenize::Tokenizer> tokenizer;
};

Subject load_subject(const AtlasBuildOptions& options) {
  Subject s;
  s.model_dir = models::model_folder(options.model());
  s.loaded = models::load_model(options.model());
  s.name = options.name().empty() ? fs::path(s.model_dir).lexically_normal().filename().string() : options.name();
  if (s.name.empty() || s.name == ".") s.name = fs::absolute(s.model_dir).lexically_normal().parent_path().filename().string();
  for (char c : s.name)
    GOLGI_CHECK(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.',
                "atlas model name '", s.name, "' may hold only letters, digits, '-', '_' and '.' (it appears in URLs); pass --name");
  s.language_model = s.loaded.model->task() == "language-model";
  const Json& card = s.loaded.card.contains("card") ? s.loaded.card["card"] : Json::object();
  if (s.language_model) {
    auto lm_options = train::lm_data_options_from_card(s.loaded.card, s.model_dir);
    if (!options.dataset().empty()) lm_options.corpus = options.dataset();
    if (!options.data_dir().empty()) lm_options.data_dir = options.data_dir();
    GOLGI_CHECK(!lm_options.corpus.empty(), "the card of '", s.model_dir,
                "' names no training corpus; pass --dataset with a text corpus (see `golgi info`)");
    auto lm = train::load_lm_data(lm_options);
    s.split = options.split().empty() ? "val" : options.split();
    GOLGI_CHECK(s.split == "train" || s.split == "val" || s.split == "test", "atlas: split must be train, val or test, got '",
                s.split, "'");
    s.data = s.split == "train" ? lm.train : s.split == "val" ? lm.val : lm.test;
    s.labels = lm.languages;
    s.dataset = lm_options.corpus;
    s.tokenizer = lm.tokenizer;
  } else {
    s.dataset = options.dataset();
    if (s.dataset.empty()) {
      GOLGI_CHECK(card.contains("dataset") && card["dataset"].contains("name"), "the card of '", s.model_dir,
                  "' names no dataset; pass --dataset");
      s.dataset = card["dataset"]["name"].get<std::string>();
    }
    s.split = options.split().empty() ? "test" : options.split();
    data::DataOptions data_options;
    data_options.split = s.split;
    data_options.data_dir = options.data_dir();
    s.data = data::load_dataset(s.dataset, data_options);
    const Json& dcard = s.data->card();
    if (dcard.contains("classes") && dcard["classes"].is_array()) {
      for (const auto& c : dcard["classes"]) s.labels.push_back(c.get<std::string>());
    } else if (card.contains("dataset") && card["dataset"].contains("card") &&
               card["dataset"]["card"].contains("classes")) {
      for (const auto& c : card["dataset"]["card"]["classes"]) s.labels.push_back(c.get<std::string>());
    }
    if (static_cast<int64_t>(s.labels.size()) != s.data->num_classes()) {
      s.labels.clear();
      for (int64_t k = 0; k < s.data->num_classes(); ++k) s.labels.push_back("class " + std::to_string(k));
    }
  }
  // Text windows are grouped by language and the languages differ 400-fold in size, so a limit
  // takes limit / languages evenly spread windows of every language; images come shuffled and keep
  // their first `limit`.
  if (options.limit() > 0 && options.limit() < s.data->size()) {
    if (s.language_model) {
      const int64_t languages = std::max<int64_t>(1, static_cast<int64_t>(s.labels.size()));
      s.data = train::per_language_subset(s.data, std::max<int64_t>(1, options.limit() / languages));
    } else {
      s.data = s.data->head(options.limit());
    }
  }
  GOLGI_CHECK(s.data->size() > 0, "atlas: the ", s.dataset, " ", s.split, " split is empty");
  return s;
}

// One batch's model inputs and, for text, which positions are real tokens.
struct BatchInput {
  at::Tensor inputs;  // what forward() takes
  at::Tensor valid;   // [B, P] bool (text) or undefined (every position valid)
};

BatchInput batch_input(const Subject& s, const at::Tensor& rows) {
  if (!s.language_model) return {rows, {}};
  const int64_t t = rows.size(1) - 1;
  at::Tensor tokens = rows.narrow(1, 0, t);
  return {tokens.clamp_min(0), tokens.ge(0)};
}

// Runs the model with read hooks on `hooks`; returns each hook's [B, P, N] activations.
std::vector<at::Tensor> run_hooks(Subject& s, const std::vector<std::string>& hooks, const at::Tensor& inputs,
                                  int64_t stop_at_layer) {
  std::vector<at::Tensor> out(hooks.size());
  std::vector<hooks::HookGuard> guards;
  for (size_t h = 0; h < hooks.size(); ++h)
    guards.push_back(hooks::read_hook(*s.loaded.model, hooks[h], [&out, h](const at::Tensor& a) { out[h] = a; }));
  torch::NoGradGuard no_grad;
  if (s.language_model) {
    auto* lm = dynamic_cast<models::TransformerLM*>(s.loaded.model.get());
    GOLGI_ASSERT(lm, "a language-model task must be a TransformerLM");
    lm->run(inputs, nullptr, stop_at_layer);
  } else {
    s.loaded.model->forward(inputs);
  }
  for (size_t h = 0; h < hooks.size(); ++h) {
    GOLGI_CHECK(out[h].defined(), "atlas: hook point '", hooks[h], "' did not fire during the forward pass");
    out[h] = positions_by_neurons(out[h]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Database writing

Json options_json(const AtlasBuildOptions& options, const std::vector<std::string>& hooks,
                  const std::vector<std::string>& annotators) {
  Json j = AtlasBuildOptions::schema().to_json(options);
  j.erase("restart");
  j.erase("progress");
  j["hooks"] = hooks;
  j["annotators"] = annotators;
  return j;
}

std::string build_value(Database& db, const std::string& key) {
  auto q = db.prepare("SELECT value FROM build_info WHERE key = ?");
  q.bind(1, key);
  return q.step() ? q.text(0) : std::string();
}

void set_build_value(Database& db, const std::string& key, const std::string& value) {
  db.prepare("INSERT INTO build_info (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
      .bind(1, key)
      .bind(2, value)
      .run();
}

// Rounds for storage: 4 significant digits are plenty for display and keep the JSON small.
double round_digits(double v, int digits) {
  if (!std::isfinite(v) || v == 0) return v;
  const double scale = std::pow(10.0, digits - 1 - static_cast<int>(std::floor(std::log10(std::fabs(v)))));
  return std::round(v * scale) / scale;
}

double round4(double v) { return round_digits(v, 4); }

// Per-token activations for display: 3 significant digits, and values below 0.1% of the neuron's
// largest magnitude written as 0 (they render as no highlight anyway; this halves the atlas).
Json display_array(const float* values, int64_t count, double scale) {
  Json a = Json::array();
  for (int64_t i = 0; i < count; ++i)
    a.push_back(std::fabs(values[i]) < 1e-3 * scale ? 0.0 : round_digits(values[i], 3));
  return a;
}

// Grayscale PNG of a 2-D map scaled to [0, 255] by `low`..`high` (clamped).
std::string map_png(const at::Tensor& map2d, double low, double high) {
  at::Tensor m = map2d.to(torch::kFloat);
  const double span = high > low ? high - low : 1.0;
  at::Tensor bytes = m.sub(low).div(span).clamp(0, 1).mul(255).round().to(torch::kUInt8).contiguous();
  return io::encode_png(bytes.data_ptr<uint8_t>(), m.size(1), m.size(0), 1);
}

// An input image [C, H, W] (any normalisation) as an 8-bit PNG, min-max scaled per image.
std::string input_png(const at::Tensor& image) {
  at::Tensor x = image.to(torch::kFloat);
  if (x.dim() == 2) x = x.unsqueeze(0);
  GOLGI_CHECK(x.dim() == 3 && (x.size(0) == 1 || x.size(0) == 3), "atlas: image exemplars must be [1|3, H, W], got ",
              image.sizes());
  const double low = x.min().item<double>(), high = x.max().item<double>();
  at::Tensor bytes = x.sub(low).div(high > low ? high - low : 1.0).mul(255).round().to(torch::kUInt8);
  bytes = bytes.permute({1, 2, 0}).contiguous();
  return io::encode_png(bytes.data_ptr<uint8_t>(), x.size(2), x.size(1), static_cast<int>(x.size(0)));
}

}  // namespace

// ---------------------------------------------------------------------------------------------

AtlasBuildResult build_atlas(const AtlasBuildOptions& options) {
  AtlasBuildOptions::schema().validate(options);
  GOLGI_CHECK(!options.model().empty(), "atlas build: --model is required (a model folder)");
  GOLGI_CHECK(!options.out().empty(), "atlas build: --out is required (the atlas file to write)");
  const auto start_time = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count(); };

  AtlasBuildResult result;
  result.path = options.out();
  if (io::file_exists(options.out()) && !options.restart()) {
    // A finished atlas is never rebuilt silently: `make demo` relies on this to cache.
    Database existing = open_atlas(options.out());
    if (build_value(existing, "complete") == "true") {
      result.already_complete = true;
      return result;
    }
  }

  Subject s = load_subject(options);
  s.loaded.model->eval();
  std::vector<std::string> hook_names = options.hooks().empty() ? default_hooks(*s.loaded.model, s.language_model)
                                                                : std::vector<std::string>{};
  for (const auto& pattern : options.hooks()) {
    auto matched = s.loaded.model->match_hooks(pattern);
    GOLGI_CHECK(!matched.empty(), "atlas: no hook point matches '", pattern, "' (see `golgi inspect ", s.model_dir,
                "` or docs/hooks.md)");
    for (auto* point : matched) {
      std::string name = point->name();
      if (std::find(hook_names.begin(), hook_names.end(), name) == hook_names.end()) hook_names.push_back(name);
    }
  }
  // Forward order, so the stop-early layer and the overview read naturally.
  {
    auto all = s.loaded.model->hook_names();
    std::sort(hook_names.begin(), hook_names.end(), [&](const std::string& a, const std::string& b) {
      return std::find(all.begin(), all.end(), a) < std::find(all.begin(), all.end(), b);
    });
  }

  std::vector<std::string> annotator_names;
  {
    const auto& requested = options.annotators();
    bool all = requested.empty() || (requested.size() == 1 && requested[0] == "all");
    bool none = requested.size() == 1 && requested[0] == "none";
    if (all) {
      annotator_names = annotator_registry().names();
    } else if (!none) {
      for (const auto& name : requested) annotator_names.push_back(annotator_registry().get(name).name);
    }
  }

  // Probe one example for each hook's geometry.
  std::vector<AtlasHook> hooks(hook_names.size());
  int64_t stop_at_layer = -1;
  {
    at::Tensor rows = s.data->inputs().narrow(0, 0, 1);
    auto input = batch_input(s, rows);
    std::vector<at::Tensor> raw(hook_names.size());
    std::vector<hooks::HookGuard> guards;
    for (size_t h = 0; h < hook_names.size(); ++h)
      guards.push_back(hooks::read_hook(*s.loaded.model, hook_names[h], [&raw, h](const at::Tensor& a) { raw[h] = a; }));
    torch::NoGradGuard no_grad;
    s.loaded.model->forward(input.inputs);
    int64_t last_block = -1;
    bool beyond_blocks = false;
    for (size_t h = 0; h < hook_names.size(); ++h) {
      GOLGI_CHECK(raw[h].defined(), "atlas: hook point '", hook_names[h], "' did not fire");
      AtlasHook& hook = hooks[h];
      hook.name = hook_names[h];
      hook.kind = kind_of(hook.name);
      int64_t block = block_of(hook.name);
      hook.layer = block >= 0 ? block : static_cast<int64_t>(h);
      if (block >= 0) last_block = std::max(last_block, block); else beyond_blocks = true;
      at::Tensor a = raw[h];
      if (a.dim() == 4) {
        hook.height = a.size(2);
        hook.width = a.size(3);
      }
      at::Tensor p = positions_by_neurons(a);
      hook.positions = p.size(1);
      hook.neurons = p.size(2);
    }
    if (s.language_model && !beyond_blocks) {
      auto* lm = dynamic_cast<models::TransformerLM*>(s.loaded.model.get());
      if (lm && last_block + 1 < lm->config().n_layers) stop_at_layer = last_block + 1;
    }
  }

  const std::string partial = options.out() + ".partial";
  const std::string stream_state = options.out() + ".partial.stream";
  const Json wanted_options = options_json(options, hook_names, annotator_names);
  if (options.restart()) {
    fs::remove(partial);
    fs::remove(stream_state);
  }
  // A bare file name (`--out atlas.db`) lives in the current folder: nothing to create.
  const std::string out_folder = fs::path(options.out()).parent_path().string();
  if (!out_folder.empty()) io::make_dirs(out_folder);
  bool fresh = !io::file_exists(partial);
  Database db(partial, Database::Mode::Create);
  if (fresh) {
    fs::remove(stream_state);
    create_schema(db);
  } else {
    GOLGI_CHECK(schema_version(db) == kSchemaVersion, "'", partial, "' is from another golgi version; pass --restart");
    Json previous = Json::parse(build_value(db, "options"));
    GOLGI_CHECK(previous == wanted_options, "'", partial, "' is an unfinished build with other options (",
                previous.dump(), "); run the same command again to resume it, or pass --restart to start over");
  }

  // Stage 0: model, labels, hooks and neuron rows (ids are fixed from here on).
  int64_t model_id = 0;
  if (fresh) {
    Transaction t(db);
    set_build_value(db, "options", wanted_options.dump());
    set_build_value(db, "golgi_version", Json(std::string(kVersion)).dump());
    set_build_value(db, "complete", "false");
    set_build_value(db, "stage", "\"stream\"");
    Json config = s.loaded.model->options();
    db.prepare(
          "INSERT INTO models (name, architecture, task, source_path, card_json, config_json, dataset, split) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(1, s.name)
        .bind(2, s.loaded.model->architecture())
        .bind(3, s.loaded.model->task())
        .bind(4, fs::absolute(s.model_dir).lexically_normal().string())
        .bind(5, s.loaded.card.dump())
        .bind(6, config.dump())
        .bind(7, s.dataset)
        .bind(8, s.split)
        .run();
    model_id = db.last_insert_id();
    auto label = db.prepare("INSERT INTO labels (model_id, id, name) VALUES (?, ?, ?)");
    for (size_t k = 0; k < s.labels.size(); ++k) label.bind(1, model_id).bind(2, static_cast<int64_t>(k)).bind(3, s.labels[k]).run();
    auto hook_row = db.prepare(
        "INSERT INTO hooks (model_id, name, layer, kind, neurons, positions_per_example, ord) VALUES (?, ?, ?, ?, ?, ?, ?)");
    auto neuron_row = db.prepare("INSERT INTO neurons (model_id, hook_id, idx, layer, ref) VALUES (?, ?, ?, ?, ?)");
    for (size_t h = 0; h < hooks.size(); ++h) {
      hook_row.bind(1, model_id).bind(2, hooks[h].name).bind(3, hooks[h].layer).bind(4, hooks[h].kind)
          .bind(5, hooks[h].neurons).bind(6, hooks[h].positions).bind(7, static_cast<int64_t>(h)).run();
      const int64_t hook_id = db.last_insert_id();
      for (int64_t j = 0; j < hooks[h].neurons; ++j)
        neuron_row.bind(1, model_id).bind(2, hook_id).bind(3, j).bind(4, hooks[h].layer)
            .bind(5, hooks[h].name + ":" + std::to_string(j)).run();
    }
    t.commit();
  }
  {
    auto q = db.prepare("SELECT id FROM models");
    GOLGI_CHECK(q.step(), "'", partial, "' has no model row; pass --restart");
    model_id = q.integer(0);
    auto hq = db.prepare("SELECT h.id, min(n.id) FROM hooks h JOIN neurons n ON n.hook_id = h.id WHERE h.name = ? GROUP BY h.id");
    for (auto& hook : hooks) {
      hq.bind(1, hook.name);
      GOLGI_CHECK(hq.step(), "'", partial, "' lacks hook '", hook.name, "'; pass --restart");
      hook.id = hq.integer(0);
      hook.first_neuron_id = hq.integer(1);
      hq.reset();
    }
  }
  for (const auto& hook : hooks) result.neurons += hook.neurons;

  const int64_t n_examples = s.data->size();
  const int64_t K = static_cast<int64_t>(s.labels.size());
  const int64_t batch_size = options.batch_size();
  std::vector<HookStream> streams;
  for (const auto& hook : hooks)
    streams.emplace_back(hook.neurons, K, options.histogram_sample(), options.exemplars());

  // Stage 1: the stream.
  std::string stage = Json::parse(build_value(db, "stage")).get<std::string>();
  if (stage == "stream") {
    int64_t next_example = 0;
    if (io::file_exists(stream_state)) {
      std::map<std::string, std::string> metadata;
      auto saved_list = io::load_tensors(stream_state, &metadata);
      std::map<std::string, at::Tensor> saved(saved_list.begin(), saved_list.end());
      GOLGI_CHECK(metadata.count("next_example") && metadata.count("options") && Json::parse(metadata["options"]) == wanted_options,
                  "'", stream_state, "' belongs to another build; pass --restart");
      next_example = std::stoll(metadata["next_example"]);
      for (size_t h = 0; h < hooks.size(); ++h) streams[h].restore(saved, "h" + std::to_string(h) + ".");
      result.resumed_at_example = next_example;
      if (options.progress())
        std::fprintf(stderr, "atlas: resuming the stream at example %lld of %lld\n", static_cast<long long>(next_example),
                     static_cast<long long>(n_examples));
    }
    auto save_state = [&](int64_t next) {
      std::vector<std::pair<std::string, at::Tensor>> tensors;
      for (size_t h = 0; h < hooks.size(); ++h) {
        auto part = streams[h].state("h" + std::to_string(h) + ".");
        tensors.insert(tensors.end(), part.begin(), part.end());
      }
      io::save_tensors(stream_state, tensors, {{"next_example", std::to_string(next)}, {"options", wanted_options.dump()}});
    };
    Progress progress("atlas stream", n_examples, s.language_model ? "window" : "img");
    progress.set(next_example);
    int64_t batches = 0;
    for (int64_t begin = next_example; begin < n_examples; begin += batch_size) {
      const int64_t count = std::min(batch_size, n_examples - begin);
      at::Tensor rows = s.data->inputs().narrow(0, begin, count);
      at::Tensor labels = s.data->targets().narrow(0, begin, count).to(torch::kLong).contiguous();
      at::Tensor ids = torch::arange(begin, begin + count, torch::kLong);
      auto input = batch_input(s, rows);
      auto acts = run_hooks(s, hook_names, input.inputs, stop_at_layer);
      for (size_t h = 0; h < hooks.size(); ++h) {
        at::Tensor valid = input.valid.defined() ? input.valid.contiguous()
                                                 : torch::ones({count, acts[h].size(1)}, torch::kBool);
        if (valid.size(1) != acts[h].size(1)) valid = torch::ones({count, acts[h].size(1)}, torch::kBool);
        streams[h].update(acts[h], valid, labels, ids, options.active_above(), static_cast<uint64_t>(options.seed()) + h);
      }
      progress.advance(count);
      if (++batches % options.checkpoint_every() == 0 && begin + count < n_examples) save_state(begin + count);
    }
    progress.finish();

    // Finalise: per-neuron statistics, per-label rows, histograms.
    Transaction t(db);
    auto update = db.prepare(
        "UPDATE neurons SET mean = ?, std = ?, min = ?, max = ?, prob_active = ?, top_label = ?, top_label_mean = ?, "
        "selectivity = ?, histogram_json = ? WHERE id = ?");
    auto label_row = db.prepare("INSERT INTO neuron_labels (neuron_id, label_id, mean, prob_active, max) VALUES (?, ?, ?, ?, ?)");
    int64_t total_positions = 0;
    for (size_t h = 0; h < hooks.size(); ++h) {
      HookStream& st = streams[h];
      const double count = static_cast<double>(std::max<int64_t>(1, st.positions));
      total_positions = std::max(total_positions, st.positions);
      at::Tensor mean = st.sum / count;
      at::Tensor var = (st.sumsq / count - mean * mean).clamp_min(0);  // [N] float64
      at::Tensor prob = st.active.to(torch::kDouble) / count;
      at::Tensor lpos = st.label_positions.to(torch::kDouble).clamp_min(1).unsqueeze(1);
      at::Tensor lmean = (st.label_sum / lpos).to(torch::kFloat);
      at::Tensor lprob = (st.label_active.to(torch::kDouble) / lpos).to(torch::kFloat);
      at::Tensor has_label_t = st.label_positions.gt(0);
      const int64_t R = std::min(st.positions, st.reservoir_size);
      at::Tensor sample = st.reservoir.narrow(0, 0, R).t().contiguous();  // [N, R]
      const int64_t bins = options.histogram_bins();
      auto has_label = has_label_t.accessor<bool, 1>();
      auto lmean_a = lmean.accessor<float, 2>();
      auto lprob_a = lprob.accessor<float, 2>();
      at::Tensor label_max = st.label_max.contiguous();
      auto lmax_a = label_max.accessor<float, 2>();
      at::Tensor mean_f = mean.contiguous(), std_f = var.sqrt().contiguous(), prob_f = prob.contiguous();
      auto mean_a = mean_f.accessor<double, 1>();
      auto std_a = std_f.accessor<double, 1>();
      auto prob_a = prob_f.accessor<double, 1>();
      auto min_a = st.min.accessor<float, 1>();
      auto max_a = st.max.accessor<float, 1>();
      for (int64_t j = 0; j < st.neurons; ++j) {
        const double lo = min_a[j], hi = max_a[j];
        std::vector<int64_t> counts(static_cast<size_t>(bins), 0);
        const float* v = sample.data_ptr<float>() + j * R;
        const double width = hi > lo ? (hi - lo) / static_cast<double>(bins) : 1.0;
        for (int64_t r = 0; r < R; ++r) {
          int64_t b = hi > lo ? static_cast<int64_t>((v[r] - lo) / width) : 0;
          counts[static_cast<size_t>(std::clamp<int64_t>(b, 0, bins - 1))]++;
        }
        Json histogram{{"lo", round4(lo)}, {"hi", round4(hi)}, {"counts", counts}, {"sampled", R}, {"total", st.positions}};
        // Selectivity over labels that occurred; means shifted up when negative (docs/atlas.md).
        std::optional<int64_t> top_label;
        std::optional<double> top_mean, selectivity;
        double best = -std::numeric_limits<double>::infinity(), low = std::numeric_limits<double>::infinity();
        int64_t present = 0;
        for (int64_t k = 0; k < K; ++k) {
          if (!has_label[k]) continue;
          const double m = lmean_a[k][j];
          ++present;
          low = std::min(low, m);
          if (m > best) {
            best = m;
            top_label = k;
          }
        }
        if (present >= 2) {
          const double shift = low < 0 ? -low : 0.0;
          double rest = 0;
          for (int64_t k = 0; k < K; ++k)
            if (k != *top_label && has_label[k]) rest += lmean_a[k][j] + shift;
          rest /= static_cast<double>(present - 1);
          const double top = best + shift;
          selectivity = top + rest > 0 ? (top - rest) / (top + rest) : 0.0;
          top_mean = best;
        }
        const int64_t id = hooks[h].first_neuron_id + j;
        update.bind(1, round4(mean_a[j])).bind(2, round4(std_a[j])).bind(3, round4(lo)).bind(4, round4(hi))
            .bind(5, round4(prob_a[j])).bind(6, top_label)
            .bind(7, top_mean ? std::optional<double>(round4(*top_mean)) : std::nullopt)
            .bind(8, selectivity ? std::optional<double>(round4(*selectivity)) : std::nullopt)
            .bind(9, histogram.dump()).bind(10, id).run();
        for (int64_t k = 0; k < K; ++k) {
          if (!has_label[k]) continue;
          label_row.bind(1, id).bind(2, k).bind(3, round4(lmean_a[k][j])).bind(4, round4(lprob_a[k][j]))
              .bind(5, round4(lmax_a[k][j])).run();
        }
      }
    }
    auto label_counts = db.prepare("UPDATE labels SET examples = ?, positions = ? WHERE model_id = ? AND id = ?");
    at::Tensor examples_per_label = torch::bincount(s.data->targets().to(torch::kLong), {}, K);
    for (int64_t k = 0; k < K; ++k)
      label_counts.bind(1, examples_per_label[k].item<int64_t>()).bind(2, streams[0].label_positions[k].item<int64_t>())
          .bind(3, model_id).bind(4, k).run();
    db.prepare("UPDATE models SET examples = ?, positions = ? WHERE id = ?").bind(1, n_examples).bind(2, total_positions)
        .bind(3, model_id).run();
    // Exemplar choices go to the table now (activation and position); the next stage adds the
    // per-token activations / maps.
    auto exemplar_row = db.prepare(
        "INSERT INTO exemplars (neuron_id, rank, activation, example_id, position) VALUES (?, ?, ?, ?, ?)");
    for (size_t h = 0; h < hooks.size(); ++h)
      for (int64_t j = 0; j < hooks[h].neurons; ++j) {
        auto list = streams[h].top.sorted(j);
        for (size_t r = 0; r < list.size(); ++r)
          exemplar_row.bind(1, hooks[h].first_neuron_id + j).bind(2, static_cast<int64_t>(r))
              .bind(3, static_cast<double>(list[r].activation)).bind(4, list[r].example).bind(5, list[r].position).run();
      }
    set_build_value(db, "stage", "\"exemplars\"");
    t.commit();
    fs::remove(stream_state);
    stage = "exemplars";
  }

  {
    auto q = db.prepare("SELECT examples, positions FROM models WHERE id = ?");
    q.bind(1, model_id);
    q.step();
    result.examples = q.integer(0);
    result.positions = q.integer(1);
  }

  // Stage 2: run the exemplar examples again for per-token activations / activation maps.
  if (stage == "exemplars") {
    Transaction t(db);
    std::map<int64_t, std::vector<std::tuple<size_t, int64_t, int64_t, int64_t>>> wanted;  // example -> (hook, neuron, rank, position)
    {
      auto q = db.prepare("SELECT e.neuron_id, e.rank, e.example_id, e.position FROM exemplars e");
      while (q.step()) {
        const int64_t neuron_id = q.integer(0);
        size_t h = 0;
        while (h + 1 < hooks.size() && neuron_id >= hooks[h + 1].first_neuron_id) ++h;
        wanted[q.integer(2)].emplace_back(h, neuron_id - hooks[h].first_neuron_id, q.integer(1), q.integer(3));
      }
    }
    std::vector<int64_t> example_ids;
    for (const auto& [id, _] : wanted) example_ids.push_back(id);
    result.exemplar_examples = static_cast<int64_t>(example_ids.size());
    std::vector<std::vector<float>> maxima(hooks.size());  // per hook and neuron: scales the masks
    {
      auto q = db.prepare("SELECT max FROM neurons WHERE hook_id = ? ORDER BY idx");
      for (size_t h = 0; h < hooks.size(); ++h) {
        q.bind(1, hooks[h].id);
        while (q.step()) maxima[h].push_back(static_cast<float>(q.real(0)));
        q.reset();
      }
    }
    auto example_row =
        db.prepare("INSERT INTO examples (model_id, id, label_id, tokens_json, image_id, text) VALUES (?, ?, ?, ?, ?, ?)");
    auto image_row = db.prepare("INSERT INTO images (model_id, kind, width, height, png) VALUES (?, ?, ?, ?, ?)");
    auto acts_row = db.prepare("UPDATE exemplars SET acts_json = ?, mask_image_id = ?, window_start = ? WHERE neuron_id = ? AND rank = ?");
    Progress progress("atlas exemplars", static_cast<int64_t>(example_ids.size()), s.language_model ? "window" : "img");
    for (size_t begin = 0; begin < example_ids.size(); begin += static_cast<size_t>(batch_size)) {
      const size_t count = std::min(example_ids.size() - begin, static_cast<size_t>(batch_size));
      std::vector<int64_t> chunk(example_ids.begin() + static_cast<std::ptrdiff_t>(begin),
                                 example_ids.begin() + static_cast<std::ptrdiff_t>(begin + count));
      at::Tensor index = torch::tensor(chunk, torch::kLong);
      at::Tensor rows = s.data->inputs().index_select(0, index);
      at::Tensor labels = s.data->targets().index_select(0, index).to(torch::kLong);
      auto input = batch_input(s, rows);
      auto acts = run_hooks(s, hook_names, input.inputs, stop_at_layer);
      for (size_t b = 0; b < count; ++b) {
        const int64_t example = chunk[b];
        std::optional<int64_t> image_id;
        Json tokens_json;
        std::string text;  // the example as one string, for text search
        int64_t length = 0;
        if (s.language_model) {
          at::Tensor row = input.inputs[static_cast<int64_t>(b)];
          length = input.valid[static_cast<int64_t>(b)].sum().item<int64_t>();
          std::vector<int64_t> ids(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + length);
          tokens_json = display_tokens(*s.tokenizer, ids);
          for (const auto& piece : tokens_json) text += piece.get<std::string>();
        } else {
          at::Tensor image = rows[static_cast<int64_t>(b)];
          std::string png = input_png(image);
          image_row.bind(1, model_id).bind(2, "input").bind(3, image.size(-1)).bind(4, image.size(-2)).bind_blob(5, png.data(), png.size()).run();
          image_id = db.last_insert_id();
        }
        example_row.bind(1, model_id).bind(2, example).bind(3, labels[static_cast<int64_t>(b)].item<int64_t>());
        if (s.language_model) example_row.bind(4, tokens_json.dump()); else example_row.bind_null(4);
        example_row.bind(5, image_id);
        if (s.language_model) example_row.bind(6, text); else example_row.bind_null(6);
        example_row.run();
        for (const auto& [h, j, rank, position] : wanted[example]) {
          const AtlasHook& hook = hooks[h];
          const int64_t neuron_id = hook.first_neuron_id + j;
          at::Tensor a = acts[h][static_cast<int64_t>(b)].select(1, j).contiguous();  // [P]
          std::optional<int64_t> mask_id;
          std::string acts_text;
          std::optional<int64_t> window_start;
          if (s.language_model) {
            // Only a window around the maximum: whole windows would make the atlas ~20x larger.
            const int64_t first = std::max<int64_t>(0, position - options.context_before());
            const int64_t last = std::min<int64_t>(length, position + options.context_after() + 1);
            window_start = first;
            acts_text = display_array(a.data_ptr<float>() + first, std::max<int64_t>(0, last - first),
                                      std::fabs(maxima[h][static_cast<size_t>(j)]))
                            .dump();
          } else if (hook.height > 0) {
            std::string png = map_png(a.view({hook.height, hook.width}), 0.0, std::max(1e-12f, maxima[h][static_cast<size_t>(j)]));
            image_row.bind(1, model_id).bind(2, "mask").bind(3, hook.width).bind(4, hook.height).bind_blob(5, png.data(), png.size()).run();
            mask_id = db.last_insert_id();
          }
          if (acts_text.empty()) acts_row.bind_null(1); else acts_row.bind(1, acts_text);
          acts_row.bind(2, mask_id).bind(3, window_start).bind(4, neuron_id).bind(5, rank).run();
        }
      }
      progress.advance(static_cast<int64_t>(count));
    }
    progress.finish();
    set_build_value(db, "stage", "\"annotators\"");
    t.commit();
    stage = "annotators";
  }

  // Stage 3: annotators, one transaction each.
  AtlasContext context;
  context.options = &options;
  context.model_dir = s.model_dir;
  context.model_name = s.name;
  context.model = s.loaded.model.get();
  context.card = s.loaded.card;
  context.language_model = s.language_model;
  context.data = s.data;
  context.labels = s.labels;
  context.tokenizer = s.tokenizer.get();
  context.hooks = hooks;
  context.model_id = model_id;
  {
    auto q = db.prepare("SELECT label_id, mean, prob_active FROM neuron_labels WHERE neuron_id = ?");
    for (const auto& hook : hooks) {
      at::Tensor means = torch::zeros({std::max<int64_t>(1, static_cast<int64_t>(s.labels.size())), hook.neurons});
      at::Tensor probs = torch::zeros_like(means);
      auto means_a = means.accessor<float, 2>();
      auto probs_a = probs.accessor<float, 2>();
      for (int64_t j = 0; j < hook.neurons; ++j) {
        q.bind(1, hook.first_neuron_id + j);
        while (q.step()) {
          means_a[q.integer(0)][j] = static_cast<float>(q.real(1));
          probs_a[q.integer(0)][j] = static_cast<float>(q.real(2));
        }
        q.reset();
      }
      context.label_means.push_back(means);
      context.label_probability.push_back(probs);
    }
    auto sel = db.prepare("SELECT top_label, selectivity FROM neurons WHERE hook_id = ? ORDER BY idx");
    for (const auto& hook : hooks) {
      at::Tensor top = torch::full({hook.neurons}, -1, torch::kLong);
      at::Tensor index = torch::full({hook.neurons}, std::nanf(""), torch::kFloat);
      auto top_a = top.accessor<int64_t, 1>();
      auto index_a = index.accessor<float, 1>();
      sel.bind(1, hook.id);
      for (int64_t j = 0; sel.step() && j < hook.neurons; ++j) {
        if (!sel.is_null(0)) top_a[j] = sel.integer(0);
        if (!sel.is_null(1)) index_a[j] = static_cast<float>(sel.real(1));
      }
      sel.reset();
      context.top_label.push_back(top);
      context.selectivity.push_back(index);
    }
  }
  for (const auto& name : annotator_names) {
    auto done = db.prepare("SELECT summary_json FROM annotator_runs WHERE model_id = ? AND name = ?");
    done.bind(1, model_id).bind(2, name);
    if (done.step()) {
      result.annotators[name] = Json::parse(done.text(0));
      continue;
    }
    const auto& entry = annotator_registry().get(name);
    auto annotator = entry.make();
    if (!annotator->applies(context)) {
      result.annotators[name] = Json{{"skipped", "does not apply to this model"}};
      continue;
    }
    const double t0 = elapsed();
    if (options.progress()) std::fprintf(stderr, "atlas: annotator %s\n", name.c_str());
    Transaction t(db);
    AtlasWriter writer(db, model_id, name);
    Json summary = annotator->annotate(context, writer);
    summary["annotations"] = writer.written();
    db.prepare("INSERT INTO annotator_runs (model_id, name, seconds, summary_json) VALUES (?, ?, ?, ?)")
        .bind(1, model_id).bind(2, name).bind(3, elapsed() - t0).bind(4, summary.dump()).run();
    t.commit();
    result.annotators[name] = summary;
  }

  {
    Transaction t(db);
    set_build_value(db, "stage", "\"done\"");
    set_build_value(db, "complete", "true");
    set_build_value(db, "seconds", Json(elapsed()).dump());
    t.commit();
  }
  db.exec("VACUUM");
  // Renaming an open SQLite file is safe on POSIX: nothing is pending after the last commit.
  fs::rename(partial, options.out());
  result.seconds = elapsed();
  return result;
}

}  // namespace golgi::atlas
