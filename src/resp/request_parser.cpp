// RESP2 request parsing with Redis 7's processMultibulkBuffer / processInlineBuffer rules,
// including their quirks (see docs in request_parser.hpp and the cases in
// tests/resp/request_parser_test.cpp).
#include "frontcache/resp/request_parser.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>

namespace frontcache::resp {
namespace {

constexpr std::size_t kNpos = std::string_view::npos;
// Never reserve more than this many argument slots from a wire count: a client announcing
// `*1048576` must send the arguments before we spend memory on them.
constexpr std::size_t kMaxReserve = 1024;
// Longest decimal string Redis's string2ll accepts (LONG_STR_SIZE - 1).
constexpr std::size_t kMaxNumberLength = 20;

// Redis's string2ll: optional '-', no '+', no leading zeros, no spaces, fits in long long.
bool parse_ll(std::string_view s, long long& out) {
  if (s.empty() || s.size() > kMaxNumberLength) return false;
  if (s.size() == 1 && s[0] == '0') {
    out = 0;
    return true;
  }
  bool negative = false;
  std::size_t i = 0;
  if (s[0] == '-') {
    negative = true;
    i = 1;
    if (s.size() == 1) return false;
  }
  if (s[i] < '1' || s[i] > '9') return false;
  unsigned long long v = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c < '0' || c > '9') return false;
    const auto digit = static_cast<unsigned long long>(c - '0');
    if (v > (std::numeric_limits<unsigned long long>::max() - digit) / 10) return false;
    v = v * 10 + digit;
  }
  constexpr auto kMax = static_cast<unsigned long long>(std::numeric_limits<long long>::max());
  if (negative) {
    if (v > kMax + 1) return false;
    out = v == kMax + 1 ? std::numeric_limits<long long>::min() : -static_cast<long long>(v);
  } else {
    if (v > kMax) return false;
    out = static_cast<long long>(v);
  }
  return true;
}

// A count as the clients write it: "0", or 1-18 digits without a leading zero, then "\r\n".
// Advances `p` past the "\r\n"; false (and `p` unchanged) for anything else, a short input too.
bool plain_count(const char*& p, const char* end, std::size_t& out) {
  const char* q = p;
  // One or two digits, what almost every header of a short command is ("*2", "$3", "$16"):
  // no loop (46 -> 26 instructions per header, callgrind).
  if (end - q >= 4) {
    const auto d0 = static_cast<unsigned>(q[0] - '0');
    if (d0 <= 9) {
      if (q[1] == '\r' && q[2] == '\n') {
        out = d0;
        p = q + 3;
        return true;
      }
      const auto d1 = static_cast<unsigned>(q[1] - '0');
      if (d0 != 0 && d1 <= 9 && q[2] == '\r' && q[3] == '\n') {
        out = d0 * 10 + d1;
        p = q + 4;
        return true;
      }
    }
  }
  std::size_t v = 0;
  if (q < end && *q == '0') {
    ++q;
  } else {
    const char* const first = q;
    while (q < end && *q >= '0' && *q <= '9') v = v * 10 + static_cast<std::size_t>(*q++ - '0');
    if (q == first || q - first > 18) return false;
  }
  if (end - q < 2 || q[0] != '\r' || q[1] != '\n') return false;
  out = v;
  p = q + 2;
  return true;
}

// C isspace() in the "C" locale, which sdssplitargs uses between and after tokens.
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

}  // namespace

RequestParser::RequestParser(ParserLimits limits) : limits_(limits) {}

void RequestParser::reset() {
  begin_request();
  failed_ = false;
  error_.clear();
}

void RequestParser::begin_request() {
  pos_ = 0;
  scan_pos_ = 0;
  nul_seen_ = false;
  expected_args_ = -1;
  bulk_len_ = -1;
  started_ = false;
  done_ = false;
  consumed_ = 0;
  inline_ = false;
  inline_count_ = 0;
  // A huge request must not pin its argument arrays for the rest of the connection.
  if (offsets_.capacity() > 4 * kMaxReserve) {
    offsets_ = {};
    args_ = {};
  }
  offsets_.clear();
  args_.clear();
}

ParseStatus RequestParser::fail(std::string message) {
  failed_ = true;
  done_ = false;
  consumed_ = 0;
  args_.clear();
  error_ = "ERR Protocol error: " + std::move(message);
  return ParseStatus::Error;
}

ParseStatus RequestParser::parse(std::string_view input) {
  if (failed_) return ParseStatus::Error;
  if (done_) begin_request();
  // The contract is "same bytes plus more"; a shorter input must not send offsets past its end.
  if (input.empty() || input.size() < pos_ || input.size() < scan_pos_) {
    return ParseStatus::NeedMore;
  }
  if (!started_) {
    if (input[0] == '*' && parse_whole_multibulk(input)) return ParseStatus::Complete;
    started_ = true;
    inline_ = input[0] != '*';
  }
  return inline_ ? parse_inline(input) : parse_multibulk(input);
}

