#include "frontcache/proxy/server.hpp"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

#include "cluster_coherence.hpp"
#include "cluster_topology.hpp"
#include "command_reply.hpp"
#include "frontcache/invalidation/subscriber.hpp"
#include "frontcache/metrics/http_server.hpp"
#include "frontcache/tls/context.hpp"
#include "metrics_exposition.hpp"
#include "probe_client.hpp"
#include "reload.hpp"
#include "shared.hpp"
#include "worker.hpp"

namespace frontcache::proxy {

namespace asio = boost::asio;

namespace {

// How often the invalidation stream proves itself current (a fence round).
std::chrono::milliseconds fence_interval(const config::Config& cfg) {
  return std::max(std::chrono::milliseconds(1), cfg.invalidation.max_staleness / 4);
}

command::CommandInfo parse_command_entry(const redisReply* e) {
  command::CommandInfo info;
  if (e->type != REDIS_REPLY_ARRAY || e->elements < 6) return info;
  auto integer = [](const redisReply* r) {
    return r->type == REDIS_REPLY_INTEGER ? static_cast<int>(r->integer) : 0;
  };
  info.name.assign(e->element[0]->str, e->element[0]->len);
  info.arity = integer(e->element[1]);
  const redisReply* flags = e->element[2];
  for (std::size_t i = 0; flags->type == REDIS_REPLY_ARRAY && i < flags->elements; ++i) {
    const std::string_view f(flags->element[i]->str, flags->element[i]->len);
    if (f == "write") info.flags |= command::kWrite;
    if (f == "readonly") info.flags |= command::kReadonly;
    if (f == "movablekeys") info.flags |= command::kMovableKeys;
    if (f == "admin") info.flags |= command::kAdmin;
    if (f == "allow_busy") info.flags |= command::kAllowBusy;
    if (f == "no_multi") info.flags |= command::kNoMulti;
  }
  info.first_key = integer(e->element[3]);
  info.last_key = integer(e->element[4]);
  info.key_step = integer(e->element[5]);
  // Redis 6: element 6 lists the ACL categories; Redis 7: element 8 the key specs.
  if (e->elements >= 7) info.categories = parse_acl_categories(e->element[6]);
  if (e->elements >= 9) info.key_specs = parse_key_specs(e->element[8]);
  // Redis 7: element 9 lists subcommands ("xgroup|create", ...).
  if (e->elements >= 10 && e->element[9]->type == REDIS_REPLY_ARRAY) {
    for (std::size_t i = 0; i < e->element[9]->elements; ++i) {
      command::CommandInfo sub = parse_command_entry(e->element[9]->element[i]);
      if (auto bar = sub.name.find('|'); bar != std::string::npos) sub.name.erase(0, bar + 1);
      for (auto& c : sub.name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      info.subcommands.push_back(std::move(sub));
    }
  }
  return info;
}

std::vector<command::CommandInfo> parse_command_reply(const redisReply* r) {
  std::vector<command::CommandInfo> infos;
  for (std::size_t i = 0; i < r->elements; ++i) {
    auto info = parse_command_entry(r->element[i]);
    if (!info.name.empty()) infos.push_back(std::move(info));
  }
  return infos;
}

// Asks the upstream, once at startup, for what sessions need to answer locally: the number
// of databases (SELECT's range) and its version (HELLO). Defaults stay when it is down or
// CONFIG is renamed away; a failure here is not fatal.
void probe_upstream(Shared& shared, const config::Endpoint* node = nullptr) {
  const auto config = shared.config();
  const auto& up = config->upstream;
  upstream::Settings settings = upstream_settings(shared, *config);
  if (node != nullptr) {  // cluster mode: a master of the slot map
    settings.host = node->host;
    settings.port = node->port;
  }
  ProbeClient c(settings);
  if (!c.connect()) {
    if (up.tls.enabled && c.error().starts_with("TLS handshake")) {
      spdlog::error(
          "upstream {}:{}: {}; check upstream.tls (ca_file, server_name); serving errors "
          "until it succeeds",
          up.address.host, up.address.port, c.error());
    } else {
      spdlog::warn("upstream {}:{} not reachable at startup ({}); serving errors until it is",
                   up.address.host, up.address.port, c.error());
    }
    return;
  }
  auto command = [&c](const std::vector<std::string>& args) { return c.command(args); };
  bool authed = true;
  if (!up.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!up.username.empty()) auth.push_back(up.username);
    auth.push_back(up.password);
    redisReply* r = command(auth);
    authed = r != nullptr && r->type != REDIS_REPLY_ERROR;
    if (r == nullptr || r->type == REDIS_REPLY_ERROR) {
      spdlog::error("upstream {}:{} refused AUTH: {}", up.address.host, up.address.port,
                    r != nullptr ? r->str : c.error().c_str());
    }
    if (r != nullptr) freeReplyObject(r);
  }
  if (authed) {
    if (redisReply* r = command({"CONFIG", "GET", "databases"}); r != nullptr) {
      if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
          r->element[1]->type == REDIS_REPLY_STRING) {
        shared.databases = std::max(1, std::atoi(r->element[1]->str));
      }
      freeReplyObject(r);
    }
    if (redisReply* r = command({"COMMAND"}); r != nullptr) {
      if (r->type == REDIS_REPLY_ARRAY) {
        auto infos = parse_command_reply(r);
        spdlog::debug("command table: {} commands from the upstream's COMMAND", infos.size());
        shared.commands.merge(std::move(infos));
      } else {
        spdlog::warn("upstream COMMAND failed; using the built-in command table");
      }
      freeReplyObject(r);
    }
    if (redisReply* r = command({"INFO", "server"}); r != nullptr) {
      if (r->type == REDIS_REPLY_STRING) {
        std::string_view text(r->str, r->len);
        constexpr std::string_view kKey = "redis_version:";
        if (auto pos = text.find(kKey); pos != std::string_view::npos) {
          auto end = text.find("\r\n", pos);
          shared.upstream_version =
              std::string(text.substr(pos + kKey.size(), end - pos - kKey.size()));
          shared.resp3 = std::atoi(shared.upstream_version.c_str()) >= 6;
        }
      }
      freeReplyObject(r);
    }
  }
}

// The listener's TLS context from tls.*; throws std::runtime_error naming the key.
std::shared_ptr<asio::ssl::context> listener_tls_context(const config::TlsConfig& c) {
  tls::ServerSettings s;
  s.cert_file = c.cert_file;
  s.key_file = c.key_file;
  s.ca_file = c.ca_file;
  s.client_auth = c.client_auth == config::ClientAuth::Required   ? tls::ClientAuth::Required
                  : c.client_auth == config::ClientAuth::Optional ? tls::ClientAuth::Optional
                                                                  : tls::ClientAuth::None;
  s.min_version =
      c.min_version == config::TlsVersion::Tls13 ? tls::Version::Tls13 : tls::Version::Tls12;
  s.ciphers = c.ciphers;
  s.ciphersuites = c.ciphersuites;
  try {
    return tls::server_context(s);
  } catch (const tls::Error& e) {
    throw std::runtime_error(fmt::format("tls.{}", e.what()));
  }
}

// What every upstream connection uses for upstream.tls (null when off); throws like above.
std::shared_ptr<const tls::Client> upstream_tls_client(const config::UpstreamConfig& up) {
  if (!up.tls.enabled) return nullptr;
  tls::ClientSettings s;
  s.ca_file = up.tls.ca_file;
  s.cert_file = up.tls.cert_file;
  s.key_file = up.tls.key_file;
  s.server_name = up.tls.server_name.empty() ? up.address.host : up.tls.server_name;
  s.verify = up.tls.verify;
  try {
    return tls::make_client(s);
  } catch (const tls::Error& e) {
    throw std::runtime_error(fmt::format("upstream.tls.{}", e.what()));
  }
}

// The workers bind with SO_REUSEPORT, which would let a second frontcache on the same address
// start and silently take half the clients. A plain bind first (no SO_REUSEPORT; SO_REUSEADDR
// only passes TIME_WAIT) fails while anything listens there, as redis-server and nutcracker
// refuse. The probe is closed before the workers bind.
void refuse_address_in_use(const asio::ip::tcp::endpoint& endpoint) {
  asio::io_context io;
  asio::ip::tcp::acceptor probe(io);
  boost::system::error_code ec;
  probe.open(endpoint.protocol(), ec);
  if (!ec) probe.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) probe.bind(endpoint, ec);
  if (ec == asio::error::address_in_use) {
    throw std::runtime_error(fmt::format(
        "listen {}:{}: address already in use (another frontcache, or another server, is "
        "listening there); not starting",
        endpoint.address().to_string(), endpoint.port()));
  }
}

// systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram to the unix socket
// $NOTIFY_SOCKET names (a path, or '@' for the abstract namespace). Nothing when it is unset, as
// outside a Type=notify unit.
void sd_notify(const std::string& state) {
  const char* socket_path = std::getenv("NOTIFY_SOCKET");
  if (socket_path == nullptr || (socket_path[0] != '/' && socket_path[0] != '@')) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::size_t len = std::strlen(socket_path);
  if (len >= sizeof addr.sun_path) return;
  std::memcpy(addr.sun_path, socket_path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  if (::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
               size) < 0) {
    spdlog::warn("sd_notify to {} failed: {}", socket_path, std::strerror(errno));
  }
  ::close(fd);
}

// READY=1 once the listeners accept and /readyz would say ready (an upstream connection up,
// invalidation armed), or once `bound` has passed: a Redis that is down at startup must not keep
// systemd waiting (the proxy serves errors, then recovers, as /readyz shows).
asio::awaitable<void> notify_when_ready(const Shared& shared, std::chrono::milliseconds bound) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!readiness(shared, false).ready && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(5));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  const auto state = readiness(shared, false);
  if (!state.ready) spdlog::warn("serving before ready: {}", state.reason);
  sd_notify(state.ready ? "READY=1\nSTATUS=serving: upstream ready, invalidation armed"
                        : "READY=1\nSTATUS=serving, not ready yet: " + state.reason);
}

