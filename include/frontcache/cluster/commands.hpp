// How frontcache runs a command in front of a cluster, beyond "send it to the node of its keys'
// slot": keyless commands that concern the whole data set go to every master and their replies
// are merged (DBSIZE summed, KEYS concatenated, FLUSHALL everywhere, SCAN one master after the
// other behind one cursor); multi-key commands whose keys span slots are split per slot and
// merged in key order (MGET, DEL, UNLINK, EXISTS, TOUCH, MSET). The merges work on raw reply
// bytes (RESP2 or RESP3) and are pure.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace frontcache::cluster {

enum class Fanout : std::uint8_t {
  None,       // one node: the keys' slot's, or any master for a keyless command
  AllSame,    // every master; the first error, else the first node's reply (FLUSHALL, SCRIPT LOAD)
  Sum,        // every master; integers added (DBSIZE)
  Concat,     // every master; arrays concatenated (KEYS)
  Scan,       // every master in turn, behind one cursor (SCAN)
  AndArrays,  // every master; element-wise minimum of integer arrays (SCRIPT EXISTS)
  Refuse,     // CLUSTER, READONLY, READWRITE, ASKING: "cluster support disabled"
};

// For a keyless command, by its full name in lower case ("script|exists", "dbsize").
Fanout keyless_fanout(std::string_view fullname);

enum class Split : std::uint8_t {
  None,  // keys in several slots: CROSSSLOT
  Mget,  // MGET: the arrays' elements put back in key order
  Sum,   // DEL, UNLINK, EXISTS, TOUCH: integers added
  Mset,  // MSET: +OK when every part says +OK, else the first error (not atomic)
};

Split split_kind(std::string_view fullname);

// Merges, in node (or part) order. Each input is one complete RESP reply. An error reply in any
// part is the result (the first one). A part whose shape is not the expected one gives an error
// reply naming the command.
std::string merge_all_same(std::span<const std::string> parts);
std::string merge_sum(std::span<const std::string> parts);
std::string merge_concat(std::span<const std::string> parts);
std::string merge_and_arrays(std::span<const std::string> parts);
// MGET split per slot: `parts[i]` answered the keys at positions `positions[i]` of the client's
// MGET (`total` keys); the elements are put back at those positions.
std::string merge_mget(std::span<const std::string> parts,
                       std::span<const std::vector<std::size_t>> positions, std::size_t total);

// SCAN across masters: the client's cursor carries the master's index (in SlotMap order) in
// its top bits and that master's own cursor in the low kScanInnerBits bits.
inline constexpr int kScanInnerBits = 54;
struct ScanCursor {
  std::size_t node = 0;
  std::uint64_t inner = 0;
};
// As Redis's parseScanCursorOrReply (strtoul: an optional sign, digits, nothing after, no
// leading space, no overflow); nullopt means "-ERR invalid cursor".
std::optional<ScanCursor> parse_scan_cursor(std::string_view text);
std::string format_scan_cursor(ScanCursor cursor);
// A master's SCAN reply ([cursor, [keys...]]) rewritten for the client: its cursor replaced by
// the next client cursor (the next master, or 0 after the last). nullopt when the reply is
// not a SCAN reply or its cursor does not fit in kScanInnerBits.
std::optional<std::string> rewrite_scan_reply(std::string_view reply, std::size_t node,
                                              std::size_t nodes);

}  // namespace frontcache::cluster
