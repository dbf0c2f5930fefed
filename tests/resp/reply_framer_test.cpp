// ReplyFramer: RESP2 and RESP3 replies, nesting and attributes, split at every offset, pipelines,
// malformed input.
#include "frontcache/resp/reply_framer.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace frontcache::resp {
namespace {

using namespace std::string_literals;

struct Framed {
  std::vector<std::string> replies;
  std::vector<ReplyKind> kinds;
  FrameStatus last = FrameStatus::NeedMore;
  std::size_t leftover = 0;
  bool operator==(const Framed&) const = default;
};

void PrintTo(const Framed& f, std::ostream* os) {
  *os << "{replies=" << f.replies.size() << " last=" << static_cast<int>(f.last)
      << " leftover=" << f.leftover << "}";
}

// Like the upstream read loop: append each chunk, frame until NeedMore, consume replies. Every
// call sees a fresh copy of the buffer, so framer state must be relative to the reply start.
Framed feed(std::string_view input, const std::vector<std::size_t>& cuts) {
  ReplyFramer framer;
  Framed out;
  std::string buffer;
  std::size_t fed = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(input.size());
  for (const std::size_t end : ends) {
    buffer.append(input.substr(fed, end - fed));
    fed = end;
    while (true) {
      auto copy = std::make_unique<std::string>(buffer);
      const FrameStatus status = framer.frame(*copy);
      out.last = status;
      if (status == FrameStatus::Error) {
        EXPECT_EQ(framer.frame(*copy), FrameStatus::Error) << "errors are sticky";
        return out;
      }
      if (status == FrameStatus::NeedMore) break;
      out.replies.push_back(buffer.substr(0, framer.consumed()));
      out.kinds.push_back(framer.kind());
      buffer.erase(0, framer.consumed());
    }
  }
  out.leftover = buffer.size();
  return out;
}

void expect_split_invariant(std::string_view input, const Framed& whole, std::size_t stride = 1) {
  for (std::size_t cut = 0; cut <= input.size(); cut += stride) {
    ASSERT_EQ(feed(input, {cut}), whole) << "split at " << cut;
  }
  if (input.size() <= 4096) {
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < input.size(); ++i) every.push_back(i);
    ASSERT_EQ(feed(input, every), whole) << "one byte at a time";
  }
}

struct Valid {
  const char* name;
  std::string reply;
  ReplyKind kind;
};

std::string deep_nesting() {
  std::string s;
  for (int i = 0; i < 10000; ++i) s += "*1\r\n";
  return s + ":1\r\n";
}

// Every RESP3 aggregate, and an attribute, nested `depth` levels deep around one value.
std::string deep_resp3_nesting(int depth) {
  std::string s;
  for (int i = 0; i < depth; ++i) {
    switch (i % 4) {
      case 0:
        s += "%1\r\n:1\r\n";  // the value nests in a map's value
        break;
      case 1:
        s += "~1\r\n";
        break;
      case 2:
        s += "|1\r\n+k\r\n+v\r\n";
        break;
      default:
        s += "*1\r\n";
        break;
    }
  }
  return s + "#t\r\n";
}

// A map of `n` entries: blob error keys, verbatim values.
std::string large_map(int n) {
  std::string s = "%" + std::to_string(n) + "\r\n";
  for (int i = 0; i < n; ++i) s += "!1\r\nE\r\n=5\r\ntxt:v\r\n";
  return s;
}

void PrintTo(const Valid& v, std::ostream* os) { *os << v.name; }

