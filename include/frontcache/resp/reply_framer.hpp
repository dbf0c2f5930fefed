// Upstream reply framing: finds where one complete RESP2 or RESP3 reply (nested aggregates and
// attributes included) ends in the byte stream, without decoding it, so replies are forwarded
// to clients as raw bytes.
#pragma once

#include <cstddef>
#include <string_view>

namespace frontcache::resp {

enum class FrameStatus { Complete, NeedMore, Error };

// The top-level type of a framed reply. RESP2 kinds first (their meaning is unchanged), then
// RESP3's. Test errors and nulls with is_error() and is_null(): RESP3 adds a form of each.
enum class ReplyKind {
  Status,     // +
  Error,      // -
  Integer,    // :
  Bulk,       // $<n>
  NullBulk,   // $-1
  Array,      // *<n>
  NullArray,  // *-1
  Double,     // ,
  Boolean,    // #t, #f
  BigNumber,  // (
  Null,       // _
  BlobError,  // !<n>
  Verbatim,   // =<n>, payload "txt:..." or "mkd:..."
  Map,        // %<n>
  Set,        // ~<n>
  Push,       // ><n>, only as a top-level reply
};

constexpr bool is_error(ReplyKind kind) {
  return kind == ReplyKind::Error || kind == ReplyKind::BlobError;
}

// Redis's refusal of a command while a script or function runs past busy-reply-threshold.
constexpr bool is_busy(std::string_view reply, ReplyKind kind) {
  return is_error(kind) && reply.starts_with("-BUSY ");
}

constexpr bool is_null(ReplyKind kind) {
  return kind == ReplyKind::NullBulk || kind == ReplyKind::NullArray || kind == ReplyKind::Null;
}

// Incremental framer with state. Usage:
//
//   while (framer.frame(buffer) == FrameStatus::Complete) {
//     deliver(buffer.substr(0, framer.consumed()), framer.kind());
//     buffer.remove_prefix(framer.consumed());
//   }
//
// On NeedMore the framer keeps its progress (as an offset from the reply's first byte); call
// again with the same bytes plus more. On Error the stream is not RESP: the caller must close
// the connection (it cannot be resynchronised). docs/resp3.md lists what is accepted.
//
// An attribute (`|<n>` and its n key/value pairs) is not a reply: it annotates the value after
// it. A frame is therefore the attribute(s) and the value together, as clients read them, and
// kind() is the value's kind; attribute_size() says where the value starts.
class ReplyFramer {
 public:
  FrameStatus frame(std::string_view input);

  std::size_t consumed() const { return consumed_; }
  // Kind of the top-level reply last framed (of the value, when attributes precede it).
  ReplyKind kind() const { return kind_; }
  // Bytes of the attributes preceding the top-level value in the frame last framed; 0 when
  // none. frame.substr(attribute_size()) is the reply without them.
  std::size_t attribute_size() const { return value_offset_; }

  void reset();

 private:
  FrameStatus fail();
  std::size_t find_crlf(std::string_view input);
  bool enter(ReplyKind kind);
  bool line(char type, std::string_view body);
  bool blob(char type, std::string_view body, std::size_t next);
  bool finish_blob(std::string_view input);
  bool aggregate(char type, std::string_view body);

  // Progress through the current reply, as offsets from its first byte.
  std::size_t pos_ = 0;         // start of the next element
  std::size_t scan_pos_ = 0;    // the current line has no CRLF before this offset
  std::size_t bulk_end_ = 0;    // nonzero: a blob payload (with its CRLF) ends here
  std::size_t format_end_ = 0;  // nonzero: that blob is verbatim, its ':' is at this offset
  // Elements still to read, over all open aggregate levels: an aggregate of n elements adds n
  // (a map or attribute of n entries adds 2n), every element read subtracts one; an attribute
  // is not an element. A count instead of a stack, so nesting depth costs nothing.
  long long remaining_ = 0;
  std::size_t consumed_ = 0;
  std::size_t value_offset_ = 0;
  ReplyKind kind_ = ReplyKind::Status;
  bool started_ = false;
  bool value_started_ = false;  // the top-level value (past any attributes) has been reached
  bool done_ = false;           // last call returned Complete; next call starts a new reply
  bool failed_ = false;         // sticky until reset()
};

}  // namespace frontcache::resp
