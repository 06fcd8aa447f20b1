// golgi neurons: per-neuron analyses that work from recorded statistics. Each subcommand is one
// function `Command add_neurons_<name>(CLI::App& group)` listed in add_neurons(); adding one is one
// function and one line there.
#include <cstdio>
#include <memory>

#include "cli.h"
#include "golgi/analysis/corpus_examples.h"
#include "golgi/analysis/intervention_eval.h"
#include "golgi/analysis/neuron_stats.h"
#include "golgi/core/error.h"
#include "golgi/core/json.h"
#include "golgi/hooks/intervention_set.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/methods/language_neurons/language_neurons.h"
#include "golgi/models/registry.h"
#include "golgi/models/transformer.h"
#include "golgi/tokenize/tokenizer.h"
#include "golgi/train/language_model.h"

namespace golgi::cli {

namespace {

// A saved language model with the tokenizer and training data its card records.
struct LoadedLm {
  models::LoadedModel loaded;
  models::TransformerLM* lm = nullptr;
  train::LmDataOptions data;  // from the card; flags override
};

LoadedLm load_lm(const std::string& path, const std::string& what) {
  LoadedLm out;
  out.loaded = models::load_model(path);
  out.lm = dynamic_cast<models::TransformerLM*>(out.loaded.model.get());
  GOLGI_CHECK(out.lm, "'", path, "' is a ", out.loaded.model->architecture(), " model; ", what,
              " needs a language model (gpt2 or llama)");
  out.data = train::lm_data_options_from_card(out.loaded.card, path);
  return out;
}

// Flags choosing labelled examples from a text corpus (analysis/corpus_examples.h).
struct CorpusFlags {
  analysis::CorpusExampleOptions options;
  bool seed_given = false;
  void add(CLI::App* sub, int64_t default_prefix) {
    options.per_label = 200;
    options.prefix_bytes = default_prefix;
    sub->add_option("--dataset", options.corpus, "text corpus (default: the one in the model card)");
    sub->add_option("--split", options.split, "corpus split: train, val or test")->capture_default_str();
    sub->add_option("--per-language", options.per_label, "documents per language, evenly spread (0: all)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    sub->add_option("--prefix-bytes", options.prefix_bytes,
                    "the first N bytes of each document are the 'instruction' and are not counted (0: count all)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    sub->add_option("--max-tokens", options.max_tokens, "truncate each document to N tokens (separator included)")
        ->check(CLI::Range(int64_t{2}, int64_t{1} << 20))
        ->capture_default_str();
    sub->add_option("--data-dir", options.data_dir, "corpus folder (default: the corpus's own)");
  }
  // Corpus and split seed default to the model's training record, so val/test stay held out.
  analysis::CorpusExamples examples(const LoadedLm& lm, CLI::App* sub) {
    auto o = options;
    if (sub->get_option("--dataset")->count() == 0) o.corpus = lm.data.corpus.empty() ? o.corpus : lm.data.corpus;
    o.seed = lm.data.seed;
    GOLGI_CHECK(train::is_text_corpus(o.corpus), "'", o.corpus, "' is not a text corpus (see `golgi info`)");
    auto tokenizer = train::make_lm_tokenizer(lm.data.tokenizer);
    return analysis::corpus_examples(*tokenizer, o);
  }
};

void print_selection(const methods::LanguageNeuronSelection& selection, const std::string& out) {
  std::fprintf(stderr, "language neurons: %lld layers x %lld neurons, %zu languages\n",
               static_cast<long long>(selection.layers), static_cast<long long>(selection.neurons_per_layer),
               selection.languages.size());
  std::fprintf(stderr, "lambda %.9g%s, tau %.9g, kept %lld (top_rate %g)\n", selection.lambda,
               selection.autosweep ? " (autosweep)" : "", selection.tau, static_cast<long long>(selection.top_k),
               selection.top_rate);
  std::fprintf(stderr, "specific %lld, related %lld, general %lld, in no language %lld; %lld neuron-language pairs\n",
               static_cast<long long>(selection.specific), static_cast<long long>(selection.related),
               static_cast<long long>(selection.general), static_cast<long long>(selection.unassigned),
               static_cast<long long>(selection.pairs));
  std::fprintf(stderr, "per language:");
  for (size_t k = 0; k < selection.languages.size(); ++k)
    std::fprintf(stderr, " %s %lld", selection.languages[k].c_str(), static_cast<long long>(selection.per_language[k]));
  std::fprintf(stderr, "\nwrote %s\n", out.c_str());
}

struct LanguageArgs {
  std::string counts, meta, out, model, stats_out;
  bool autosweep = false;
  CorpusFlags corpus;
  int64_t batch_size = 16;
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
      "Counts come either from files or from a model:\n"
      "  --counts COUNTS.npy --meta META.json: integer [languages, 2, layers, neurons] (index 1: 0 = instruction+\n"
      "    response tokens, 1 = instruction-only tokens) with {\"languages\": [...], \"full_tokens\": [...],\n"
      "    \"prefix_tokens\": [...]} or {\"languages\": [...], \"totals\": {lang: {\"full_tokens\": n, \"prefix_tokens\": n}}};\n"
      "  --model DIR: golgi counts itself over a text corpus (default: the model's training corpus and split seed),\n"
      "    a neuron being active where its gate pre-activation blocks.{l}.mlp.hook_pre > 0 (SiLU(gate) > 0), counted\n"
      "    on response tokens only (each document's first --prefix-bytes bytes are the instruction).\n"
      "Writes OUT = {languages, lambda, tau, top_k, masks: {lang: [[layer 0 neuron indices], ...]}, summary}\n"
      "and prints a summary on stderr. Deactivate a language's neurons with `golgi neurons intervene --mask OUT`.\n"
      "Examples:\n"
      "  golgi neurons language --counts over_zero_counts.npy --meta meta.json --autosweep --out mask.json\n"
      "  golgi neurons language --model assets/models/tiny-multilingual --autosweep --out mask.json");
  sub->add_option("--counts", args->counts, "activation counts, .npy [languages, 2, layers, neurons] integer")
      ->check(CLI::ExistingFile);
  sub->add_option("--meta", args->meta, "languages and token totals, JSON (see above)")->check(CLI::ExistingFile);
  sub->add_option("--model", args->model, "count activations of this language model instead of reading --counts");
  sub->add_option("--stats-out", args->stats_out, "with --model: also save the neuron statistics in this folder");
  sub->add_option("--batch-size", args->batch_size, "with --model: documents per forward pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  args->corpus.add(sub, 16);
  sub->add_option("--out", args->out, "mask and summary JSON to write")->required();
  auto schema_flags = std::make_shared<SchemaFlags<methods::LanguageNeuronOptions>>(
      sub, methods::LanguageNeuronOptions::schema(), *options, std::vector<std::string>{"autosweep"});
  auto* autosweep = sub->add_flag("--autosweep", args->autosweep,
                                  "choose lambda by bisection: the largest at which no kept neuron belongs to every "
                                  "language (excludes --lambda)");
  autosweep->excludes(sub->get_option("--lambda"));
  return {sub, [args, options, schema_flags, sub] {
            schema_flags->apply(*options);
            options->autosweep(args->autosweep);
            GOLGI_CHECK(args->model.empty() != args->counts.empty(), "give either --counts COUNTS.npy --meta META.json ",
                        "or --model DIR (not both)");
            methods::ActivationCounts counts;
            if (!args->model.empty()) {
              auto lm = load_lm(args->model, "golgi neurons language --model");
              auto examples = args->corpus.examples(lm, sub);
              auto stats = analysis::neuron_statistics(*lm.lm, examples.examples, examples.labels,
                                                       analysis::NeuronStatsOptions()
                                                           .hooks({"blocks.*.mlp.hook_pre"})
                                                           .batch_size(args->batch_size));
              if (!args->stats_out.empty()) stats.save(args->stats_out);
              counts = methods::counts_from_stats(stats);
            } else {
              GOLGI_CHECK(!args->meta.empty(), "--counts needs --meta META.json (languages and token totals)");
              counts = methods::load_activation_counts(args->counts, args->meta);
            }
            const auto selection = methods::select_language_neurons(counts.probabilities(), counts.languages, *options);
            io::write_json_file(args->out, selection.to_json());
            print_selection(selection, args->out);
            return kExitOk;
          }};
}

struct StatsArgs {
  std::string model, out;
  std::vector<std::string> hooks{"blocks.*.mlp.hook_post"};
  double active_above = 0.0;
  int64_t batch_size = 16;
  bool responses = false;
  CorpusFlags corpus;
};

// golgi neurons stats: per neuron and language, activation probability and mean (analysis/neuron_stats.h).
Command add_neurons_stats(CLI::App& group) {
  auto args = std::make_shared<StatsArgs>();
  auto* sub = group.add_subcommand(
      "stats",
      "Per-neuron statistics of a language model over a labelled text corpus, streamed (no activations kept):\n"
      "for every neuron of the chosen hook points and every language, the activation probability (share of counted\n"
      "tokens where activation > --active-above) and the mean activation; with --responses also each document's\n"
      "mean activation. Each document is [separator] + text, truncated to --max-tokens; its first --prefix-bytes\n"
      "bytes are not counted. The corpus and its split seed default to the model's training record.\n"
      "Writes OUT/stats.json, probability.npy and mean.npy [languages, neurons] float32, active.npy [languages,\n"
      "neurons] int64, tokens.npy [languages] (+ responses.npy [documents, neurons], example_labels.npy).\n"
      "Neurons are the hook points' last dimensions concatenated in forward order (stats.json lists them).\n"
      "Example: golgi neurons stats --model assets/models/tiny-multilingual --hooks 'blocks.*.mlp.hook_post' --out stats/");
  sub->add_option("--model", args->model, "language model folder")->required();
  sub->add_option("--hooks", args->hooks, "hook points, globs allowed ([batch, pos, neurons] ones; see docs/hooks.md)")
      ->capture_default_str();
  sub->add_option("--active-above", args->active_above, "a neuron is active where its activation exceeds this")
      ->capture_default_str();
  sub->add_option("--batch-size", args->batch_size, "documents per forward pass")->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_flag("--responses", args->responses, "also keep each document's mean activation per neuron");
  args->corpus.add(sub, 0);
  sub->add_option("--out", args->out, "output folder")->required();
  return {sub, [args, sub] {
            auto lm = load_lm(args->model, "golgi neurons stats");
            auto examples = args->corpus.examples(lm, sub);
            auto stats = analysis::neuron_statistics(*lm.lm, examples.examples, examples.labels,
                                                     analysis::NeuronStatsOptions()
                                                         .hooks(args->hooks)
                                                         .active_above(args->active_above)
                                                         .batch_size(args->batch_size)
                                                         .per_example(args->responses));
            stats.save(args->out);
            Json doc = io::read_json_file(args->out + "/stats.json");
            doc["model"] = args->model;
            doc["examples"] = examples.card;
            io::write_json_file(args->out + "/stats.json", doc);
            std::fprintf(stderr, "%lld neurons over %zu hook points, %zu languages, %zu documents\n",
                         static_cast<long long>(stats.neurons()), stats.hooks.size(), stats.labels.size(),
                         examples.examples.size());
            auto p = stats.probability();
            std::fprintf(stderr, "%-6s %10s %10s %18s\n", "lang", "documents", "tokens", "mean P(active)");
            for (size_t k = 0; k < stats.labels.size(); ++k)
              std::fprintf(stderr, "%-6s %10lld %10lld %18.4f\n", stats.labels[k].c_str(),
                           static_cast<long long>(stats.examples[k].item<int64_t>()),
                           static_cast<long long>(stats.tokens[k].item<int64_t>()),
                           p[static_cast<int64_t>(k)].mean().item<double>());
            std::fprintf(stderr, "wrote %s/stats.json\n", args->out.c_str());
            return kExitOk;
          }};
}

struct InterveneArgs {
  std::string model, out, interventions, mask, language, mask_hook = "blocks.{l}.mlp.hook_post", dataset, split = "val",
                                                          data_dir;
  std::vector<std::string> zero, set, scale, add;
  int64_t limit = 0, per_language = 0, batch_size = 32;
};

// golgi neurons intervene: bits per byte per language with and without interventions.
Command add_neurons_intervene(CLI::App& group) {
  auto args = std::make_shared<InterveneArgs>();
  auto* sub = group.add_subcommand(
      "intervene",
      "Measure a language model's bits per byte per language with a set of neuron interventions held during the\n"
      "whole evaluation, next to the unmodified model (relative change = intervened / baseline - 1).\n"
      "Interventions compose in the order given: --zero REF, --set REF=VALUE (clamp), --scale REF=FACTOR,\n"
      "--add HOOK=VECTOR.npy, an --interventions FILE.json ({\"interventions\": [{\"op\": \"zero\", \"neuron\": REF}, ...]}),\n"
      "and --mask MASK.json --language LANG (zero that language's neurons from `golgi neurons language`).\n"
      "REF is a NeuronRef: HOOK:INDEX, e.g. blocks.2.mlp.hook_post:17 (docs/hooks.md).\n"
      "The corpus, split seed, window length and tokenizer default to the model card's, like `golgi eval`.\n"
      "Example: golgi neurons intervene --model assets/models/tiny-multilingual --mask mask.json --language de --per-language 20");
  sub->add_option("--model", args->model, "language model folder")->required();
  sub->add_option("--zero", args->zero, "zero a neuron; repeatable")->type_name("REF");
  sub->add_option("--set", args->set, "clamp a neuron to VALUE; repeatable")->type_name("REF=VALUE");
  sub->add_option("--scale", args->scale, "multiply a neuron by FACTOR; repeatable")->type_name("REF=FACTOR");
  sub->add_option("--add", args->add, "add a vector (.npy, broadcast over batch and positions) to a hook point")
      ->type_name("HOOK=FILE.npy");
  sub->add_option("--interventions", args->interventions, "intervention list, JSON (see above)")->check(CLI::ExistingFile);
  sub->add_option("--mask", args->mask, "language-neuron selection from `golgi neurons language`")->check(CLI::ExistingFile);
  sub->add_option("--language", args->language, "with --mask: the language whose neurons are zeroed");
  sub->add_option("--mask-hook", args->mask_hook, "with --mask: hook point of layer {l}'s neurons")->capture_default_str();
  sub->add_option("--dataset", args->dataset, "text corpus (default: the model card's)");
  sub->add_option("--split", args->split, "train, val or test")->capture_default_str();
  sub->add_option("--data-dir", args->data_dir, "corpus folder (default: the corpus's own)");
  sub->add_option("--limit", args->limit, "N windows spread over the split (0: all; small languages may get none)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--per-language", args->per_language, "at most N windows of every language, evenly spread (0: all)")
      ->check(CLI::NonNegativeNumber)
      ->excludes("--limit");
  sub->add_option("--batch-size", args->batch_size, "windows per forward pass")->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--out", args->out, "result JSON to write (baseline, intervened, relative change)");
  return {sub, [args] {
            auto lm = load_lm(args->model, "golgi neurons intervene");
            hooks::InterventionSet set;
            for (const auto& t : args->zero) set.add_text("zero", t);
            for (const auto& t : args->set) set.add_text("set", t);
            for (const auto& t : args->scale) set.add_text("scale", t);
            for (const auto& t : args->add) set.add_text("add", t);
            if (!args->interventions.empty()) set.extend(hooks::InterventionSet::from_json_file(args->interventions));
            GOLGI_CHECK(args->mask.empty() == args->language.empty(), "--mask and --language go together");
            if (!args->mask.empty())
              set.extend(methods::deactivate_language(io::read_json_file(args->mask), args->language, args->mask_hook));
            GOLGI_CHECK(!set.empty(), "no interventions given (use --zero, --set, --scale, --add, --interventions or --mask)");
            set.apply(*lm.lm);  // validates every reference before the long evaluation; guards die at once
            auto o = lm.data;
            if (!args->dataset.empty()) o.corpus = args->dataset;
            GOLGI_CHECK(!o.corpus.empty(), "'", args->model, "' has no training record naming its text corpus; pass ",
                        "--dataset");
            o.data_dir = args->data_dir;
            auto data = train::load_lm_data(o);
            std::shared_ptr<data::Dataset> split = args->split == "val"    ? data.val
                                                   : args->split == "test" ? data.test
                                                   : args->split == "train"
                                                       ? data.train
                                                       : nullptr;
            GOLGI_CHECK(split, "unknown split '", args->split, "'; use train, val or test");
            split = args->per_language > 0 ? train::per_language_subset(split, args->per_language)
                                           : train::spread_subset(split, args->limit);
            auto baseline = train::evaluate_lm(*lm.lm, *split, data.token_bytes, data.languages, args->batch_size);
            auto intervened =
                analysis::evaluate_lm_under(*lm.lm, set, *split, data.token_bytes, data.languages, args->batch_size);
            auto effect = analysis::compare_lm(baseline, intervened);
            Json doc = effect.to_json();
            doc["model"] = args->model;
            doc["split"] = args->split;
            doc["interventions"] = set.size();
            if (!args->out.empty()) io::write_json_file(args->out, doc);
            std::fprintf(stderr, "%zu interventions\n%-6s %12s %12s %10s\n", set.size(), "lang", "baseline", "intervened",
                         "change");
            for (size_t k = 0; k < baseline.per_language.size(); ++k)
              std::fprintf(stderr, "%-6s %12.4f %12.4f %+9.1f%%\n", baseline.per_language[k].language.c_str(),
                           baseline.per_language[k].bits_per_byte, intervened.per_language[k].bits_per_byte,
                           100 * effect.relative_change[k]);
            std::fprintf(stderr, "%-6s %12.4f %12.4f %+9.1f%%  (bits per byte)\n", "all", baseline.bits_per_byte,
                         intervened.bits_per_byte, 100 * effect.overall_relative_change);
            if (!args->out.empty()) std::fprintf(stderr, "wrote %s\n", args->out.c_str());
            return kExitOk;
          }};
}

}  // namespace

Command add_neurons(CLI::App& app) {
  auto* group = app.add_subcommand("neurons",
                                   "Per-neuron analyses: statistics over labelled text, language / relation neurons, decoding through the\n"
                                   "unembedding, interventions (see: golgi neurons SUBCOMMAND --help).");
  group->require_subcommand(1);
  auto subcommands = std::make_shared<std::vector<Command>>();
  subcommands->push_back(add_neurons_stats(*group));
  subcommands->push_back(add_neurons_language(*group));
  subcommands->push_back(add_neurons_intervene(*group));
  subcommands->push_back(add_neurons_decode(*group));
  subcommands->push_back(add_neurons_relation(*group));
  return {group, [subcommands] {
            for (auto& command : *subcommands)
              if (command.app->parsed()) return command.run();
            return kExitError;
          }};
}

}  // namespace golgi::cli
