// RESP2/RESP3 reply framing for the upstream read path: walks type bytes and lengths only.
#include "frontcache/resp/reply_framer.hpp"

#include <cstring>
#include <limits>

namespace frontcache::resp {
namespace {

constexpr std::size_t kNpos = std::string_view::npos;
// Header lines (`:`, `$`, `*`, `%`, `#`, `_`, ...) hold one number or letter; anything longer
// is not RESP.
constexpr std::size_t kMaxHeaderLine = 32;
// A double is at most Redis's MAX_LONG_DOUBLE_CHARS (5 KiB, ld2string's "%.17Lf").
constexpr std::size_t kMaxDoubleLine = 5 * 1024 + 8;
// Bounds every count so offsets and the element count never overflow.
constexpr long long kMaxCount = 1LL << 62;

// Strict decimal: optional '-', digits, no leading zeros, fits in long long.
bool parse_ll(std::string_view s, long long& out) {
  if (s.empty() || s.size() > 20) return false;
  if (s == "0") {
    out = 0;
    return true;
  }
  std::size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative && ++i == s.size()) return false;
  if (s[i] < '1' || s[i] > '9') return false;
  unsigned long long v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    const auto digit = static_cast<unsigned long long>(s[i] - '0');
    if (v > (std::numeric_limits<unsigned long long>::max() - digit) / 10) return false;
    v = v * 10 + digit;
  }
  constexpr auto kMax = static_cast<unsigned long long>(std::numeric_limits<long long>::max());
  if (v > kMax + (negative ? 1 : 0)) return false;
  out = negative
            ? (v == kMax + 1 ? std::numeric_limits<long long>::min() : -static_cast<long long>(v))
            : static_cast<long long>(v);
  return true;
}

// RESP3 double: [+|-]digits[.digits][(e|E)[+|-]digits], or inf, -inf, nan, -nan as Redis
// prints them (%.17g gives "-nan" for a NaN with the sign bit set).
bool valid_double(std::string_view s) {
  if (s == "inf" || s == "-inf" || s == "nan" || s == "-nan") return true;
  std::size_t i = 0;
  const auto sign = [&] {
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  };
  const auto digits = [&] {
    const std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  sign();
  if (!digits()) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    sign();
    if (!digits()) return false;
  }
  return i == s.size();
}

// Longest line a type allows while its CRLF has not arrived; 0 for a byte that starts no type.
// Status, error and big number lines are values of any length (Redis sends a Lua script's
// big_number string as is), so they are not bounded here.
std::size_t max_line(char type) {
  switch (type) {
    case '+':
    case '-':
    case '(':
      return kNpos;
    case ',':
      return kMaxDoubleLine;
    case ':':
    case '#':
    case '_':
    case '$':
    case '!':
    case '=':
    case '*':
    case '%':
    case '~':
    case '>':
    case '|':
      return kMaxHeaderLine;
    default:
      return 0;
  }
}

ReplyKind aggregate_kind(char type) {
  switch (type) {
    case '%':
      return ReplyKind::Map;
    case '~':
      return ReplyKind::Set;
    case '>':
      return ReplyKind::Push;
    default:
      return ReplyKind::Array;
  }
}

}  // namespace

void ReplyFramer::reset() {
  pos_ = 0;
  scan_pos_ = 0;
  bulk_end_ = 0;
  format_end_ = 0;
  remaining_ = 0;
  consumed_ = 0;
  value_offset_ = 0;
  kind_ = ReplyKind::Status;
  started_ = false;
  value_started_ = false;
  done_ = false;
  failed_ = false;
}

FrameStatus ReplyFramer::fail() {
  failed_ = true;
  consumed_ = 0;
  return FrameStatus::Error;
}

// Offset of the CRLF ending the line at pos_, or kNpos. A lone '\r' inside a status line is
// data, as in hiredis. Bytes already searched are not searched again.
std::size_t ReplyFramer::find_crlf(std::string_view input) {
  std::size_t from = scan_pos_ > pos_ ? scan_pos_ : pos_;
  while (from < input.size()) {
    const void* hit = std::memchr(input.data() + from, '\r', input.size() - from);
    if (hit == nullptr) break;
    const auto cr = static_cast<std::size_t>(static_cast<const char*>(hit) - input.data());
    if (cr + 1 >= input.size()) {
      scan_pos_ = cr;  // the '\n' may be in the next read
      return kNpos;
    }
    if (input[cr + 1] == '\n') return cr;
    from = cr + 1;
  }
  scan_pos_ = input.size();
  return kNpos;
}

