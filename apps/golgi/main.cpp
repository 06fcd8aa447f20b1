// golgi: neuron-level science for artificial and spiking networks. See README.md.
#include <cstdio>
#include <iostream>

#include "cli.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/runtime.h"
#include "golgi/core/version.h"

namespace golgi::cli {
namespace {
std::string g_command_line;
}
const std::string& command_line() { return g_command_line; }
void set_command_line(int argc, char** argv) {
  g_command_line = "golgi";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    bool quote = arg.find_first_of(" \t'\"*?") != std::string::npos;
    g_command_line += " " + (quote ? "'" + arg + "'" : arg);
  }
}
}  // namespace golgi::cli

int main(int argc, char** argv) {
  using namespace golgi::cli;
  set_command_line(argc, argv);
  CLI::App app{"golgi: trains, simulates, records, explains and edits the neurons of artificial and spiking networks.\n"
               "Run `golgi COMMAND --help` for a command's options; README.md has a tour."};
  app.set_version_flag("--version", golgi::kVersion);
  app.require_subcommand(1);
  int threads = 0;
  bool quiet = false;
  app.add_option("--threads", threads, "intra-op threads for tensor work (0: all cores)")->check(CLI::NonNegativeNumber);
  app.add_flag("-q,--quiet", quiet, "no progress bars");
  app.fallthrough();

  std::vector<Command> commands = {add_info(app),     add_inspect(app),  add_train(app),    add_eval(app),
                                   add_forward(app),  add_generate(app), add_record(app),   add_repro(app),
                                   add_tokenize(app), add_tokenizer(app), add_neurons(app),  add_atlas(app),
                                   add_serve(app),    add_demo(app),     add_data(app),
                                   add_simulate(app), add_compare(app),  add_prune(app),    add_nap(app),
                                   add_analyze(app), add_snmf(app), add_sae(app), add_select(app),
                                   add_attribute(app), add_visualize(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitError;
  }
  try {
    golgi::set_progress_quiet(quiet);
    golgi::set_threads(threads);
    for (auto& command : commands)
      if (command.app->parsed()) return command.run();
  } catch (const golgi::Error& e) {
    std::fprintf(stderr, "golgi: error: %s\n", e.what());
    return kExitError;
  } catch (const golgi::InternalError& e) {
    std::fprintf(stderr, "golgi: %s\n", e.what());
    return kExitError;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "golgi: error from LibTorch: %s\n", e.what_without_backtrace());
    return kExitError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "golgi: error: %s\n", e.what());
    return kExitError;
  }
  return kExitError;
}
