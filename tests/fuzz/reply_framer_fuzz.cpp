// libFuzzer target for ReplyFramer. Besides "no crash, no sanitizer report" it checks:
//  - the framed replies and final status are the same whether the input arrives whole, split
//    in two at a fuzzer-chosen offset, or one byte at a time, moved before every call;
//  - consumed() is within the input and non-zero; a framed reply, framed again on its own, is
//    Complete with the same length, kind and attribute size;
//  - the value after the attributes is a whole reply by itself, of that kind, and its first
//    byte is the kind's type byte.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "frontcache/resp/reply_framer.hpp"

namespace {

using frontcache::resp::FrameStatus;
using frontcache::resp::ReplyFramer;
using frontcache::resp::ReplyKind;

struct Outcome {
  std::vector<std::string> replies;
  std::vector<ReplyKind> kinds;
  FrameStatus last = FrameStatus::NeedMore;
  bool operator==(const Outcome&) const = default;
};

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

// The type byte a value of each ReplyKind starts with, in enumerator order.
constexpr std::string_view kTypeBytes = "+-:$$**,#(_!=%~>";

void check_alone(std::string_view reply, ReplyKind kind, std::size_t attribute_size) {
  ReplyFramer alone;
  check(alone.frame(reply) == FrameStatus::Complete, "reply frames alone");
  check(alone.consumed() == reply.size(), "reply alone has the same length");
  check(alone.kind() == kind, "reply alone has the same kind");
  check(alone.attribute_size() == attribute_size, "reply alone has the same attributes");
  check(attribute_size < reply.size(), "attributes precede a value");

  const std::string_view value = reply.substr(attribute_size);
  const auto index = static_cast<std::size_t>(kind);
  check(index < kTypeBytes.size() && value[0] == kTypeBytes[index],
        "kind matches the value's type byte");
  if (attribute_size == 0) return;
  ReplyFramer bare;
  check(bare.frame(value) == FrameStatus::Complete, "value frames without its attributes");
  check(bare.consumed() == value.size(), "value alone has its length");
  check(bare.kind() == kind && bare.attribute_size() == 0, "value alone has the same kind");
}

Outcome feed(std::string_view input, const std::vector<std::size_t>& cuts) {
  ReplyFramer framer;
  Outcome out;
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
        check(framer.frame(*copy) == FrameStatus::Error, "errors are sticky");
        return out;
      }
      if (status == FrameStatus::NeedMore) break;
      check(framer.consumed() > 0 && framer.consumed() <= copy->size(), "consumed in range");
      const std::string reply = buffer.substr(0, framer.consumed());
      check_alone(reply, framer.kind(), framer.attribute_size());
      out.replies.push_back(reply);
      out.kinds.push_back(framer.kind());
      buffer.erase(0, framer.consumed());
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Outcome whole = feed(input, {});
  const std::size_t cut = input.empty() ? 0 : data[0] % (input.size() + 1);
  check(feed(input, {cut}) == whole, "split in two gives the same outcome");
  if (input.size() <= 256) {
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < input.size(); ++i) every.push_back(i);
    check(feed(input, every) == whole, "byte at a time gives the same outcome");
  }
  return 0;
}
