// Invariant §2.1: replies come back in request order whatever the mix of hits, misses and
// errors. A pipeline of 10,000 mixed commands (wrong type, unknown command, wrong arity among
// them) must get byte-for-byte the replies a fresh Redis gives to the same pipeline.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "resp_util.hpp"
#include "target.hpp"

namespace frontcache::integration {
namespace {

std::vector<std::vector<std::string>> mixed_pipeline(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int k) { return static_cast<int>(rng() % static_cast<uint32_t>(k)); };
  std::vector<std::vector<std::string>> cmds;
  cmds.reserve(n);
  while (cmds.size() < n) {
    const std::string key = "k" + std::to_string(pick(40));  // overlapping keys
    const std::string val = "v" + std::to_string(pick(1000));
    switch (pick(20)) {
      case 0:
      case 1:
      case 2:
        cmds.push_back({"SET", key, val});
        break;
      case 3:
      case 4:
      case 5:
      case 6:
        cmds.push_back({"GET", key});
        break;
      case 7:
      case 8:
        cmds.push_back({"INCR", key});
        break;  // ERR not an integer
      case 9:
        cmds.push_back({"LPUSH", key, val});
        break;  // WRONGTYPE on strings
      case 10:
        cmds.push_back({"LRANGE", key, "0", "-1"});
        break;
      case 11:
        cmds.push_back({"DEL", key});
        break;
      case 12:
        cmds.push_back({"NOSUCHCOMMAND", key});
        break;  // unknown command
      case 13:
        cmds.push_back({"GET"});
        break;  // wrong arity
      case 14:
        cmds.push_back({"SET", key});
        break;  // wrong arity
      case 15:
        cmds.push_back({"MGET", key, "k1", "k2", "k3"});
        break;
      case 16:
        cmds.push_back({"HSET", key, "f", val});
        break;
      case 17:
        cmds.push_back({"APPEND", key, val});
        break;
      case 18:
        cmds.push_back({"EXISTS", key, "k0"});
        break;
      case 19:
        cmds.push_back({"INCRBY", key, pick(2) ? "5" : "notanumber"});
        break;
    }
  }
  return cmds;
}

class Ordering : public TargetTest {};

TEST_F(Ordering, TenThousandMixedCommandsMatchRedis) {
  RedisServer reference(target().dir().path());
  const auto cmds = mixed_pipeline(10000, 20240601);
  const auto want = raw_pipeline(reference.port(), cmds);
  const auto got = raw_pipeline(target().port(), cmds);
  ASSERT_EQ(got.size(), want.size());
  size_t errors = 0;
  for (const auto& r : want) errors += r[0] == '-';
  EXPECT_GT(errors, 1000u) << "the pipeline should exercise error replies";
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[i] == want[i]) continue;
    // The history of the key involved, to see which command the target got wrong.
    std::string history;
    const std::string key = cmds[i].size() > 1 ? cmds[i][1] : "";
    for (size_t j = i > 60 ? i - 60 : 0; j <= i; ++j) {
      bool touches = false;
      for (size_t a = 1; a < cmds[j].size(); ++a) touches |= cmds[j][a] == key;
      if (!touches) continue;
      std::string line;
      for (const auto& a : cmds[j]) line += a + " ";
      history += std::to_string(j) + ": " + line + "-> " + want[j].substr(0, 40) + "\n";
    }
    if (std::getenv("FRONTCACHE_IT_DUMP")) {
      for (size_t j = 0; j <= i; ++j) {
        std::string line;
        for (const auto& a : cmds[j]) line += a + " ";
        std::cerr << j << ": " << line << " got=" << got[j].substr(0, 30)
                  << " want=" << want[j].substr(0, 30) << "\n";
      }
    }
    FAIL() << "first difference at reply " << i << " to " << encode_command(cmds[i])
           << "\ngot:  " << got[i] << "\nwant: " << want[i] << "\nhistory of " << key << ":\n"
           << history;
  }
}

TEST_F(Ordering, SameKeysFromManyConnectionsStayInOrderPerConnection) {
  // Each connection INCRs its own counter and reads it back in one pipeline: replies must count
  // up 1..N in order on every connection while the connections run at once.
  constexpr int kConnections = 8;
  constexpr int kPerConn = 2000;
  std::vector<std::string> failures(kConnections);
  std::vector<std::thread> threads;
  for (int id = 0; id < kConnections; ++id) {
    threads.emplace_back([&, id] {
      std::vector<std::vector<std::string>> cmds;
      const std::string key = "counter:" + std::to_string(id);
      for (int i = 0; i < kPerConn; ++i) {
        cmds.push_back({"INCR", key});
        cmds.push_back({"GET", key});
      }
      auto replies = raw_pipeline(target().port(), cmds);
      for (int i = 0; i < kPerConn; ++i) {
        const std::string n = std::to_string(i + 1);
        const std::string want_incr = ":" + n + "\r\n";
        const std::string want_get = "$" + std::to_string(n.size()) + "\r\n" + n + "\r\n";
        if (replies[2 * i] != want_incr || replies[2 * i + 1] != want_get) {
          failures[id] = "connection " + std::to_string(id) + " step " + std::to_string(i) +
                         ": got " + replies[2 * i] + " / " + replies[2 * i + 1];
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& f : failures) EXPECT_TRUE(f.empty()) << f;
}

}  // namespace
}  // namespace frontcache::integration
