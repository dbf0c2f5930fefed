// RESP2 reply framing for the upstream read path: walks type bytes and lengths only.
#include "frontcache/resp/reply_framer.hpp"

#include <cstring>
#include <limits>

namespace frontcache::resp {
namespace {

constexpr std::size_t kNpos = std::string_view::npos;
// Header lines (`:`, `$`, `*`) hold one number; anything longer is not RESP.
constexpr std::size_t kMaxHeaderLine = 32;
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

}  // namespace

void ReplyFramer::reset() {
  pos_ = 0;
  scan_pos_ = 0;
  bulk_end_ = 0;
  remaining_ = 0;
  consumed_ = 0;
  kind_ = ReplyKind::Status;
  started_ = false;
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
      if (input[bulk_end_ - 2] != '\r' || input[bulk_end_ - 1] != '\n') return fail();
      pos_ = bulk_end_;
      scan_pos_ = pos_;
      bulk_end_ = 0;
      --remaining_;
      continue;
    }
    if (pos_ >= input.size()) return FrameStatus::NeedMore;
    const char type = input[pos_];
    if (type != '+' && type != '-' && type != ':' && type != '$' && type != '*') return fail();
    const bool top = pos_ == 0;
    const std::size_t cr = find_crlf(input);
    if (cr == kNpos) {
      if (type != '+' && type != '-' && input.size() - pos_ > kMaxHeaderLine) return fail();
      return FrameStatus::NeedMore;
    }
    const std::string_view body = input.substr(pos_ + 1, cr - pos_ - 1);
    const std::size_t next = cr + 2;
    long long n = 0;
    switch (type) {
      case '+':
      case '-':
        if (top) kind_ = type == '+' ? ReplyKind::Status : ReplyKind::Error;
        --remaining_;
        break;
      case ':':
        if (!parse_ll(body, n)) return fail();
        if (top) kind_ = ReplyKind::Integer;
        --remaining_;
        break;
      case '$':
        if (!parse_ll(body, n) || n < -1 || n > kMaxCount) return fail();
        if (top) kind_ = n == -1 ? ReplyKind::NullBulk : ReplyKind::Bulk;
        if (n == -1) {
          --remaining_;
        } else {
          bulk_end_ = next + static_cast<std::size_t>(n) + 2;
        }
        break;
      default:  // '*'
        if (!parse_ll(body, n) || n < -1 || n > kMaxCount - remaining_) return fail();
        if (top) kind_ = n == -1 ? ReplyKind::NullArray : ReplyKind::Array;
        --remaining_;
        if (n > 0) remaining_ += n;
        break;
    }
    pos_ = next;
    scan_pos_ = pos_;
  }
  consumed_ = pos_;
  done_ = true;
  return FrameStatus::Complete;
}

}  // namespace frontcache::resp
