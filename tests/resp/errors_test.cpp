#include "frontcache/resp/errors.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "frontcache/resp/request_parser.hpp"

namespace frontcache::resp {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

TEST(Replies, Builders) {
  EXPECT_EQ(error_reply("ERR boom"), "-ERR boom\r\n");
  EXPECT_EQ(error_reply("ERR a\r\nb"), "-ERR a  b\r\n");
  EXPECT_EQ(status_reply("OK"), "+OK\r\n");
  EXPECT_EQ(bulk_reply("foo"), "$3\r\nfoo\r\n");
  EXPECT_EQ(bulk_reply(""), "$0\r\n\r\n");
  EXPECT_EQ(bulk_reply("a\r\n\0b"sv), "$5\r\na\r\n\0b\r\n"s);
  EXPECT_EQ(integer_reply(0), ":0\r\n");
  EXPECT_EQ(integer_reply(-42), ":-42\r\n");
  EXPECT_EQ(integer_reply(9223372036854775807LL), ":9223372036854775807\r\n");
}

TEST(Replies, UnknownCommand) {
  const std::vector<std::string_view> args = {"a", "b"};
  EXPECT_EQ(unknown_command_error("foo", args),
            "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
  EXPECT_EQ(unknown_command_error("foo", {}),
            "-ERR unknown command 'foo', with args beginning with: \r\n");
}

TEST(Replies, UnknownCommandTruncatesLikeRedis) {
  const std::string long_name(200, 'n');
  EXPECT_EQ(unknown_command_error(long_name, {}),
            "-ERR unknown command '" + std::string(128, 'n') + "', with args beginning with: \r\n");

  // Each argument is cut to (128 - bytes listed so far); listing stops at 128 bytes.
  const std::string a(100, 'a');
  const std::string b(100, 'b');
  const std::vector<std::string_view> args = {a, b, "c"};
  // After "'aaa…' " (103 bytes) the second gets precision 128 - 103 = 25.
  EXPECT_EQ(unknown_command_error("x", args),
            "-ERR unknown command 'x', with args beginning with: '" + a + "' '" +
                std::string(25, 'b') + "' \r\n");

  const std::vector<std::string_view> with_nul = {"a\0b"sv, "c\r\nd"};
  EXPECT_EQ(unknown_command_error("x\0y"sv, with_nul),
            "-ERR unknown command 'x', with args beginning with: 'a' 'c  d' \r\n");
}

TEST(Replies, WrongArity) {
  EXPECT_EQ(wrong_arity_error("get"), "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(wrong_arity_error("GET"), "-ERR wrong number of arguments for 'get' command\r\n");
}

TEST(EncodeCommand, Multibulk) {
  std::string out = "prefix";
  const std::vector<std::string_view> args = {"SET", "k", "a\r\nb", ""};
  encode_command(out, args);
  EXPECT_EQ(out, "prefix*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n$0\r\n\r\n");

  RequestParser parser;
  const std::string_view encoded = std::string_view(out).substr(6);
  ASSERT_EQ(parser.parse(encoded), ParseStatus::Complete);
  EXPECT_EQ(parser.consumed(), encoded.size());
  ASSERT_EQ(parser.args().size(), 4u);
  EXPECT_EQ(parser.args()[2], "a\r\nb");
}

}  // namespace
}  // namespace frontcache::resp