std::vector<Valid> valid_replies() {
  return {
      {"status", "+OK\r\n", ReplyKind::Status},
      {"status_empty", "+\r\n", ReplyKind::Status},
      {"status_lone_cr", "+a\rb\r\n", ReplyKind::Status},
      {"error", "-ERR unknown command 'foo'\r\n", ReplyKind::Error},
      {"integer", ":1000\r\n", ReplyKind::Integer},
      {"integer_negative", ":-9223372036854775808\r\n", ReplyKind::Integer},
      {"bulk", "$3\r\nfoo\r\n", ReplyKind::Bulk},
      {"bulk_empty", "$0\r\n\r\n", ReplyKind::Bulk},
      {"bulk_binary", "$6\r\na\r\n\0\r\n\r\n"s, ReplyKind::Bulk},
      {"null_bulk", "$-1\r\n", ReplyKind::NullBulk},
      {"null_array", "*-1\r\n", ReplyKind::NullArray},
      {"empty_array", "*0\r\n", ReplyKind::Array},
      {"array", "*2\r\n$3\r\nfoo\r\n:1\r\n", ReplyKind::Array},
      {"nested", "*3\r\n*2\r\n+a\r\n-b\r\n*-1\r\n$-1\r\n", ReplyKind::Array},
      {"nested_empty", "*4\r\n*0\r\n*1\r\n*1\r\n:5\r\n$0\r\n\r\n*1\r\n$-1\r\n", ReplyKind::Array},
      {"exec_like", "*2\r\n+OK\r\n*2\r\n$1\r\na\r\n$2\r\nbc\r\n", ReplyKind::Array},
      {"deep_nesting", deep_nesting(), ReplyKind::Array},
      // RESP3, with Redis 7's own bytes where it sends the type (DEBUG PROTOCOL <type>).
      {"null", "_\r\n", ReplyKind::Null},
      {"true", "#t\r\n", ReplyKind::Boolean},
      {"false", "#f\r\n", ReplyKind::Boolean},
      {"double", ",3.141\r\n", ReplyKind::Double},
      {"double_integral", ",10\r\n", ReplyKind::Double},
      {"double_exponent", ",-1.0000000000000001e+300\r\n", ReplyKind::Double},
      {"double_signed_exponent", ",+1.5E-7\r\n", ReplyKind::Double},
      {"double_inf", ",inf\r\n", ReplyKind::Double},
      {"double_minus_inf", ",-inf\r\n", ReplyKind::Double},
      {"double_nan", ",nan\r\n", ReplyKind::Double},
      {"double_minus_nan", ",-nan\r\n", ReplyKind::Double},
      {"big_number", "(1234567999999999999999999999999999999\r\n", ReplyKind::BigNumber},
      {"big_number_negative", "(-3492890328409238509324850943850943825024385\r\n",
       ReplyKind::BigNumber},
      {"big_number_from_lua", "(not a number\r\n", ReplyKind::BigNumber},
      {"blob_error", "!21\r\nSYNTAX invalid syntax\r\n", ReplyKind::BlobError},
      {"blob_error_binary", "!4\r\nE\r\n\0\r\n"s, ReplyKind::BlobError},
      {"blob_error_empty", "!0\r\n\r\n", ReplyKind::BlobError},
      {"verbatim", "=29\r\ntxt:This is a verbatim\nstring\r\n", ReplyKind::Verbatim},
      {"verbatim_markdown", "=15\r\nmkd:Some string\r\n", ReplyKind::Verbatim},
      {"verbatim_empty_text", "=4\r\ntxt:\r\n", ReplyKind::Verbatim},
      {"map", "%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n", ReplyKind::Map},
      {"map_empty", "%0\r\n", ReplyKind::Map},
      {"set", "~3\r\n:0\r\n:1\r\n:2\r\n", ReplyKind::Set},
      {"set_empty", "~0\r\n", ReplyKind::Set},
      {"push", ">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n", ReplyKind::Push},
      {"push_invalidate", ">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nfoo\r\n", ReplyKind::Push},
      {"push_invalidate_flush", ">2\r\n$10\r\ninvalidate\r\n_\r\n", ReplyKind::Push},
      // EXEC's array holds the push-typed reply of a SUBSCRIBE queued in MULTI (RESP3).
      {"exec_with_push", "*2\r\n>3\r\n$10\r\npsubscribe\r\n$3\r\nch*\r\n:1\r\n+OK\r\n",
       ReplyKind::Array},
      {"map_of_arrays_of_sets",
       "%2\r\n+a\r\n*2\r\n~2\r\n:1\r\n,2.5\r\n~0\r\n$1\r\nb\r\n*1\r\n~1\r\n_\r\n", ReplyKind::Map},
      {"map_with_aggregate_keys", "%1\r\n*1\r\n:1\r\n%1\r\n~1\r\n#t\r\n=5\r\ntxt:x\r\n",
       ReplyKind::Map},
      {"attribute_before_reply",
       "|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n"
       "$39\r\nSome real reply following the attribute\r\n",
       ReplyKind::Bulk},
      {"attribute_before_error", "|1\r\n+a\r\n+b\r\n-ERR x\r\n", ReplyKind::Error},
      {"attribute_before_push", "|1\r\n+a\r\n+b\r\n>1\r\n:1\r\n", ReplyKind::Push},
      {"attribute_empty", "|0\r\n:1\r\n", ReplyKind::Integer},
      {"attributes_twice", "|1\r\n+a\r\n+b\r\n|1\r\n+c\r\n+d\r\n_\r\n", ReplyKind::Null},
      {"attribute_on_attribute_key", "|1\r\n|1\r\n+x\r\n+y\r\n+a\r\n+b\r\n:1\r\n",
       ReplyKind::Integer},
      {"attribute_with_aggregate_value", "|1\r\n+a\r\n%1\r\n+b\r\n~1\r\n:1\r\n*1\r\n:2\r\n",
       ReplyKind::Array},
      {"attribute_before_element", "*2\r\n|1\r\n+ttl\r\n:10\r\n$1\r\na\r\n:2\r\n",
       ReplyKind::Array},
      {"attribute_before_last_element", "*2\r\n:1\r\n|1\r\n+a\r\n+b\r\n_\r\n", ReplyKind::Array},
      {"attribute_before_map_key", "%1\r\n|0\r\n+k\r\n+v\r\n", ReplyKind::Map},
      {"deep_resp3_nesting", deep_resp3_nesting(4000), ReplyKind::Map},
      {"large_map", large_map(1500), ReplyKind::Map},
  };
}

