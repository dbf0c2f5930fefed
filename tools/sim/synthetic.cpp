#include "synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

namespace frontcache::sim {
namespace {

class Zipf {
 public:
  Zipf(std::uint64_t n, double alpha) : cdf_(n) {
    double sum = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      sum += 1.0 / std::pow(static_cast<double>(i + 1), alpha);
      cdf_[i] = sum;
    }
    for (double& c : cdf_) c /= sum;
  }
  std::uint64_t operator()(std::mt19937_64& rng) const {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    return static_cast<std::uint64_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

struct Builder {
  Trace trace;
  std::vector<std::uint32_t> id_of;  // key number -> id, created on first use
  void push(std::uint64_t key) {
    if (key >= id_of.size()) id_of.resize(key + 1, UINT32_MAX);
    if (id_of[key] == UINT32_MAX) {
      id_of[key] = static_cast<std::uint32_t>(trace.keys.size());
      trace.keys.push_back(std::to_string(key));
    }
    trace.requests.push_back(id_of[key]);
  }
};

}  // namespace

Trace generate(const SyntheticSpec& spec) {
  std::mt19937_64 rng(spec.seed);
  Builder b;
  b.trace.requests.reserve(spec.requests);
  if (spec.kind == "zipf") {
    const Zipf zipf(spec.keys, spec.alpha);
    // Ranks are scattered over the key space so popularity is not ordered by key number.
    const std::uint64_t stride = 0x9E3779B97F4A7C15ULL % spec.keys | 1;
    std::uint64_t next_scan_key = spec.keys;
    for (std::uint64_t r = 0; r < spec.requests; ++r) {
      if (spec.scan_every != 0 && r > 0 && r % spec.scan_every == 0) {
        for (std::uint64_t s = 0; s < spec.scan_length && r < spec.requests; ++s, ++r) {
          b.push(next_scan_key++);
        }
      }
      b.push((zipf(rng) * stride) % spec.keys);
    }
  } else if (spec.kind == "loop") {
    for (std::uint64_t r = 0; r < spec.requests; ++r) b.push(r % spec.keys);
  } else if (spec.kind == "shifting") {
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    std::uniform_int_distribution<std::uint64_t> any(0, spec.keys - 1);
    std::uniform_int_distribution<std::uint64_t> hot(0, spec.hot_size - 1);
    std::uint64_t base = 0;
    for (std::uint64_t r = 0; r < spec.requests; ++r) {
      if (r > 0 && r % spec.shift_every == 0) base = any(rng);
      b.push(coin(rng) < spec.hot_share ? (base + hot(rng)) % spec.keys : any(rng));
    }
  } else {
    throw std::invalid_argument("unknown synthetic kind " + spec.kind);
  }
  return std::move(b.trace);
}

}  // namespace frontcache::sim
