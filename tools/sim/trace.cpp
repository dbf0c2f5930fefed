#include "trace.hpp"

#include <zlib.h>

#include <cstdio>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

namespace frontcache::sim {

Trace read_trace(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");  // also reads uncompressed files as they are
  if (file == nullptr) throw std::runtime_error("cannot open trace " + path);
  Trace trace;
  std::unordered_map<std::string, std::uint32_t> ids;
  std::string line;
  char buf[4096];
  bool pending = false;
  auto flush = [&] {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty() && line != "*") {
      auto [it, fresh] = ids.try_emplace(line, static_cast<std::uint32_t>(trace.keys.size()));
      if (fresh) trace.keys.push_back(line);
      trace.requests.push_back(it->second);
    }
    line.clear();
  };
  while (gzgets(file, buf, sizeof buf) != nullptr) {
    std::string_view chunk(buf);
    pending = true;
    if (!chunk.empty() && chunk.back() == '\n') {
      chunk.remove_suffix(1);
      line.append(chunk);
      flush();
      pending = false;
    } else {
      line.append(chunk);
    }
  }
  if (pending) flush();
  int err = 0;
  gzerror(file, &err);
  gzclose(file);
  if (err != Z_OK && err != Z_STREAM_END) throw std::runtime_error("error reading trace " + path);
  return trace;
}

void write_trace(const Trace& trace, const std::string& path) {
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) throw std::runtime_error("cannot write " + path);
  for (std::uint32_t id : trace.requests) std::fprintf(out, "%s\n", trace.keys[id].c_str());
  std::fclose(out);
}

}  // namespace frontcache::sim