std::uint64_t random_instance_id() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

// Reclaims expired L1 entries without waiting for lookups to find them, and tells clients that
// track keys through the proxy to drop everything when L1 stops being provably current (no
// fence round within max_staleness): they must not keep a value L1 itself would no longer
// serve. Runs until the timer is cancelled at shutdown.
asio::awaitable<void> maintenance_loop(L1& l1, TrackingTable& tracking, asio::steady_timer& timer) {
  const auto tick = std::clamp<std::chrono::milliseconds>(
      l1.max_staleness() / 4, std::chrono::milliseconds(1), std::chrono::milliseconds(100));
  auto last_expiry = std::chrono::steady_clock::now();
  bool was_fresh = false;
  for (;;) {
    timer.expires_after(tick);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    const auto now = std::chrono::steady_clock::now();
    const bool fresh = l1.fresh(now);
    if (was_fresh && !fresh) tracking.invalidate_all();
    was_fresh = fresh;
    if (now - last_expiry >= std::chrono::milliseconds(100)) {
      l1.cache().run_maintenance();
      last_expiry = now;
    }
  }
}

}  // namespace

std::vector<std::string> check_tls(const config::Config& config) {
  std::vector<std::string> errors;
  try {
    upstream_tls_client(config.upstream);
  } catch (const std::exception& e) {
    errors.emplace_back(e.what());
  }
  if (config.tls.listen) {
    try {
      listener_tls_context(config.tls);
    } catch (const std::exception& e) {
      errors.emplace_back(e.what());
    }
  }
  return errors;
}

struct Server::Impl {
  explicit Impl(config::Config config) : shared(std::move(config)) {}

  void wait_for_signal(Server* server);
  void reload_tls(const config::Config& config);

  Shared shared;
  config::CommandLine overrides;
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<metrics::HttpServer> metrics;
  // The invalidation subscriber and L1 maintenance have a thread of their own: a busy worker
  // must not hold invalidations back from the others.
  asio::io_context invalidation_io{1};
  std::thread invalidation_thread;
  std::unique_ptr<invalidation::Subscriber> subscriber;
  std::unique_ptr<ClusterCoherence> coherence;  // cluster mode: a subscriber per master
  std::unique_ptr<asio::steady_timer> maintenance;
  asio::io_context signals_io{1};
  asio::signal_set signals{signals_io, SIGINT, SIGTERM};
  std::atomic<bool> draining{false};  // stop() was called: /readyz turns 503
  bool tls_listening = false;
};

