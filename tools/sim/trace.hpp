// Traces for the simulator: a request sequence of dense key ids plus the key text of each id.
// Read from text files (one key per line, `*` and blank lines skipped; gzip read directly) or
// generated synthetically with a fixed seed (synthetic.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace frontcache::sim {

struct Trace {
  std::vector<std::uint32_t> requests;  // key ids
  std::vector<std::string> keys;        // id -> key text
};

// Throws std::runtime_error when the file cannot be read.
Trace read_trace(const std::string& path);
void write_trace(const Trace& trace, const std::string& path);

}  // namespace frontcache::sim
