// Redis Cluster's key space: 16384 hash slots, a key's slot being CRC16 (XMODEM) of the key, or
// of its hash tag (the bytes between the first '{' and the first '}' after it, when not empty),
// modulo 16384. As cluster.c's keyHashSlot; pure functions, no I/O.
#pragma once

#include <cstdint>
#include <string_view>

namespace frontcache::cluster {

inline constexpr std::uint16_t kSlots = 16384;

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), as Redis's crc16.c.
std::uint16_t crc16(std::string_view bytes);

// The hash slot of `key`, honouring hash tags.
std::uint16_t key_hash_slot(std::string_view key);

}  // namespace frontcache::cluster
