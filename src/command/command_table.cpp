#include "frontcache/command/command_table.hpp"

#include <array>
#include <cctype>
#include <string>
#include <unordered_map>

namespace frontcache::command {

namespace {

constexpr std::array kTable = {
    // Answered locally.
    CommandInfo{"ping", Route::Local}, CommandInfo{"echo", Route::Local},
    CommandInfo{"quit", Route::Local}, CommandInfo{"hello", Route::Local},
    CommandInfo{"select", Route::Local}, CommandInfo{"client", Route::Local},
    CommandInfo{"info", Route::Local}, CommandInfo{"auth", Route::Local},
    CommandInfo{"reset", Route::Local},
    // Connection state upstream: transactions, blocking commands, pub/sub, monitor.
    CommandInfo{"multi", Route::Stateful}, CommandInfo{"exec", Route::Stateful},
    CommandInfo{"discard", Route::Stateful}, CommandInfo{"watch", Route::Stateful},
    CommandInfo{"unwatch", Route::Stateful}, CommandInfo{"blpop", Route::Stateful},
    CommandInfo{"brpop", Route::Stateful}, CommandInfo{"blmove", Route::Stateful},
    CommandInfo{"brpoplpush", Route::Stateful}, CommandInfo{"blmpop", Route::Stateful},
    CommandInfo{"bzpopmin", Route::Stateful}, CommandInfo{"bzpopmax", Route::Stateful},
    CommandInfo{"bzmpop", Route::Stateful}, CommandInfo{"wait", Route::Stateful},
    CommandInfo{"waitaof", Route::Stateful}, CommandInfo{"subscribe", Route::Stateful},
    CommandInfo{"psubscribe", Route::Stateful}, CommandInfo{"ssubscribe", Route::Stateful},
    CommandInfo{"unsubscribe", Route::Stateful}, CommandInfo{"punsubscribe", Route::Stateful},
    CommandInfo{"sunsubscribe", Route::Stateful}, CommandInfo{"monitor", Route::Stateful},
    // Scripts and functions: forwarded; their declared keys are invalidated.
    CommandInfo{"eval", Route::Script}, CommandInfo{"evalsha", Route::Script},
    CommandInfo{"fcall", Route::Script},
    // XREAD / XREADGROUP are Stateful only with BLOCK; the dispatcher checks the arguments.
    CommandInfo{"xread", Route::Forward}, CommandInfo{"xreadgroup", Route::Forward},
    // Administration of the shared upstream.
    CommandInfo{"config", Route::Admin}, CommandInfo{"debug", Route::Admin},
    CommandInfo{"replicaof", Route::Admin}, CommandInfo{"slaveof", Route::Admin},
    CommandInfo{"failover", Route::Admin}, CommandInfo{"module", Route::Admin},
    CommandInfo{"acl", Route::Admin}, CommandInfo{"save", Route::Admin},
    CommandInfo{"bgsave", Route::Admin}, CommandInfo{"bgrewriteaof", Route::Admin},
    CommandInfo{"slowlog", Route::Admin}, CommandInfo{"latency", Route::Admin},
    // Never forwarded.
    CommandInfo{"shutdown", Route::Never}, CommandInfo{"sync", Route::Never},
    CommandInfo{"psync", Route::Never},
};

class Index {
 public:
  Index() {
    for (const auto& info : kTable) map_.emplace(info.name, &info);
  }
  const CommandInfo* find(std::string_view lower) const {
    auto it = map_.find(lower);
    return it == map_.end() ? nullptr : it->second;
  }

 private:
  std::unordered_map<std::string_view, const CommandInfo*> map_;
};

constexpr std::size_t kMaxName = 32;

}  // namespace

const CommandInfo* find(std::string_view name) {
  static const Index index;
  if (name.size() > kMaxName) return nullptr;
  char lower[kMaxName];
  for (std::size_t i = 0; i < name.size(); ++i) {
    lower[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
  }
  return index.find(std::string_view(lower, name.size()));
}

bool iequals(std::string_view a, std::string_view upper) {
  if (a.size() != upper.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != upper[i]) return false;
  }
  return true;
}

}  // namespace frontcache::command
