#include "test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include "golgi/core/error.h"

namespace golgi::testing {

std::string source_dir() { return GOLGI_SOURCE_DIR; }
std::string fixtures_dir() { return GOLGI_FIXTURES_DIR; }
std::string cli_path() { return GOLGI_CLI_PATH; }

std::string scratch_dir(const std::string& name) {
  namespace fs = std::filesystem;
  // One folder per process: ctest runs every test case in its own process, two at a time, and the
  // cases of one suite share a name (a SetUpTestSuite fixture). With one shared folder two
  // processes rebuilt the same SQLite file at once ("disk I/O error"), the fixture failed, and
  // gtest reported its cases as skipped rather than failed.
  const fs::path parent = fs::path(GOLGI_BINARY_DIR) / "test_scratch" / name;
  std::error_code ignored;
  // Folders of processes that have ended are removed, so the tree does not grow run after run.
  if (fs::is_directory(parent, ignored))
    for (const auto& entry : fs::directory_iterator(parent, ignored)) {
      const std::string pid = entry.path().filename().string();
      const bool live = !pid.empty() && pid.find_first_not_of("0123456789") == std::string::npos &&
                        fs::exists("/proc/" + pid, ignored);
      if (!live) fs::remove_all(entry.path(), ignored);
    }
  const fs::path dir = parent / std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const golgi::Error& e) {
    return e.what();
  }
  return "";
}

int spawn_cli(const std::string& args, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    std::string command = "exec " + cli_path() + " " + args + " > " + log + " 2>&1";
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

CliResult run_cli(const std::string& args) {
  CliResult result;
  std::string command = cli_path() + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace golgi::testing
