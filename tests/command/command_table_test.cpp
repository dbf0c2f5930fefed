#include "frontcache/command/command_table.hpp"

#include <gtest/gtest.h>

namespace frontcache::command {
namespace {

std::vector<std::string_view> keys_of(const CommandTable& t, std::vector<std::string_view> args) {
  std::vector<std::string_view> out;
  const CommandInfo* info = t.find(args[0]);
  if (info != nullptr) CommandTable::write_keys(CommandTable::resolve(*info, args), args, out);
  return out;
}

TEST(CommandTable, LookupIsCaseInsensitiveAndRoutesAreOurs) {
  CommandTable t;
  ASSERT_NE(t.find("pInG"), nullptr);
  EXPECT_EQ(t.find("PING")->route, Route::Local);
  EXPECT_EQ(t.find("multi")->route, Route::Stateful);
  EXPECT_EQ(t.find("shutdown")->route, Route::Never);
  EXPECT_EQ(t.find("config")->route, Route::Admin);
  EXPECT_EQ(t.find("nosuchcommand"), nullptr);
  EXPECT_EQ(t.find(std::string(100, 'x')), nullptr);
}

TEST(CommandTable, FallbackWriteKeys) {
  CommandTable t;
  EXPECT_EQ(keys_of(t, {"SET", "k", "v"}), (std::vector<std::string_view>{"k"}));
  EXPECT_EQ(keys_of(t, {"DEL", "a", "b", "c"}), (std::vector<std::string_view>{"a", "b", "c"}));
  EXPECT_EQ(keys_of(t, {"MSET", "a", "1", "b", "2"}), (std::vector<std::string_view>{"a", "b"}));
  EXPECT_EQ(keys_of(t, {"RENAME", "a", "b"}), (std::vector<std::string_view>{"a", "b"}));
  EXPECT_EQ(keys_of(t, {"EVAL", "return 1", "2", "x", "y", "arg"}),
            (std::vector<std::string_view>{"x", "y"}));
  EXPECT_EQ(keys_of(t, {"FCALL", "f", "1", "x", "arg"}), (std::vector<std::string_view>{"x"}));
  EXPECT_EQ(keys_of(t, {"EVAL", "return 1", "notanumber", "x"}), std::vector<std::string_view>{});
  EXPECT_EQ(keys_of(t, {"EVAL", "return 1", "5", "x"}), (std::vector<std::string_view>{"x"}));
  EXPECT_EQ(keys_of(t, {"SORT", "src", "BY", "w", "STORE", "dst"}),
            (std::vector<std::string_view>{"src", "dst"}));
  EXPECT_EQ(keys_of(t, {"LMPOP", "2", "l1", "l2", "LEFT"}),
            (std::vector<std::string_view>{"l1", "l2"}));
  EXPECT_TRUE(t.find("flushall")->has(kFlush));
}

TEST(CommandTable, MergeTakesUpstreamKeysButKeepsRoutes) {
  CommandTable t;
  CommandInfo xgroup{"xgroup", Route::Forward, 0, -2, 0, 0, 0, {}, Op::None, ""};
  xgroup.subcommands.push_back({"create", Route::Forward, kWrite, -5, 2, 2, 1, {}, Op::None, ""});
  CommandInfo ping{"ping", Route::Forward, kReadonly, -1, 0, 0, 0, {}, Op::None, ""};
  t.merge({xgroup, ping});
  EXPECT_EQ(t.find("ping")->route, Route::Local);
  EXPECT_EQ(keys_of(t, {"XGROUP", "CREATE", "stream", "g", "$"}),
            (std::vector<std::string_view>{"stream"}));
  EXPECT_EQ(keys_of(t, {"XGROUP", "HELP"}), std::vector<std::string_view>{});
}

TEST(CommandTable, CacheableCommandsDefaultToTheirFirstKey) {
  CommandTable t;
  const std::vector<std::string> names{"GET", "hgetall", "EXISTS"};
  t.set_cacheable(names);
  EXPECT_TRUE(t.find("get")->has(kCacheable));
  EXPECT_EQ(t.find("hgetall")->first_key, 1);
  EXPECT_EQ(t.find("exists")->last_key, -1);
  EXPECT_FALSE(t.find("set")->has(kCacheable));
}

}  // namespace
}  // namespace frontcache::command
