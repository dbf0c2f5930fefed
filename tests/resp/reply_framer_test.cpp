// ReplyFramer: RESP2 replies, nested arrays, split at every offset, pipelines, malformed input.
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
                         ::testing::Values("?x\r\n", "%1\r\n+a\r\n+b\r\n", "_\r\n", "#t\r\n",
                                           ",1.5\r\n", ">2\r\n", "=3\r\ntxt\r\n", "OK\r\n", "\r\n",
                                           "$-2\r\n", "*-2\r\n", "$3\r\nfooXY", "$3\r\nfoo\rX",
                                           ":abc\r\n", ":\r\n", ":01\r\n", ":1 \r\n", "$abc\r\n",
                                           "$\r\n", "*x\r\n", "*1\r\n!\r\n", "*2\r\n:1\r\n~\r\n",
                                           "$" + std::string(40, '1'), "*" + std::string(40, '1'),
                                           ":" + std::string(40, '1'), "*1\r\n$3\r\nfoo\r\nX",
                                           "$99999999999999999999\r\n",
                                           "*9223372036854775807\r\n"));

TEST(ReplyFramer, IncompleteNeedsMore) {
  for (const std::string input :
       {"+OK", "+OK\r", "$3\r\nfoo", "$3\r\nfoo\r", "*2\r\n:1\r\n", "*1\r\n*1\r\n", "$", ":1"}) {
    ReplyFramer framer;
    EXPECT_EQ(framer.frame(input), FrameStatus::NeedMore) << input;
  }
  ReplyFramer framer;
  EXPECT_EQ(framer.frame(""), FrameStatus::NeedMore);
}

TEST(ReplyFramer, LargeBulkOneByteAtATimeIsLinear) {
  const std::string reply = "$4194304\r\n" + std::string(4 << 20, 'v') + "\r\n";
  ReplyFramer framer;
  for (std::size_t n = 0; n < reply.size(); ++n) {
    ASSERT_EQ(framer.frame(std::string_view(reply).substr(0, n)), FrameStatus::NeedMore);
  }
  ASSERT_EQ(framer.frame(reply), FrameStatus::Complete);
  EXPECT_EQ(framer.consumed(), reply.size());
  EXPECT_EQ(framer.kind(), ReplyKind::Bulk);
}

TEST(ReplyFramer, LongStatusOneByteAtATimeIsLinear) {
  const std::string reply = "-ERR " + std::string(1 << 20, 'e') + "\r\n";
  ReplyFramer framer;
  for (std::size_t n = 0; n < reply.size(); ++n) {
    ASSERT_EQ(framer.frame(std::string_view(reply).substr(0, n)), FrameStatus::NeedMore);
  }
  ASSERT_EQ(framer.frame(reply), FrameStatus::Complete);
  EXPECT_EQ(framer.kind(), ReplyKind::Error);
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