class ValidReplies : public ::testing::TestWithParam<Valid> {};

TEST_P(ValidReplies, FramesWholeSplitAndInPipelines) {
  const Valid& v = GetParam();
  const Framed whole = feed(v.reply, {});
  ASSERT_EQ(whole.last, FrameStatus::NeedMore);
  ASSERT_EQ(whole.replies, std::vector<std::string>{v.reply});
  EXPECT_EQ(whole.kinds, std::vector<ReplyKind>{v.kind});
  expect_split_invariant(v.reply, whole, v.reply.size() > 4096 ? 13 : 1);

  const std::string pipeline = ":1\r\n" + v.reply + "$-1\r\n" + v.reply;
  const Framed piped = feed(pipeline, {});
  ASSERT_EQ(piped.replies, (std::vector<std::string>{":1\r\n", v.reply, "$-1\r\n", v.reply}));
  expect_split_invariant(pipeline, piped, pipeline.size() > 4096 ? 13 : 1);
}

INSTANTIATE_TEST_SUITE_P(ReplyFramer, ValidReplies, ::testing::ValuesIn(valid_replies()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

class MalformedReplies : public ::testing::TestWithParam<std::string> {};

TEST_P(MalformedReplies, AreErrorsWholeAndSplit) {
  const std::string& input = GetParam();
  const Framed whole = feed(input, {});
  EXPECT_EQ(whole.last, FrameStatus::Error) << input;
  expect_split_invariant(input, whole);
}

INSTANTIATE_TEST_SUITE_P(ReplyFramer, MalformedReplies,
                         ::testing::Values("?x\r\n", "OK\r\n", "\r\n", "$-2\r\n", "*-2\r\n",
                                           "$3\r\nfooXY", "$3\r\nfoo\rX", ":abc\r\n", ":\r\n",
                                           ":01\r\n", ":1 \r\n", "$abc\r\n", "$\r\n", "*x\r\n",
                                           "*1\r\n!\r\n", "*2\r\n:1\r\n~\r\n",
                                           "$" + std::string(40, '1'), "*" + std::string(40, '1'),
                                           ":" + std::string(40, '1'), "*1\r\n$3\r\nfoo\r\nX",
                                           "$99999999999999999999\r\n",
                                           "*9223372036854775807\r\n"));

INSTANTIATE_TEST_SUITE_P(
    Resp3, MalformedReplies,
    ::testing::Values(
        // Booleans are t or f; null is exactly "_\r\n".
        "#x\r\n", "#\r\n", "#tt\r\n", "#T\r\n", "#1\r\n", "_x\r\n", "_ \r\n", "__\r\n", "_0\r\n",
        "*1\r\n#\r\n", "%1\r\n_\r\n_1\r\n", "#" + std::string(40, 't'), "_" + std::string(40, ' '),
        // Doubles.
        ",\r\n", ",1.\r\n", ",.5\r\n", ",1e\r\n", ",1e+\r\n", ",abc\r\n", ",1.5x\r\n", ", 1\r\n",
        ",--1\r\n", ",Inf\r\n", ",infinity\r\n", ",NaN\r\n", ",+inf\r\n", ",0x10\r\n",

        // Streamed strings and aggregates, which Redis never sends.
        "$?\r\n;3\r\nfoo\r\n;0\r\n", "*?\r\n:1\r\n.\r\n", "%?\r\n", "~?\r\n", ">?\r\n", "|?\r\n",
        "=?\r\n", "!?\r\n", ";3\r\nfoo\r\n", ".\r\n", "*1\r\n;1\r\na\r\n",
        // RESP3 has no null aggregates or blobs besides RESP2's $-1 and *-1.
        "%-1\r\n", "~-1\r\n", ">-1\r\n", "|-1\r\n", "!-1\r\n", "=-1\r\n", "%-2\r\n",
        // Blob errors and verbatim strings are framed like bulks; verbatim has "xxx:" first.
        "!3\r\nfooXY", "!x\r\n", "=3\r\ntxt\r\n", "=0\r\n\r\n", "=4\r\ntxt \r\n", "=5\r\ntxtxx\r\n",
        "=5\r\ntxt:xYZ", "*1\r\n=4\r\n:txt\r\n",
        // Headers are numbers within limits; a map or attribute entry counts twice.
        "%x\r\n", "~\r\n", ">01\r\n", "|1 \r\n", "%" + std::string(40, '1'),
        "~" + std::string(40, '1'), "%2305843009213693952\r\n", "|2305843009213693952\r\n",
        "~4611686018427387904\r\n", ">4611686018427387904\r\n",
        "*1\r\n%2305843009213693951\r\n:1\r\n%2305843009213693951\r\n"));

TEST(ReplyFramer, IncompleteNeedsMore) {
  for (const std::string input : {"+OK",
                                  "+OK\r",
                                  "$3\r\nfoo",
                                  "$3\r\nfoo\r",
                                  "*2\r\n:1\r\n",
                                  "*1\r\n*1\r\n",
                                  "$",
                                  ":1",
                                  "_",
                                  "_\r",
                                  "#t",
                                  "#t\r",
                                  ",1.5",
                                  "(123",
                                  "!3\r\nERR",
                                  "=5\r\ntxt:",
                                  "%1\r\n+a\r\n",
                                  "~2\r\n:1\r\n",
                                  ">2\r\n",
                                  "|1\r\n+a\r\n+b\r\n",
                                  "|0\r\n",
                                  "*1\r\n|0\r\n",
                                  "%2305843009213693951\r\n",
                                  "|2305843009213693951\r\n",
                                  "~4611686018427387903\r\n"}) {
    ReplyFramer framer;
    EXPECT_EQ(framer.frame(input), FrameStatus::NeedMore) << input;
  }
  ReplyFramer framer;
  EXPECT_EQ(framer.frame(""), FrameStatus::NeedMore);
}

// Frames every prefix of `reply` and then all of it, with one framer: the framer must resume
// without rescanning, or a large reply takes quadratic time here.
void expect_framed_growing(const std::string& reply, ReplyKind kind) {
  ReplyFramer framer;
  for (std::size_t n = 0; n < reply.size(); ++n) {
    ASSERT_EQ(framer.frame(std::string_view(reply).substr(0, n)), FrameStatus::NeedMore);
  }
  ASSERT_EQ(framer.frame(reply), FrameStatus::Complete);
  EXPECT_EQ(framer.consumed(), reply.size());
  EXPECT_EQ(framer.kind(), kind);
}

TEST(ReplyFramer, LargeBulkOneByteAtATimeIsLinear) {
  expect_framed_growing("$4194304\r\n" + std::string(4 << 20, 'v') + "\r\n", ReplyKind::Bulk);
  expect_framed_growing("=4194308\r\ntxt:" + std::string(4 << 20, 'v') + "\r\n",
                        ReplyKind::Verbatim);
}

TEST(ReplyFramer, LongStatusOneByteAtATimeIsLinear) {
  expect_framed_growing("-ERR " + std::string(1 << 20, 'e') + "\r\n", ReplyKind::Error);
  expect_framed_growing("(" + std::string(1 << 20, '7') + "\r\n", ReplyKind::BigNumber);
}

// A double line is at most 5128 bytes with its '\r' (Redis prints at most 5 KiB), arriving
// whole or in pieces.
TEST(ReplyFramer, DoubleLineLimit) {
  const std::string longest = "," + std::string(5126, '9') + "\r\n";
  const Framed whole = feed(longest, {});
  ASSERT_EQ(whole.replies, std::vector<std::string>{longest});
  EXPECT_EQ(whole.kinds, std::vector<ReplyKind>{ReplyKind::Double});
  expect_split_invariant(longest, whole, 7);

  for (const std::string& too_long :
       {"," + std::string(5127, '1') + "\r\n", "," + std::string(5128, '1')}) {
    const Framed rejected = feed(too_long, {});
    EXPECT_EQ(rejected.last, FrameStatus::Error) << too_long.size();
    expect_split_invariant(too_long, rejected, 7);
  }
}

TEST(ReplyFramer, AttributeSizeLocatesTheValue) {
  const std::string attribute = "|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n";
  const std::string error = "!10\r\nERR no key\r\n";
  const std::string input = attribute + error + "*1\r\n|0\r\n:1\r\n";
  ReplyFramer framer;
  ASSERT_EQ(framer.frame(input), FrameStatus::Complete);
  EXPECT_EQ(framer.consumed(), attribute.size() + error.size());
  EXPECT_EQ(framer.attribute_size(), attribute.size());
  EXPECT_EQ(framer.kind(), ReplyKind::BlobError);
  EXPECT_TRUE(is_error(framer.kind()));

  // The next frame has no top-level attribute (only one before an element inside it).
  const std::string_view rest = std::string_view(input).substr(framer.consumed());
  ASSERT_EQ(framer.frame(rest), FrameStatus::Complete);
  EXPECT_EQ(framer.consumed(), rest.size());
  EXPECT_EQ(framer.attribute_size(), 0u);
  EXPECT_EQ(framer.kind(), ReplyKind::Array);
}

TEST(ReplyFramer, KindHelpers) {
  EXPECT_TRUE(is_error(ReplyKind::Error));
  EXPECT_TRUE(is_error(ReplyKind::BlobError));
  EXPECT_TRUE(is_null(ReplyKind::NullBulk));
  EXPECT_TRUE(is_null(ReplyKind::NullArray));
  EXPECT_TRUE(is_null(ReplyKind::Null));
  for (const ReplyKind kind :
       {ReplyKind::Status, ReplyKind::Integer, ReplyKind::Bulk, ReplyKind::Array, ReplyKind::Double,
        ReplyKind::Boolean, ReplyKind::BigNumber, ReplyKind::Verbatim, ReplyKind::Map,
        ReplyKind::Set, ReplyKind::Push}) {
    EXPECT_FALSE(is_error(kind)) << static_cast<int>(kind);
    EXPECT_FALSE(is_null(kind)) << static_cast<int>(kind);
  }
}

TEST(ReplyFramer, ResetAfterError) {
  ReplyFramer framer;
  EXPECT_EQ(framer.frame("!\r\n"), FrameStatus::Error);
  EXPECT_EQ(framer.frame("+OK\r\n"), FrameStatus::Error);
  framer.reset();
  EXPECT_EQ(framer.frame("+OK\r\n"), FrameStatus::Complete);
  EXPECT_EQ(framer.consumed(), 5u);
}

}  // namespace
}  // namespace frontcache::resp
