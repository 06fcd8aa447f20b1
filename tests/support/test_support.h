// Helpers shared by golgi's tests: scratch folders, paths, and running the CLI.
#pragma once

#include <functional>
#include <string>

namespace golgi::testing {

// A fresh, empty folder under the build tree: test_scratch/<name>/<pid>, so that test processes
// running in parallel never share one. Kept after the test for post-mortems; removed by the next
// process that asks for the same name once its owner has ended.
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
