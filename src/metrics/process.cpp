#include "frontcache/metrics/process.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace frontcache::metrics {

namespace {

std::string read_text(const char* path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::optional<std::uint64_t> to_number(std::string_view s) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return n;
}

}  // namespace

bool parse_proc_stat(std::string_view text, long ticks_per_second, long page_size,
                     std::uint64_t boot_time, ProcessStats& out) {
  const auto close = text.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return false;
  // Fields after the command name, numbered as in proc(5): 3 is `state`.
  std::vector<std::string_view> fields;
  std::string_view rest = text.substr(close + 1);
  while (!rest.empty()) {
    const auto start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const auto end = rest.find_first_of(" \n");
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  }
  const auto field = [&](std::size_t number) -> std::optional<std::uint64_t> {
    return number - 3 < fields.size() ? to_number(fields[number - 3]) : std::nullopt;
  };
  const auto utime = field(14), stime = field(15), starttime = field(22), vsize = field(23),
             rss = field(24);
  if (!utime || !stime || !starttime || !vsize || !rss) return false;
  const auto ticks = static_cast<double>(ticks_per_second);
  out.cpu_seconds = static_cast<double>(*utime + *stime) / ticks;
  out.start_time_seconds = static_cast<double>(boot_time) + static_cast<double>(*starttime) / ticks;
  out.virtual_bytes = *vsize;
  out.resident_bytes = *rss * static_cast<std::uint64_t>(page_size);
  return true;
}

std::optional<std::uint64_t> parse_boot_time(std::string_view proc_stat) {
  std::size_t pos = 0;
  while (pos < proc_stat.size()) {
    auto end = proc_stat.find('\n', pos);
    if (end == std::string_view::npos) end = proc_stat.size();
    const std::string_view line = proc_stat.substr(pos, end - pos);
    if (line.starts_with("btime ")) return to_number(line.substr(6));
    pos = end + 1;
  }
  return std::nullopt;
}

ProcessStats read_process_stats() {
  ProcessStats stats;
  if (const auto boot = parse_boot_time(read_text("/proc/stat"))) {
    parse_proc_stat(read_text("/proc/self/stat"), sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE),
                    *boot, stats);
  }
  std::error_code ec;
  std::uint64_t fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++fds;
  }
  if (!ec) stats.open_fds = fds;  // includes the one reading the directory, as other clients do
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    stats.max_fds = static_cast<std::uint64_t>(limit.rlim_cur);
  }
  return stats;
}

}  // namespace frontcache::metrics
