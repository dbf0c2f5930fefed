#include "process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace frontcache::integration {
namespace {

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

void redirect(const std::string& path, int target_fd, int flags) {
  const char* p = path.empty() ? "/dev/null" : path.c_str();
  int fd = ::open(p, flags, 0644);
  if (fd < 0) _exit(126);
  ::dup2(fd, target_fd);
  ::close(fd);
}

}  // namespace

Process::Process(const SpawnOptions& options) {
  if (options.argv.empty()) throw std::runtime_error("Process: empty argv");
  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // The child's environment, built before fork (only async-signal-safe calls after it).
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const auto& e : options.environment) {
    const auto name = e.substr(0, e.find('=') + 1);
    std::erase_if(env_strings, [&](const std::string& s) { return s.starts_with(name); });
    env_strings.push_back(e);
  }
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Child: only async-signal-safe calls from here on.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(125);  // the parent died before prctl took effect
    ::setpgid(0, 0);
    ::signal(SIGPIPE, SIG_DFL);
    redirect(options.stdin_path, STDIN_FILENO, O_RDONLY);
    const int out_flags = O_WRONLY | O_CREAT | (options.append ? O_APPEND : O_TRUNC);
    redirect(options.stdout_path, STDOUT_FILENO, out_flags);
    if (!options.stderr_path.empty() && options.stderr_path == options.stdout_path) {
      ::dup2(STDOUT_FILENO, STDERR_FILENO);
    } else {
      redirect(options.stderr_path, STDERR_FILENO, out_flags);
    }
    ::execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  pid_ = pid;
}

Process::Process(Process&& other) noexcept : pid_(other.pid_), exit_code_(other.exit_code_) {
  other.pid_ = -1;
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    kill();
    pid_ = other.pid_;
    exit_code_ = other.exit_code_;
    other.pid_ = -1;
  }
  return *this;
}

Process::~Process() { kill(); }

bool Process::running() {
  if (pid_ <= 0 || exit_code_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = decode_status(status);
    return false;
  }
  return r == 0;
}

std::optional<int> Process::wait_for(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto step = std::chrono::milliseconds(1);
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(step);
    step = std::min(step * 2, std::chrono::milliseconds(20));
  }
  return exit_code_;
}

void Process::signal(int sig) const {
  // The child leads its own process group (setpgid above): signal the group so that helpers it
  // spawned (node workers, shells) go too.
  if (pid_ <= 0 || exit_code_) return;
  if (::kill(-pid_, sig) != 0) ::kill(pid_, sig);
}

std::optional<int> Process::terminate(std::chrono::milliseconds grace) {
  if (!valid()) return std::nullopt;
  signal(SIGTERM);
  if (auto code = wait_for(grace)) return code;
  kill();
  return exit_code_;
}

void Process::kill() {
  if (pid_ <= 0) return;
  if (!exit_code_) {
    signal(SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    exit_code_ = decode_status(status);
  }
  pid_ = -1;
}

RunResult run_command(const std::vector<std::string>& argv, const std::string& work_dir,
                      std::chrono::milliseconds timeout, const std::string& stdin_path) {
  static std::atomic<int> counter{0};
  const std::string base = work_dir + "/run" + std::to_string(++counter);
  SpawnOptions options;
  options.argv = argv;
  options.stdin_path = stdin_path;
  options.stdout_path = base + ".out";
  options.stderr_path = base + ".err";
  Process p(options);
  RunResult result;
  if (auto code = p.wait_for(timeout)) {
    result.exit_code = *code;
  } else {
    result.timed_out = true;
    p.kill();
    result.exit_code = p.exit_code().value_or(-1);
  }
  result.out = read_file(base + ".out");
  result.err = read_file(base + ".err");
  return result;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  if (!out) throw std::runtime_error("cannot write " + path);
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/frontcache-it-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (std::getenv("FRONTCACHE_KEEP_TMP") != nullptr) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace frontcache::integration
