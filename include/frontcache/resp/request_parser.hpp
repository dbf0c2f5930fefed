// Client request parsing: RESP2 multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline
// (`GET k\r\n`) commands, one at a time from the front of the session's read buffer.
// Every length from the wire is checked against ParserLimits before it is used.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace frontcache::resp {

struct ParserLimits {
  std::size_t max_bulk_length = 512ull << 20;  // Redis proto-max-bulk-len
  std::size_t max_arguments = 1024 * 1024;     // Redis: multibulk count limit
  std::size_t max_inline_length = 64 * 1024;   // Redis PROTO_INLINE_MAX_SIZE
  // Stricter limits while the connection is not authenticated (see set_authenticated()), as
  // Redis applies when a password is required (CVE-2021-32675).
  std::size_t max_unauthenticated_arguments = 10;
  std::size_t max_unauthenticated_bulk_length = 16384;
};

enum class ParseStatus {
  Complete,  // one request parsed: consumed() bytes, args()
  NeedMore,  // the request is incomplete; call again with the same bytes and more appended
  Error,     // protocol error: reply error(), then close the connection (as Redis does)
};

// Incremental parser with per-connection state. Usage:
//
//   switch (parser.parse(buffer)) {
//     case Complete: handle(parser.args()); buffer.consume(parser.consumed()); break;
//     case NeedMore: read more into buffer (the unconsumed bytes may move, must not change);
//     case Error:    write "-" + parser.error() + "\r\n"; close.
//   }
//
// Views returned by args() point into the `input` passed to the last parse() call (multibulk)
// or into the parser's own storage (inline); they stay valid until the next parse() call or
// until the input bytes are moved or changed. A Complete request with zero arguments (an empty
// inline line, `*0`, `*-1`, any negative count) is valid and must be skipped by the caller, as
// Redis does.
//
// Redis 7 behaviours kept on purpose (a request must mean the same to us as to the upstream):
// the byte after a header's '\r' and the two bytes after a bulk payload are skipped unchecked;
// a NUL byte in a header or inline line hides the line's end, as Redis's strchr() does, so the
// line fails once it exceeds max_inline_length; inline lines may end in "\n" alone; empty
// quoted inline arguments ("" or '') are kept (Redis 7.0). One deliberate difference: a complete
// inline or header line longer than max_inline_length is an error even when it arrives in one read
// (Redis only checks while the line end is missing), so the result never depends on how the
// bytes were split.
class RequestParser {
 public:
  explicit RequestParser(ParserLimits limits = {});

  ParseStatus parse(std::string_view input);

  std::size_t consumed() const { return consumed_; }
  std::span<const std::string_view> args() const { return args_; }
  // True when the request was inline: its raw bytes are not RESP and must be re-encoded
  // before forwarding.
  bool inline_request() const { return inline_; }
  // The Redis error text, without '-' and CRLF, e.g. "ERR Protocol error: invalid bulk length".
  std::string_view error() const { return error_; }

  // Forgets any partial request (after the caller dropped its buffer).
  void reset();

  // While false, the max_unauthenticated_* limits apply, with Redis's errors "Protocol error:
  // unauthenticated multibulk length" / "... bulk length". Default true (no extra limit).
  void set_authenticated(bool authenticated) { authenticated_ = authenticated; }

 private:
  bool parse_whole_multibulk(std::string_view input);
  ParseStatus parse_multibulk(std::string_view input);
  ParseStatus parse_inline(std::string_view input);
  ParseStatus fail(std::string message);
  ParseStatus complete(std::string_view input, std::size_t end);
  std::size_t find_terminator(std::string_view input, std::size_t line_start, char terminator);
  bool split_inline(std::string_view line);
  void begin_request();

  ParserLimits limits_;
  // Progress through a partial request, as offsets from the request's first byte, so the
  // caller may move the buffer between calls.
  std::size_t pos_ = 0;           // start of the next header line or bulk payload
  std::size_t scan_pos_ = 0;      // the current line has no terminator before this offset
  bool nul_seen_ = false;         // the current line holds a NUL: Redis's strchr stops there
  long long expected_args_ = -1;  // -1: multibulk header not parsed yet
  long long bulk_len_ = -1;       // -1: next bulk header not parsed yet
  bool started_ = false;          // the first byte has decided inline_
  bool done_ = false;             // last call returned Complete; next call starts afresh
  bool failed_ = false;           // sticky until reset()
  bool authenticated_ = true;
  std::vector<std::pair<std::size_t, std::size_t>> offsets_;  // (offset, length) of each arg
  std::vector<std::string_view> args_;
  std::vector<std::string> inline_args_;  // reused across requests: no allocation when warm
  std::size_t inline_count_ = 0;
  std::size_t consumed_ = 0;
  bool inline_ = false;
  std::string error_;
};

// Appends the RESP multibulk encoding of `args` to `out` (used to forward inline requests and
// to build requests of our own).
void encode_command(std::string& out, std::span<const std::string_view> args);

}  // namespace frontcache::resp