// SIGHUP with a TLS listener: the certificate files are read again (whether or not the config
// file changed, so that renewed files at the same paths are picked up) into a new context.
// New handshakes use it; connections keep the context they were accepted with. A context that
// cannot be built leaves the running one in place.
void Server::Impl::reload_tls(const config::Config& config) {
  try {
    auto context = listener_tls_context(config.tls);
    for (auto& w : workers) w->set_tls_context(context);
    shared.stats.tls_reloads.fetch_add(1, std::memory_order_relaxed);
    spdlog::info("TLS certificates reloaded from {}: new connections use them",
                 config.tls.cert_file);
  } catch (const std::exception& e) {
    shared.stats.tls_reload_failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("TLS certificates not reloaded: {}; the running ones stay", e.what());
  }
}

// SIGHUP reloads and waits again; SIGINT/SIGTERM begin the shutdown.
void Server::Impl::wait_for_signal(Server* server) {
  signals.async_wait([this, server](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      spdlog::info("received SIGHUP, reloading {}", shared.config_path);
      server->reload();
      wait_for_signal(server);
      return;
    }
    spdlog::info(
        "received signal {}, shutting down: no new connections, in-flight requests "
        "have up to {} to finish",
        signal, config::format_duration(shared.config()->shutdown_timeout));
    server->stop();
  });
}

Server::Server(config::Config config) : impl_(std::make_unique<Impl>(std::move(config))) {
  auto& shared = impl_->shared;
  shared.upstream_tls = upstream_tls_client(shared.config()->upstream);
  if (const auto& up = shared.config()->upstream; up.mode == config::UpstreamMode::Cluster) {
    std::vector<config::Endpoint> seeds{up.address};
    seeds.insert(seeds.end(), up.seeds.begin(), up.seeds.end());
    shared.topology = std::make_unique<Topology>(upstream_settings(shared, *shared.config()),
                                                 std::move(seeds), up.topology_refresh);
  }
  if (const auto& cfg = *shared.config();
      cfg.invalidation.tracking == config::TrackingMode::Default && cfg.cache.enabled &&
      cfg.cache.max_memory > 0) {
    // Before the workers: their shared connections carry it. A connection that ends makes L1
    // forget everything (the L1 exists by the time a connection has filled anything).
    shared.data_tracking = std::make_shared<upstream::DataTracking>(
        [&shared] {
          if (shared.l1 != nullptr) shared.l1->invalidate_all(invalidation::Source::Tracking);
        },
        fence_interval(cfg));
  }
  for (std::size_t i = 0; i < shared.workers; ++i) {
    impl_->workers.push_back(std::make_unique<Worker>(shared, i));
    shared.all_workers.push_back(impl_->workers.back().get());
  }
  impl_->signals.add(SIGHUP);
}

Server::~Server() = default;

void Server::set_config_source(std::string path, config::CommandLine overrides) {
  impl_->shared.config_path = std::move(path);
  impl_->overrides = std::move(overrides);
}

void Server::set_cache_stats_source(std::function<cache::CacheStats()> source) {
  impl_->shared.metrics_sources.cache_stats = std::move(source);
}

void Server::set_l1_bypass_source(std::function<bool()> source) {
  impl_->shared.metrics_sources.l1_bypassed = std::move(source);
}

void Server::reload() {
  auto plan = reload_config(impl_->shared, impl_->overrides);
  if (!plan) return;
  spdlog::set_level(spdlog::level::from_str(plan->effective->log_level));
  auto& shared = impl_->shared;
  if (shared.l1 && shared.l1->set_rules(plan->effective->cache) &&
      (impl_->subscriber || impl_->coherence)) {
    // Other keys are cacheable now: CLIENT TRACKING must cover their prefixes. Re-arming
    // clears L1 and registers the new prefixes.
    auto prefixes = shared.l1->rules()->tracking_prefixes();
    asio::post(impl_->invalidation_io, [this, prefixes = std::move(prefixes)]() mutable {
      if (impl_->coherence) return impl_->coherence->set_prefixes(std::move(prefixes));
      impl_->subscriber->set_prefixes(std::move(prefixes));
    });
  }
  if (impl_->tls_listening) impl_->reload_tls(*plan->effective);
  for (auto& w : impl_->workers) w->apply_config(plan->effective);
}

