// golgi compare: do two networks learn the same units? Correlations, one-to-one matching, semi-
// matching, mutual information, sparse prediction and spectral groups at one or more hook points
// (methods/convergent, Li et al. 2016). A thin caller of the library.
#include <cctype>
#include <cstdio>
#include <filesystem>

#include <fmt/core.h>
#include <torch/torch.h>

#include "cli.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/methods/convergent/convergent.h"
#include "golgi/models/registry.h"

namespace golgi::cli {

namespace {

struct CompareArgs {
  std::string model_a, model_b, dataset, split = "test", data_dir, out = "compare";
  std::vector<std::string> hooks;
  int64_t limit = 1000, seed = 0;
  bool annotate = false;
};

// "conv1.hook_post" -> a folder name without surprises.
std::string hook_folder(const std::string& hook) {
  std::string s = hook;
  for (auto& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) c = '_';
  return s;
}

at::Tensor long_tensor(const std::vector<int64_t>& v) { return torch::tensor(v, torch::kLong); }

}  // namespace

Command add_compare(CLI::App& app) {
  auto args = std::make_shared<CompareArgs>();
  auto* sub = app.add_subcommand(
      "compare",
      "Compare the units of two models at hook points (convergent learning, Li et al. 2016): correlations\n"
      "over images x positions, the one-to-one matching that maximises the summed correlation (exact), the\n"
      "semi-matching (each unit's best partner), mutual information of matched units, sparse (lasso)\n"
      "prediction of B's units from A's layer, and spectral groups of both models' units together.\n"
      "Writes DIR/compare.json (summary and per-unit lists for every hook) and, per hook, DIR/<hook>/\n"
      "corr_aa.npy, corr_bb.npy, corr_ab.npy (float64), matching.npy and semi_match.npy (int64 [units_a],\n"
      "-1 unmatched). --annotate also writes MODEL_A/convergent.json, which `golgi atlas build` turns into\n"
      "per-neuron 'match' annotations (annotator 'convergent'). See docs/methods/convergent.md.\n"
      "Example: golgi compare --model-a runs/cnn-s0 --model-b runs/cnn-s1 --hook conv1.hook_post\n"
      "         --hook conv3.hook_post --limit 500 --out cmp");
  sub->add_option("--model-a", args->model_a, "first model folder")->required();
  sub->add_option("--model-b", args->model_b, "second model folder (same input shape)")->required();
  sub->add_option("--hook", args->hooks, "hook point to compare (repeatable; e.g. conv1.hook_post)")->required();
  sub->add_option("--dataset", args->dataset, "dataset (default: the one model A's card names)");
  sub->add_option("--split", args->split, "dataset split")->capture_default_str();
  sub->add_option("--data-dir", args->data_dir, "dataset folder (default: the dataset's own)");
  sub->add_option("--limit", args->limit, "only the first N images (0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--out", args->out, "output folder (created)")->capture_default_str();
  sub->add_option("--seed", args->seed, "seed of the kept positions and of k-means")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_flag("--annotate", args->annotate,
                "also write MODEL_A/convergent.json (the matching per hook) for the atlas annotator 'convergent'");
  auto analysis = std::make_shared<SchemaFlags<methods::ConvergentOptions>>(
      sub, methods::ConvergentOptions::schema(), methods::ConvergentOptions(), std::vector<std::string>{"seed"});
  auto record = std::make_shared<SchemaFlags<methods::RecordOptions>>(
      sub, methods::RecordOptions::schema(), methods::RecordOptions(), std::vector<std::string>{"seed"});
  return {sub, [args, analysis, record] {
            methods::ConvergentOptions options;
            analysis->apply(options);
            options.seed(args->seed);
            methods::RecordOptions record_options;
            record->apply(record_options);
            record_options.seed(args->seed);
            auto a = load_model_and_data(args->model_a, args->dataset, args->split, args->data_dir, args->limit);
            auto b = models::load_model(args->model_b);
            GOLGI_CHECK(a.model->input_shape() == b.model->input_shape(),
                        "golgi compare: the models take different inputs (", Json(a.model->input_shape()).dump(), " vs ",
                        Json(b.model->input_shape()).dump(), "); compare models trained on the same data");
            GOLGI_CHECK(a.model->task() == "classify" && b.model->task() == "classify",
                        "golgi compare: only image classifiers are supported (their hooks give [N, C, H, W] or [N, C])");
            auto samples_a = methods::record_unit_samples(*a.model, *a.data, args->hooks, record_options);
            auto samples_b = methods::record_unit_samples(*b.model, *a.data, args->hooks, record_options);
            io::make_dirs(args->out);
            Json hooks = Json::object();
            Json annotation_hooks = Json::array();
            Progress progress("compare", static_cast<int64_t>(args->hooks.size()), "hook");
            for (const auto& hook : args->hooks) {
              const auto r = methods::compare_units(samples_a.at(hook), samples_b.at(hook), options);
              const std::string dir = args->out + "/" + hook_folder(hook);
              io::make_dirs(dir);
              io::save_npy(dir + "/corr_aa.npy", r.corr_aa.contiguous());
              io::save_npy(dir + "/corr_bb.npy", r.corr_bb.contiguous());
              io::save_npy(dir + "/corr_ab.npy", r.corr_ab.contiguous());
              io::save_npy(dir + "/matching.npy", long_tensor(r.matching.row_to_col));
              io::save_npy(dir + "/semi_match.npy", long_tensor(r.semi_match));
              Json j = r.to_json();
              j["files"] = {{"corr_aa", hook_folder(hook) + "/corr_aa.npy"},
                            {"corr_bb", hook_folder(hook) + "/corr_bb.npy"},
                            {"corr_ab", hook_folder(hook) + "/corr_ab.npy"},
                            {"matching", hook_folder(hook) + "/matching.npy"},
                            {"semi_match", hook_folder(hook) + "/semi_match.npy"}};
              annotation_hooks.push_back({{"hook", hook},
                                          {"units", r.units_a},
                                          {"other_units", r.units_b},
                                          {"matching", j["matching"]},
                                          {"matched_corr", j["matched_corr"]},
                                          {"semi_match", j["semi_match"]},
                                          {"semi_corr", j["semi_corr"]},
                                          {"mean_matched_corr", j["mean_matched_corr"]}});
              if (!progress_quiet())
                progress.message(fmt::format("{}: {} x {} units, {} samples, mean matched corr {:.3f}, semi {:.3f}", hook,
                                             r.units_a, r.units_b, r.samples, r.mean_matched_corr, r.mean_semi_corr));
              hooks[hook] = std::move(j);
              progress.advance();
            }
            progress.finish();
            Json summary = {{"format", "golgi-compare"},
                            {"model_a", args->model_a},
                            {"model_b", args->model_b},
                            {"dataset", a.dataset},
                            {"split", args->split},
                            {"images", a.data->size()},
                            {"seed", args->seed},
                            {"options", methods::ConvergentOptions::schema().to_json(options)},
                            {"record_options", methods::RecordOptions::schema().to_json(record_options)},
                            {"hooks", hooks},
                            {"command", command_line()}};
            io::write_json_file(args->out + "/compare.json", summary);
            if (args->annotate) {
              const std::string folder = models::model_folder(args->model_a);
              io::write_json_file(folder + "/convergent.json",
                                  {{"format", "golgi-convergent"},
                                   {"version", 1},
                                   {"other_model", args->model_b},
                                   {"other_name", std::filesystem::path(models::model_folder(args->model_b))
                                                      .lexically_normal()
                                                      .filename()
                                                      .string()},
                                   {"dataset", a.dataset},
                                   {"images", a.data->size()},
                                   {"hooks", annotation_hooks},
                                   {"command", command_line()}});
              if (!progress_quiet()) fmt::print(stderr, "wrote {}/convergent.json\n", folder);
            }
            std::printf("%s\n", Json({{"out", args->out + "/compare.json"}, {"hooks", args->hooks.size()}}).dump().c_str());
            return kExitOk;
          }};
}

}  // namespace golgi::cli
