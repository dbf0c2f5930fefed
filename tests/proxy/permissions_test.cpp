// Permission lists compiled against the command table, and the check the router makes once per
// request: Redis's ACL semantics (rules in order, categories, subcommands, key patterns).
#include "permissions.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace frontcache::proxy {
namespace {

using Args = std::vector<std::string_view>;

class PermissionCheck : public ::testing::Test {
 protected:
  Permissions compile(std::string_view text) {
    std::string error;
    auto list = config::parse_permissions(text, error);
    EXPECT_TRUE(list) << error;
    unknown_.clear();
    return Permissions(list ? *list : config::Permissions{}, table_, unknown_);
  }
  Access check(const Permissions& p, Args args, bool complete = true) {
    return p.check(table_.classify(args), args, complete, scratch_);
  }

  command::CommandTable table_;
  std::vector<std::string> unknown_;
  std::vector<std::string_view> scratch_;
};

TEST_F(PermissionCheck, DefaultSetLeavesOutAdmin) {
  const Permissions p = compile("+@all -@admin");
  for (Args allowed : {Args{"GET", "k"}, Args{"set", "k", "v"}, Args{"INFO"}, Args{"KEYS", "*"},
                       Args{"CLIENT", "INFO"}, Args{"CLIENT", "SETNAME", "x"},
                       Args{"CLUSTER", "SLOTS"}, Args{"FLUSHDB"}, Args{"ACL", "WHOAMI"},
                       Args{"PUBLISH", "c", "m"}, Args{"SUBSCRIBE", "c"}, Args{"EVAL", "x", "0"}}) {
    EXPECT_EQ(check(p, allowed), Access::Allowed)
        << allowed[0] << " " << allowed[1 % allowed.size()];
  }
  for (Args denied :
       {Args{"CONFIG", "GET", "requirepass"}, Args{"config", "set", "a", "b"}, Args{"MONITOR"},
        Args{"CLIENT", "LIST"}, Args{"CLIENT", "KILL", "TYPE", "normal"}, Args{"CLUSTER", "RESET"},
        Args{"CLUSTER", "FAILOVER"}, Args{"CLUSTER", "MEET", "h", "1"},
        Args{"CLUSTER", "FORGET", "id"}, Args{"CLUSTER", "SETSLOT", "1", "STABLE"},
        Args{"DEBUG", "SLEEP", "0"}, Args{"SHUTDOWN"}, Args{"ACL", "LIST"},
        Args{"FRONTCACHE", "CONFIG"}, Args{"REPLICAOF", "NO", "ONE"}, Args{"SLOWLOG", "GET"}}) {
    EXPECT_EQ(check(p, denied), Access::DeniedCommand)
        << denied[0] << " " << denied[1 % denied.size()];
  }
}

TEST_F(PermissionCheck, EveryoneMayAuthenticate) {
  const Permissions none = compile("nocommands");
  EXPECT_EQ(check(none, {"GET", "k"}), Access::DeniedCommand);
  for (Args args : {Args{"AUTH", "pw"}, Args{"HELLO", "2"}, Args{"QUIT"}, Args{"RESET"}}) {
    EXPECT_EQ(check(none, args), Access::Allowed) << args[0];
  }
  EXPECT_EQ(check(Permissions(), {"AUTH", "a", "b"}), Access::Allowed);
  EXPECT_EQ(check(Permissions(), {"PING"}), Access::DeniedCommand);
}

TEST_F(PermissionCheck, RulesApplyInOrder) {
  const Permissions p = compile("-@all +@read -@string +ping +config|get -get +client");
  EXPECT_EQ(check(p, {"HGET", "h", "f"}), Access::Allowed);
  EXPECT_EQ(check(p, {"GET", "k"}), Access::DeniedCommand);
  EXPECT_EQ(check(p, {"STRLEN", "k"}), Access::DeniedCommand);
  EXPECT_EQ(check(p, {"SET", "k", "v"}), Access::DeniedCommand);
  EXPECT_EQ(check(p, {"PING"}), Access::Allowed);
  EXPECT_EQ(check(p, {"CONFIG", "GET", "x"}), Access::Allowed);
  EXPECT_EQ(check(p, {"CONFIG", "SET", "x", "y"}), Access::DeniedCommand);
  // +client: the container and every subcommand.
  EXPECT_EQ(check(p, {"CLIENT", "LIST"}), Access::Allowed);
  EXPECT_EQ(check(p, {"CLIENT", "KILL", "ID", "1"}), Access::Allowed);
  const Permissions q = compile("+@all -client|kill -@dangerous +info");
  EXPECT_EQ(check(q, {"CLIENT", "KILL", "ID", "1"}), Access::DeniedCommand);
  EXPECT_EQ(check(q, {"CLIENT", "ID"}), Access::Allowed);
  EXPECT_EQ(check(q, {"KEYS", "*"}), Access::DeniedCommand);
  EXPECT_EQ(check(q, {"INFO"}), Access::Allowed);
  EXPECT_TRUE(unknown_.empty());
}

TEST_F(PermissionCheck, RedisErrorsComeFirst) {
  const Permissions p = compile("+@all -@admin");
  // Unknown subcommand, wrong arity, unknown command: Redis answers them without running
  // anything, in that order before its ACL check.
  EXPECT_EQ(check(p, {"CONFIG", "NOSUCH"}), Access::Allowed);
  EXPECT_EQ(check(p, {"CONFIG", "GET"}), Access::Allowed);
  EXPECT_EQ(check(p, {"NOSUCHCOMMAND"}), Access::Allowed);
}

TEST_F(PermissionCheck, FallbackTableUnknownNames) {
  // With the built-in table only, a name it does not know follows allcommands/nocommands or
  // the last rule that named it.
  const Permissions p = compile("+@all -@admin -mod.cmd");
  EXPECT_EQ(unknown_, std::vector<std::string>{"mod.cmd"});
  EXPECT_EQ(check(p, {"OTHER.CMD"}, false), Access::Allowed);
  EXPECT_EQ(check(p, {"MOD.CMD", "x"}, false), Access::DeniedCommand);
  EXPECT_EQ(check(p, {"MOD.CMD", "x"}, true), Access::Allowed);  // Redis: unknown command
  EXPECT_EQ(check(compile("+@read"), {"OTHER.CMD"}, false), Access::DeniedCommand);
  EXPECT_EQ(check(compile("+@all -mod.cmd +mod.cmd"), {"mod.cmd"}, false), Access::Allowed);
  EXPECT_EQ(check(compile("-mod.cmd +@all"), {"mod.cmd"}, false), Access::Allowed);
  // An unknown subcommand of a known container: allowed only if the whole container is.
  EXPECT_EQ(check(p, {"CONFIG", "NEWSUB"}, false), Access::DeniedCommand);
  EXPECT_EQ(check(p, {"OBJECT", "NEWSUB"}, false), Access::Allowed);
}

TEST_F(PermissionCheck, KeyPatterns) {
  const Permissions p = compile("+@all ~app:* ~cache:[ab]");
  EXPECT_EQ(check(p, {"GET", "app:1"}), Access::Allowed);
  EXPECT_EQ(check(p, {"GET", "cache:b"}), Access::Allowed);
  EXPECT_EQ(check(p, {"GET", "cache:c"}), Access::DeniedKey);
  EXPECT_EQ(check(p, {"MSET", "app:1", "x", "other", "y"}), Access::DeniedKey);
  EXPECT_EQ(check(p, {"MSET", "app:1", "x", "app:2", "y"}), Access::Allowed);
  EXPECT_EQ(check(p, {"EVAL", "s", "2", "app:1", "x"}), Access::DeniedKey);
  EXPECT_EQ(check(p, {"EVAL", "s", "1", "app:1", "x"}), Access::Allowed);
  EXPECT_EQ(check(p, {"XREAD", "STREAMS", "app:s", "x", "0", "0"}), Access::DeniedKey);
  EXPECT_EQ(check(p, {"PING"}), Access::Allowed);
  EXPECT_EQ(check(p, {"SORT", "app:l", "STORE", "other"}), Access::DeniedKey);
  EXPECT_EQ(check(p, {"SORT", "app:l", "BY", "app:w_*"}), Access::DeniedKey);  // as Redis
  EXPECT_EQ(check(p, {"SORT", "app:l", "STORE", "app:d"}), Access::Allowed);
  EXPECT_EQ(check(p, {"NOSUCH.CMD", "app:1"}, false), Access::DeniedKey);  // keys unknown
  // The command is checked before its keys.
  EXPECT_EQ(check(compile("+get ~a"), {"SET", "b", "v"}), Access::DeniedCommand);
  // allkeys / ~* / resetkeys, in order; no key rule at all means every key.
  EXPECT_TRUE(compile("+@all").all_keys());
  EXPECT_TRUE(compile("+@all ~a allkeys").all_keys());
  EXPECT_FALSE(compile("+@all allkeys resetkeys").all_keys());
  EXPECT_EQ(check(compile("+@all allkeys resetkeys"), {"GET", "a"}), Access::DeniedKey);
  EXPECT_EQ(check(compile("+@all ~a resetkeys ~b"), {"GET", "a"}), Access::DeniedKey);
  EXPECT_EQ(check(compile("+@all ~a resetkeys ~b"), {"GET", "b"}), Access::Allowed);
}

TEST_F(PermissionCheck, SafeConfigGet) {
  const Permissions p = compile("+@all -@admin");
  EXPECT_EQ(check(p, {"CONFIG", "GET", "save"}), Access::Allowed);
  EXPECT_EQ(check(p, {"config", "get", "APPENDONLY", "databases"}), Access::Allowed);
  EXPECT_EQ(check(p, {"CONFIG", "GET", "save", "requirepass"}), Access::DeniedCommand);
  EXPECT_EQ(check(p, {"CONFIG", "GET", "sav*"}), Access::DeniedCommand);
  EXPECT_EQ(check(p, {"CONFIG", "GET", "*"}), Access::DeniedCommand);
}

TEST_F(PermissionCheck, AccessControlPerUser) {
  config::Config c;
  c.auth.password = "pw";
  std::string error;
  config::AuthUser ops;
  ops.name = "ops";
  ops.password = "x";
  ops.permissions = *config::parse_permissions("+@all -nosuch", error);
  c.auth.users.push_back(ops);
  const AccessControl access(c, table_, 7);
  EXPECT_EQ(access.generation(), 7u);
  std::vector<std::string_view> scratch;
  const Args config_get{"CONFIG", "GET", "x"};
  const auto cls = table_.classify(config_get);
  EXPECT_EQ(access.user("ops").check(cls, config_get, true, scratch), Access::Allowed);
  EXPECT_EQ(access.user("default").check(cls, config_get, true, scratch), Access::DeniedCommand);
  EXPECT_EQ(access.user("gone").check(cls, config_get, true, scratch), Access::DeniedCommand);
  ASSERT_EQ(access.warnings().size(), 1u);
  EXPECT_NE(access.warnings()[0].find("auth.users[0].permissions: unknown command 'nosuch'"),
            std::string::npos)
      << access.warnings()[0];
}

TEST(Categories, ConfigAndCommandTableAgree) {
  const auto names = config::acl_categories();
  ASSERT_EQ(names.size(), command::kCategoryNames.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(names[i], command::kCategoryNames[i]);
    EXPECT_EQ(command::category_bit(names[i]), 1u << i);
  }
}

}  // namespace
}  // namespace frontcache::proxy
