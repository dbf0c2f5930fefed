// Upstream reply framing: finds where one complete RESP2 reply (nested arrays included) ends
// in the byte stream, without decoding it, so replies are forwarded to clients as raw bytes.
#pragma once

#include <cstddef>
#include <string_view>

namespace frontcache::resp {

enum class FrameStatus { Complete, NeedMore, Error };

enum class ReplyKind { Status, Error, Integer, Bulk, NullBulk, Array, NullArray };

// Incremental framer with state. Usage:
//
//   while (framer.frame(buffer) == FrameStatus::Complete) {
//     deliver(buffer.substr(0, framer.consumed()), framer.kind());
//     buffer.remove_prefix(framer.consumed());
//   }
//
// On NeedMore the framer keeps its progress (as an offset from the reply's first byte); call
// again with the same bytes plus more. On Error the stream is not RESP2: the caller must close
// the connection (it cannot be resynchronised).
class ReplyFramer {
 public:
  FrameStatus frame(std::string_view input);

  std::size_t consumed() const { return consumed_; }
  // Kind of the top-level reply last framed.
  ReplyKind kind() const { return kind_; }

  void reset();

 private:
  FrameStatus fail();
  std::size_t find_crlf(std::string_view input);

  // Progress through the current reply, as offsets from its first byte.
  std::size_t pos_ = 0;       // start of the next element
  std::size_t scan_pos_ = 0;  // the current line has no CRLF before this offset
  std::size_t bulk_end_ = 0;  // nonzero: a bulk payload (with its CRLF) ends here
  // Elements still to read, over all open array levels: an array of n adds n, every element
  // read subtracts one. A count instead of a stack, so nesting depth costs nothing.
  long long remaining_ = 0;
  std::size_t consumed_ = 0;
  ReplyKind kind_ = ReplyKind::Status;
  bool started_ = false;
  bool done_ = false;    // last call returned Complete; next call starts a new reply
  bool failed_ = false;  // sticky until reset()
};

}  // namespace frontcache::resp
