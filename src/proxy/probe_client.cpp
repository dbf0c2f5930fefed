#include "probe_client.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <string_view>

#include "frontcache/resp/request_parser.hpp"
#include "frontcache/upstream/stream.hpp"

namespace frontcache::proxy {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {
struct ReaderDeleter {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};
}  // namespace

struct ProbeClient::Impl {
  explicit Impl(upstream::Settings s)
      : settings(std::move(s)), stream(io.get_executor()), timer(io), reader(redisReaderCreate()) {}

  // Runs `op` on the private io_context until it completes.
  template <typename T>
  T run(asio::awaitable<T> op) {
    T result{};
    asio::co_spawn(io, std::move(op), [&](std::exception_ptr e, T value) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          error = ex.what();
        }
        return;
      }
      result = std::move(value);
    });
    io.restart();
    io.run();
    return result;
  }

  asio::awaitable<bool> connect() {
    error = co_await stream.connect(timer, settings);
    co_return error.empty();
  }

  // A transport failure ends the conversation: the TLS session is not used again after one
  // (and each request is bounded by command_timeout, its write included).
  asio::awaitable<redisReply*> command(std::string request) {
    if (failed) co_return nullptr;
    failed = true;
    timer.expires_after(settings.command_timeout);
    auto sent = co_await (stream.write(asio::buffer(request)) ||
                          timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (sent.index() == 1) {
      error = fmt::format("no reply within {}ms", settings.command_timeout.count());
      co_return nullptr;
    }
    if (const auto [wec, written] = std::get<0>(sent); wec) {
      error = wec.message();
      co_return nullptr;
    }
    for (;;) {
      void* reply = nullptr;
      if (redisReaderGetReply(reader.get(), &reply) != REDIS_OK) {
        error = "protocol error in upstream reply";
        co_return nullptr;
      }
      if (reply != nullptr) {
        failed = false;
        co_return static_cast<redisReply*>(reply);
      }
      auto result = co_await (stream.read_some(asio::buffer(buf)) ||
                              timer.async_wait(asio::as_tuple(asio::use_awaitable)));
      if (result.index() == 1) {
        error = fmt::format("no reply within {}ms", settings.command_timeout.count());
        co_return nullptr;
      }
      auto [ec, n] = std::get<0>(result);
      if (ec) {
        error = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated
                    ? "closed by upstream"
                    : ec.message();
        co_return nullptr;
      }
      redisReaderFeed(reader.get(), buf.data(), n);
    }
  }

  upstream::Settings settings;
  asio::io_context io{1};
  upstream::Stream stream;
  asio::steady_timer timer;
  std::unique_ptr<redisReader, ReaderDeleter> reader;
  std::array<char, 16 * 1024> buf{};
  std::string error;
  bool failed = false;  // a write or read failed: no more requests
};

ProbeClient::ProbeClient(upstream::Settings settings)
    : impl_(std::make_unique<Impl>(std::move(settings))) {}

ProbeClient::~ProbeClient() { impl_->stream.close(); }

bool ProbeClient::connect() { return impl_->run(impl_->connect()); }

redisReply* ProbeClient::command(const std::vector<std::string>& args) {
  const std::vector<std::string_view> views(args.begin(), args.end());
  std::string request;
  resp::encode_command(request, views);
  return impl_->run(impl_->command(std::move(request)));
}

const std::string& ProbeClient::error() const { return impl_->error; }

}  // namespace frontcache::proxy
