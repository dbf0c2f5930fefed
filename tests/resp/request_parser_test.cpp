// RequestParser against Redis 7's processMultibulkBuffer / processInlineBuffer behaviour,
// including tests/unit/protocol.tcl's malformed inputs. Every frame is also fed split at every
// offset and one byte at a time, with the buffer moved to a new allocation between calls.
#include "frontcache/resp/request_parser.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <optional>
#include <string>
#include <vector>

namespace {
// Allocation counter for the "no allocation when warm" test.
bool g_counting = false;
std::size_t g_allocations = 0;
}  // namespace

// GCC cannot see that every operator new below pairs with these deletes.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  if (g_counting) ++g_allocations;
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace frontcache::resp {
namespace {

using namespace std::string_literals;
using Args = std::vector<std::string>;

struct Outcome {
  std::vector<Args> requests;
  std::vector<bool> inline_flags;
  ParseStatus last = ParseStatus::NeedMore;
  std::string error;
  std::size_t leftover = 0;  // unconsumed bytes at the end

  bool operator==(const Outcome&) const = default;
};

void PrintTo(const Outcome& o, std::ostream* os) {
  *os << "{requests=" << o.requests.size() << " last=" << static_cast<int>(o.last) << " error='"
      << o.error << "' leftover=" << o.leftover << "}";
}

// Feeds `input` in chunks ending at each of `cuts` (then the rest), like a session: append to
// its buffer, parse until NeedMore, consume Complete requests. Every parse() sees a fresh copy
// of the buffer, and the previous copy is scribbled over and freed, so a view or offset that
// was not relative to the request start shows up as wrong data or an ASan report.
Outcome feed(std::string_view input, const std::vector<std::size_t>& cuts,
             ParserLimits limits = {}) {
  RequestParser parser(limits);
  Outcome out;
  std::string buffer;
  std::size_t fed = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(input.size());
  for (const std::size_t end : ends) {
    if (end < fed) continue;
    buffer.append(input.substr(fed, end - fed));
    fed = end;
    while (true) {
      auto copy = std::make_unique<std::string>(buffer);
      const ParseStatus status = parser.parse(*copy);
      out.last = status;
      if (status == ParseStatus::Error) {
        out.error = std::string(parser.error());
        EXPECT_EQ(parser.parse(*copy), ParseStatus::Error) << "errors are sticky";
        return out;
      }
      if (status == ParseStatus::NeedMore) {
        std::fill(copy->begin(), copy->end(), '#');
        break;
      }
      Args args;
      for (const auto arg : parser.args()) args.emplace_back(arg);
      out.requests.push_back(std::move(args));
      out.inline_flags.push_back(parser.inline_request());
      EXPECT_GT(parser.consumed(), 0u);
      buffer.erase(0, parser.consumed());
      std::fill(copy->begin(), copy->end(), '#');
    }
  }
  out.leftover = buffer.size();
  return out;
}

Outcome feed_whole(std::string_view input, ParserLimits limits = {}) {
  return feed(input, {}, limits);
}

// Checks that splitting at every offset (or every `stride`-th) and feeding one byte at a time
// give the same outcome as feeding the input whole.
void expect_split_invariant(std::string_view input, const Outcome& whole, std::size_t stride = 1,
                            ParserLimits limits = {}) {
  for (std::size_t cut = 0; cut <= input.size(); cut += stride) {
    ASSERT_EQ(feed(input, {cut}, limits), whole) << "split at " << cut;
  }
  if (input.size() <= 4096) {
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < input.size(); ++i) every.push_back(i);
    ASSERT_EQ(feed(input, every, limits), whole) << "one byte at a time";
  }
}

struct Valid {
  const char* name;
  std::string input;
  std::vector<Args> expected;
};

void PrintTo(const Valid& v, std::ostream* os) { *os << v.name; }

std::vector<Valid> valid_frames() {
  return {
      {"ping", "*1\r\n$4\r\nPING\r\n", {{"PING"}}},
      {"set", "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", {{"SET", "key", "value"}}},
      {"binary_crlf", "*2\r\n$3\r\nGET\r\n$4\r\na\r\nb\r\n", {{"GET", "a\r\nb"}}},
      {"binary_nul", "*1\r\n$3\r\na\0b\r\n"s, {{"a\0b"s}}},
      {"empty_bulk", "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", {{"ECHO", ""}}},
      {"zero_count", "*0\r\n", {{}}},
      {"null_count", "*-1\r\n", {{}}},
      {"negative_count", "*-10\r\n", {{}}},  // protocol.tcl "Negative multibulk length"
      {"max_count_digits", "*1\r\n$1\r\nx\r\n", {{"x"}}},
      // Redis skips the two bytes after a payload and after a header's '\r' unchecked.
      {"payload_not_crlf", "*1\r\n$3\r\nfooXY", {{"foo"}}},
      {"header_cr_then_any", "*1\rX$3\r\nfoo\r\n", {{"foo"}}},
      {"inline_crlf", "PING\r\n", {{"PING"}}},
      {"inline_lf", "PING\n", {{"PING"}}},
      {"inline_spaces", "  SET   k \t v  \r\n", {{"SET", "k", "v"}}},
      {"inline_empty_crlf", "\r\n", {{}}},  // protocol.tcl "Handle an empty query"
      {"inline_empty_lf", "\n", {{}}},
      {"inline_blank", "   \t \r\n", {{}}},
      {"inline_quotes", "SET \"a b\" 'c d'\r\n", {{"SET", "a b", "c d"}}},
      {"inline_escapes",
       "ECHO \"\\x41\\x4a\\n\\r\\t\\b\\a\\\\\\\"\\q\"\n",
       {{"ECHO", "AJ\n\r\t\b\a\\\"q"}}},
      {"inline_hex_nul", "ECHO \"\\x00\"\n", {{"ECHO", "\0"s}}},
      {"inline_bad_hex", "ECHO \"\\xZZ\"\n", {{"ECHO", "xZZ"}}},
      {"inline_single_escape", "ECHO 'it\\'s' 'a\\nb'\n", {{"ECHO", "it's", "a\\nb"}}},
      {"inline_empty_args_kept", "SET k \"\" ''\r\n", {{"SET", "k", "", ""}}},
      {"inline_quote_mid_token", "ECHO ab\"c d\"\n", {{"ECHO", "abc d"}}},
      {"inline_vtab_in_token", "ECHO a\vb\n", {{"ECHO", "a\vb"}}},
      {"inline_quote_then_vtab", "ECHO \"a\"\vb\n", {{"ECHO", "a", "b"}}},
      {"inline_cr_inside", "ECHO a\rb\r\n", {{"ECHO", "a", "b"}}},
      {"inline_high_bytes", "ECHO \xff\xfe\n", {{"ECHO", "\xff\xfe"}}},
      {"pipeline",
       "PING\r\n*1\r\n$4\r\nPING\r\nSET a b\n*0\r\n\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n",
       {{"PING"}, {"PING"}, {"SET", "a", "b"}, {}, {}, {"GET", "a"}}},
  };
}

class ValidFrames : public ::testing::TestWithParam<Valid> {};

TEST_P(ValidFrames, ParsesWholeSplitAndByteByByte) {
  const Valid& frame = GetParam();
  const Outcome whole = feed_whole(frame.input);
  EXPECT_EQ(whole.last, ParseStatus::NeedMore) << whole.error;
  EXPECT_EQ(whole.requests, frame.expected);
  EXPECT_EQ(whole.leftover, 0u);
  expect_split_invariant(frame.input, whole);
}

INSTANTIATE_TEST_SUITE_P(RequestParser, ValidFrames, ::testing::ValuesIn(valid_frames()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

struct Malformed {
  const char* name;
  std::string input;
  std::string error;  // without "ERR Protocol error: "
  std::size_t stride = 1;
};

void PrintTo(const Malformed& v, std::ostream* os) { *os << v.name; }

std::vector<Malformed> malformed_frames() {
  const std::string big_a = std::string(65 * 1024, 'A');
  return {
      // protocol.tcl
      {"count_too_big", "*20000000\r\n", "invalid multibulk length"},
      {"count_2e9", "*2000000000\r\n", "invalid multibulk length"},
      {"count_3e9", "*3000000000\r\n", "invalid multibulk length"},
      {"wrong_payload_header", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "expected '$', got 'f'"},
      {"negative_bulk", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n", "invalid bulk length"},
      {"bulk_2e9", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n", "invalid bulk length"},
      {"bulk_non_number", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n", "invalid bulk length"},
      {"not_followed_by_bulk", "*1\r\nfoo\r\n", "expected '$', got 'f'"},
      {"unbalanced_quotes", "set \"\"\"test-key\"\"\" test-value\r\nping\r\n",
       "unbalanced quotes in request"},
      {"desync_nul", "\0"s + big_a + "\n", "too big inline request", 97},
      {"desync_star_nul", "*\0"s + big_a + "\n", "too big mbulk count string", 97},
      {"desync_dollar_nul", "$\0"s + big_a + "\n", "too big inline request", 97},
      // string2ll strictness
      {"count_empty", "*\r\n", "invalid multibulk length"},
      {"count_plus", "*+1\r\n", "invalid multibulk length"},
      {"count_leading_zero", "*01\r\n", "invalid multibulk length"},
      {"count_minus_zero", "*-0\r\n", "invalid multibulk length"},
      {"count_space", "*1 \r\n", "invalid multibulk length"},
      {"count_overflow", "*99999999999999999999\r\n", "invalid multibulk length"},
      {"bulk_huge", "*1\r\n$9999999999\r\n", "invalid bulk length"},
      {"bulk_over_512mb", "*1\r\n$536870913\r\n", "invalid bulk length"},
      {"bulk_empty_len", "*1\r\n$\r\n", "invalid bulk length"},
      {"bulk_minus_one", "*1\r\n$-1\r\n", "invalid bulk length"},
      {"bulk_header_crlf_only", "*1\r\n\r\n", "expected '$', got ' '"},
      {"bulk_header_star", "*2\r\n*1\r\n", "expected '$', got '*'"},
      {"second_header_after_quirk", "*1\r$3\r\nfoo\r\n", "expected '$', got '3'"},
      // inline
      {"unbalanced_double", "ECHO \"abc\r\n", "unbalanced quotes in request"},
      {"unbalanced_single", "ECHO 'abc\n", "unbalanced quotes in request"},
      {"closing_quote_then_text", "ECHO \"a\"b\n", "unbalanced quotes in request"},
      {"closing_single_then_text", "ECHO 'a'b\n", "unbalanced quotes in request"},
      {"trailing_backslash", "ECHO \"a\\\n", "unbalanced quotes in request"},
      {"inline_too_big", big_a, "too big inline request", 97},
      {"inline_too_big_line", big_a + "\r\n", "too big inline request", 97},
      {"mbulk_count_too_big", "*" + std::string(65 * 1024, '1'), "too big mbulk count string", 97},
      {"bulk_count_too_big", "*1\r\n" + std::string(70000, 'X'), "too big bulk count string", 97},
      {"bulk_count_too_big_dollar", "*2\r\n$4\r\nECHO\r\n$" + std::string(65 * 1024, '1'),
       "too big bulk count string", 97},
      {"error_after_good_request", "PING\r\n*1\r\nfoo\r\n", "expected '$', got 'f'"},
  };
}

class MalformedFrames : public ::testing::TestWithParam<Malformed> {};

TEST_P(MalformedFrames, GivesRedisErrorWholeAndSplit) {
  const Malformed& frame = GetParam();
  const Outcome whole = feed_whole(frame.input);
  EXPECT_EQ(whole.last, ParseStatus::Error);
  EXPECT_EQ(whole.error, "ERR Protocol error: " + frame.error);
  expect_split_invariant(frame.input, whole, frame.stride);
}

INSTANTIATE_TEST_SUITE_P(RequestParser, MalformedFrames, ::testing::ValuesIn(malformed_frames()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(RequestParser, IncompleteInputsNeedMore) {
  const std::vector<std::string> inputs = {"*",
                                           "*1",
                                           "*1\r",
                                           "*1\r\n",
                                           "*1\r\n$",
                                           "*1\r\n$3\r",
                                           "*1\r\n$3\r\nfoo",
                                           "*1\r\n$3\r\nfoo\r",
                                           "*1\r\nfoo",
                                           "PING",
                                           "PING\r",
                                           "ECHO \"a",
                                           "\0\n"s,
                                           "E\0CHO\r\n"s};
  for (const std::string& input : inputs) {
    RequestParser parser;
    EXPECT_EQ(parser.parse(input), ParseStatus::NeedMore) << input;
  }
  RequestParser parser;
  EXPECT_EQ(parser.parse(""), ParseStatus::NeedMore);
}

TEST(RequestParser, MultibulkArgsAreViewsIntoInput) {
  const std::string input = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
  RequestParser parser;
  ASSERT_EQ(parser.parse(input), ParseStatus::Complete);
  EXPECT_FALSE(parser.inline_request());
  ASSERT_EQ(parser.args().size(), 2u);
  EXPECT_EQ(parser.args()[0].data(), input.data() + 8);
  EXPECT_EQ(parser.args()[1].data(), input.data() + 17);
  EXPECT_EQ(parser.consumed(), input.size());
}

TEST(RequestParser, InlineFlag) {
  RequestParser parser;
  ASSERT_EQ(parser.parse("GET k\r\n"), ParseStatus::Complete);
  EXPECT_TRUE(parser.inline_request());
  ASSERT_EQ(parser.parse("*1\r\n$1\r\nk\r\n"), ParseStatus::Complete);
  EXPECT_FALSE(parser.inline_request());
}

TEST(RequestParser, ConfigurableLimits) {
  ParserLimits limits;
  limits.max_bulk_length = 10;
  limits.max_arguments = 3;
  limits.max_inline_length = 16;

  const std::string ten = "*1\r\n$10\r\n0123456789\r\n";
  const Outcome ok = feed_whole(ten, limits);
  ASSERT_EQ(ok.requests, (std::vector<Args>{{"0123456789"}}));
  expect_split_invariant(ten, ok, 1, limits);

  EXPECT_EQ(feed_whole("*1\r\n$11\r\n", limits).error, "ERR Protocol error: invalid bulk length");
  EXPECT_EQ(feed_whole("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", limits).requests.size(), 1u);
  EXPECT_EQ(feed_whole("*4\r\n", limits).error, "ERR Protocol error: invalid multibulk length");

  EXPECT_EQ(feed_whole("GET 0123456789a\r\n", limits).requests.size(), 1u);  // 16 bytes + CRLF
  const Outcome too_long = feed_whole("GET 0123456789ab\r\n", limits);
  EXPECT_EQ(too_long.error, "ERR Protocol error: too big inline request");
  expect_split_invariant("GET 0123456789ab\r\n", too_long, 1, limits);
  EXPECT_EQ(feed_whole("GET 0123456789abc", limits).error,
            "ERR Protocol error: too big inline request");
  EXPECT_EQ(feed_whole("*1\r\n$00000000000000000", limits).error,
            "ERR Protocol error: too big bulk count string");
}

TEST(RequestParser, UnauthenticatedLimits) {
  RequestParser parser;
  parser.set_authenticated(false);
  std::string ten = "*10\r\n";
  for (int i = 0; i < 10; ++i) ten += "$1\r\nx\r\n";
  ASSERT_EQ(parser.parse(ten), ParseStatus::Complete);
  EXPECT_EQ(parser.parse("*11\r\n"), ParseStatus::Error);
  EXPECT_EQ(parser.error(), "ERR Protocol error: unauthenticated multibulk length");

  parser.reset();
  EXPECT_EQ(parser.parse("*1\r\n$16384\r\n"), ParseStatus::NeedMore);
  parser.reset();
  EXPECT_EQ(parser.parse("*1\r\n$16385\r\n"), ParseStatus::Error);
  EXPECT_EQ(parser.error(), "ERR Protocol error: unauthenticated bulk length");

  parser.reset();
  EXPECT_EQ(parser.parse("*20000000\r\n"), ParseStatus::Error);
  EXPECT_EQ(parser.error(), "ERR Protocol error: invalid multibulk length");

  parser.reset();
  parser.set_authenticated(true);
  EXPECT_EQ(parser.parse("*11\r\n$16385\r\n"), ParseStatus::NeedMore);
}

TEST(RequestParser, ShorterInputThanBeforeIsNotACrash) {
  RequestParser parser;
  const std::string input = "*2\r\n$3\r\nGET\r\n$100\r\n";
  EXPECT_EQ(parser.parse(input), ParseStatus::NeedMore);
  EXPECT_EQ(parser.parse(std::string_view(input).substr(0, 3)), ParseStatus::NeedMore);
}

TEST(RequestParser, ResetClearsErrorAndPartialRequest) {
  RequestParser parser;
  EXPECT_EQ(parser.parse("*1\r\n$3\r\nfo"), ParseStatus::NeedMore);
  parser.reset();
  ASSERT_EQ(parser.parse("PING\r\n"), ParseStatus::Complete);
  EXPECT_EQ(parser.args()[0], "PING");
  EXPECT_EQ(parser.parse("*x\r\n"), ParseStatus::Error);
  EXPECT_EQ(parser.parse("PING\r\n"), ParseStatus::Error);
  parser.reset();
  EXPECT_EQ(parser.error(), "");
  EXPECT_EQ(parser.parse("PING\r\n"), ParseStatus::Complete);
}

// A big payload delivered one byte at a time must not be rescanned on every call: with a
// rescan this test would take minutes.
TEST(RequestParser, LargeBulkOneByteAtATimeIsLinear) {
  const std::string payload(4 << 20, 'v');
  const std::string input =
      "*2\r\n$3\r\nSET\r\n$" + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
  RequestParser parser;
  for (std::size_t n = 0; n < input.size(); ++n) {
    ASSERT_EQ(parser.parse(std::string_view(input).substr(0, n)), ParseStatus::NeedMore);
  }
  ASSERT_EQ(parser.parse(input), ParseStatus::Complete);
  EXPECT_EQ(parser.args()[1].size(), payload.size());
}

TEST(RequestParser, LongInlineLineOneByteAtATimeIsLinear) {
  const std::string input = "ECHO " + std::string(60000, 'x') + "\r\n";
  RequestParser parser;
  for (std::size_t n = 0; n < input.size(); ++n) {
    ASSERT_EQ(parser.parse(std::string_view(input).substr(0, n)), ParseStatus::NeedMore);
  }
  ASSERT_EQ(parser.parse(input), ParseStatus::Complete);
  EXPECT_EQ(parser.args()[1].size(), 60000u);
}

TEST(RequestParser, BigBulkSplitAtManyOffsets) {
  std::string payload(70000, 'p');
  payload[100] = '\r';
  payload[101] = '\n';
  const std::string input = "*2\r\n$3\r\nSET\r\n$70000\r\n" + payload + "\r\nPING\r\n";
  const Outcome whole = feed_whole(input);
  ASSERT_EQ(whole.requests, (std::vector<Args>{{"SET", payload}, {"PING"}}));
  expect_split_invariant(input, whole, 997);
}

TEST(RequestParser, ManyArgumentsAllowedUpToLimit) {
  std::string input = "*1048576\r\n";
  for (int i = 0; i < 1048576; ++i) input += "$1\r\nx\r\n";
  RequestParser parser;
  ASSERT_EQ(parser.parse(input), ParseStatus::Complete);
  EXPECT_EQ(parser.args().size(), 1048576u);
  EXPECT_EQ(parser.consumed(), input.size());
  ASSERT_EQ(parser.parse("*1048577\r\n"), ParseStatus::Error);
}

TEST(RequestParser, NoAllocationWhenWarm) {
  const std::string pipeline =
      "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\nSET key \"a long value beyond sso\"\r\n";
  RequestParser parser;
  std::string_view rest = pipeline;
  for (int round = 0; round < 2; ++round) {
    rest = pipeline;
    g_allocations = 0;
    g_counting = round == 1;
    while (!rest.empty()) {
      ASSERT_EQ(parser.parse(rest), ParseStatus::Complete);
      rest.remove_prefix(parser.consumed());
    }
    g_counting = false;
  }
  EXPECT_EQ(g_allocations, 0u);
}

}  // namespace
}  // namespace frontcache::resp
