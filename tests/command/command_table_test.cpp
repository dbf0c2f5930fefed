#include "frontcache/command/command_table.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace frontcache::command {
namespace {

std::vector<std::string_view> keys_of(const CommandTable& t, std::vector<std::string_view> args) {
  std::vector<std::string_view> out;
  const CommandInfo* info = t.find(args[0]);
  if (info != nullptr) CommandTable::write_keys(CommandTable::resolve(*info, args), args, out);
  return out;
}

// An entry as the upstream's COMMAND reports it (without categories or key specs).
CommandInfo reported(std::string name, std::uint32_t flags, int arity, int first, int last,
                     int step) {
  CommandInfo info;
  info.name = std::move(name);
  info.flags = flags;
  info.arity = arity;
  info.first_key = first;
  info.last_key = last;
  info.key_step = step;
  return info;
}

TEST(CommandTable, LookupIsCaseInsensitiveAndRoutesAreOurs) {
  CommandTable t;
  ASSERT_NE(t.find("pInG"), nullptr);
  EXPECT_EQ(t.find("PING")->route, Route::Local);
  EXPECT_EQ(t.find("multi")->route, Route::Stateful);
  EXPECT_EQ(t.find("shutdown")->route, Route::Never);
  EXPECT_EQ(t.find("config")->route, Route::Forward);
  EXPECT_EQ(t.classify(std::vector<std::string_view>{"ACL", "WHOAMI"}).route, Route::Local);
  EXPECT_EQ(t.classify(std::vector<std::string_view>{"config", "get", "x"}).op, Op::ConfigGet);
  EXPECT_EQ(t.find("nosuchcommand"), nullptr);
  EXPECT_EQ(t.find(std::string(100, 'x')), nullptr);
}

// A connection's memo of its last command name gives what the lookup gives, for every
// sequence of names (case, subcommands, unknown and over-long names), and is what answers a
// repeated name.
TEST(CommandTable, NameMemoAnswersLikeTheLookup) {
  CommandTable t;
  CommandTable::NameMemo memo;
  const std::string long_name(40, 'x');
  const std::vector<std::vector<std::string_view>> requests{{"GET", "k"},
                                                            {"GET", "k"},
                                                            {"get", "k"},
                                                            {"CONFIG", "GET", "x"},
                                                            {"CONFIG", "SET"},
                                                            {"config", "get", "y"},
                                                            {"NOSUCH", "a"},
                                                            {"NOSUCH"},
                                                            {long_name, "a"},
                                                            {long_name},
                                                            {"GET"},
                                                            {"XREAD", "BLOCK", "0"},
                                                            {"XREAD", "COUNT"},
                                                            {"CLIENT", "ID"},
                                                            {"client", "id"},
                                                            {"GET", "k", "extra"}};
  for (const auto& args : requests) {
    const Classified plain = t.classify(args);
    const Classified memoized = t.classify(args, memo);
    EXPECT_EQ(memoized.info, plain.info) << args[0];
    EXPECT_EQ(memoized.spec, plain.spec) << args[0];
    EXPECT_EQ(memoized.route, plain.route) << args[0];
    EXPECT_EQ(memoized.op, plain.op) << args[0];
    EXPECT_EQ(memoized.arity_ok, plain.arity_ok) << args[0];
  }
  // The same bytes again are answered from the memo, without a lookup.
  const std::vector<std::string_view> get{"GET", "k"};
  t.classify(get, memo);
  const CommandInfo* other = t.find("set");
  memo.info = other;
  EXPECT_EQ(t.classify(get, memo).info, other);
  const std::vector<std::string_view> lower{"get", "k"};
  EXPECT_EQ(t.classify(lower, memo).info, t.find("get")) << "other bytes are looked up";
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
  CommandInfo xgroup = reported("xgroup", 0, -2, 0, 0, 0);
  xgroup.subcommands.push_back(reported("create", kWrite, -5, 2, 2, 1));
  CommandInfo ping = reported("ping", kReadonly, -1, 0, 0, 0);
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

std::vector<std::string_view> access(const CommandTable& t, std::vector<std::string_view> args,
                                     bool* complete = nullptr) {
  std::vector<std::string_view> out;
  const Classified c = t.classify(args);
  const bool all = c.spec != nullptr && CommandTable::access_keys(*c.spec, args, out);
  if (complete != nullptr) *complete = all;
  return out;
}

TEST(CommandTable, BuiltinCategoriesAreRedis7s) {
  CommandTable t;
  EXPECT_EQ(t.find("get")->categories, kCatRead | kCatString | kCatFast);
  EXPECT_EQ(t.find_full("config|get")->categories, kCatAdmin | kCatSlow | kCatDangerous);
  EXPECT_EQ(t.find_full("CLIENT|List")->categories & kCatAdmin, kCatAdmin);
  EXPECT_EQ(t.find_full("client|info")->categories & kCatAdmin, 0u);
  EXPECT_EQ(t.find("monitor")->categories & kCatAdmin, kCatAdmin);
  EXPECT_EQ(t.find_full("cluster|reset")->categories & kCatAdmin, kCatAdmin);
  EXPECT_EQ(t.find_full("cluster|slots")->categories & kCatAdmin, 0u);
  EXPECT_EQ(t.find("info")->categories, kCatSlow | kCatDangerous);
  EXPECT_EQ(t.find("frontcache")->categories & kCatAdmin, kCatAdmin);
  EXPECT_EQ(t.find_full("config|nosuch"), nullptr);
  EXPECT_EQ(t.find_full("nosuch|get"), nullptr);
  // Every command has a category (@fast or @slow at least), and ids are dense and unique.
  std::vector<int> seen(t.ids(), 0);
  std::vector<std::string> uncategorized;
  t.for_each([&](const CommandInfo& info) {
    ++seen.at(info.id);
    if (info.categories == 0) uncategorized.push_back(info.fullname);
    for (const auto& sub : info.subcommands) {
      ++seen.at(sub.id);
      if (sub.categories == 0) uncategorized.push_back(sub.fullname);
    }
  });
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), static_cast<long>(seen.size()));
  // WAITAOF is Redis 7.2's (routed by us as blocking): its categories come from COMMAND.
  EXPECT_EQ(uncategorized, std::vector<std::string>{"waitaof"});
}

