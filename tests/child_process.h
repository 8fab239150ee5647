// Running the taper binary as a subprocess in tests: the binary beside the
// test binary (build/taper beside build/taper_tests, build-san/taper beside
// build-san/taper_tests), the data root holding CIFAR-100, and a child
// process with its stdout and stderr in files, that can be waited for or
// killed with SIGKILL.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "data/dataset.h"

extern char** environ;

namespace taper::testing {

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The taper binary beside this test binary ("" when there is none).
inline std::string taper_binary() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  const std::filesystem::path bin = self.parent_path() / "taper";
  return std::filesystem::is_regular_file(bin) && ::access(bin.c_str(), X_OK) == 0 ? bin.string() : "";
}

// The data root holding CIFAR-100, absolute ("" when none does).
inline std::string cifar_root() {
  std::vector<std::string> roots{data_root()};
  if (const char* env = std::getenv("TAPER_DATA"); env == nullptr || env[0] == '\0') {
    roots.push_back(std::string(TAPER_SOURCE_DIR) + "/data");
    roots.push_back(std::string(TAPER_SOURCE_DIR) + "/../shared/data");
  }
  for (const std::string& root : roots) {
    if (std::filesystem::is_directory(root + "/cifar-100-binary")) return std::filesystem::canonical(root).string();
  }
  return "";
}

// A child process with stdout and stderr in files.
class Child {
 public:
  // `env`: extra "NAME=value" entries, e.g. "OMP_NUM_THREADS=2".
  Child(const std::vector<std::string>& args, const std::string& data, const std::string& log_prefix,
        const std::vector<std::string>& env = {})
      : out_path_(log_prefix + ".out"), err_path_(log_prefix + ".err") {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // The environment, with the data root and (unless the caller chose) one
    // OpenMP thread: the 2-core machine is shared with other jobs, where
    // spinning OpenMP threads slow down badly. Results do not depend on it.
    std::vector<std::string> env_strings;
    bool has_omp = false;
    for (const std::string& e : env) has_omp |= e.rfind("OMP_NUM_THREADS=", 0) == 0;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::strncmp(*e, "TAPER_DATA=", 11) == 0) continue;
      if (std::strncmp(*e, "OMP_NUM_THREADS=", 16) == 0) {
        if (has_omp) continue;
        has_omp = true;
      }
      env_strings.push_back(*e);
    }
    env_strings.push_back("TAPER_DATA=" + data);
    if (!has_omp) env_strings.push_back("OMP_NUM_THREADS=1");
    env_strings.insert(env_strings.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE_MESSAGE(rc == 0, "posix_spawn " << args[0] << ": " << std::strerror(rc));
    start_ = std::chrono::steady_clock::now();
  }
  ~Child() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      reap(true);
    }
  }

  bool running() { return !reap(false); }
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

  // Waits at most `limit` seconds (then kills it and fails); the exit code,
  // or 128 + signal.
  int wait(double limit = 120.0) {
    while (!reap(false)) {
      if (seconds() > limit) {
        ::kill(pid_, SIGKILL);
        reap(true);
        FAIL("child still running after " << limit << " s; stderr:\n" << err());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return code_;
  }
  // SIGKILL; true when it was still running (false: it had already exited).
  bool kill() {
    if (reap(false)) return false;
    ::kill(pid_, SIGKILL);
    reap(true);
    return code_ == 128 + SIGKILL;
  }

  std::string out() const { return read_bytes(out_path_); }
  std::string err() const { return read_bytes(err_path_); }

 private:
  bool reap(bool block) {
    if (done_) return true;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
    if (r != pid_) return false;
    done_ = true;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }

  std::string out_path_, err_path_;
  pid_t pid_ = -1;
  std::chrono::steady_clock::time_point start_;
  bool done_ = false;
  int code_ = -1;
};

inline std::string config_path(const std::string& name) {
  return std::string(TAPER_SOURCE_DIR) + "/tests/configs/" + name;
}

}  // namespace taper::testing
