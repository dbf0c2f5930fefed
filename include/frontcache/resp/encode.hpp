// Builders for replies frontcache writes itself in RESP3 types, each with the RESP2 form Redis
// 7 sends a RESP2 client instead (networking.c addReply*), so one call site serves both
// protocols and matches Redis byte for byte. Each result is complete RESP.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace frontcache::resp {

// The protocol a client speaks: RESP2 until it switches with HELLO 3.
enum class Protocol { Resp2, Resp3 };

// addReplyNull: "_\r\n", or RESP2's null bulk "$-1\r\n".
std::string_view null_reply(Protocol protocol);
// addReplyNullArray: "_\r\n", or RESP2's null array "*-1\r\n".
std::string_view null_array_reply(Protocol protocol);
// addReplyBool: "#t\r\n"/"#f\r\n", or ":1\r\n"/":0\r\n".
std::string_view boolean_reply(bool value, Protocol protocol);
// addReplyDouble: ",<%.17g>\r\n" (",inf", ",-inf", NaN as printf prints it), or the same text
// as a bulk string.
std::string double_reply(double value, Protocol protocol);
// addReplyVerbatim: "=<n+4>\r\n<fmt>:<text>\r\n", or `text` as a bulk string. `format` is cut or
// padded with spaces to three bytes ("txt" for plain text, "mkd" for markdown).
std::string verbatim_reply(std::string_view text, std::string_view format, Protocol protocol);

// Aggregate headers; the caller appends the elements.
// addReplyMapLen: "%<entries>\r\n", then key, value, key, value...; RESP2 "*<2*entries>\r\n".
std::string map_header(std::size_t entries, Protocol protocol);
// addReplySetLen: "~<size>\r\n"; RESP2 "*<size>\r\n".
std::string set_header(std::size_t size, Protocol protocol);
// Out-of-band messages (pub/sub, invalidations): "><size>\r\n"; RESP2 clients get them as an
// array, "*<size>\r\n", as addReplyPubsubMessage sends them.
std::string push_header(std::size_t size, Protocol protocol);

}  // namespace frontcache::resp