void Server::bind() {
  const auto config = impl_->shared.config();
  auto resolve = [this](const config::Endpoint& listen, std::string_view key) {
    boost::system::error_code ec;
    asio::ip::tcp::resolver resolver(impl_->signals_io);
    auto results = resolver.resolve(listen.host, std::to_string(listen.port), ec);
    if (ec || results.empty()) {
      throw std::runtime_error(
          fmt::format("{} {}:{}: cannot resolve: {}", key, listen.host, listen.port, ec.message()));
    }
    const auto endpoint = results.begin()->endpoint();
    refuse_address_in_use(endpoint);
    return endpoint;
  };
  if (config->plain_listener) {
    const auto endpoint = resolve(config->listen, "listen");
    for (auto& w : impl_->workers) w->bind(endpoint, false);
  }
  if (config->tls.listen) {
    // Certificates are checked before the port opens: a bad file stops the start here.
    auto context = listener_tls_context(config->tls);
    const auto endpoint = resolve(*config->tls.listen, "tls.listen");
    for (auto& w : impl_->workers) {
      w->bind(endpoint, true);
      w->set_tls_context(context);
    }
    impl_->tls_listening = true;
  }
  if (config->metrics.listen) {
    const Shared* shared = &impl_->shared;
    const std::atomic<bool>* draining = &impl_->draining;
    impl_->metrics = std::make_unique<metrics::HttpServer>(
        config->metrics.listen->host, config->metrics.listen->port,
        [shared] { return render_metrics(*shared); },
        [shared, draining] { return readiness(*shared, draining->load()); });
    impl_->metrics->bind();
  }
}

