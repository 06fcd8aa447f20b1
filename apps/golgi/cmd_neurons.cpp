// golgi neurons: per-neuron analyses that work from recorded statistics. Each subcommand is one
// function `Command add_neurons_<name>(CLI::App& group)` listed in add_neurons(); adding one is one
// function and one line there.
#include <cstdio>
#include <memory>

#include "cli.h"
#include "golgi/core/json.h"
#include "golgi/io/json_file.h"
#include "golgi/methods/language_neurons/language_neurons.h"

namespace golgi::cli {

namespace {

struct LanguageArgs {
  std::string counts, meta, out;
  bool autosweep = false;
};

// golgi neurons language: the language-neurons selection (src/golgi/methods/language_neurons).
Command add_neurons_language(CLI::App& group) {
  auto args = std::make_shared<LanguageArgs>();
  auto options = std::make_shared<methods::LanguageNeuronOptions>();
  auto* sub = group.add_subcommand(
      "language",
      "Select language-specific, language-related and language-agnostic neurons from activation counts\n"
      "(paper id language-neurons, Zhang et al. 2025; the official code's algorithm, docs/methods/language-neurons.md).\n"
      "p[k,l,j] = max(0, full - prefix) / max(1, full_tokens - prefix_tokens) per language k; the score is the\n"
      "normalised entropy of p over languages minus lambda * max_k p / norm_max; the top_rate share of all neurons\n"
      "with the lowest scores is kept, and a kept neuron belongs to language k when p[k] > tau, tau being the\n"
      "activation_bar quantile of all p. --autosweep picks the largest lambda in [sweep_low, sweep_high] (bisection)\n"
      "at which no kept neuron belongs to every language.\n"
      "COUNTS.npy: integer [languages, 2, layers, neurons] (index 1: 0 = instruction+response tokens, 1 =\n"
      "instruction-only tokens). META.json: {\"languages\": [...], \"full_tokens\": [...], \"prefix_tokens\": [...]} or\n"
      "{\"languages\": [...], \"totals\": {lang: {\"full_tokens\": n, \"prefix_tokens\": n}}}.\n"
      "Writes OUT = {languages, lambda, tau, top_k, masks: {lang: [[layer 0 neuron indices], ...]}, summary}\n"
      "and prints a summary on stderr.\n"
      "Example: golgi neurons language --counts over_zero_counts.npy --meta meta.json --autosweep --out mask.json");
  sub->add_option("--counts", args->counts, "activation counts, .npy [languages, 2, layers, neurons] integer")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--meta", args->meta, "languages and token totals, JSON (see above)")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--out", args->out, "mask and summary JSON to write")->required();
  auto schema_flags = std::make_shared<SchemaFlags<methods::LanguageNeuronOptions>>(
      sub, methods::LanguageNeuronOptions::schema(), *options, std::vector<std::string>{"autosweep"});
  auto* autosweep = sub->add_flag("--autosweep", args->autosweep,
                                  "choose lambda by bisection: the largest at which no kept neuron belongs to every "
                                  "language (excludes --lambda)");
  autosweep->excludes(sub->get_option("--lambda"));
  return {sub, [args, options, schema_flags] {
            schema_flags->apply(*options);
            options->autosweep(args->autosweep);
            const auto counts = methods::load_activation_counts(args->counts, args->meta);
            const auto selection = methods::select_language_neurons(counts.probabilities(), counts.languages, *options);
            io::write_json_file(args->out, selection.to_json());
            std::fprintf(stderr, "language neurons: %lld layers x %lld neurons, %zu languages\n",
                         static_cast<long long>(selection.layers), static_cast<long long>(selection.neurons_per_layer),
                         selection.languages.size());
            std::fprintf(stderr, "lambda %.9g%s, tau %.9g, kept %lld (top_rate %g)\n", selection.lambda,
                         selection.autosweep ? " (autosweep)" : "", selection.tau,
                         static_cast<long long>(selection.top_k), selection.top_rate);
            std::fprintf(stderr, "specific %lld, related %lld, general %lld, in no language %lld; %lld neuron-language pairs\n",
                         static_cast<long long>(selection.specific), static_cast<long long>(selection.related),
                         static_cast<long long>(selection.general), static_cast<long long>(selection.unassigned),
                         static_cast<long long>(selection.pairs));
            std::fprintf(stderr, "per language:");
            for (size_t k = 0; k < selection.languages.size(); ++k)
              std::fprintf(stderr, " %s %lld", selection.languages[k].c_str(),
                           static_cast<long long>(selection.per_language[k]));
            std::fprintf(stderr, "\nwrote %s\n", args->out.c_str());
            return kExitOk;
          }};
}

}  // namespace

Command add_neurons(CLI::App& app) {
  auto* group = app.add_subcommand("neurons",
                                   "Per-neuron analyses from recorded statistics (see: golgi neurons SUBCOMMAND --help).");
  group->require_subcommand(1);
  auto subcommands = std::make_shared<std::vector<Command>>();
  subcommands->push_back(add_neurons_language(*group));
  return {group, [subcommands] {
            for (auto& command : *subcommands)
              if (command.app->parsed()) return command.run();
            return kExitError;
          }};
}

}  // namespace golgi::cli
