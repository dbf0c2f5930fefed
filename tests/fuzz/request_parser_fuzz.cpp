// libFuzzer target for RequestParser. Besides "no crash, no sanitizer report" it checks:
//  - the outcome (requests, final status, error text) is the same whether the input arrives
//    whole, split in two at a fuzzer-chosen offset, or one byte at a time, with the buffer
//    moved to a fresh allocation before every call;
//  - consumed() is within the input and non-zero for a Complete request;
//  - every parsed request survives encode_command() and parses back to the same arguments.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "frontcache/resp/request_parser.hpp"

namespace {

using frontcache::resp::ParserLimits;
using frontcache::resp::ParseStatus;
using frontcache::resp::RequestParser;

struct Outcome {
  std::vector<std::vector<std::string>> requests;
  ParseStatus last = ParseStatus::NeedMore;
  std::string error;
  bool operator==(const Outcome&) const = default;
};

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

void check_round_trip(std::span<const std::string_view> args) {
  if (args.empty()) return;
  std::string encoded;
  frontcache::resp::encode_command(encoded, args);
  RequestParser again;
  check(again.parse(encoded) == ParseStatus::Complete, "re-encoded request parses");
  check(again.consumed() == encoded.size(), "re-encoded request consumed whole");
  check(again.args().size() == args.size(), "re-encoded arg count");
  for (std::size_t i = 0; i < args.size(); ++i) check(again.args()[i] == args[i], "re-encoded arg");
}

Outcome feed(std::string_view input, const std::vector<std::size_t>& cuts, ParserLimits limits,
             bool authenticated) {
  RequestParser parser(limits);
  parser.set_authenticated(authenticated);
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
      const ParseStatus status = parser.parse(*copy);
      out.last = status;
      if (status == ParseStatus::Error) {
        out.error = std::string(parser.error());
        check(out.error.rfind("ERR Protocol error: ", 0) == 0, "error text prefix");
        check(parser.parse(*copy) == ParseStatus::Error, "errors are sticky");
        return out;
      }
      if (status == ParseStatus::NeedMore) break;
      check(parser.consumed() > 0 && parser.consumed() <= copy->size(), "consumed in range");
      std::vector<std::string> args;
      for (const auto arg : parser.args()) {
        if (!parser.inline_request()) {
          check(arg.data() >= copy->data() &&
                    arg.data() + arg.size() <= copy->data() + parser.consumed(),
                "multibulk views point into the request");
        }
        args.emplace_back(arg);
      }
      check_round_trip(parser.args());
      out.requests.push_back(std::move(args));
      buffer.erase(0, parser.consumed());
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // First byte: which limits (small ones make every limit reachable) and whether the client
  // is authenticated; second: the split.
  const bool authenticated = (data[0] & 2) == 0;
  ParserLimits limits;
  if (data[0] & 1) {
    limits.max_bulk_length = 64;
    limits.max_arguments = 8;
    limits.max_inline_length = 48;
  }
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  const Outcome whole = feed(input, {}, limits, authenticated);
  const std::size_t cut = input.empty() ? 0 : data[1] % (input.size() + 1);
  check(feed(input, {cut}, limits, authenticated) == whole, "split in two gives the same outcome");
  if (input.size() <= 256) {
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < input.size(); ++i) every.push_back(i);
    check(feed(input, every, limits, authenticated) == whole,
          "byte at a time gives the same outcome");
  }
  return 0;
}
