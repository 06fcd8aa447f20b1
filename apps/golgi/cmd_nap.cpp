// golgi nap: neural activation patterns of a ReLU MLP (paper id `nap-spec`, methods/nap_spec/nap.h):
// `mine` class NAPs from a dataset split, `check` their coverage, precision and mutual
// exclusivity, `verify` the NAP-augmented property (or plain L-infinity robustness) around a
// sample with the GLPK MILP encoding.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/core.h>
#include <torch/torch.h>

#include "cli.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/methods/nap_spec/nap.h"

namespace golgi::cli {

namespace {

namespace nap = methods::nap;

struct DataArgs {
  std::string model, dataset, data_dir, split;
  int64_t limit = 0;
};

void add_data_flags(CLI::App* sub, DataArgs& args, const std::string& default_split) {
  args.split = default_split;
  sub->add_option("model", args.model, "saved model folder (architecture mlp, activation relu)")->required();
  sub->add_option("--dataset", args.dataset, "dataset (default: the one in the model card)");
  sub->add_option("--data-dir", args.data_dir, "dataset folder (default: the dataset's own location)");
  sub->add_option("--split", args.split, "dataset split")->capture_default_str();
  sub->add_option("--limit", args.limit, "use the first N samples (0: all)")->check(CLI::NonNegativeNumber);
}

double parse_number(const std::string& flag, const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  GOLGI_CHECK(used == text.size() && used > 0, "golgi nap verify: ", flag, " must be 'auto' or a number, got '", text,
              "'");
  return value;
}

void write_or_print(const std::string& out, const Json& doc) {
  if (out.empty()) {
    std::printf("%s\n", doc.dump(2).c_str());
  } else {
    io::write_json_file(out, doc);
    if (!progress_quiet()) fmt::print(stderr, "wrote {}\n", out);
  }
}

Command add_nap_mine(CLI::App& group) {
  auto args = std::make_shared<DataArgs>();
  auto out = std::make_shared<std::string>("naps.json");
  auto delta = std::make_shared<double>(0.95);
  auto all_samples = std::make_shared<bool>(false);
  auto* sub = group.add_subcommand(
      "mine",
      "Mine one NAP per class: over the correctly classified samples of class c (all samples of c with\n"
      "--all-samples), hidden ReLU neuron n is 'on' if active (pre-activation > 0) in >= delta of them, 'off' if\n"
      "inactive in >= delta of them, free otherwise. Writes a golgi-nap JSON file (per class: support and the\n"
      "on/off neuron indices per hidden layer layers.{i}.hook_pre) and prints the on/off counts.\n"
      "Example: golgi nap mine runs/mlp --split train --delta 0.95 --out naps.json");
  add_data_flags(sub, *args, "train");
  sub->add_option("--delta", *delta, "share of a class's samples a neuron must agree on, in (0.5, 1]")
      ->capture_default_str();
  sub->add_flag("--all-samples", *all_samples, "use every sample of the class, not only the correctly classified");
  sub->add_option("--out", *out, "output NAP file (JSON)")->capture_default_str();
  return {sub, [args, out, delta, all_samples] {
            nap::NapOptions options;
            options.delta = *delta;
            options.correct_only = !*all_samples;
            options.validate();
            auto md = load_model_and_data(args->model, args->dataset, args->split, args->data_dir, args->limit);
            const auto acts = nap::record_activations(*md.model, md.data->inputs(), 1024, "nap record");
            auto naps = nap::mine_naps(acts.active, md.data->targets(), acts.logits.argmax(1),
                                       acts.logits.size(1), options);
            naps.hooks = nap::pattern_hooks(*md.model);
            Json doc = naps.to_json();
            doc["model"] = args->model;
            doc["dataset"] = {{"name", md.dataset}, {"split", args->split}, {"samples", md.data->size()}};
            doc["command"] = command_line();
            io::write_json_file(*out, doc);
            Json summary = Json::array();
            for (const auto& p : naps.naps)
              summary.push_back({{"class", p.label}, {"support", p.support}, {"on", p.on()}, {"off", p.off()},
                                 {"free", p.neurons() - p.on() - p.off()}});
            std::printf("%s\n", Json{{"naps", *out}, {"delta", options.delta}, {"classes", summary}}.dump(2).c_str());
            return kExitOk;
          }};
}

nap::NapSet read_naps(const std::string& path, const models::Model& model) {
  auto naps = nap::NapSet::from_json(io::read_json_file(path));
  const auto hooks = nap::pattern_hooks(model);
  GOLGI_CHECK(naps.hooks.empty() || naps.hooks == hooks, "nap: the NAP file '", path,
              "' was mined on other hook points than this model's; mine it again with: golgi nap mine");
  for (const auto& p : naps.naps) {
    GOLGI_CHECK(p.states.size() == hooks.size(), "nap: the NAP file '", path, "' has ", p.states.size(),
                " layers, the model ", hooks.size(), "; mine it again with: golgi nap mine");
  }
  return naps;
}

Command add_nap_check(CLI::App& group) {
  auto args = std::make_shared<DataArgs>();
  auto naps_path = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto* sub = group.add_subcommand(
      "check",
      "Check class NAPs on a dataset split: per class, coverage (share of the class's samples that follow its\n"
      "NAP) and precision (share of the samples following the NAP that are of the class); and the pairs of classes\n"
      "whose NAPs are mutually exclusive (one neuron on in one, off in the other). JSON to stdout or --out.\n"
      "Example: golgi nap check runs/mlp --naps naps.json --split test");
  add_data_flags(sub, *args, "test");
  sub->add_option("--naps", *naps_path, "NAP file from `golgi nap mine`")->required();
  sub->add_option("--out", *out, "write the JSON here (default: stdout)");
  return {sub, [args, naps_path, out] {
            auto md = load_model_and_data(args->model, args->dataset, args->split, args->data_dir, args->limit);
            const auto naps = read_naps(*naps_path, *md.model);
            const auto acts = nap::record_activations(*md.model, md.data->inputs(), 1024, "nap record");
            Json doc = nap::check_naps(naps, acts.active, md.data->targets()).to_json();
            doc["accuracy"] = acts.logits.argmax(1).eq(md.data->targets()).to(torch::kDouble).mean().item<double>();
            doc["delta"] = naps.delta;
            doc["dataset"] = {{"name", md.dataset}, {"split", args->split}, {"samples", md.data->size()}};
            write_or_print(*out, doc);
            return kExitOk;
          }};
}

struct VerifyArgs {
  std::string naps, out;
  int64_t sample = 0, label = -1;
  double eps = 0, time_limit = 10, budget = 300, eps_start = 0.01, eps_max = 1.0;
  bool search = false, plain = false, with_x = false;
  int bisect = 4;
  std::string pixel_mean = "auto", pixel_std = "auto";
};

Command add_nap_verify(CLI::App& group) {
  auto args = std::make_shared<DataArgs>();
  auto v = std::make_shared<VerifyArgs>();
  auto* sub = group.add_subcommand(
      "verify",
      "Verify, for sample --sample of the split with class c (its label, or --class), that no input in the\n"
      "L-infinity box of radius --eps around it (intersected with the pixel range [0, 1]) that follows class c's NAP\n"
      "is classified as another class: one MILP per other class (max logit_j - logit_c, GLPK, --time-limit s each).\n"
      "--plain drops the NAP (plain robustness). --search finds the largest verified radius (doubling from\n"
      "--eps-start, then --bisect steps). eps is in pixel units; the model's normalisation is undone with\n"
      "--pixel-mean/--pixel-std ('auto': fashion-mnist's 0.2860/0.3530, identity for other datasets).\n"
      "Outcome per query: verified / counterexample (replayed through the model in float64) / timeout.\n"
      "Exit status 0 when verified, 1 when not (counterexample or timeout), 2 on error.\n"
      "Example: golgi nap verify runs/mlp --naps naps.json --sample 0 --eps 0.1 --out verify.json");
  add_data_flags(sub, *args, "test");
  sub->add_option("--naps", v->naps, "NAP file from `golgi nap mine` (not needed with --plain)");
  sub->add_option("--sample", v->sample, "index of the sample in the split")->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--class", v->label, "class c to verify (default: the sample's label)");
  sub->add_option("--eps", v->eps, "L-infinity radius in pixel units (> 0); not with --search");
  sub->add_flag("--search", v->search, "search the largest verified radius instead of checking one");
  sub->add_option("--eps-start", v->eps_start, "first radius of --search")->capture_default_str();
  sub->add_option("--eps-max", v->eps_max, "largest radius of --search (1 = the whole pixel range)")
      ->capture_default_str();
  sub->add_option("--bisect", v->bisect, "bisection steps of --search")->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--budget", v->budget, "wall-clock budget of --search, seconds")->capture_default_str();
  sub->add_flag("--plain", v->plain, "plain L-infinity robustness (no NAP constraint)");
  sub->add_option("--time-limit", v->time_limit, "GLPK time limit per query, seconds")->capture_default_str();
  sub->add_option("--pixel-mean", v->pixel_mean, "input normalisation mean ('auto' or a number)")
      ->capture_default_str();
  sub->add_option("--pixel-std", v->pixel_std, "input normalisation std ('auto' or a number)")->capture_default_str();
  sub->add_flag("--with-x", v->with_x, "include the maximising inputs (784 numbers per query) in the JSON");
  sub->add_option("--out", v->out, "write the JSON here (default: stdout)");
  return {sub, [args, v] {
            GOLGI_CHECK(v->search || v->eps > 0, "golgi nap verify: --eps must be > 0 (the L-infinity radius in "
                        "pixel units), got ", v->eps, "; or pass --search");
            GOLGI_CHECK(!(v->search && v->eps > 0), "golgi nap verify: give either --eps or --search, not both");
            GOLGI_CHECK(v->plain || !v->naps.empty(), "golgi nap verify: pass --naps FILE (or --plain)");
            GOLGI_CHECK(v->time_limit > 0, "golgi nap verify: --time-limit must be > 0 s, got ", v->time_limit);
            auto md = load_model_and_data(args->model, args->dataset, args->split, args->data_dir, args->limit);
            GOLGI_CHECK(v->sample < md.data->size(), "golgi nap verify: --sample ", v->sample, " is out of range: the ",
                        args->split, " split has ", md.data->size(), " samples");
            const int64_t classes = md.model->options().at("classes").get<int64_t>();
            const int64_t c = v->label >= 0 ? v->label : md.data->targets()[v->sample].item<int64_t>();
            GOLGI_CHECK(c >= 0 && c < classes, "golgi nap verify: --class ", c, " is out of range [0, ", classes, ")");
            nap::InputScale scale = nap::input_scale_of(md.dataset);
            if (v->pixel_mean != "auto") scale.mean = parse_number("--pixel-mean", v->pixel_mean);
            if (v->pixel_std != "auto") scale.std = parse_number("--pixel-std", v->pixel_std);
            scale.validate();
            nap::Pattern pattern;
            if (!v->plain) pattern = read_naps(v->naps, *md.model).naps.at(static_cast<size_t>(c)).states;
            const auto net = nap::relu_network(*md.model, scale);
            const at::Tensor xs = md.data->inputs()[v->sample].flatten().to(torch::kFloat64).contiguous();
            std::vector<double> x0(static_cast<size_t>(xs.numel()));
            for (size_t i = 0; i < x0.size(); ++i)
              x0[i] = std::clamp(scale.to_pixel(xs.data_ptr<double>()[i]), 0.0, 1.0);
            // The model's own prediction on the sample: when it is not c, every radius has a counterexample.
            const std::vector<double> logits0 = net.forward(x0);
            const int64_t predicted = std::max_element(logits0.begin(), logits0.end()) - logits0.begin();
            if (predicted != c && !progress_quiet())
              fmt::print(stderr, "note: the model classifies sample {} as {}, not {}: no radius can verify\n", v->sample,
                         predicted, c);
            Json doc = {{"model", args->model}, {"sample", v->sample}, {"split", args->split}, {"class", c},
                        {"label", md.data->targets()[v->sample].item<int64_t>()}, {"predicted", predicted},
                        {"property", v->plain ? "plain" : "nap"}, {"time_limit_s", v->time_limit},
                        {"pixel_scale", {{"mean", scale.mean}, {"std", scale.std}}}};
            bool verified = false;
            if (v->search) {
              nap::EpsSearchOptions o;
              o.eps_start = v->eps_start;
              o.eps_max = v->eps_max;
              o.eps_min = std::min(1e-4, v->eps_start);
              o.bisect_steps = v->bisect;
              o.budget_s = v->budget;
              o.milp.time_limit_s = v->time_limit;
              o.scale = scale;
              const auto s = nap::largest_verified_eps(*md.model, net, x0, pattern, c, o);
              doc["search"] = s.to_json();
              verified = s.verified_eps > 0;
              fmt::print(stderr, "largest verified eps {:.6g} (first failure at {})\n", s.verified_eps,
                         std::isfinite(s.failed_eps) ? fmt::format("{:.6g}", s.failed_eps) : "none");
            } else {
              std::vector<double> lo, hi;
              nap::input_box(x0, v->eps, lo, hi);
              nap::MilpOptions o;
              o.time_limit_s = v->time_limit;
              Progress progress("nap verify", classes - 1, "query");
              nap::RegionResult region;
              region.outcome = nap::Outcome::kVerified;
              Json replays = Json::array();
              for (int64_t j = 0; j < classes; ++j) {
                if (j == c) continue;
                auto q = nap::max_margin(net, lo, hi, pattern, c, j, o);
                if (q.outcome == nap::Outcome::kCounterexample) {
                  region.outcome = nap::Outcome::kCounterexample;
                  replays.push_back(nap::replay_counterexample(*md.model, q.x, pattern, c, j, lo, hi, scale).to_json());
                  replays.back()["other"] = j;
                } else if (q.outcome == nap::Outcome::kTimeout && region.outcome == nap::Outcome::kVerified) {
                  region.outcome = nap::Outcome::kTimeout;
                }
                region.queries.push_back(std::move(q));
                progress.advance();
              }
              progress.finish();
              doc["eps"] = v->eps;
              doc["result"] = region.to_json(v->with_x);
              doc["replays"] = replays;
              verified = region.outcome == nap::Outcome::kVerified;
              fmt::print(stderr, "{}\n", nap::outcome_name(region.outcome));
            }
            doc["command"] = command_line();
            write_or_print(v->out, doc);
            return verified ? kExitOk : kExitClaimFailed;
          }};
}

}  // namespace

Command add_nap(CLI::App& app) {
  auto* group = app.add_subcommand(
      "nap",
      "Neural activation patterns: mine class NAPs, check coverage and precision, verify them on input regions "
      "with a MILP solver (Geng et al. 2023; docs/methods/nap-spec.md).");
  group->require_subcommand(1);
  auto commands = std::make_shared<std::vector<Command>>(
      std::vector<Command>{add_nap_mine(*group), add_nap_check(*group), add_nap_verify(*group)});
  return {group, [commands] {
            for (const auto& c : *commands)
              if (c.app->parsed()) return c.run();
            return kExitError;
          }};
}

}  // namespace golgi::cli
