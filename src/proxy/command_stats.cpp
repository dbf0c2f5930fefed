#include "command_stats.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace frontcache::proxy {

void CommandStats::reset(std::size_t workers, std::size_t commands) {
  workers_ = workers;
  commands_ = commands;
  counters_ = std::make_unique<Counters[]>(workers * commands);
}

void CommandStats::upstream(std::size_t worker, std::uint32_t command,
                            std::chrono::nanoseconds waited) {
  Counters* c = at(worker, command);
  if (c == nullptr) return;
  add(c->upstream_calls, 1);
  add(c->upstream_usec, static_cast<std::uint64_t>(
                            std::chrono::duration_cast<std::chrono::microseconds>(waited).count()));
}

std::vector<CommandStats::Totals> CommandStats::totals(const command::CommandTable& table) const {
  std::vector<Totals> out;
  auto visit = [&](const command::CommandInfo& info) {
    if (info.id >= commands_) return;
    Totals t;
    for (std::size_t w = 0; w < workers_; ++w) {
      const Counters& c = counters_[w * commands_ + info.id];
      t.calls += c.calls.load(std::memory_order_relaxed);
      t.l1_hits += c.l1_hits.load(std::memory_order_relaxed);
      t.upstream_calls += c.upstream_calls.load(std::memory_order_relaxed);
      t.upstream_usec += c.upstream_usec.load(std::memory_order_relaxed);
    }
    if (t.calls == 0) return;
    t.name = info.fullname;
    out.push_back(std::move(t));
  };
  table.for_each([&](const command::CommandInfo& info) {
    visit(info);
    for (const auto& sub : info.subcommands) visit(sub);
  });
  std::sort(out.begin(), out.end(),
            [](const Totals& a, const Totals& b) { return a.name < b.name; });
  return out;
}

std::string command_stats_info(const std::vector<CommandStats::Totals>& totals) {
  std::string out = "# frontcache_commandstats\r\n";
  for (const auto& t : totals) {
    const double per_call = t.upstream_calls == 0 ? 0.0
                                                  : static_cast<double>(t.upstream_usec) /
                                                        static_cast<double>(t.upstream_calls);
    fmt::format_to(std::back_inserter(out),
                   "fc_cmdstat_{}:calls={},l1_hits={},upstream_calls={},upstream_usec={},"
                   "upstream_usec_per_call={:.2f}\r\n",
                   t.name, t.calls, t.l1_hits, t.upstream_calls, t.upstream_usec, per_call);
  }
  return out;
}

}  // namespace frontcache::proxy