TEST(CommandTable, CategoryNames) {
  EXPECT_EQ(category_bit("read"), kCatRead);
  EXPECT_EQ(category_bit("ADMIN"), kCatAdmin);
  EXPECT_EQ(category_bit("scripting"), kCatScripting);
  EXPECT_EQ(category_bit("@read"), 0u);
  EXPECT_EQ(category_bit("all"), 0u);
  EXPECT_EQ(category_bit(""), 0u);
}

TEST(CommandTable, AccessKeysFollowTheKeySpecs) {
  CommandTable t;
  using Keys = std::vector<std::string_view>;
  bool complete = false;
  EXPECT_EQ(access(t, {"GET", "k"}, &complete), Keys{"k"});
  EXPECT_TRUE(complete);
  EXPECT_EQ(access(t, {"MSET", "a", "1", "b", "2"}), (Keys{"a", "b"}));
  EXPECT_EQ(access(t, {"MGET", "a", "b"}), (Keys{"a", "b"}));
  EXPECT_EQ(access(t, {"ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"}),
            (Keys{"d", "a", "b"}));
  EXPECT_EQ(access(t, {"XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"}),
            (Keys{"s1", "s2"}));
  EXPECT_EQ(access(t, {"XREADGROUP", "GROUP", "g", "c", "STREAMS", "s1", ">"}), (Keys{"s1"}));
  EXPECT_EQ(access(t, {"EVAL", "return 1", "2", "x", "y", "arg"}), (Keys{"x", "y"}));
  EXPECT_EQ(access(t, {"EVAL_RO", "return 1", "1", "x", "arg"}), (Keys{"x"}));
  EXPECT_EQ(access(t, {"BLMPOP", "0", "2", "l1", "l2", "LEFT"}), (Keys{"l1", "l2"}));
  EXPECT_EQ(access(t, {"RENAME", "a", "b"}), (Keys{"a", "b"}));
  EXPECT_EQ(access(t, {"OBJECT", "ENCODING", "k"}), (Keys{"k"}));
  EXPECT_EQ(access(t, {"PING"}, &complete), Keys{});
  EXPECT_TRUE(complete);
  EXPECT_EQ(access(t, {"SORT", "src", "LIMIT", "0", "5", "STORE", "dst"}, &complete),
            (Keys{"src", "dst"}));
  EXPECT_TRUE(complete);
  // Keys the arguments cannot name: derived from data, or a count that does not parse.
  access(t, {"SORT", "src", "BY", "w_*"}, &complete);
  EXPECT_FALSE(complete);
  access(t, {"MIGRATE", "h", "1", "", "0", "5", "KEYS", "a", "b"}, &complete);
  EXPECT_FALSE(complete);
  access(t, {"EVAL", "return 1", "x"}, &complete);
  EXPECT_FALSE(complete);
  access(t, {"ZUNION", "5", "a"}, &complete);
  EXPECT_FALSE(complete);
}

TEST(CommandTable, MergeKeepsWhatTheUpstreamDoesNotReport) {
  CommandTable t;
  // A Redis 6 style entry: no categories, no key specs, no subcommands.
  CommandInfo get = reported("get", kReadonly, 2, 1, 1, 1);
  CommandInfo client = reported("client", 0, -2, 0, 0, 0);
  CommandInfo set = reported("set", kWrite, -3, 1, 1, 1);
  set.categories = kCatWrite;
  t.merge({get, client, set});
  EXPECT_EQ(t.find("get")->categories, kCatRead | kCatString | kCatFast);
  EXPECT_EQ(t.find("get")->key_specs.size(), 1u);
  EXPECT_EQ(t.find("set")->categories, kCatWrite);
  ASSERT_NE(t.find_full("client|list"), nullptr);
  EXPECT_EQ(t.find_full("client|list")->route, Route::Local);
  EXPECT_EQ(t.classify(std::vector<std::string_view>{"CLIENT", "ID"}).op, Op::ClientId);
}

}  // namespace
}  // namespace frontcache::command
