// Helpers shared by golgi's tests: scratch folders, paths, and running the CLI.
#pragma once

#include <functional>
#include <string>

namespace golgi::testing {

// A fresh, empty folder under the build tree, removed at exit of the test process only if empty
// tests left nothing worth seeing (kept on failure for post-mortems).
std::string scratch_dir(const std::string& name);
std::string source_dir();
std::string fixtures_dir();
std::string cli_path();

// The message of the golgi::Error that `f` throws, or "" when it throws none.
std::string error_of(const std::function<void()>& f);

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr, merged
};
// Runs `golgi <args>` through the shell (args are passed verbatim).
CliResult run_cli(const std::string& args);

// Starts `golgi <args>` in the background with stdout and stderr going to `log`; returns its pid
// (the golgi process itself: the shell execs it), for tests that kill or measure a run.
int spawn_cli(const std::string& args, const std::string& log);

}  // namespace golgi::testing
