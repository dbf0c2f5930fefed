// frontcache-sim: hit ratios of the real L1 policy, LRU and OPT on recorded or synthetic traces.
//   frontcache-sim --trace FILE --capacity N[,N...] [--policy frontcache,lru,opt] [--shards K]
//   frontcache-sim --synthetic zipf|loop|shifting [--alpha A] [--keys N] [--requests N]
//                  [--seed S] [--scan-every N --scan-length N] [--hot-size N] [--hot-share F]
//                  [--shift-every N] [--write FILE] --capacity N[,N...] ...
// Output: one line per policy and capacity: <policy> <capacity> <hits> <requests> <hit%>.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "replay.hpp"
#include "synthetic.hpp"
#include "trace.hpp"

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t comma = s.find(',', start);
    const std::size_t end = comma == std::string::npos ? s.size() : comma;
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

int usage() {
  std::fprintf(stderr,
               "usage: frontcache-sim (--trace FILE | --synthetic KIND [options]) "
               "--capacity N[,N...] [--policy frontcache,lru,opt] [--shards K]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using frontcache::sim::SyntheticSpec;
  std::string trace_path, write_path, policies = "frontcache,lru,opt", capacities;
  unsigned shards = 1;
  bool synthetic = false;
  SyntheticSpec spec;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(std::string(arg) + " needs a value");
        return argv[++i];
      };
      auto number = [&] { return std::stoull(value()); };
      if (arg == "--trace")
        trace_path = value();
      else if (arg == "--capacity")
        capacities = value();
      else if (arg == "--policy")
        policies = value();
      else if (arg == "--shards")
        shards = static_cast<unsigned>(number());
      else if (arg == "--synthetic") {
        synthetic = true;
        spec.kind = value();
      } else if (arg == "--alpha")
        spec.alpha = std::stod(value());
      else if (arg == "--keys")
        spec.keys = number();
      else if (arg == "--requests")
        spec.requests = number();
      else if (arg == "--seed")
        spec.seed = number();
      else if (arg == "--scan-every")
        spec.scan_every = number();
      else if (arg == "--scan-length")
        spec.scan_length = number();
      else if (arg == "--hot-size")
        spec.hot_size = number();
      else if (arg == "--hot-share")
        spec.hot_share = std::stod(value());
      else if (arg == "--shift-every")
        spec.shift_every = number();
      else if (arg == "--write")
        write_path = value();
      else
        return usage();
    }
    if (synthetic == !trace_path.empty()) return usage();
    const frontcache::sim::Trace trace =
        synthetic ? frontcache::sim::generate(spec) : frontcache::sim::read_trace(trace_path);
    if (!write_path.empty()) frontcache::sim::write_trace(trace, write_path);
    if (capacities.empty()) return write_path.empty() ? usage() : 0;
    for (const std::string& policy : split(policies)) {
      for (const std::string& cap : split(capacities)) {
        const auto r = frontcache::sim::replay(policy, trace, std::stoull(cap), shards);
        std::printf("%s %llu %llu %llu %.2f\n", r.policy.c_str(),
                    static_cast<unsigned long long>(r.capacity),
                    static_cast<unsigned long long>(r.hits),
                    static_cast<unsigned long long>(r.requests), r.hit_percent());
        std::fflush(stdout);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "frontcache-sim: %s\n", e.what());
    return 1;
  }
  return 0;
}
