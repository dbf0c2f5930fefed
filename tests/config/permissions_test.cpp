// Permission lists in Redis ACL syntax: what parses, into which rules, and the errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_test_support.hpp"

namespace frontcache::config {
namespace {

using Kind = PermissionRule::Kind;
using ::testing::ElementsAre;
using testing::errors_without_position;
using ::testing::HasSubstr;
using testing::load;

std::vector<PermissionRule> rules(std::string_view text) {
  std::string error;
  auto parsed = parse_permissions(text, error);
  EXPECT_TRUE(parsed.has_value()) << text << ": " << error;
  return parsed ? parsed->rules : std::vector<PermissionRule>{};
}

std::string error_of(std::string_view text) {
  std::string error;
  EXPECT_FALSE(parse_permissions(text, error).has_value()) << text;
  return error;
}

TEST(Permissions, RedisSyntax) {
  EXPECT_THAT(rules("+@all -@admin"), ElementsAre(PermissionRule{Kind::AllCommands, ""},
                                                  PermissionRule{Kind::DenyCategory, "admin"}));
  EXPECT_THAT(
      rules("  nocommands +@READ +GET -Client|Kill\t+config|get  "),
      ElementsAre(PermissionRule{Kind::NoCommands, ""}, PermissionRule{Kind::AllowCategory, "read"},
                  PermissionRule{Kind::AllowCommand, "get"},
                  PermissionRule{Kind::DenyCommand, "client|kill"},
                  PermissionRule{Kind::AllowCommand, "config|get"}));
  EXPECT_THAT(rules("allcommands -@all"), ElementsAre(PermissionRule{Kind::AllCommands, ""},
                                                      PermissionRule{Kind::NoCommands, ""}));
  EXPECT_THAT(rules("~app:* ~Cache:[ab]* resetkeys allkeys ~*"),
              ElementsAre(PermissionRule{Kind::KeyPattern, "app:*"},
                          PermissionRule{Kind::KeyPattern, "Cache:[ab]*"},
                          PermissionRule{Kind::ResetKeys, ""}, PermissionRule{Kind::AllKeys, ""},
                          PermissionRule{Kind::AllKeys, ""}));
  EXPECT_THAT(rules("+json.get -module.cmd"),
              ElementsAre(PermissionRule{Kind::AllowCommand, "json.get"},
                          PermissionRule{Kind::DenyCommand, "module.cmd"}));
  EXPECT_TRUE(rules("").empty());
  std::string error;
  EXPECT_EQ(parse_permissions("+@all   -@admin ", error)->text, "+@all -@admin");
}

TEST(Permissions, Errors) {
  EXPECT_THAT(error_of("+@all -@nosuch"), HasSubstr("unknown category \"@nosuch\""));
  EXPECT_THAT(error_of("+@"), HasSubstr("unknown category \"@\""));
  EXPECT_THAT(error_of("+"), HasSubstr("\"\" is not a command name"));
  EXPECT_THAT(error_of("+get|"), HasSubstr("is not a command name"));
  EXPECT_THAT(error_of("+a b"), HasSubstr("\"b\": expected +@category"));
  EXPECT_THAT(error_of("~"), HasSubstr("needs a key pattern"));
  EXPECT_THAT(error_of("%R~app:*"), HasSubstr("%R~, %W~"));
  EXPECT_THAT(error_of("allchannels"), HasSubstr("channel permissions are not supported"));
  EXPECT_THAT(error_of("on"), HasSubstr("user flags"));
  EXPECT_THAT(error_of("nopass"), HasSubstr("passwords are set with"));
  EXPECT_THAT(error_of("(+get ~a)"), HasSubstr("selectors"));
}

TEST(Permissions, AdminCommandsIsTheDefaultList) {
  const Config defaults;
  EXPECT_EQ(defaults.auth.permissions.text, "+@all -@admin");
  EXPECT_EQ(load("admin_commands: forward\n").config->auth.permissions.text, "+@all");
  const auto c = load(
      "admin_commands: forward\n"
      "auth:\n"
      "  permissions: \"+@read\"\n"
      "  users:\n"
      "    - {name: a, password: x}\n"
      "    - {name: b, password: y, permissions: \"+@all ~b:*\"}\n");
  ASSERT_TRUE(c.config) << c.errors.front();
  EXPECT_EQ(c.config->auth.permissions.text, "+@read");
  EXPECT_EQ(c.config->auth.users[0].permissions.text, "+@all");
  EXPECT_EQ(c.config->auth.users[1].permissions.text, "+@all ~b:*");
  const auto deny = load("auth: {users: [{name: a, password: x}]}\n");
  EXPECT_EQ(deny.config->auth.users[0].permissions, default_permissions(AdminCommands::Deny));
}

TEST(Permissions, EveryErrorNamesItsPath) {
  EXPECT_THAT(errors_without_position(load("auth:\n"
                                           "  permissions: \"+@all -@nope\"\n"
                                           "  users:\n"
                                           "    - {name: a, password: x, permissions: \"~\"}\n")),
              ElementsAre(HasSubstr("auth.permissions: unknown category"),
                          HasSubstr("auth.users[0].permissions: \"~\" needs a key pattern")));
}

}  // namespace
}  // namespace frontcache::config
