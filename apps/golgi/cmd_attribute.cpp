// golgi attribute: attribution maps of a saved image classifier on dataset samples
// (methods/attribution: gradient, gradient × input, SmoothGrad, integrated gradients, GradCAM, LRP).
//
// Writes OUT/attributions.npy (float32 maps, [N, ...] with the shape attribute() returns),
// OUT/inputs.npy ([N, ...input_shape]), OUT/attributions.json (method, options, ids, targets,
// predicted classes, the objective F(x) per sample and, for integrated gradients, F(x') at the
// zero baseline, and the sum of each map, so that completeness Σ IG = F(x) − F(x') can be checked
// from the files alone), and two figures whose cells follow the order of the JSON arrays
// (row-major): OUT/overlay.png (the input in grey under the |map| heatmap) and OUT/heatmaps.png
// (the signed map, coolwarm, scaled symmetrically per sample). Maps with channels (an input with
// C > 1, or a conv hook [C, H, W]) are summed over channels for the figures; maps smaller than the
// input (a pooled hook, GradCAM) are resized bilinearly to the input for the overlay.
//
// Nothing is written until every check has passed and every map is computed, so a bad command
// leaves OUT untouched.
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
#include "golgi/data/registry.h"
#include "golgi/hooks/neuron_ref.h"
#include "golgi/hooks/scoped_hooks.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/image_compose.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/methods/attribution/attribution.h"
#include "golgi/models/registry.h"

