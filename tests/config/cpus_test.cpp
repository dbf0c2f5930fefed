// `workers: auto`: parsing cgroup v2 cpu.max and finding the tightest quota between the
// process's cgroup and the root (on a fake /sys/fs/cgroup tree), and the live budget.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "frontcache/config/config.hpp"

namespace frontcache::config {
namespace {

TEST(CpuMax, Parsing) {
  struct Case {
    const char* text;
    std::optional<std::size_t> cpus;
  };
  const Case cases[] = {
      {"max 100000\n", std::nullopt},  // no quota
      {"max\n", std::nullopt},
      {"100000 100000\n", 1},
      {"200000 100000\n", 2},
      {"150000 100000\n", 2},  // 1.5 CPUs: rounded up
      {"50000 100000\n", 1},   // half a CPU: still one worker
      {"1000 100000\n", 1},
      {"400000 100000", 4},  // no trailing newline
      {"300000\n", 3},       // quota only: the default period, 100000
      {"800000 200000\n", 4},
      {"", std::nullopt},
      {"garbage\n", std::nullopt},
      {"100000 0\n", std::nullopt},
      {"-1 100000\n", std::nullopt},
      {"0 100000\n", std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(cpus_from_cpu_max(c.text), c.cpus) << c.text;
  }
}

// A fake cgroup v2 mount: <root>/<path>/cpu.max files.
class FakeCgroups : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "fc-cgroup-XXXXXX").string();
    root_ = ::mkdtemp(tmpl.data());
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void cpu_max(const std::string& path, const std::string& text) {
    std::filesystem::create_directories(root_ + path);
    std::ofstream(root_ + path + "/cpu.max") << text;
  }
  std::string root_;
};

TEST_F(FakeCgroups, TightestQuotaOnThePathToTheRoot) {
  cpu_max("/kubepods", "800000 100000\n");
  cpu_max("/kubepods/pod1", "max 100000\n");
  cpu_max("/kubepods/pod1/app", "250000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(root_, "0::/kubepods/pod1/app\n"), 3u);
  // A parent's quota binds a child without one.
  cpu_max("/kubepods/pod2", "150000 100000\n");
  std::filesystem::create_directories(root_ + "/kubepods/pod2/app");
  EXPECT_EQ(cgroup_cpu_limit(root_, "0::/kubepods/pod2/app\n"), 2u);
}

TEST_F(FakeCgroups, NoQuotaOrNoV2Hierarchy) {
  cpu_max("/system.slice/frontcache.service", "max 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(root_, "0::/system.slice/frontcache.service\n"), std::nullopt);
  EXPECT_EQ(cgroup_cpu_limit(root_, "0::/\n"), std::nullopt);
  // cgroup v1 only: no "0::" line.
  EXPECT_EQ(cgroup_cpu_limit(root_, "12:cpu,cpuacct:/docker/abc\n"), std::nullopt);
  EXPECT_EQ(cgroup_cpu_limit(root_, ""), std::nullopt);
  // Hybrid: the v2 line among v1 lines.
  cpu_max("/docker/abc", "200000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(root_, "12:cpu,cpuacct:/docker/abc\n0::/docker/abc\n"), 2u);
}

TEST(AvailableCpus, FollowsTheAffinityMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  const CpuBudget budget = available_cpus();
  EXPECT_EQ(budget.affinity, static_cast<std::size_t>(CPU_COUNT(&set)));
  EXPECT_GE(budget.cpus, 1u);
  EXPECT_LE(budget.cpus, budget.affinity);
  if (budget.quota) {
    EXPECT_LE(budget.cpus, *budget.quota);
  }
  Config c;
  EXPECT_EQ(resolved_workers(c), budget.cpus);
  c.workers = 7;
  EXPECT_EQ(resolved_workers(c), 7u);
}

}  // namespace
}  // namespace frontcache::config
