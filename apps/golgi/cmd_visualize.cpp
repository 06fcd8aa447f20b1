// golgi visualize: activation-maximisation images of a saved image classifier
// (methods/feature_vis/activation_max.h): for each target (a class logit or log-probability, or a
// neuron HOOK:INDEX) and each of K starts, gradient ascent on the input with jitter, scaling, TV and
// L2 regularisers, clipped to the data range [lo, hi].
//
// Writes OUT/images.npy ([targets, starts, ...input_shape], float32, model input units),
// OUT/visualize.json (per target, in row order: its kind, class or neuron, and per start the final
// objective, the target probability and the steps taken) and OUT/grid.png (one row per target, one
// column per start, [lo, hi] mapped to black..white, enlarged --upscale times).
//
// The data range: --lo/--hi when given; otherwise Fashion-MNIST's as golgi normalises it
// (-0.8102 .. 2.0227) when the card (or --dataset) names fashion-mnist; otherwise the min and max of
// the dataset's inputs; with no dataset known, --lo and --hi are required.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <torch/torch.h>

#include "cli.h"
#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/data/registry.h"
#include "golgi/hooks/neuron_ref.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/image_compose.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/methods/feature_vis/activation_max.h"
#include "golgi/models/registry.h"

namespace golgi::cli {

namespace {

struct VisualizeArgs {
  std::string model, classes, dataset, split = "train", data_dir, init = "noise", out;
  std::vector<std::string> neurons;
  bool all_classes = false;
  int64_t starts = 4, upscale = 4;
  double lo = 0.0, hi = 0.0;
};

// Fashion-MNIST's pixel range [0, 1] in golgi's normalised units, (p − 0.2860) / 0.3530.
constexpr double kFashionLo = -0.8102, kFashionHi = 2.0227;

// One row of the grid: a class or a neuron, and where its K images sit in the result.
struct Target {
  std::string kind;  // "class" or "neuron"
  int64_t cls = -1;
  std::string neuron;
};

}  // namespace

Command add_visualize(CLI::App& app) {
  auto args = std::make_shared<VisualizeArgs>();
  auto* sub = app.add_subcommand(
      "visualize",
      "Activation maximisation (Erhan et al. 2009; regularisers of Nguyen, Yosinski & Clune 2016): images that\n"
      "make a class or a neuron fire strongly, by gradient ascent on the input from --starts starting points each.\n"
      "Writes OUT/images.npy [targets, starts, ...], OUT/visualize.json (objective, probability, steps per image)\n"
      "and OUT/grid.png (rows = targets in the JSON order, columns = starts).\n"
      "Example: golgi visualize assets/models/fashion-cnn --all-classes --starts 4 --steps 200 --tv-weight 20\n"
      "         --jitter 2 --out runs/vis");
  sub->add_option("model", args->model, "model folder (golgi train / save_model)")->required();
  auto* classes = sub->add_option("--classes", args->classes, "class indices to visualise (e.g. 0,3,7)");
  auto* all = sub->add_flag("--all-classes", args->all_classes, "visualise every class")->excludes(classes);
  sub->add_option("--neuron", args->neurons, "neurons HOOK:INDEX[@POS] to visualise (repeatable)");
  sub->add_option("--starts", args->starts, "starting images per target (grid columns)")
      ->check(CLI::Range(int64_t{1}, int64_t{64}))
      ->capture_default_str();
  sub->add_option("--init", args->init,
                  "starting images: noise (uniform in [lo, hi]), mean (the dataset's mean image) or zeros (0, clipped "
                  "to [lo, hi])")
      ->check(CLI::IsMember({"noise", "mean", "zeros"}))
      ->capture_default_str();
  auto* lo = sub->add_option("--lo", args->lo, "lowest input value, model input units (default: see below)");
  auto* hi = sub->add_option("--hi", args->hi, "highest input value, model input units");
  sub->add_option("--dataset", args->dataset, "dataset for the data range and --init mean (default: the card's)");
  sub->add_option("--split", args->split, "dataset split for the data range and the mean image")->capture_default_str();
  sub->add_option("--data-dir", args->data_dir, "dataset folder (default: the dataset's own)");
  sub->add_option("--upscale", args->upscale, "grid cells enlarged this many times (nearest neighbour)")
      ->check(CLI::Range(int64_t{1}, int64_t{16}))
      ->capture_default_str();
  sub->add_option("--out", args->out, "output folder (created)")->required();
  auto flags = std::make_shared<SchemaFlags<methods::ActivationMaxOptions>>(
      sub, methods::ActivationMaxOptions::schema(), methods::ActivationMaxOptions(),
      std::vector<std::string>{"neuron", "lo", "hi", "progress"});
  return {sub, [args, flags, classes, all, lo, hi] {
            methods::ActivationMaxOptions options;
            flags->apply(options);
            options.progress(true);
            GOLGI_CHECK(classes->count() > 0 || all->count() > 0 || !args->neurons.empty(),
                        "nothing to visualise; pass --classes 0,3,7, --all-classes or --neuron HOOK:INDEX");
            GOLGI_CHECK((lo->count() > 0) == (hi->count() > 0), "give both --lo and --hi, or neither");
            GOLGI_CHECK(options.objective() != "neuron",
                        "--objective neuron is implied by --neuron HOOK:INDEX; class targets take --objective logit or "
                        "log_probability");

            auto loaded = models::load_model(args->model);
            models::Model& model = *loaded.model;
            GOLGI_CHECK(model.task() == "classify", "'", args->model, "' is a ", model.task(), " ('",
                        model.architecture(), "'); golgi visualize optimises image inputs of classifiers");
            const std::vector<int64_t> input_shape = model.input_shape();
            model.eval();
            int64_t num_classes = 0;
            {
              torch::NoGradGuard no_grad;
              num_classes = model.forward(model.example_input(1)).size(1);
            }

            std::vector<Target> targets;
            std::vector<int64_t> class_list;
            if (all->count() > 0)
              for (int64_t c = 0; c < num_classes; ++c) class_list.push_back(c);
            else if (classes->count() > 0)
              class_list = parse_index_list(args->classes, "--classes", "--classes 0,3,7");
            for (int64_t c : class_list) {
              GOLGI_CHECK(c >= 0 && c < num_classes, "--classes: class ", c, " is out of range; the model has classes 0..",
                          num_classes - 1);
              targets.push_back({"class", c, ""});
            }
            for (const auto& text : args->neurons) {
              hooks::validate(hooks::NeuronRef::parse(text), model);
              targets.push_back({"neuron", -1, text});
            }

            // The dataset (for the range and the mean image), when one is named.
            std::string dataset_name = args->dataset;
            const Json& card = loaded.card["card"];
            if (dataset_name.empty() && card.contains("dataset") && card["dataset"].contains("name"))
              dataset_name = card["dataset"]["name"].get<std::string>();
            std::shared_ptr<data::Dataset> dataset;
            auto need_dataset = [&]() {
              if (dataset) return;
              data::DataOptions data_options;
              data_options.split = args->split;
              data_options.data_dir = args->data_dir;
              dataset = data::load_dataset(dataset_name, data_options);
              GOLGI_CHECK(dataset->sample_shape() == input_shape, "dataset '", dataset_name, "' has samples ",
                          Json(dataset->sample_shape()).dump(), " but the model takes ", Json(input_shape).dump(),
                          "; pass the model's dataset with --dataset");
            };
            std::string range_source;
            if (lo->count() > 0) {
              options.lo(args->lo).hi(args->hi);
              range_source = "--lo/--hi";
            } else if (dataset_name == "fashion-mnist") {
              options.lo(kFashionLo).hi(kFashionHi);
              range_source = "fashion-mnist pixels [0, 1], normalised";
            } else {
              GOLGI_CHECK(!dataset_name.empty(), "the card of '", args->model,
                          "' names no dataset, so the input range is unknown; pass --lo and --hi (model input units) "
                          "or --dataset");
              need_dataset();
              options.lo(dataset->inputs().min().item<double>()).hi(dataset->inputs().max().item<double>());
              range_source = "min/max of dataset '" + dataset_name + "' (" + args->split + ")";
            }
            GOLGI_CHECK(options.lo() < options.hi(), "the input range needs lo < hi, got lo ", options.lo(), ", hi ",
                        options.hi());
            if (args->init == "mean") {
              GOLGI_CHECK(!dataset_name.empty(), "--init mean needs a dataset; the card of '", args->model,
                          "' names none, so pass --dataset");
              need_dataset();
            }
            methods::ActivationMaxOptions::schema().validate(options);

            // Starting images [K, ...input_shape]; the same K starts for every target, so the columns
            // of the grid are comparable.
            const int64_t K = args->starts;
            std::vector<int64_t> batch_shape = {K};
            batch_shape.insert(batch_shape.end(), input_shape.begin(), input_shape.end());
            at::Tensor init;
            if (args->init == "noise") {
              auto gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(options.seed(), "visualize-init"));
              init = options.lo() + (options.hi() - options.lo()) * torch::rand(batch_shape, gen);
            } else if (args->init == "mean") {
              init = dataset->inputs().to(torch::kFloat).mean(0).unsqueeze(0).expand(batch_shape).contiguous();
            } else {
              init = torch::zeros(batch_shape);
            }
            init = init.to(torch::kFloat);

            std::vector<at::Tensor> images, objective, probability, steps;
            // Class targets run together (one row per class and start); each neuron on its own.
            std::vector<int64_t> class_rows;
            for (const auto& t : targets)
              if (t.kind == "class") class_rows.push_back(t.cls);
            methods::ActivationMaxResult class_result;
            if (!class_rows.empty()) {
              std::vector<int64_t> row_targets;
              for (int64_t c : class_rows)
                for (int64_t k = 0; k < K; ++k) row_targets.push_back(c);
              std::vector<int64_t> reps(batch_shape.size(), 1);
              reps[0] = static_cast<int64_t>(class_rows.size());
              methods::ActivationMaxOptions class_options = options;
              class_options.neuron("");
              class_result = methods::maximize_activation(model, init.repeat(reps), torch::tensor(row_targets), class_options);
            }
            size_t class_position = 0;
            for (const auto& t : targets) {
              if (t.kind == "class") {
                int64_t b = static_cast<int64_t>(class_position++) * K;
                images.push_back(class_result.images.slice(0, b, b + K));
                objective.push_back(class_result.objective.slice(0, b, b + K));
                probability.push_back(class_result.probability.slice(0, b, b + K));
                steps.push_back(class_result.steps_taken.slice(0, b, b + K));
              } else {
                methods::ActivationMaxOptions neuron_options = options;
                neuron_options.neuron(t.neuron).objective("neuron");
                auto r = methods::maximize_activation(model, init, at::Tensor(), neuron_options);
                images.push_back(r.images);
                objective.push_back(r.objective);
                probability.push_back(r.probability);
                steps.push_back(r.steps_taken);
              }
            }
            at::Tensor all_images = torch::stack(images).to(torch::kFloat).contiguous();  // [T, K, ...]

            // Grid: rows = targets, columns = starts; [lo, hi] -> [0, 1].
            const bool image_input = input_shape.size() == 3 && (input_shape[0] == 1 || input_shape[0] == 3);
            const bool grey_image = input_shape.size() == 2;
            io::make_dirs(args->out);
            io::save_npy(args->out + "/images.npy", all_images);
            Json figure = nullptr;
            if (image_input || grey_image) {
              at::Tensor cells = ((all_images.flatten(0, 1) - options.lo()) / (options.hi() - options.lo())).clamp(0, 1);
              io::GridOptions grid;
              grid.columns(K).scaling("unit").upscale(args->upscale);
              io::image_grid(cells, grid).save_png(args->out + "/grid.png");
              figure = {{"file", "grid.png"},
                        {"rows", "targets, in the order of 'targets'"},
                        {"columns", "starts 0..K-1"},
                        {"upscale", args->upscale},
                        {"scaling", "lo -> black, hi -> white"}};
            }

            Json class_names = Json::array();
            if (card.contains("dataset") && card["dataset"].contains("card") &&
                card["dataset"]["card"].contains("classes"))
              class_names = card["dataset"]["card"]["classes"];
            auto list = [](const at::Tensor& t) {
              Json out = Json::array();
              at::Tensor c = t.contiguous();
              for (int64_t i = 0; i < c.numel(); ++i) {
                if (at::isFloatingType(c.scalar_type())) {
                  double v = c[i].item<double>();
                  out.push_back(std::isfinite(v) ? Json(v) : Json(nullptr));
                } else {
                  out.push_back(c[i].item<int64_t>());
                }
              }
              return out;
            };
            Json rows = Json::array();
            for (size_t i = 0; i < targets.size(); ++i) {
              const auto& t = targets[i];
              Json row = {{"row", i}, {"kind", t.kind}};
              if (t.kind == "class") {
                row["class"] = t.cls;
                if (t.cls < static_cast<int64_t>(class_names.size())) row["name"] = class_names[t.cls];
                row["objective_kind"] = options.objective();
              } else {
                row["neuron"] = t.neuron;
                row["objective_kind"] = "neuron";
              }
              row["objective"] = list(objective[i]);
              row["probability"] = list(probability[i]);
              row["steps"] = list(steps[i]);
              rows.push_back(row);
            }
            Json options_json = methods::ActivationMaxOptions::schema().to_json(options);
            options_json.erase("progress");
            options_json.erase("neuron");
            Json doc = {{"format", "golgi-visualize"},
                        {"version", 1},
                        {"model", std::filesystem::absolute(args->model).lexically_normal().string()},
                        {"architecture", model.architecture()},
                        {"dataset", dataset_name.empty() ? Json(nullptr) : Json(dataset_name)},
                        {"range", {{"lo", options.lo()}, {"hi", options.hi()}, {"source", range_source}}},
                        {"init", args->init},
                        {"starts", K},
                        {"options", options_json},
                        {"targets", rows},
                        {"shape", all_images.sizes().vec()},
                        {"files", {{"images", "images.npy"}}},
                        {"figure", figure},
                        {"command", command_line()}};
            io::write_json_file(args->out + "/visualize.json", doc);
            std::printf("visualize: %zu targets x %lld starts %s -> %s/images.npy%s\n", targets.size(),
                        static_cast<long long>(K), Json(all_images.sizes().vec()).dump().c_str(), args->out.c_str(),
                        figure.is_null() ? "" : (" and " + args->out + "/grid.png").c_str());
            return kExitOk;
          }};
}

}  // namespace golgi::cli