// Offset of `terminator` in the line starting at `line_start`, or kNpos if it is not there yet.
// Redis searches with strchr, so a NUL byte hides every terminator after it: such a line can
// only end by hitting the length limit. Bytes already searched are not searched again.
std::size_t RequestParser::find_terminator(std::string_view input, std::size_t line_start,
                                           char terminator) {
  if (nul_seen_) return kNpos;
  const std::size_t from = std::max(scan_pos_, line_start);
  const char* begin = input.data() + from;
  const std::size_t avail = input.size() - from;
  const void* hit = std::memchr(begin, terminator, avail);
  const std::size_t span =
      hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - begin) : avail;
  if (std::memchr(begin, '\0', span) != nullptr) {
    nul_seen_ = true;
    return kNpos;
  }
  if (!hit) {
    scan_pos_ = input.size();
    return kNpos;
  }
  return from + span;
}

ParseStatus RequestParser::complete(std::string_view input, std::size_t end) {
  consumed_ = end;
  done_ = true;
  args_.clear();
  if (inline_) {
    for (std::size_t i = 0; i < inline_count_; ++i) args_.emplace_back(inline_args_[i]);
  } else {
    for (const auto& [offset, length] : offsets_) args_.emplace_back(input.data() + offset, length);
  }
  return ParseStatus::Complete;
}

// The common case in one pass: a whole multibulk request with plain headers ("*<n>\r\n", then
// "$<len>\r\n<payload>" and two bytes each, as every client library writes them) within the
// limits, already in `input`. Anything else (a partial request, a sign, a leading zero, another
// byte where "\r\n" or '$' belongs, a limit) returns false having decided nothing: the general
// parser then takes the request from its first byte and gives Redis's answer.
bool RequestParser::parse_whole_multibulk(std::string_view input) {
  const char* p = input.data() + 1;
  const char* const end = input.data() + input.size();
  std::size_t count = 0;
  // (Header lines of up to 20 bytes: a limit below that is left to the general parser.)
  if (limits_.max_inline_length < 32 || !plain_count(p, end, count) || count == 0 ||
      count > kMaxReserve || count > limits_.max_arguments ||
      (!authenticated_ && count > limits_.max_unauthenticated_arguments)) {
    return false;
  }
  const std::size_t max_len =
      authenticated_ ? limits_.max_bulk_length
                     : std::min(limits_.max_bulk_length, limits_.max_unauthenticated_bulk_length);
  args_.clear();
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t len = 0;
    if (p == end || *p != '$') return false;
    ++p;
    if (!plain_count(p, end, len) || len > max_len || static_cast<std::size_t>(end - p) < len + 2) {
      return false;
    }
    args_.emplace_back(p, len);
    p += len + 2;  // the two bytes after a payload are skipped unchecked, as Redis does
  }
  consumed_ = static_cast<std::size_t>(p - input.data());
  done_ = true;
  return true;
}

ParseStatus RequestParser::parse_multibulk(std::string_view input) {
  if (expected_args_ < 0) {
    const std::size_t cr = find_terminator(input, 0, '\r');
    if (cr == kNpos) {
      if (input.size() > limits_.max_inline_length) return fail("too big mbulk count string");
      return ParseStatus::NeedMore;
    }
    if (cr > limits_.max_inline_length) return fail("too big mbulk count string");
    // Redis wants one byte after '\r' and skips it without looking at it.
    if (cr + 2 > input.size()) return ParseStatus::NeedMore;
    long long count = 0;
    if (!parse_ll(input.substr(1, cr - 1), count) ||
        (count > 0 && static_cast<unsigned long long>(count) > limits_.max_arguments)) {
      return fail("invalid multibulk length");
    }
    if (!authenticated_ && count > 0 &&
        static_cast<unsigned long long>(count) > limits_.max_unauthenticated_arguments) {
      return fail("unauthenticated multibulk length");
    }
    pos_ = cr + 2;
    scan_pos_ = pos_;
    if (count <= 0) return complete(input, pos_);  // `*0`, `*-1`, even `*-10`: empty command
    expected_args_ = count;
    offsets_.reserve(std::min(static_cast<std::size_t>(count), kMaxReserve));
  }

  while (offsets_.size() < static_cast<std::size_t>(expected_args_)) {
    if (bulk_len_ < 0) {
      const std::size_t cr = find_terminator(input, pos_, '\r');
      if (cr == kNpos) {
        if (input.size() - pos_ > limits_.max_inline_length) {
          return fail("too big bulk count string");
        }
        return ParseStatus::NeedMore;
      }
      if (cr - pos_ > limits_.max_inline_length) return fail("too big bulk count string");
      if (cr + 2 > input.size()) return ParseStatus::NeedMore;
      if (input[pos_] != '$') {
        char got = input[pos_];
        if (got == '\r' || got == '\n') got = ' ';  // Redis keeps error replies one line
        return fail(std::string("expected '$', got '") + got + "'");
      }
      long long len = 0;
      if (!parse_ll(input.substr(pos_ + 1, cr - pos_ - 1), len) || len < 0 ||
          static_cast<unsigned long long>(len) > limits_.max_bulk_length) {
        return fail("invalid bulk length");
      }
      if (!authenticated_ &&
          static_cast<unsigned long long>(len) > limits_.max_unauthenticated_bulk_length) {
        return fail("unauthenticated bulk length");
      }
      bulk_len_ = len;
      pos_ = cr + 2;
      scan_pos_ = pos_;
    }
    const auto len = static_cast<std::size_t>(bulk_len_);
    // Redis skips the two bytes after a payload without checking they are CRLF; so do we,
    // so that a request means the same to us as to the upstream we forward it to.
    if (input.size() - pos_ < len + 2) return ParseStatus::NeedMore;
    offsets_.emplace_back(pos_, len);
    pos_ += len + 2;
    scan_pos_ = pos_;
    bulk_len_ = -1;
  }
  return complete(input, pos_);
}

