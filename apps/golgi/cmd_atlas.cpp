// golgi atlas build | info: the neuron atlas (src/golgi/atlas, docs/atlas.md).
#include <cstdio>

#include "cli.h"
#include "golgi/atlas/builder.h"
#include "golgi/atlas/schema.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"

namespace golgi::cli {

namespace {

std::string join_lines(const std::vector<std::string>& lines, const std::string& indent) {
  std::string out;
  for (const auto& line : lines) out += indent + line + "\n";
  return out;
}

Command add_atlas_build(CLI::App& group) {
  auto options = std::make_shared<atlas::AtlasBuildOptions>();
  auto hooks = std::make_shared<std::vector<std::string>>();
  auto annotators = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"all"});
  auto* sub = group.add_subcommand(
      "build",
      "Build a neuron atlas: one SQLite file saying what every neuron of a model does (docs/atlas.md).\n"
      "Streams the dataset once through the model and keeps, for every neuron of the chosen hook points: mean,\n"
      "std, min, max, P(active), the same per label (language or class), an activation histogram (reservoir\n"
      "sample) and the top-k exemplars (streaming; memory is neurons x k). Then reruns the exemplar inputs to\n"
      "store per-token activations (text) or activation-map masks (images), and runs the annotators.\n"
      "Writes OUT.partial and renames it to OUT when complete; a killed build resumes when the same command\n"
      "runs again. An existing complete OUT is left alone (pass --restart to rebuild).\n"
      "Annotators (--annotators all|none|a,b):\n" +
          join_lines(atlas::describe_annotators(), "  ") +
          "Examples:\n"
          "  golgi atlas build --model assets/models/tiny-multilingual --out atlases/tiny-multilingual.db\n"
          "  golgi atlas build --model assets/models/fashion-cnn --limit 2000 --out atlases/fashion-cnn.db");
  sub->add_option("--hooks", *hooks,
                  "hook points or patterns to record (default: blocks.*.mlp.hook_post for language models; every\n"
                  "*.hook_post and head.hook_out otherwise)")
      ->delimiter(',');
  sub->add_option("--annotators", *annotators, "annotators to run: all, none or a comma-separated list")->delimiter(',');
  auto flags = std::make_shared<SchemaFlags<atlas::AtlasBuildOptions>>(sub, atlas::AtlasBuildOptions::schema(), *options,
                                                                       std::vector<std::string>{"progress", "restart"});
  auto restart = std::make_shared<bool>(false);
  sub->add_flag("--restart", *restart, "discard an unfinished OUT.partial (and rebuild a complete OUT) instead of resuming");
  sub->get_option("--model")->required();
  sub->get_option("--out")->required();
  return {sub, [options, hooks, annotators, flags, restart] {
            flags->apply(*options);
            options->hooks(*hooks);
            options->annotators(*annotators);
            options->restart(*restart);
            options->progress(!progress_quiet());
            auto result = atlas::build_atlas(*options);
            if (result.already_complete) {
              std::fprintf(stderr, "%s is already a complete atlas; nothing to do (--restart rebuilds it)\n",
                           result.path.c_str());
            } else {
              std::fprintf(stderr, "atlas %s: %lld neurons, %lld examples (%lld positions), %lld exemplar inputs, %.1f s\n",
                           result.path.c_str(), static_cast<long long>(result.neurons),
                           static_cast<long long>(result.examples), static_cast<long long>(result.positions),
                           static_cast<long long>(result.exemplar_examples), result.seconds);
            }
            std::printf("%s\n", result.to_json().dump(2).c_str());
            return kExitOk;
          }};
}

Command add_atlas_info(CLI::App& group) {
  auto path = std::make_shared<std::string>();
  auto* sub = group.add_subcommand("info", "Print an atlas's model, hooks, counts and build record as JSON.");
  sub->add_option("atlas", *path, "atlas file")->required();
  return {sub, [path] {
            atlas::Database db = atlas::open_atlas(*path);
            Json out;
            out["schema_version"] = atlas::schema_version(db);
            auto build = db.prepare("SELECT key, value FROM build_info ORDER BY key");
            while (build.step()) out["build"][build.text(0)] = Json::parse(build.text(1));
            auto model = db.prepare("SELECT name, architecture, task, source_path, dataset, split, examples, positions FROM models");
            while (model.step())
              out["model"] = Json{{"name", model.text(0)},     {"architecture", model.text(1)}, {"task", model.text(2)},
                                  {"source_path", model.text(3)}, {"dataset", model.text(4)},    {"split", model.text(5)},
                                  {"examples", model.integer(6)}, {"positions", model.integer(7)}};
            auto hooks = db.prepare("SELECT name, layer, kind, neurons, positions_per_example FROM hooks ORDER BY ord");
            while (hooks.step())
              out["hooks"].push_back(Json{{"name", hooks.text(0)}, {"layer", hooks.integer(1)}, {"kind", hooks.text(2)},
                                          {"neurons", hooks.integer(3)}, {"positions", hooks.integer(4)}});
            auto counts = db.prepare("SELECT method, kind, count(*) FROM annotations GROUP BY method, kind ORDER BY method, kind");
            while (counts.step())
              out["annotations"].push_back(Json{{"method", counts.text(0)}, {"kind", counts.text(1)}, {"count", counts.integer(2)}});
            auto runs = db.prepare("SELECT name, seconds, summary_json FROM annotator_runs ORDER BY rowid");
            while (runs.step())
              out["annotators"][runs.text(0)] = Json{{"seconds", runs.real(1)}, {"summary", Json::parse(runs.text(2))}};
            auto sizes = db.prepare("SELECT (SELECT count(*) FROM neurons), (SELECT count(*) FROM exemplars), (SELECT count(*) FROM images)");
            sizes.step();
            out["rows"] = Json{{"neurons", sizes.integer(0)}, {"exemplars", sizes.integer(1)}, {"images", sizes.integer(2)}};
            std::printf("%s\n", out.dump(2).c_str());
            return kExitOk;
          }};
}

}  // namespace

Command add_atlas(CLI::App& app) {
  auto* group = app.add_subcommand("atlas", "Build and inspect neuron atlases (docs/atlas.md); view them with `golgi serve`.");
  group->require_subcommand(1);
  auto commands = std::make_shared<std::vector<Command>>(std::vector<Command>{add_atlas_build(*group), add_atlas_info(*group)});
  return {group, [commands] {
            for (const auto& c : *commands)
              if (c.app->parsed()) return c.run();
            return kExitError;
          }};
}

}  // namespace golgi::cli
