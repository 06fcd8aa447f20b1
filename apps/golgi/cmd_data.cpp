// golgi data list | info | build: the dataset registry, and datasets made offline (docs/datasets.md).
#include <cstdio>

#include "cli.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/runtime.h"
#include "golgi/data/espeak_digits.h"
#include "golgi/data/registry.h"

namespace golgi::cli {

namespace {

// Datasets that `golgi data build` makes; every other dataset is generated on load or read from a
// Debian package, so there is nothing to build.
const std::vector<std::string> kBuildable = {"espeak-digits"};

bool buildable(const std::string& name) {
  for (const auto& b : kBuildable)
    if (b == name) return true;
  return false;
}

Command add_data_list(CLI::App& group) {
  auto json = std::make_shared<bool>(false);
  auto* sub = group.add_subcommand("list", "List every registered dataset with its description.");
  sub->add_flag("--json", *json, "print JSON instead of text");
  return {sub, [json] {
            const auto& entries = data::dataset_registry().entries();
            if (*json) {
              Json out = Json::array();
              for (const auto& e : entries)
                out.push_back(Json{{"name", e.name}, {"description", e.description}, {"build", buildable(e.name)}});
              std::printf("%s\n", out.dump(2).c_str());
              return kExitOk;
            }
            for (const auto& e : entries)
              std::printf("%-24s %s%s\n", e.name.c_str(), e.description.c_str(),
                          buildable(e.name) ? " [golgi data build]" : "");
            return kExitOk;
          }};
}

Command add_data_info(CLI::App& group) {
  auto name = std::make_shared<std::string>();
  auto options = std::make_shared<data::DataOptions>();
  options->split = "test";
  auto* sub = group.add_subcommand("info", "Load one split of a dataset and print its size, shape, classes and card as JSON.");
  sub->add_option("name", *name, "dataset name (see `golgi data list`)")->required();
  sub->add_option("--split", options->split, "split to load (train or test)")->capture_default_str();
  sub->add_option("--data-dir", options->data_dir, "dataset folder (default: the dataset's own)");
  sub->add_option("--seed", options->seed, "seed of generated datasets")->capture_default_str();
  return {sub, [name, options] {
            auto ds = data::load_dataset(*name, *options);
            std::vector<int64_t> counts(static_cast<size_t>(ds->num_classes()), 0);
            auto y = ds->targets().contiguous();
            const int64_t* labels = y.data_ptr<int64_t>();
            for (int64_t i = 0; i < ds->size(); ++i)
              if (labels[i] >= 0 && labels[i] < ds->num_classes()) ++counts[static_cast<size_t>(labels[i])];
            Json out = {{"name", ds->name()},
                        {"split", ds->split()},
                        {"samples", ds->size()},
                        {"sample_shape", ds->sample_shape()},
                        {"classes", ds->num_classes()},
                        {"per_class", counts},
                        {"card", ds->card()}};
            std::printf("%s\n", out.dump(2).c_str());
            return kExitOk;
          }};
}

Command add_data_build(CLI::App& group) {
  auto name = std::make_shared<std::string>();
  auto options = std::make_shared<data::EspeakDigitsOptions>();
  auto* sub = group.add_subcommand(
      "build",
      "Build a dataset that golgi makes offline and caches on disk (docs/datasets.md).\n"
      "  espeak-digits  spoken digits 0-9 in English and German (20 classes) synthesised with espeak-ng across\n"
      "                 voices, speeds and pitches, resampled with sox to 16 kHz, through a 64-channel cochlea front\n"
      "                 end to spikes [100 steps of 10 ms, 64 channels]. Needs espeak-ng and sox (scripts/setup.sh).\n"
      "                 Deterministic given --seed; writes train/test .npy tensors and manifest.json (last,\n"
      "                 atomically) to --out (default $GOLGI_DATA_DIR/espeak-digits or ~/.cache/golgi/espeak-digits).\n"
      "                 Each word starts at a random 20..20+shift-ms ms and gets white noise at 10..30 dB SNR\n"
      "                 (--noise false for clean audio). --threads N runs N synthesis workers (default: all cores).\n"
      "Example:\n"
      "  golgi data build espeak-digits --per-class 60 --seed 0");
  sub->add_option("name", *name, "dataset to build: espeak-digits")->required();
  auto flags = std::make_shared<SchemaFlags<data::EspeakDigitsOptions>>(
      sub, data::EspeakDigitsOptions::schema(), *options, std::vector<std::string>{"progress", "threads"});
  return {sub, [name, options, flags] {
            if (!buildable(*name)) {
              data::dataset_registry().get(*name);  // an unknown name: the registry's error with suggestions
              GOLGI_FAIL("dataset '", *name, "' needs no build: it is generated on load or read from its Debian "
                         "package (`golgi data list`); buildable: espeak-digits");
            }
            flags->apply(*options);
            options->threads(threads());
            options->progress(!progress_quiet());
            auto result = data::build_espeak_digits(*options);
            std::fprintf(stderr, "espeak-digits: %lld train + %lld test samples in %s, %.1f s with %lld workers\n",
                         static_cast<long long>(result.train), static_cast<long long>(result.test), result.dir.c_str(),
                         result.seconds, static_cast<long long>(result.workers));
            std::printf("%s\n", result.to_json().dump(2).c_str());
            return kExitOk;
          }};
}

}  // namespace

Command add_data(CLI::App& app) {
  auto* group = app.add_subcommand("data", "List, inspect and build datasets (docs/datasets.md).");
  group->require_subcommand(1);
  auto commands = std::make_shared<std::vector<Command>>(
      std::vector<Command>{add_data_list(*group), add_data_info(*group), add_data_build(*group)});
  return {group, [commands] {
            for (const auto& c : *commands)
              if (c.app->parsed()) return c.run();
            return kExitError;
          }};
}

}  // namespace golgi::cli