ParseStatus RequestParser::parse_inline(std::string_view input) {
  const std::size_t nl = find_terminator(input, 0, '\n');
  if (nl == kNpos) {
    if (input.size() > limits_.max_inline_length) return fail("too big inline request");
    return ParseStatus::NeedMore;
  }
  // Redis only checks the size while the newline is missing; checking the complete line too
  // keeps the outcome independent of how the bytes were split into reads.
  if (nl > limits_.max_inline_length) return fail("too big inline request");
  std::size_t end = nl;
  if (end > 0 && input[end - 1] == '\r') --end;
  if (!split_inline(input.substr(0, end))) return fail("unbalanced quotes in request");
  return complete(input, nl + 1);
}

// sdssplitargs() over one line (which holds no NUL: find_terminator saw to that). Empty quoted
// arguments ("" or '') are arguments, as in Redis 7's processInlineBuffer.
bool RequestParser::split_inline(std::string_view line) {
  inline_count_ = 0;
  const auto at = [&](std::size_t i) { return i < line.size() ? line[i] : '\0'; };
  std::size_t p = 0;
  while (true) {
    while (p < line.size() && is_space(line[p])) ++p;
    if (p >= line.size()) return true;
    if (inline_count_ == inline_args_.size()) inline_args_.emplace_back();
    std::string& current = inline_args_[inline_count_];
    current.clear();
    bool in_double = false;
    bool in_single = false;
    bool done = false;
    while (!done) {
      const char c = at(p);
      if (in_double) {
        if (c == '\\' && at(p + 1) == 'x' && is_hex(at(p + 2)) && is_hex(at(p + 3))) {
          current.push_back(static_cast<char>(hex_value(at(p + 2)) * 16 + hex_value(at(p + 3))));
          p += 3;
        } else if (c == '\\' && at(p + 1) != '\0') {
          ++p;
          switch (line[p]) {
            case 'n':
              current.push_back('\n');
              break;
            case 'r':
              current.push_back('\r');
              break;
            case 't':
              current.push_back('\t');
              break;
            case 'b':
              current.push_back('\b');
              break;
            case 'a':
              current.push_back('\a');
              break;
            default:
              current.push_back(line[p]);
              break;
          }
        } else if (c == '"') {
          // A closing quote must be followed by a space or the end of the line.
          if (at(p + 1) != '\0' && !is_space(at(p + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          current.push_back(c);
        }
      } else if (in_single) {
        if (c == '\\' && at(p + 1) == '\'') {
          ++p;
          current.push_back('\'');
        } else if (c == '\'') {
          if (at(p + 1) != '\0' && !is_space(at(p + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          current.push_back(c);
        }
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            in_double = true;
            break;
          case '\'':
            in_single = true;
            break;
          default:
            current.push_back(c);
            break;
        }
      }
      if (p < line.size()) ++p;
    }
    ++inline_count_;
  }
}

void encode_command(std::string& out, std::span<const std::string_view> args) {
  std::size_t total = 16;
  for (const auto arg : args) total += arg.size() + 24;
  out.reserve(out.size() + total);
  char digits[24];
  const auto append_header = [&](char type, std::size_t n) {
    out.push_back(type);
    const auto result = std::to_chars(digits, digits + sizeof(digits), n);
    out.append(digits, result.ptr);
    out.append("\r\n");
  };
  append_header('*', args.size());
  for (const auto arg : args) {
    append_header('$', arg.size());
    out.append(arg);
    out.append("\r\n");
  }
}

}  // namespace frontcache::resp
