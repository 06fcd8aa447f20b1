// Shared pieces of the golgi command line: subcommand registration and options binding.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "golgi/core/json.h"
#include "golgi/core/options.h"
#include "golgi/data/dataset.h"
#include "golgi/models/model.h"

namespace golgi::cli {

// Exit codes (DESIGN.md): 0 success, 1 an experiment ran and a claim failed, 2 error.
inline constexpr int kExitOk = 0;
inline constexpr int kExitClaimFailed = 1;
inline constexpr int kExitError = 2;
inline constexpr int kExitInterrupted = 130;

// Each subcommand registers itself on the app and stores its action in `run` (called after a
// successful parse; returns the exit code).
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command add_info(CLI::App& app);
Command add_inspect(CLI::App& app);
Command add_train(CLI::App& app);
Command add_eval(CLI::App& app);
Command add_forward(CLI::App& app);
Command add_generate(CLI::App& app);
Command add_record(CLI::App& app);
Command add_repro(CLI::App& app);
Command add_tokenize(CLI::App& app);
Command add_tokenizer(CLI::App& app);  // the `tokenizer train` group
Command add_neurons(CLI::App& app);    // the `neurons` group
Command add_atlas(CLI::App& app);      // the `atlas` group (build, info)
Command add_serve(CLI::App& app);
Command add_demo(CLI::App& app);
Command add_data(CLI::App& app);      // the `data` group (build, info)
Command add_simulate(CLI::App& app);
Command add_compare(CLI::App& app);   // convergent learning (methods/convergent)
Command add_prune(CLI::App& app);     // lottery tickets (methods/lottery)
Command add_nap(CLI::App& app);       // the `nap` group: neural activation patterns (methods/nap_spec)
Command add_analyze(CLI::App& app);   // the `analyze` group (variance-explained: methods/repr_bias)
Command add_snmf(CLI::App& app);     // semi-NMF of activations (methods/snmf)
Command add_sae(CLI::App& app);      // the `sae` group: sparse autoencoders (methods/sae)
Command add_select(CLI::App& app);   // SAE-based data selection (methods/sae_select)
Command add_attribute(CLI::App& app);  // attribution maps and PNG overlays (methods/attribution)
Command add_visualize(CLI::App& app);  // activation maximisation images (methods/feature_vis)
// Subcommands of `neurons` that live in files of their own (cmd_neurons_<name>.cpp).
Command add_neurons_decode(CLI::App& group);
Command add_neurons_relation(CLI::App& group);

// A saved model and a dataset split to run it on: `dataset` empty means the one its card names.
struct ModelAndData {
  std::shared_ptr<models::Model> model;
  Json card;
  std::string dataset;
  std::shared_ptr<data::Dataset> data;
};
// Throws golgi::Error when the card names no dataset and none is given. `limit` > 0 keeps the
// first `limit` samples.
ModelAndData load_model_and_data(const std::string& model_dir, std::string dataset, const std::string& split,
                                 const std::string& data_dir, int64_t limit);

// "3,17,42" -> {3, 17, 42}; anything else is a golgi::Error naming the flag and showing `example`
// (e.g. "--ids 3,17,42").
std::vector<int64_t> parse_index_list(const std::string& text, const std::string& flag, const std::string& example);

// The full command line, for provenance in model cards and results.
const std::string& command_line();
void set_command_line(int argc, char** argv);

// Binds every field of an options schema to a flag `--field-name` (underscores become dashes).
// Values are applied, and validated by the schema, when apply() is called after parsing; only
// flags the user gave are applied, so defaults stay those of the options struct.
template <typename O>
class SchemaFlags {
 public:
  SchemaFlags(CLI::App* app, const OptionSchema<O>& schema, const O& defaults, const std::vector<std::string>& skip = {})
      : schema_(schema) {
    for (const auto& field : schema.fields()) {
      bool skipped = false;
      for (const auto& s : skip) skipped = skipped || s == field.name;
      if (skipped) continue;
      std::string flag = "--" + field.name;
      for (auto& c : flag)
        if (c == '_') c = '-';
      auto value = std::make_shared<std::string>();
      std::string help = field.help + " [" + field.type + ", " + field.accepted + "; default " +
                         field.get(defaults).dump() + "]";
      CLI::Option* option = app->add_option(flag, *value, help);
      option->type_name(field.type == "int list" ? "INT,INT,..." : field.type == "bool" ? "BOOL" : "");
      bindings_.push_back({field.name, option, value});
    }
  }
  void apply(O& options) const {
    for (const auto& b : bindings_)
      if (b.option->count() > 0) schema_.set_from_string(options, b.field, *b.value);
  }

 private:
  struct Binding {
    std::string field;
    CLI::Option* option;
    std::shared_ptr<std::string> value;
  };
  const OptionSchema<O>& schema_;
  std::vector<Binding> bindings_;
};

}  // namespace golgi::cli