namespace golgi::cli {

namespace {

struct AttributeArgs {
  std::string model, dataset, split = "test", data_dir, ids, target = "label", out;
  int64_t count = 8, noise_samples = 50, upscale = 4;
  bool zero_biases = false;
  double alpha = 0.5;
};

// "3,17,42" -> {3, 17, 42}; any other text is an error naming the flag.
// The objective F per row, as attribute() defines it: the target class logit, or the neuron's
// activation (summed over positions unless the reference names one). With `zero_site`, the
// attributed site (the input, or the hook `at`) is replaced by zeros: F at the integrated-gradients
// baseline x' = 0.
at::Tensor objective(models::Model& model, const at::Tensor& inputs, const at::Tensor& targets,
                     const methods::AttributionOptions& options, bool zero_site) {
  torch::NoGradGuard no_grad;
  std::optional<hooks::NeuronRef> neuron;
  if (!options.neuron().empty()) neuron = hooks::NeuronRef::parse(options.neuron());
  at::Tensor neuron_activation;
  hooks::HookGuard site_guard, neuron_guard;
  at::Tensor x = inputs;
  if (zero_site) {
    if (options.at().empty())
      x = at::zeros_like(inputs);
    else
      site_guard = hooks::add_hook(model, options.at(),
                                   [](const at::Tensor& a, const hooks::HookPointImpl&) { return at::zeros_like(a); });
  }
  if (neuron)
    neuron_guard = hooks::add_hook(model, neuron->hook, [&](const at::Tensor& a, const hooks::HookPointImpl&) {
      neuron_activation = a;
      return at::Tensor();
    });
  at::Tensor output = model.forward(x);
  if (!neuron) return output.gather(1, targets.view({-1, 1})).squeeze(1);
  GOLGI_ASSERT(neuron_activation.defined(), "hook '", neuron->hook, "' did not run");
  int64_t dim = model.hook_point(neuron->hook).neuron_dim_for_rank(neuron_activation.dim());
  at::Tensor a = neuron_activation.select(dim, neuron->index);
  if (!neuron->position.empty()) {
    for (int64_t pos : neuron->position) a = a.select(1, pos);
    return a;
  }
  return a.dim() == 1 ? a : a.flatten(1).sum(1);
}

// objective() over the rows in chunks, so memory stays bounded for any number of samples.
at::Tensor objective_chunked(models::Model& model, const at::Tensor& inputs, const at::Tensor& targets,
                             const methods::AttributionOptions& options, bool zero_site) {
  std::vector<at::Tensor> parts;
  const int64_t n = inputs.size(0), chunk = 64;
  for (int64_t b = 0; b < n; b += chunk) {
    int64_t e = std::min(n, b + chunk);
    parts.push_back(objective(model, inputs.slice(0, b, e), targets.slice(0, b, e), options, zero_site));
  }
  return torch::cat(parts).to(torch::kDouble);
}

// An 8-bit image as a float tensor [C, H, W] in [0, 1], for composing grids with image_grid.
at::Tensor to_unit_tensor(const io::Image8& image) {
  at::Tensor bytes = torch::from_blob(const_cast<uint8_t*>(image.pixels.data()),
                                      {image.height, image.width, image.channels}, torch::kUInt8);
  return bytes.permute({2, 0, 1}).to(torch::kFloat) / 255.0;
}

// One sample's map as a 2-D picture [H, W]: channels summed (after |·| when `absolute`), or
// undefined when the map has no spatial layout (a dense hook [D]).
at::Tensor spatial_map(const at::Tensor& map, bool absolute) {
  at::Tensor m = absolute ? map.abs() : map;
  if (m.dim() == 2) return m;
  if (m.dim() == 3) return m.sum(0);
  return at::Tensor();
}

// [H, W] -> [height, width] by bilinear interpolation (align_corners false, as GradCAM's upsample).
at::Tensor resize(const at::Tensor& map, int64_t height, int64_t width) {
  if (map.size(0) == height && map.size(1) == width) return map;
  namespace F = torch::nn::functional;
  return F::interpolate(map.unsqueeze(0).unsqueeze(0),
                        F::InterpolateFuncOptions()
                            .size(std::vector<int64_t>{height, width})
                            .mode(torch::kBilinear)
                            .align_corners(false))
      .squeeze(0)
      .squeeze(0);
}

}  // namespace

Command add_attribute(CLI::App& app) {
  auto args = std::make_shared<AttributeArgs>();
  auto* sub = app.add_subcommand(
      "attribute",
      "Attribution maps of an image classifier on dataset samples (methods/attribution): gradient (Simonyan et al.\n"
      "2014), gradient_x_input, smoothgrad (Smilkov et al. 2017), integrated_gradients (Sundararajan et al. 2017),\n"
      "gradcam (Selvaraju et al. 2017; needs --at a conv hook) and lrp (Bach et al. 2015; mlp and cnn). Writes\n"
      "OUT/attributions.npy, OUT/inputs.npy, OUT/attributions.json (ids, targets, predictions, F(x), F(baseline) and\n"
      "the sum of each map) and the figures OUT/overlay.png (|map| over the grey input) and OUT/heatmaps.png (signed\n"
      "map, coolwarm); figure cells follow the order of the JSON arrays.\n"
      "Example: golgi attribute assets/models/fashion-cnn --samples 16 --method integrated_gradients --steps 128\n"
      "         --out runs/ig");
  sub->add_option("model", args->model, "model folder (golgi train / save_model)")->required();
  sub->add_option("--dataset", args->dataset, "dataset (default: the one in the model card)");
  sub->add_option("--split", args->split, "dataset split")->capture_default_str();
  sub->add_option("--data-dir", args->data_dir, "dataset folder (default: the dataset's own)");
  auto* count = sub->add_option("--samples", args->count, "attribute the first N samples of the split")
                    ->check(CLI::PositiveNumber)
                    ->capture_default_str();
  sub->add_option("--ids", args->ids, "attribute these sample indices instead (e.g. 3,17,42)")->excludes(count);
  sub->add_option("--target", args->target,
                  "class whose logit is explained: label (the dataset's), predicted (the model's argmax) or a class "
                  "index; ignored with --neuron")
      ->capture_default_str();
  sub->add_option("--noise-samples", args->noise_samples, "SmoothGrad noise draws per sample")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_flag("--zero-biases", args->zero_biases,
                "for checks: set every bias to 0 before attributing (then LRP-epsilon equals gradient x input and "
                "its relevance sums to the logit)");
  sub->add_option("--upscale", args->upscale, "figure cells enlarged this many times (nearest neighbour)")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  sub->add_option("--alpha", args->alpha, "heatmap opacity in overlay.png")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  sub->add_option("--out", args->out, "output folder (created)")->required();
  // --samples is the number of dataset samples here, so SmoothGrad's draws are --noise-samples;
  // progress follows the global --quiet.
  auto flags = std::make_shared<SchemaFlags<methods::AttributionOptions>>(
      sub, methods::AttributionOptions::schema(), methods::AttributionOptions(),
      std::vector<std::string>{"samples", "progress"});
  return {sub, [args, flags] {
            methods::AttributionOptions options;
            flags->apply(options);
            options.samples(args->noise_samples);
            options.progress(true);
            methods::AttributionOptions::schema().validate(options);
            GOLGI_CHECK(options.method() != "gradcam" || !options.at().empty(),
                        "--method gradcam needs --at, a convolutional hook point (e.g. --at conv2.hook_post)");

            auto loaded = models::load_model(args->model);
            models::Model& model = *loaded.model;
            GOLGI_CHECK(model.task() == "classify", "'", args->model, "' is a ", model.task(), " ('",
                        model.architecture(), "'); golgi attribute explains image classifiers (mlp, cnn, resnet)");
            std::string dataset_name = args->dataset;
            if (dataset_name.empty()) {
              const Json& card = loaded.card["card"];
              GOLGI_CHECK(card.contains("dataset") && card["dataset"].contains("name"), "the card of '", args->model,
                          "' names no dataset; pass --dataset");
              dataset_name = card["dataset"]["name"].get<std::string>();
            }
            data::DataOptions data_options;
            data_options.split = args->split;
            data_options.data_dir = args->data_dir;
            auto dataset = data::load_dataset(dataset_name, data_options);
            const std::vector<int64_t> input_shape = model.input_shape();
            GOLGI_CHECK(dataset->sample_shape() == input_shape, "dataset '", dataset_name, "' has samples ",
                        Json(dataset->sample_shape()).dump(), " but model '", args->model, "' takes ",
                        Json(input_shape).dump(), "; pass the dataset the model was trained on with --dataset");

            std::vector<int64_t> ids;
            if (!args->ids.empty()) {
              ids = parse_index_list(args->ids, "--ids", "--ids 3,17,42");
              for (int64_t id : ids)
                GOLGI_CHECK(id >= 0 && id < dataset->size(), "--ids: sample ", id, " is out of range; the ",
                            args->split, " split of '", dataset_name, "' has samples 0..", dataset->size() - 1);
            } else {
              GOLGI_CHECK(args->count <= dataset->size(), "--samples ", args->count, " is more than the ",
                          dataset->size(), " samples of the ", args->split, " split of '", dataset_name, "'");
              for (int64_t i = 0; i < args->count; ++i) ids.push_back(i);
            }
            data::Batch batch = dataset->batch(ids);
            at::Tensor inputs = batch.inputs.to(torch::kFloat).contiguous();
            const int64_t n = inputs.size(0);

            if (args->zero_biases) {
              torch::NoGradGuard no_grad;
              for (auto& p : model.named_parameters()) {
                const std::string& name = p.key();
                if (name == "bias" || (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0))
                  p.value().zero_();
              }
            }
            model.eval();

            // The model's own predictions, and the classes whose logits are explained.
            at::Tensor logits;
            {
              torch::NoGradGuard no_grad;
              std::vector<at::Tensor> parts;
              for (int64_t b = 0; b < n; b += 64) parts.push_back(model.forward(inputs.slice(0, b, std::min(n, b + 64))));
              logits = torch::cat(parts);
            }
            const int64_t classes = logits.size(1);
            at::Tensor predicted = logits.argmax(1);
            at::Tensor targets;
            if (args->target == "label") {
              targets = batch.targets.to(torch::kLong);
              GOLGI_CHECK(targets.max().item<int64_t>() < classes, "dataset '", dataset_name, "' has labels up to ",
                          targets.max().item<int64_t>(), " but the model has ", classes,
                          " classes; pass --target predicted or a class index");
            } else if (args->target == "predicted") {
              targets = predicted.clone();
            } else {
              size_t used = 0;
              int64_t cls = -1;
              try {
                cls = std::stoll(args->target, &used);
              } catch (const std::exception&) {
                used = 0;
              }
              GOLGI_CHECK(used > 0 && used == args->target.size(), "--target '", args->target,
                          "' is not label, predicted or a class index");
              GOLGI_CHECK(cls >= 0 && cls < classes, "--target ", cls, " is out of range; the model has classes 0..",
                          classes - 1);
              targets = torch::full({n}, cls, torch::kLong);
            }

            at::Tensor maps = methods::attribute(model, inputs, targets, options).to(torch::kFloat).contiguous();
            const bool ig = options.method() == "integrated_gradients";
            at::Tensor f_x = objective_chunked(model, inputs, targets, options, false);
            at::Tensor f_baseline;
            if (ig) f_baseline = objective_chunked(model, inputs, targets, options, true);
            at::Tensor sums = maps.flatten(1).to(torch::kDouble).sum(1);

            // Figures: one cell per sample, in the order of the JSON arrays.
            const int64_t height = input_shape.size() >= 2 ? input_shape[input_shape.size() - 2] : 0;
            const int64_t width = input_shape.size() >= 2 ? input_shape.back() : 0;
            const bool image_input = input_shape.size() == 3 && (input_shape[0] == 1 || input_shape[0] == 3);
            std::vector<at::Tensor> overlay_cells, heat_cells;
            std::string overlay_note, heatmap_note;
            for (int64_t k = 0; k < n; ++k) {
              at::Tensor signed_map = spatial_map(maps[k], false);
              if (!signed_map.defined()) {
                // A dense hook [D]: laid out row-major in a square, zero-padded.
                at::Tensor flat = maps[k].flatten();
                int64_t side = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(flat.numel()))));
                signed_map = torch::zeros({side * side}, flat.options());
                signed_map.slice(0, 0, flat.numel()).copy_(flat);
                signed_map = signed_map.view({side, side});
                heatmap_note = "the dense map [D] is laid out row-major in a zero-padded square";
              }
              io::HeatmapOptions signed_options;
              signed_options.colormap("coolwarm").symmetric(true);
              heat_cells.push_back(to_unit_tensor(io::heatmap(signed_map, signed_options)));
              at::Tensor magnitude = spatial_map(maps[k], true);
              if (!image_input || !magnitude.defined()) continue;
              magnitude = resize(magnitude, height, width);
              io::HeatmapOptions magnitude_options;
              magnitude_options.colormap("viridis");
              io::Image8 base = io::to_image8(inputs[k].mean(0));  // grey, scaled by its own range
              overlay_cells.push_back(
                  to_unit_tensor(io::overlay(base, io::heatmap(magnitude, magnitude_options), args->alpha)));
            }
            if (!image_input)
              overlay_note = "no overlay: the model input is not an image [C, H, W]";
            else if (overlay_cells.empty())
              overlay_note = "no overlay: the maps have no spatial layout";