void Server::run() {
  auto& shared = impl_->shared;
  if (shared.topology != nullptr) {
    // Cluster mode: the slot map first, then the probe asks one of its masters.
    if (!shared.topology->load()) {
      spdlog::warn("cluster: no seed node gave a slot map ({}); serving errors until one does",
                   shared.topology->last_error());
    }
    const auto map = shared.topology->map();
    config::Endpoint master;
    if (map != nullptr && !map->empty()) {
      master = {map->shards().front().master.host, map->shards().front().master.port};
    }
    probe_upstream(shared, map != nullptr && !map->empty() ? &master : nullptr);
  } else {
    probe_upstream(shared);
  }
  {
    const auto cfg = shared.config();
    std::string listening;
    if (cfg->plain_listener) listening = fmt::format("{}:{}", cfg->listen.host, cfg->listen.port);
    if (cfg->tls.listen) {
      listening += fmt::format("{}{}:{} (TLS)", listening.empty() ? "" : " and ",
                               cfg->tls.listen->host, cfg->tls.listen->port);
    }
    spdlog::info("frontcache {} listening on {}, upstream {}:{}{}, {} workers", FRONTCACHE_VERSION,
                 listening, cfg->upstream.address.host, cfg->upstream.address.port,
                 cfg->upstream.tls.enabled ? " (TLS)" : "", shared.workers);
    if (impl_->metrics) {
      spdlog::info("metrics on http://{}:{}/metrics (and /healthz, /readyz)",
                   cfg->metrics.listen->host, impl_->metrics->port());
    }
  }
  const auto config = shared.config();
  const auto& cfg = *config;
  std::vector<std::string> cacheable = cfg.cache.commands;
  // MGET is served from GET's entries, key by key.
  if (std::find(cacheable.begin(), cacheable.end(), "GET") != cacheable.end()) {
    cacheable.push_back("MGET");
  }
  shared.commands.set_cacheable(cacheable);
  if (cfg.cache.enabled && cfg.cache.max_memory > 0) {
    shared.l1 =
        std::make_unique<L1>(cfg.cache, random_instance_id(), cfg.invalidation.max_staleness);
    invalidation::SubscriberSettings settings;
    settings.upstream = upstream_settings(shared, cfg);
    settings.channel = cfg.invalidation.channel;
    settings.tracking = cfg.invalidation.tracking == config::TrackingMode::Bcast;
    settings.data_tracking = shared.data_tracking;
    settings.prefixes = shared.l1->rules()->tracking_prefixes();
    settings.ping_interval = cfg.invalidation.ping_interval;
    settings.fence_interval = fence_interval(cfg);
    settings.instance = shared.l1->instance();
    auto& io = impl_->invalidation_io;
    if (shared.topology != nullptr) {
      // Cluster mode: CLIENT TRACKING and fences on every master, following the slot map.
      impl_->coherence = std::make_unique<ClusterCoherence>(io, settings, *shared.l1);
      shared.topology->add_listener([c = impl_->coherence.get()](auto map) { c->apply(map); });
      shared.l1->set_fence_requester([c = impl_->coherence.get()] { c->request_fence(); });
    } else {
      impl_->subscriber = std::make_unique<invalidation::Subscriber>(io, settings, *shared.l1);
      impl_->subscriber->start();
      shared.l1->set_fence_requester([s = impl_->subscriber.get()] { s->request_fence(); });
    }
    shared.l1->set_tracking(&shared.tracking);
    shared.tracking.set_deliver(
        [&shared](std::size_t worker, std::uint64_t client, std::shared_ptr<Invalidation> m) {
          shared.all_workers[worker]->deliver_tracking(client, std::move(m));
        });
    impl_->maintenance = std::make_unique<asio::steady_timer>(io);
    asio::co_spawn(io, maintenance_loop(*shared.l1, shared.tracking, *impl_->maintenance),
                   [](std::exception_ptr e) {
                     if (e) spdlog::error("L1 maintenance loop ended by an exception");
                   });
  }
  if (shared.l1 != nullptr) {
    L1* l1 = shared.l1.get();
    auto& sources = shared.metrics_sources;
    if (!sources.cache_stats) sources.cache_stats = [l1] { return l1->cache().stats(); };
    if (!sources.l1_bypassed) sources.l1_bypassed = [l1] { return !l1->armed(); };
  }
  if (impl_->subscriber || impl_->coherence) {
    impl_->invalidation_thread = std::thread([this] {
      try {
        impl_->invalidation_io.run();
      } catch (const std::exception& e) {
        spdlog::critical("invalidation thread stopped by an exception: {}", e.what());
      }
    });
  }
  shared.command_stats.reset(shared.workers, shared.commands.ids());
  for (auto& w : impl_->workers) w->start();
  if (shared.topology != nullptr) shared.topology->start();  // after every worker listens to it
  if (impl_->metrics) impl_->metrics->start();
  asio::co_spawn(
      impl_->signals_io,
      notify_when_ready(shared, cfg.upstream.connect_timeout + cfg.upstream.command_timeout),
      [](std::exception_ptr e) {
        if (e) spdlog::error("readiness notification ended by an exception");
      });

  impl_->wait_for_signal(this);
  impl_->signals_io.run();
  if (shared.topology != nullptr) shared.topology->stop();
  // Workers end once their sessions have drained and their upstream connections are closed;
  // past shutdown_timeout their loops are stopped where they are.
  const auto grace = shared.config()->shutdown_timeout;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  bool forced = false;
  for (auto& w : impl_->workers) {
    while (!w->finished() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!w->finished()) {
      forced = true;
      w->force_stop();
    }
    w->join();
  }
  if (forced) {
    spdlog::warn("shutdown_timeout ({}) passed with requests still in flight; closed them",
                 config::format_duration(grace));
  }
  if (impl_->invalidation_thread.joinable()) {
    impl_->invalidation_io.stop();
    impl_->invalidation_thread.join();
  }
  if (impl_->metrics) impl_->metrics->stop();
  spdlog::info("frontcache stopped");
}

void Server::stop() {
  impl_->draining = true;
  sd_notify("STOPPING=1\nSTATUS=draining");
  if (impl_->subscriber || impl_->coherence) {
    asio::post(impl_->invalidation_io, [this] {
      if (impl_->subscriber) impl_->subscriber->stop();
      if (impl_->coherence) impl_->coherence->stop();
      impl_->maintenance->cancel();
    });
  }
  for (auto& w : impl_->workers) w->stop();
  impl_->signals_io.stop();
}

}  // namespace frontcache::proxy
