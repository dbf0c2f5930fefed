// redis-benchmark runs every workload to the end with no error replies, with and without
// pipelining. Throughput is reported, not judged (DESIGN.md §6: no gate on absolute speed).
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "target.hpp"

namespace frontcache::integration {
namespace {

// "test","rps",... rows of redis-benchmark --csv; returns test name -> rps.
std::map<std::string, double> parse_csv(const std::string& csv) {
  std::map<std::string, double> rows;
  std::istringstream in(csv);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() < 2 || line[0] != '"') continue;
    const size_t name_end = line.find('"', 1);
    if (name_end == std::string::npos) continue;
    const std::string name = line.substr(1, name_end - 1);
    if (name == "test") continue;  // header
    const size_t rps_start = line.find('"', name_end + 1);
    if (rps_start == std::string::npos) continue;
    rows[name] = std::strtod(line.c_str() + rps_start + 1, nullptr);
  }
  return rows;
}

// A run ended by itself, with no error reply, and has a row with a rate for every name of
// `expected` and no other.
void expect_clean_run(const RunResult& r, const std::set<std::string>& expected) {
  ASSERT_FALSE(r.timed_out) << "redis-benchmark did not finish; stdout:\n" << r.out;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("ERR"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("ERR"), std::string::npos) << r.out;
  const auto rows = parse_csv(r.out);
  for (const auto& name : expected) {
    auto it = rows.find(name);
    ASSERT_NE(it, rows.end()) << "no row for " << name << " in:\n" << r.out;
    EXPECT_GT(it->second, 0.0) << name;
  }
  EXPECT_EQ(rows.size(), expected.size()) << r.out;
}

class RedisBenchmark : public TargetTest, public ::testing::WithParamInterface<int> {};
class RedisBenchmarkDefaults : public TargetTest {};

TEST_P(RedisBenchmark, AllWorkloadsCompleteWithoutErrors) {
  const int pipeline = GetParam();
  std::vector<std::string> argv = {"redis-benchmark",
                                   "-h",
                                   target().host(),
                                   "-p",
                                   std::to_string(target().port()),
                                   "-t",
                                   "set,get,incr,lpush,rpop,sadd,hset,lrange_100,mset",
                                   "-n",
                                   "100000",
                                   "-c",
                                   "50",
                                   "--csv"};
  if (pipeline > 1) {
    argv.push_back("-P");
    argv.push_back(std::to_string(pipeline));
  }
  RunResult r = run_command(argv, target().dir().path(), 230s);
  // Its CONFIG GET save / appendonly are answered under the default permissions (+@all -@admin).
  EXPECT_EQ(r.err.find("Could not fetch server CONFIG"), std::string::npos) << r.err;
  expect_clean_run(r, {"SET", "GET", "INCR", "LPUSH", "RPOP", "SADD", "HSET",
                       "LPUSH (needed to benchmark LRANGE)", "LRANGE_100 (first 100 elements)",
                       "MSET (10 keys)"});
  std::cout << "redis-benchmark -P " << pipeline << " against " << target_name(target().kind())
            << ":\n"
            << r.out;
}

// redis-benchmark's default set (no -t: what `redis-benchmark -q` runs) on random keys (-r), so
// that in cluster mode the keys, and the ten keys of each MSET, spread over every master.
TEST_F(RedisBenchmarkDefaults, DefaultSetCompletesWithoutErrors) {
  RunResult r =
      run_command({"redis-benchmark", "-h", target().host(), "-p", std::to_string(target().port()),
                   "-n", "20000", "-r", "100000", "-c", "50", "--csv"},
                  target().dir().path(), 230s);
  expect_clean_run(r, {"PING_INLINE",
                       "PING_MBULK",
                       "SET",
                       "GET",
                       "INCR",
                       "LPUSH",
                       "RPUSH",
                       "LPOP",
                       "RPOP",
                       "SADD",
                       "HSET",
                       "SPOP",
                       "ZADD",
                       "ZPOPMIN",
                       "LPUSH (needed to benchmark LRANGE)",
                       "LRANGE_100 (first 100 elements)",
                       "LRANGE_300 (first 300 elements)",
                       "LRANGE_500 (first 500 elements)",
                       "LRANGE_600 (first 600 elements)",
                       "MSET (10 keys)"});
  // The run wrote through the target: keys exist (on every master in cluster mode).
  auto c = target().client();
  EXPECT_GT(c("DBSIZE").integer, 0);
  if (target().is_cluster()) {
    for (int node = 0; node < target().cluster()->size(); ++node) {
      EXPECT_GT(target().cluster()->client(node)("DBSIZE").integer, 0) << "master " << node;
    }
  }
  std::cout << "redis-benchmark default set against " << target_name(target().kind()) << ":\n"
            << r.out;
}

INSTANTIATE_TEST_SUITE_P(Pipelining, RedisBenchmark, ::testing::Values(1, 16),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return "P" + std::to_string(p.param);
                         });

}  // namespace
}  // namespace frontcache::integration