FrameStatus ReplyFramer::frame(std::string_view input) {
  if (failed_) return FrameStatus::Error;
  if (done_) reset();
  if (!started_) {
    if (input.empty()) return FrameStatus::NeedMore;
    started_ = true;
    remaining_ = 1;
  }
  while (remaining_ > 0) {
    if (bulk_end_ != 0) {
      if (input.size() < bulk_end_) return FrameStatus::NeedMore;
      if (!finish_blob(input)) return fail();
      continue;
    }
    if (pos_ >= input.size()) return FrameStatus::NeedMore;
    const char type = input[pos_];
    const std::size_t limit = max_line(type);
    if (limit == 0) return fail();
    // Bounded the same whether the line arrives whole or in pieces: the longest piece without
    // a CRLF ends with its '\r'.
    const std::size_t cr = find_crlf(input);
    if (cr == kNpos) return input.size() - pos_ > limit ? fail() : FrameStatus::NeedMore;
    if (limit != kNpos && cr + 1 - pos_ > limit) return fail();
    const std::string_view body = input.substr(pos_ + 1, cr - pos_ - 1);
    const std::size_t next = cr + 2;
    bool ok = false;
    switch (type) {
      case '$':
      case '!':
      case '=':
        ok = blob(type, body, next);
        break;
      case '*':
      case '%':
      case '~':
      case '>':
      case '|':
        ok = aggregate(type, body);
        break;
      default:
        ok = line(type, body);
        break;
    }
    if (!ok) return fail();
    pos_ = next;
    scan_pos_ = pos_;
  }
  consumed_ = pos_;
  done_ = true;
  return FrameStatus::Complete;
}

// Called at the start of every element but an attribute. The first one found while nothing but
// the top-level slot is open (remaining_ == 1: any attribute before it is fully read) is the
// top-level value. A push may be nested: Redis puts the (RESP3, push-typed) replies of SUBSCRIBE
// commands queued in MULTI inside EXEC's array.
bool ReplyFramer::enter(ReplyKind kind) {
  if (!value_started_ && remaining_ == 1) {
    value_started_ = true;
    value_offset_ = pos_;
    kind_ = kind;
  }
  return true;
}

bool ReplyFramer::line(char type, std::string_view body) {
  long long n = 0;
  ReplyKind kind = ReplyKind::Status;
  switch (type) {
    case '+':
      break;
    case '-':
      kind = ReplyKind::Error;
      break;
    case '(':
      kind = ReplyKind::BigNumber;
      break;
    case ':':
      if (!parse_ll(body, n)) return false;
      kind = ReplyKind::Integer;
      break;
    case ',':
      if (!valid_double(body)) return false;
      kind = ReplyKind::Double;
      break;
    case '#':
      if (body != "t" && body != "f") return false;
      kind = ReplyKind::Boolean;
      break;
    default:  // '_'
      if (!body.empty()) return false;
      kind = ReplyKind::Null;
      break;
  }
  if (!enter(kind)) return false;
  --remaining_;
  return true;
}

// `$`, `!` and `=` headers; the payload is skipped by offset, never scanned.
bool ReplyFramer::blob(char type, std::string_view body, std::size_t next) {
  long long n = 0;
  if (!parse_ll(body, n) || n > kMaxCount) return false;
  if (type == '$' && n == -1) {
    if (!enter(ReplyKind::NullBulk)) return false;
    --remaining_;
    return true;
  }
  // A verbatim payload starts with its three-byte format and ':', counted in its length.
  if (n < (type == '=' ? 4 : 0)) return false;
  const ReplyKind kind = type == '$'   ? ReplyKind::Bulk
                         : type == '!' ? ReplyKind::BlobError
                                       : ReplyKind::Verbatim;
  if (!enter(kind)) return false;
  bulk_end_ = next + static_cast<std::size_t>(n) + 2;
  format_end_ = type == '=' ? next + 3 : 0;
  return true;
}

bool ReplyFramer::finish_blob(std::string_view input) {
  if (input[bulk_end_ - 2] != '\r' || input[bulk_end_ - 1] != '\n') return false;
  if (format_end_ != 0 && input[format_end_] != ':') return false;
  pos_ = bulk_end_;
  scan_pos_ = pos_;
  bulk_end_ = 0;
  format_end_ = 0;
  --remaining_;
  return true;
}

// `*`, `%`, `~`, `>` and `|` headers. Only RESP2's array has a null form; RESP3 sends `_`.
bool ReplyFramer::aggregate(char type, std::string_view body) {
  long long n = 0;
  if (!parse_ll(body, n)) return false;
  if (type == '*' && n == -1) {
    if (!enter(ReplyKind::NullArray)) return false;
    --remaining_;
    return true;
  }
  const long long per_entry = type == '%' || type == '|' ? 2 : 1;
  if (n < 0 || n > (kMaxCount - remaining_) / per_entry) return false;
  if (type != '|') {
    if (!enter(aggregate_kind(type))) return false;
    --remaining_;
  }
  remaining_ += n * per_entry;
  return true;
}

}  // namespace frontcache::resp
