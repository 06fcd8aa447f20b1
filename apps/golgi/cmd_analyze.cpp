// golgi analyze variance-explained: how much of a representation a feature explains
// (methods/repr_bias/variance_explained.h; Lampinen, Chan & Hermann 2024, paper id `repr-bias`).
//
// Two sources of representations and features:
//   .npy files   --train-reps, --val-reps, --test-reps ([n, ...]) and --val-feature, --test-feature
//                ([n] or [n, F]: F features, one R² each);
//   a model      --model DIR --hook NAME: the hook's activations over the dataset's --train-split
//                (the centre) and --eval-split, which is split by a seeded permutation into the
//                validation part (--val-fraction) and the test part; the feature is the label.
// Output: JSON on stdout, and written atomically to --out when given.
#include <cstdio>

#include <fmt/core.h>
#include <torch/torch.h>

#include "cli.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/seed.h"
#include "golgi/data/dataset.h"
#include "golgi/data/registry.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/methods/repr_bias/repr_bias.h"
#include "golgi/methods/repr_bias/variance_explained.h"

namespace golgi::cli {

namespace {

struct VarianceArgs {
  std::string train_reps, val_reps, test_reps, val_feature, test_feature;
  std::vector<std::string> names;
  std::string model, hook, dataset, data_dir, train_split = "train", eval_split = "test", save_representations;
  double val_fraction = 0.5;
  int64_t limit = 0, batch_size = 256, seed = 0;
  std::string encoding = "auto", out;
  bool no_intercept = false;
};

at::Tensor load(const std::string& path, const char* what) {
  GOLGI_CHECK(!path.empty(), "golgi analyze variance-explained: ", what, " is missing");
  return io::load_npy(path);
}

// [n] -> [n, 1]; [n, F] stays; anything else is an error naming the file.
at::Tensor feature_columns(const at::Tensor& f, const std::string& path) {
  GOLGI_CHECK(f.dim() == 1 || f.dim() == 2, "golgi analyze variance-explained: the feature file '", path,
              "' must hold [n] (one feature) or [n, F] (F features), got ", f.sizes());
  return f.dim() == 1 ? f.unsqueeze(1) : f;
}

// The activations of `hook` for every example of `data`, [n, ...] float32.
at::Tensor record(models::Model& model, const std::string& hook, const data::Dataset& data, int64_t batch_size,
                  const std::string& label) {
  Progress progress(label, data.size(), "img");
  std::vector<at::Tensor> parts;
  for (int64_t begin = 0; begin < data.size(); begin += batch_size) {
    const int64_t end = std::min(data.size(), begin + batch_size);
    parts.push_back(methods::representation(model, hook, data.range(begin, end).inputs, batch_size));
    progress.set(end);
  }
  progress.finish();
  return torch::cat(parts, 0);
}

Json run_variance_explained(const VarianceArgs& a) {
  const auto options = methods::VarianceExplainedOptions().encoding(a.encoding).intercept(!a.no_intercept);
  const bool from_files = !a.val_reps.empty() || !a.test_reps.empty() || !a.train_reps.empty();
  GOLGI_CHECK(from_files != !a.model.empty(),
              "golgi analyze variance-explained: give either representation files (--train-reps, --val-reps, "
              "--test-reps with --val-feature, --test-feature) or --model DIR --hook NAME, not both and not neither");
  at::Tensor train, val, test, fval, ftest;
  Json source;
  if (from_files) {
    train = load(a.train_reps, "--train-reps");
    val = load(a.val_reps, "--val-reps");
    test = load(a.test_reps, "--test-reps");
    fval = feature_columns(load(a.val_feature, "--val-feature"), a.val_feature);
    ftest = feature_columns(load(a.test_feature, "--test-feature"), a.test_feature);
    GOLGI_CHECK(fval.size(1) == ftest.size(1), "golgi analyze variance-explained: --val-feature has ", fval.size(1),
                " feature(s) but --test-feature has ", ftest.size(1));
    source = {{"train_reps", a.train_reps}, {"val_reps", a.val_reps}, {"test_reps", a.test_reps},
              {"val_feature", a.val_feature}, {"test_feature", a.test_feature}};
  } else {
    GOLGI_CHECK(!a.hook.empty(), "golgi analyze variance-explained: --model needs --hook (a hook point, e.g. "
                "layers.1.hook_post; `golgi inspect --model DIR` lists them)");
    GOLGI_CHECK(a.val_fraction > 0 && a.val_fraction < 1, "golgi analyze variance-explained: --val-fraction must be in "
                "(0, 1), got ", a.val_fraction);
    auto train_data = load_model_and_data(a.model, a.dataset, a.train_split, a.data_dir, a.limit);
    data::DataOptions eval_options;
    eval_options.split = a.eval_split;
    eval_options.data_dir = a.data_dir;
    auto eval = data::load_dataset(train_data.dataset, eval_options);
    if (a.limit > 0 && a.limit < eval->size()) eval = eval->head(a.limit);
    GOLGI_CHECK(eval->size() >= 2, "golgi analyze variance-explained: the ", a.eval_split,
                " split has fewer than 2 examples; it is split into validation and test parts");
    auto [val_data, test_data] =
        eval->split_by(a.val_fraction, derive_seed(static_cast<uint64_t>(a.seed), "analyze/val-test"), "val", "test");
    auto& model = *train_data.model;
    train = record(model, a.hook, *train_data.data, a.batch_size, "train reps");
    val = record(model, a.hook, *val_data, a.batch_size, "val reps");
    test = record(model, a.hook, *test_data, a.batch_size, "test reps");
    fval = val_data->targets().unsqueeze(1);
    ftest = test_data->targets().unsqueeze(1);
    source = {{"model", a.model}, {"hook", a.hook}, {"dataset", train_data.dataset}, {"train_split", a.train_split},
              {"eval_split", a.eval_split}, {"val_fraction", a.val_fraction}, {"seed", a.seed}, {"limit", a.limit},
              {"feature", "label"}};
    if (!a.save_representations.empty()) {
      io::make_dirs(a.save_representations);
      io::save_npy(a.save_representations + "/train_reps.npy", train.contiguous());
      io::save_npy(a.save_representations + "/val_reps.npy", val.contiguous());
      io::save_npy(a.save_representations + "/test_reps.npy", test.contiguous());
      io::save_npy(a.save_representations + "/val_feature.npy", val_data->targets().contiguous());
      io::save_npy(a.save_representations + "/test_feature.npy", test_data->targets().contiguous());
      source["saved_representations"] = a.save_representations;
    }
  }
  const int64_t features = fval.size(1);
  GOLGI_CHECK(a.names.empty() || static_cast<int64_t>(a.names.size()) == features, "golgi analyze variance-explained: ",
              a.names.size(), " --names for ", features, " feature(s)");
  Json results = Json::array();
  for (int64_t k = 0; k < features; ++k) {
    auto r = methods::variance_explained(train, val, fval.select(1, k), test, ftest.select(1, k), options);
    Json j = r.to_json();
    j["feature"] = a.names.empty() ? (from_files ? "column " + std::to_string(k) : std::string("label"))
                                   : a.names[static_cast<size_t>(k)];
    if (r.encoding == "one-hot") {
      // The closed form on the test split alone (its own mean): equals r2 when train = val = test.
      j["eta2_test"] = methods::eta_squared(test, ftest.select(1, k)).pooled;
    }
    results.push_back(j);
  }
  return {{"method", "variance-explained"},
          {"paper", "repr-bias (Lampinen, Chan & Hermann 2024)"},
          {"options", methods::VarianceExplainedOptions::schema().to_json(options)},
          {"source", source},
          {"rows", {{"train", train.size(0)}, {"val", val.size(0)}, {"test", test.size(0)}}},
          {"features", results},
          {"command", command_line()}};
}

Command add_variance_explained(CLI::App& group) {
  auto a = std::make_shared<VarianceArgs>();
  auto* sub = group.add_subcommand(
      "variance-explained",
      "Share of a representation's variance that a feature explains (Lampinen, Chan & Hermann 2024):\n"
      "phi = representation - training mean; W* = least squares from the feature (one-hot or scalar, with an\n"
      "intercept) to phi on the validation rows; R2 = 1 - sum |W* f - phi|^2 / sum |phi|^2 on the test rows.\n"
      "Representations from .npy files, or from a saved model's hook point over a dataset whose label is the\n"
      "feature (the evaluation split is cut into validation and test parts). Prints JSON (see\n"
      "docs/methods/repr-bias.md).\n"
      "Examples:\n"
      "  golgi analyze variance-explained --train-reps tr.npy --val-reps va.npy --test-reps te.npy \\\n"
      "      --val-feature fva.npy --test-feature fte.npy --names easy,hard --out r2.json\n"
      "  golgi analyze variance-explained --model runs/mlp-fashion --hook layers.1.hook_post --limit 2000");
  auto* files = "representation files";
  sub->add_option("--train-reps", a->train_reps, "[n, ...] .npy whose mean is the centre")->group(files);
  sub->add_option("--val-reps", a->val_reps, "[n, ...] .npy the fit uses")->group(files);
  sub->add_option("--test-reps", a->test_reps, "[n, ...] .npy R2 is measured on")->group(files);
  sub->add_option("--val-feature", a->val_feature, "[n] or [n, F] .npy: the feature(s) of the validation rows")->group(files);
  sub->add_option("--test-feature", a->test_feature, "[n] or [n, F] .npy: the feature(s) of the test rows")->group(files);
  sub->add_option("--names", a->names, "names of the F features (comma-separated)")->delimiter(',')->group(files);
  auto* model = "model and dataset (feature: the label)";
  sub->add_option("--model", a->model, "model folder")->group(model);
  sub->add_option("--hook", a->hook, "hook point whose activations are the representation")->group(model);
  sub->add_option("--dataset", a->dataset, "dataset (default: the model card's)")->group(model);
  sub->add_option("--data-dir", a->data_dir, "dataset folder")->group(model);
  sub->add_option("--train-split", a->train_split, "split whose mean centres the representation")
      ->capture_default_str()->group(model);
  sub->add_option("--eval-split", a->eval_split, "split cut into validation and test parts")
      ->capture_default_str()->group(model);
  sub->add_option("--val-fraction", a->val_fraction, "share of the evaluation split used for the fit")
      ->capture_default_str()->group(model);
  sub->add_option("--limit", a->limit, "only the first N examples of each split (0: all)")
      ->check(CLI::NonNegativeNumber)->group(model);
  sub->add_option("--batch-size", a->batch_size, "examples per forward pass")
      ->check(CLI::PositiveNumber)->capture_default_str()->group(model);
  sub->add_option("--seed", a->seed, "seed of the validation/test cut")->check(CLI::NonNegativeNumber)
      ->capture_default_str()->group(model);
  sub->add_option("--save-representations", a->save_representations,
                  "also write the recorded representations and labels as .npy files into this folder")->group(model);
  sub->add_option("--encoding", a->encoding, "feature encoding: one-hot, scalar, or auto (one-hot for integer values)")
      ->check(CLI::IsMember({"auto", "one-hot", "scalar"}))->capture_default_str();
  sub->add_flag("--no-intercept", a->no_intercept, "fit without an intercept column");
  sub->add_option("--out", a->out, "also write the JSON to this file (atomically)");
  return {sub, [a] {
            Json result = run_variance_explained(*a);
            if (!a->out.empty()) io::write_json_file(a->out, result);
            std::printf("%s\n", result.dump(2).c_str());
            if (!progress_quiet())
              for (const auto& f : result["features"])
                fmt::print(stderr, "{}: R2 = {:.6f} (fit rows {}, test rows {}, {} dims, {})\n",
                           f["feature"].get<std::string>(), f["r2"].get<double>(), f["val_rows"].get<int64_t>(),
                           f["test_rows"].get<int64_t>(), f["dims"].get<int64_t>(), f["encoding"].get<std::string>());
            return kExitOk;
          }};
}

}  // namespace

Command add_analyze(CLI::App& app) {
  auto* group = app.add_subcommand(
      "analyze", "Analyses of recorded representations (variance-explained: how much of a representation each feature explains).");
  group->require_subcommand(1);
  auto commands = std::make_shared<std::vector<Command>>(std::vector<Command>{add_variance_explained(*group)});
  return {group, [commands] {
            for (const auto& c : *commands)
              if (c.app->parsed()) return c.run();
            return kExitError;
          }};
}

}  // namespace golgi::cli