            io::GridOptions grid;
            grid.scaling("unit").upscale(args->upscale);
            io::make_dirs(args->out);
            io::save_npy(args->out + "/attributions.npy", maps);
            io::save_npy(args->out + "/inputs.npy", inputs);
            io::image_grid(torch::stack(heat_cells), grid).save_png(args->out + "/heatmaps.png");
            Json figures = {{"heatmaps", "heatmaps.png"}};
            if (!overlay_cells.empty()) {
              io::image_grid(torch::stack(overlay_cells), grid).save_png(args->out + "/overlay.png");
              figures["overlay"] = "overlay.png";
            } else {
              figures["overlay"] = nullptr;
              figures["overlay_note"] = overlay_note;
            }
            if (!heatmap_note.empty()) figures["heatmaps_note"] = heatmap_note;
            figures["columns"] = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
            figures["order"] = "row-major cells in the order of the arrays below";
            figures["upscale"] = args->upscale;

            auto to_list = [](const at::Tensor& t) {
              Json list = Json::array();
              at::Tensor c = t.contiguous();
              if (at::isFloatingType(c.scalar_type())) {
                c = c.to(torch::kDouble);
                for (int64_t i = 0; i < c.numel(); ++i) list.push_back(c[i].item<double>());
              } else {
                c = c.to(torch::kLong);
                for (int64_t i = 0; i < c.numel(); ++i) list.push_back(c[i].item<int64_t>());
              }
              return list;
            };
            Json options_json = methods::AttributionOptions::schema().to_json(options);
            options_json.erase("progress");
            if (ig) options_json["baseline"] = "zeros";
            Json doc = {{"format", "golgi-attributions"},
                        {"version", 1},
                        {"model", std::filesystem::absolute(args->model).lexically_normal().string()},
                        {"architecture", model.architecture()},
                        {"dataset", dataset_name},
                        {"split", args->split},
                        {"method", options.method()},
                        {"options", options_json},
                        {"zero_biases", args->zero_biases},
                        {"target_mode", options.neuron().empty() ? args->target : "neuron"},
                        {"objective_definition",
                         options.neuron().empty() ? "logit of the target class"
                                                  : "activation of neuron " + options.neuron() +
                                                        " (summed over positions unless one is given)"},
                        {"ids", ids},
                        {"labels", to_list(batch.targets)},
                        {"targets", to_list(targets)},
                        {"predicted", to_list(predicted)},
                        {"objective", to_list(f_x)},
                        {"attribution_sum", to_list(sums)},
                        {"shapes", {{"attributions", maps.sizes().vec()}, {"inputs", inputs.sizes().vec()}}},
                        {"files", {{"attributions", "attributions.npy"}, {"inputs", "inputs.npy"}}},
                        {"figures", figures},
                        {"command", command_line()}};
            if (ig) {
              doc["baseline_objective"] = to_list(f_baseline);
              doc["completeness_gap"] = to_list(sums - (f_x - f_baseline));
            }
            io::write_json_file(args->out + "/attributions.json", doc);
            std::printf("attribute: %s maps of %lld samples %s -> %s/attributions.npy%s\n", options.method().c_str(),
                        static_cast<long long>(n), Json(maps.sizes().vec()).dump().c_str(), args->out.c_str(),
                        ig ? fmt::format(" (completeness: max |Σ IG − (F(x) − F(x'))| = {:.3g})",
                                         (sums - (f_x - f_baseline)).abs().max().item<double>())
                                 .c_str()
                           : "");
            return kExitOk;
          }};
}

}  // namespace golgi::cli
