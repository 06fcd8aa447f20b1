// golgi demo: registered here so the command list stays complete; implemented in a later commit.
#include "cli.h"

namespace golgi::cli {

Command add_demo(CLI::App& app) {
  Command command;
  command.app = app.add_subcommand("demo", "(coming in the next commit)");
  command.run = [] { return kExitError; };
  return command;
}

}  // namespace golgi::cli
