// RESP3 builders: Redis 7's bytes for each protocol, and every RESP3 form frames as its kind.
#include "frontcache/resp/encode.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "frontcache/resp/reply_framer.hpp"

namespace frontcache::resp {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

constexpr Protocol kResp2 = Protocol::Resp2;
constexpr Protocol kResp3 = Protocol::Resp3;

ReplyKind framed_kind(std::string_view reply) {
  ReplyFramer framer;
  EXPECT_EQ(framer.frame(reply), FrameStatus::Complete) << reply;
  EXPECT_EQ(framer.consumed(), reply.size()) << reply;
  return framer.kind();
}

TEST(Encode, Nulls) {
  EXPECT_EQ(null_reply(kResp3), "_\r\n");
  EXPECT_EQ(null_reply(kResp2), "$-1\r\n");
  EXPECT_EQ(null_array_reply(kResp3), "_\r\n");
  EXPECT_EQ(null_array_reply(kResp2), "*-1\r\n");
  EXPECT_EQ(framed_kind(null_reply(kResp3)), ReplyKind::Null);
  EXPECT_EQ(framed_kind(null_reply(kResp2)), ReplyKind::NullBulk);
  EXPECT_EQ(framed_kind(null_array_reply(kResp2)), ReplyKind::NullArray);
}

TEST(Encode, Booleans) {
  EXPECT_EQ(boolean_reply(true, kResp3), "#t\r\n");
  EXPECT_EQ(boolean_reply(false, kResp3), "#f\r\n");
  EXPECT_EQ(boolean_reply(true, kResp2), ":1\r\n");
  EXPECT_EQ(boolean_reply(false, kResp2), ":0\r\n");
  EXPECT_EQ(framed_kind(boolean_reply(false, kResp3)), ReplyKind::Boolean);
}

TEST(Encode, Doubles) {
  EXPECT_EQ(double_reply(3.141, kResp3), ",3.141\r\n");  // DEBUG PROTOCOL double
  EXPECT_EQ(double_reply(3.141, kResp2), "$5\r\n3.141\r\n");
  EXPECT_EQ(double_reply(0.1, kResp3), ",0.10000000000000001\r\n");
  EXPECT_EQ(double_reply(10, kResp3), ",10\r\n");
  EXPECT_EQ(double_reply(1e300, kResp3), ",1.0000000000000001e+300\r\n");
  EXPECT_EQ(double_reply(-0.0, kResp3), ",-0\r\n");
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(double_reply(inf, kResp3), ",inf\r\n");
  EXPECT_EQ(double_reply(-inf, kResp3), ",-inf\r\n");
  EXPECT_EQ(double_reply(inf, kResp2), "$3\r\ninf\r\n");
  EXPECT_EQ(double_reply(-inf, kResp2), "$4\r\n-inf\r\n");
}

// Redis formats finite doubles and NaN with snprintf("%.17g"); so must we, for any value.
TEST(Encode, DoublesAsPrintf) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const double value :
       {0.0, -0.0, 1.5, -2.25, 0.1, 1.0 / 3, 123456789012345678.0, 1e21, 1e-7, -1.5e-300,
        std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest(),
        std::numeric_limits<double>::min(), std::numeric_limits<double>::denorm_min(), nan,
        std::copysign(nan, -1.0)}) {
    char expected[64];
    const int n = std::snprintf(expected, sizeof(expected), "%.17g", value);
    ASSERT_GT(n, 0);
    const std::string text(expected, static_cast<std::size_t>(n));
    EXPECT_EQ(double_reply(value, kResp3), "," + text + "\r\n");
    EXPECT_EQ(double_reply(value, kResp2),
              "$" + std::to_string(text.size()) + "\r\n" + text + "\r\n");
    EXPECT_EQ(framed_kind(double_reply(value, kResp3)), ReplyKind::Double) << text;
  }
}

TEST(Encode, Verbatim) {
  // DEBUG PROTOCOL verbatim.
  EXPECT_EQ(verbatim_reply("This is a verbatim\nstring", "txt", kResp3),
            "=29\r\ntxt:This is a verbatim\nstring\r\n");
  EXPECT_EQ(verbatim_reply("This is a verbatim\nstring", "txt", kResp2),
            "$25\r\nThis is a verbatim\nstring\r\n");
  EXPECT_EQ(verbatim_reply("# x", "mkd", kResp3), "=7\r\nmkd:# x\r\n");
  EXPECT_EQ(verbatim_reply("", "txt", kResp3), "=4\r\ntxt:\r\n");
  EXPECT_EQ(verbatim_reply("a\r\n\0b"sv, "txt", kResp3), "=9\r\ntxt:a\r\n\0b\r\n"s);
  // Redis takes three bytes of the format, padding with spaces.
  EXPECT_EQ(verbatim_reply("x", "markdown", kResp3), "=5\r\nmar:x\r\n");
  EXPECT_EQ(verbatim_reply("x", "t", kResp3), "=5\r\nt  :x\r\n");
  EXPECT_EQ(framed_kind(verbatim_reply("x", "", kResp3)), ReplyKind::Verbatim);
}

TEST(Encode, AggregateHeaders) {
  EXPECT_EQ(map_header(3, kResp3), "%3\r\n");
  EXPECT_EQ(map_header(3, kResp2), "*6\r\n");
  EXPECT_EQ(map_header(0, kResp2), "*0\r\n");
  EXPECT_EQ(set_header(2, kResp3), "~2\r\n");
  EXPECT_EQ(set_header(2, kResp2), "*2\r\n");
  EXPECT_EQ(push_header(3, kResp3), ">3\r\n");
  EXPECT_EQ(push_header(3, kResp2), "*3\r\n");
}

// A HELLO-like map and a push, built from the pieces, frame as one reply in either protocol.
TEST(Encode, BuiltRepliesFrame) {
  for (const Protocol protocol : {kResp2, kResp3}) {
    const std::string map = map_header(2, protocol) + "$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n" +
                            set_header(0, protocol);
    EXPECT_EQ(framed_kind(map), protocol == kResp3 ? ReplyKind::Map : ReplyKind::Array);
    const std::string push = push_header(2, protocol) + "$10\r\ninvalidate\r\n" +
                             std::string(null_array_reply(protocol));
    EXPECT_EQ(framed_kind(push), protocol == kResp3 ? ReplyKind::Push : ReplyKind::Array);
  }
}

}  // namespace
}  // namespace frontcache::resp
