// The standard process metrics every Prometheus client library exports (process_cpu_seconds_total,
// process_resident_memory_bytes, ...), read from /proc at scrape time. Linux only; on a read
// failure the fields stay unset and the metrics are left out.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace frontcache::metrics {

struct ProcessStats {
  std::optional<double> cpu_seconds;            // user + system time
  std::optional<std::uint64_t> resident_bytes;  // RSS
  std::optional<std::uint64_t> virtual_bytes;   // vsize
  std::optional<std::uint64_t> open_fds;        // entries of /proc/self/fd
  std::optional<std::uint64_t> max_fds;         // RLIMIT_NOFILE, soft
  std::optional<double> start_time_seconds;     // since the Unix epoch
};

// This process, now.
ProcessStats read_process_stats();

// Parses /proc/<pid>/stat (utime, stime, starttime, vsize, rss) into `out`, given the clock
// ticks per second, the page size and the boot time (`btime` of /proc/stat, epoch seconds).
// The command name may hold spaces and parentheses: fields are counted after its last ')'.
// Returns false when the text is not a stat line.
bool parse_proc_stat(std::string_view text, long ticks_per_second, long page_size,
                     std::uint64_t boot_time, ProcessStats& out);
// The `btime` line of /proc/stat, or nullopt.
std::optional<std::uint64_t> parse_boot_time(std::string_view proc_stat);

}  // namespace frontcache::metrics
