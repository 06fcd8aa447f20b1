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
  std::filesystem::path dir = std::filesystem::path(GOLGI_BINARY_DIR) / "test_scratch" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
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
