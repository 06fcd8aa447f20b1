// golgi neurons relation: relation-specific neurons by average precision
// (src/golgi/methods/relation_neurons, paper id relation-neurons).
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include <torch/torch.h>

#include "cli.h"
#include "golgi/core/error.h"
#include "golgi/core/json.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/methods/relation_neurons/relation_neurons.h"

namespace golgi::cli {

namespace {

struct RelationArgs {
  std::string responses, labels, correct, relations, neuron_names, out;
  bool negatives_correct_only = false;
};

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

std::vector<std::string> string_list(const Json& j, const std::string& what) {
  GOLGI_CHECK(j.is_array(), what, " must be a list of names, got ", j.type_name());
  std::vector<std::string> out;
  for (const auto& v : j) {
    GOLGI_CHECK(v.is_string(), what, " must be a list of strings, got ", v.dump());
    out.push_back(v.get<std::string>());
  }
  return out;
}

// --relations: a JSON list, a JSON file (a list, or an object with "relations" or "labels", like
// the neuron statistics' stats.json), or a comma-separated list.
std::vector<std::string> parse_relations(const std::string& text) {
  const std::string t = trim(text);
  GOLGI_CHECK(!t.empty(), "--relations is empty; give the relation names in label order, e.g. --relations a,b,c");
  if (t.front() == '[') {
    Json j;
    try {
      j = Json::parse(t);
    } catch (const Json::exception& e) {
      GOLGI_FAIL("--relations: not a valid JSON list (", e.what(), "): ", t);
    }
    return string_list(j, "--relations");
  }
  if (file_exists(t) && t.size() > 5 && t.substr(t.size() - 5) == ".json") {
    const Json j = io::read_json_file(t);
    if (j.is_array()) return string_list(j, "--relations file " + t);
    GOLGI_CHECK(j.is_object() && (j.contains("relations") || j.contains("labels")), "--relations file ", t,
                " must hold a list of names or an object with 'relations' or 'labels'");
    return string_list(j.contains("relations") ? j["relations"] : j["labels"], "--relations file " + t);
  }
  std::vector<std::string> out;
  std::stringstream in(t);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(trim(item));
  return out;
}

// --neuron-names: a JSON list of names, the neuron statistics' stats.json ({"hooks": [{"name",
// "neurons"}, ...]}: names HOOK:INDEX in column order), or a text file with one name per line.
std::vector<std::string> read_neuron_names(const std::string& path) {
  std::ifstream in(path);
  GOLGI_CHECK(in.good(), "--neuron-names: cannot read ", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  const std::string t = trim(text);
  if (!t.empty() && (t.front() == '[' || t.front() == '{')) {
    const Json j = io::read_json_file(path);
    if (j.is_array()) return string_list(j, "--neuron-names " + path);
    const Json& hooks = json_member(j, "hooks", "--neuron-names " + path);
    GOLGI_CHECK(hooks.is_array(), "--neuron-names ", path, ": 'hooks' must be a list of {name, neurons}");
    std::vector<std::string> out;
    for (const auto& h : hooks) {
      const Json& name = json_member(h, "name", "--neuron-names " + path + " hook");
      const Json& count = json_member(h, "neurons", "--neuron-names " + path + " hook");
      GOLGI_CHECK(name.is_string() && count.is_number_integer() && count.get<int64_t>() >= 0, "--neuron-names ",
                  path, ": a hook must be {\"name\": string, \"neurons\": count}, got ", h.dump());
      for (int64_t i = 0; i < count.get<int64_t>(); ++i) out.push_back(name.get<std::string>() + ":" + std::to_string(i));
    }
    return out;
  }
  std::vector<std::string> out;
  std::stringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    line = trim(line);
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

}  // namespace

Command add_neurons_relation(CLI::App& group) {
  auto args = std::make_shared<RelationArgs>();
  auto options = std::make_shared<methods::RelationNeuronOptions>();
  auto* sub = group.add_subcommand(
      "relation",
      "Select relation-specific neurons by average precision (paper id relation-neurons, Liu et al. 2025;\n"
      "docs/methods/relation-neurons.md).\n"
      "For relation r the positives are its prompts the model answers correctly (--correct; all when omitted), the\n"
      "negatives a seeded sample of negatives_per_positive (4) times as many prompts of other relations (all of them\n"
      "when fewer exist; the output says so). A neuron's expertise for r is the average precision of its responses\n"
      "as a detector of the positives, AP = sum_k (R_k - R_{k-1}) P_k over distinct response values (ties are one\n"
      "threshold; exactly sklearn.metrics.average_precision_score). The top N neurons by AP are r's neurons (ties to\n"
      "the lower neuron index); N = --top-n, or max(1, round(top_rate * neurons)).\n"
      "RESPONSES.npy: [examples, neurons] float32/float64, each neuron's output averaged over the prompt's tokens\n"
      "(the neuron statistics' responses.npy). LABELS.npy: [examples] integer relation index 0..R-1. CORRECT.npy:\n"
      "[examples] bool or 0/1.\n"
      "Writes OUT/ap.npy [relations, neurons] float64 (NaN rows for relations without positives or negatives),\n"
      "OUT/relation_neurons.json (per relation: positives, negatives, selected neurons and their AP; overlap:\n"
      "intersection counts and Jaccard indices) and OUT/examples.json (the examples each AP used).\n"
      "Example: golgi neurons relation --responses stats/responses.npy --labels stats/example_labels.npy\n"
      "           --correct correct.npy --relations stats/stats.json --neuron-names stats/stats.json\n"
      "           --top-n 500 --seed 0 --out relation_neurons/");
  sub->add_option("--responses", args->responses, "per-example neuron responses, .npy [examples, neurons] float")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--labels", args->labels, "relation index of each example, .npy [examples] integer")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--correct", args->correct,
                  "whether the model answers each example correctly, .npy [examples] bool or 0/1 (default: all)")
      ->check(CLI::ExistingFile);
  sub->add_option("--relations", args->relations,
                  "relation names in label order: a,b,c or a JSON list or a JSON file (list, or object with "
                  "'relations' or 'labels')")
      ->required();
  sub->add_option("--neuron-names", args->neuron_names,
                  "names of the neurons (columns): JSON list, stats.json of the neuron statistics, or one per line")
      ->check(CLI::ExistingFile);
  sub->add_option("--out", args->out, "output folder (created)")->required();
  auto schema_flags = std::make_shared<SchemaFlags<methods::RelationNeuronOptions>>(
      sub, methods::RelationNeuronOptions::schema(), *options, std::vector<std::string>{"negatives_correct_only"});
  sub->add_flag("--negatives-correct-only", args->negatives_correct_only,
                "sample negatives only from prompts of other relations that the model answers correctly");
  sub->get_option("--top-n")->excludes(sub->get_option("--top-rate"));
  return {sub, [args, options, schema_flags] {
            schema_flags->apply(*options);
            options->negatives_correct_only(args->negatives_correct_only);
            const auto relations = parse_relations(args->relations);
            const at::Tensor responses = io::load_npy(args->responses);
            const at::Tensor labels = io::load_npy(args->labels);
            const at::Tensor correct = args->correct.empty() ? at::Tensor() : io::load_npy(args->correct);
            std::vector<std::string> names;
            if (!args->neuron_names.empty()) {
              names = read_neuron_names(args->neuron_names);
              GOLGI_CHECK(responses.dim() == 2 && static_cast<int64_t>(names.size()) == responses.size(1),
                          "--neuron-names ", args->neuron_names, " names ", names.size(),
                          " neurons but the responses have shape ", responses.sizes());
            }
            const auto selection = methods::select_relation_neurons(responses, labels, correct, relations, *options);

            io::make_dirs(args->out);
            io::save_npy(args->out + "/ap.npy", selection.ap);
            Json doc = selection.to_json(names);
            doc["command"] = command_line();
            doc["inputs"] = {{"responses", args->responses},
                             {"labels", args->labels},
                             {"correct", args->correct.empty() ? Json(nullptr) : Json(args->correct)},
                             {"neuron_names", args->neuron_names.empty() ? Json(nullptr) : Json(args->neuron_names)}};
            doc["files"] = {{"ap", "ap.npy [relations, neurons] float64"},
                            {"examples", "examples.json: the positive and negative examples of each relation"}};
            io::write_json_file(args->out + "/relation_neurons.json", doc);
            io::write_json_file(args->out + "/examples.json", selection.examples_json());

            std::fprintf(stderr, "relation neurons: %lld examples x %lld neurons, %zu relations, top %lld per relation\n",
                         static_cast<long long>(selection.examples), static_cast<long long>(selection.neurons),
                         selection.relations.size(), static_cast<long long>(selection.top_n));
            for (const auto& s : selection.sets) {
              if (s.status != "ok") {
                std::fprintf(stderr, "  %s: skipped (%s: %lld positives, %lld candidate negatives)\n", s.relation.c_str(),
                             s.status.c_str(), static_cast<long long>(s.positives),
                             static_cast<long long>(s.negatives_available));
                continue;
              }
              double mean = 0;
              for (double a : s.ap) mean += a;
              mean /= static_cast<double>(s.ap.size());
              std::fprintf(stderr, "  %s: %lld positives, %lld negatives%s; AP of the selected: mean %.4f, min %.4f\n",
                           s.relation.c_str(), static_cast<long long>(s.positives),
                           static_cast<long long>(s.negatives),
                           s.negatives_short ? " (fewer than requested: all prompts of other relations)" : "", mean,
                           s.ap.back());
            }
            std::fprintf(stderr, "wrote %s/{ap.npy, relation_neurons.json, examples.json}\n", args->out.c_str());
            return kExitOk;
          }};
}

}  // namespace golgi::cli
