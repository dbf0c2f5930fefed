// Child processes for the integration suite: spawn with redirected output, wait with a deadline,
// and kill + reap on destruction. Every child gets PR_SET_PDEATHSIG(SIGKILL), so nothing started
// by a test outlives the test binary, even when it is killed by ctest's TIMEOUT.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace frontcache::integration {

struct SpawnOptions {
  std::vector<std::string> argv;           // argv[0] is looked up in PATH when it has no '/'
  std::string stdin_path;                  // empty: /dev/null
  std::string stdout_path;                 // empty: /dev/null
  std::string stderr_path;                 // empty: /dev/null
  bool append = false;                     // append to the output files instead of truncating them
  std::vector<std::string> environment{};  // "NAME=value" set in the child on top of ours
};

// Owns one child process. Movable, not copyable; the destructor SIGKILLs and reaps it.
class Process {
 public:
  Process() = default;
  explicit Process(const SpawnOptions& options);  // throws std::runtime_error when fork fails
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }
  bool valid() const { return pid_ > 0; }
  // True while the child has not exited (reaps it if it has).
  bool running();
  // Waits up to `timeout` for the child to exit; returns its exit code (128+signal when killed).
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  void signal(int sig) const;
  // SIGTERM, then SIGKILL when it has not exited after `grace`; always reaps.
  std::optional<int> terminate(std::chrono::milliseconds grace);
  // SIGKILL and reap.
  void kill();
  // Exit code once reaped.
  std::optional<int> exit_code() const { return exit_code_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

struct RunResult {
  int exit_code = -1;  // 128+signal when killed by a signal
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs a command to completion (killed after `timeout`), capturing stdout and stderr through
// files in `work_dir`.
RunResult run_command(const std::vector<std::string>& argv, const std::string& work_dir,
                      std::chrono::milliseconds timeout, const std::string& stdin_path = "");

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& contents);

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction unless
// FRONTCACHE_KEEP_TMP is set.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace frontcache::integration
