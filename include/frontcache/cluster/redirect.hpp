// What a cluster node's error reply asks of the client: go to another node for this slot (MOVED,
// the slot's owner changed), try another node once (ASK, the slot is being migrated and the key
// is not here), or retry later (TRYAGAIN, a multi-key request during a migration). Pure parsing
// of the reply bytes; the proxy's cluster client acts on it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace frontcache::cluster {

// Redis Cluster's error for keys of one command in several slots (cluster.c), as RESP.
inline constexpr std::string_view kCrossSlot =
    "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
// SELECT of another database than 0 on a cluster node (db.c).
inline constexpr std::string_view kSelectNotAllowed =
    "-ERR SELECT is not allowed in cluster mode\r\n";
// CLUSTER, READONLY, READWRITE, ASKING on a Redis without cluster support: what frontcache
// answers, since it presents one ordinary Redis.
inline constexpr std::string_view kClusterDisabled =
    "-ERR This instance has cluster support disabled\r\n";

struct Redirect {
  enum class Kind : std::uint8_t { Moved, Ask };
  Kind kind = Kind::Moved;
  std::uint16_t slot = 0;
  std::string host;  // empty when the node named no endpoint ("?")
  std::uint16_t port = 0;

  std::string address() const;
};

// "-MOVED <slot> <host>:<port>\r\n" or "-ASK ..." (an IPv6 host is not bracketed: the port is
// after the last ':'). nullopt for any other reply.
std::optional<Redirect> parse_redirect(std::string_view reply);

// "-TRYAGAIN ...": a multi-key request met a slot being migrated; retrying later succeeds.
bool is_tryagain(std::string_view reply);
// "-CLUSTERDOWN ...": the node thinks the cluster (or this slot) is not served now.
bool is_clusterdown(std::string_view reply);

}  // namespace frontcache::cluster
