#include "permissions.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "frontcache/cache/rules.hpp"

namespace frontcache::proxy {

namespace {

using command::CommandInfo;
using command::Op;
using Kind = config::PermissionRule::Kind;

bool iequals_lower(std::string_view a, std::string_view lower_b) {
  if (a.size() != lower_b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != lower_b[i]) return false;
  }
  return true;
}

template <typename F>
void each_command(const command::CommandTable& table, F&& f) {
  table.for_each([&](const CommandInfo& info) {
    f(info);
    for (const auto& sub : info.subcommands) f(sub);
  });
}

}  // namespace

bool is_safe_config_get(std::span<const std::string_view> args) {
  static constexpr std::array<std::string_view, 3> kSafe = {"save", "appendonly", "databases"};
  if (args.size() < 3) return false;
  for (std::size_t i = 2; i < args.size(); ++i) {
    if (std::none_of(kSafe.begin(), kSafe.end(),
                     [&](std::string_view s) { return iequals_lower(args[i], s); })) {
      return false;
    }
  }
  return true;
}

Permissions::Permissions(const config::Permissions& list, const command::CommandTable& table,
                         std::vector<std::string>& unknown)
    : bits_((table.ids() + 63) / 64, 0) {
  bool key_rules = false;
  for (const auto& rule : list.rules) {
    switch (rule.kind) {
      case Kind::AllCommands:
      case Kind::NoCommands: {
        const bool on = rule.kind == Kind::AllCommands;
        std::fill(bits_.begin(), bits_.end(), on ? ~std::uint64_t{0} : 0);
        others_ = on;
        named_unknown_.clear();
        break;
      }
      case Kind::AllowCategory:
      case Kind::DenyCategory: {
        const std::uint32_t category = command::category_bit(rule.name);
        const bool on = rule.kind == Kind::AllowCategory;
        each_command(table, [&](const CommandInfo& info) {
          if ((info.categories & category) != 0) set(info.id, on);
        });
        break;
      }
      case Kind::AllowCommand:
      case Kind::DenyCommand: {
        const bool on = rule.kind == Kind::AllowCommand;
        if (const CommandInfo* info = table.find_full(rule.name)) {
          set_command(*info, on, rule.name.find('|') == std::string::npos);
        } else {
          unknown.push_back(rule.name);
          std::erase_if(named_unknown_, [&](const auto& n) { return n.first == rule.name; });
          named_unknown_.emplace_back(rule.name, on);
        }
        break;
      }
      case Kind::AllKeys:
        key_rules = true;
        all_keys_ = true;
        key_patterns_.clear();
        break;
      case Kind::ResetKeys:
        key_rules = true;
        all_keys_ = false;
        key_patterns_.clear();
        break;
      case Kind::KeyPattern:
        if (!key_rules) all_keys_ = false;  // the first key rule replaces "every key"
        key_rules = true;
        if (!all_keys_) key_patterns_.push_back(rule.name);
        break;
    }
  }
  // A container stands for its subcommands: allowed only when all of them are.
  table.for_each([&](const CommandInfo& info) {
    if (info.subcommands.empty()) return;
    const bool all = std::all_of(info.subcommands.begin(), info.subcommands.end(),
                                 [&](const CommandInfo& sub) { return bit(sub.id); });
    set(info.id, all);
  });
}

void Permissions::set(std::uint32_t id, bool on) {
  if (id / 64 >= bits_.size()) return;
  const std::uint64_t mask = std::uint64_t{1} << (id % 64);
  bits_[id / 64] = on ? (bits_[id / 64] | mask) : (bits_[id / 64] & ~mask);
}

void Permissions::set_command(const CommandInfo& info, bool on, bool with_subcommands) {
  set(info.id, on);
  if (!with_subcommands) return;
  for (const auto& sub : info.subcommands) set(sub.id, on);
}

bool Permissions::allows_unknown(std::string_view name) const {
  for (const auto& [n, on] : named_unknown_) {
    if (iequals_lower(name, n)) return on;
  }
  return others_;
}

bool Permissions::key_allowed(std::string_view key) const {
  return std::any_of(key_patterns_.begin(), key_patterns_.end(),
                     [&](const std::string& p) { return cache::glob_match(p, key); });
}

Access Permissions::check(const command::Classified& c, std::span<const std::string_view> args,
                          bool table_complete, std::vector<std::string_view>& scratch) const {
  if (c.op == Op::Auth || c.op == Op::Hello || c.op == Op::Quit || c.op == Op::Reset) {
    return Access::Allowed;
  }
  if (c.info == nullptr) {
    // Unknown to Redis (it answers "unknown command"), or to a fallback table: then the keys
    // are unknown too.
    if (table_complete || args.empty()) return Access::Allowed;
    if (!allows_unknown(args[0])) return Access::DeniedCommand;
    return all_keys_ ? Access::Allowed : Access::DeniedKey;
  }
  if (c.spec == nullptr) {
    if (table_complete) return Access::Allowed;  // Redis: unknown subcommand
    return bit(c.info->id) ? (all_keys_ ? Access::Allowed : Access::DeniedKey)
                           : Access::DeniedCommand;
  }
  if (!c.arity_ok) return Access::Allowed;  // Redis: wrong number of arguments
  if (!bit(c.spec->id) && !(c.op == Op::ConfigGet && is_safe_config_get(args))) {
    return Access::DeniedCommand;
  }
  if (all_keys_) return Access::Allowed;
  scratch.clear();
  if (!command::CommandTable::access_keys(*c.spec, args, scratch)) return Access::DeniedKey;
  for (auto key : scratch) {
    if (!key_allowed(key)) return Access::DeniedKey;
  }
  return Access::Allowed;
}

AccessControl::AccessControl(const config::Config& config, const command::CommandTable& table,
                             std::uint64_t generation)
    : generation_(generation) {
  auto compile = [&](const std::string& user, const config::Permissions& list,
                     const std::string& path) {
    std::vector<std::string> unknown;
    users_.insert_or_assign(user, Permissions(list, table, unknown));
    for (const auto& name : unknown) {
      warnings_.push_back(fmt::format(
          "{}: unknown command '{}' (not in the {} command table); the rule names nothing", path,
          name, table.complete() ? "upstream's" : "built-in"));
    }
  };
  for (std::size_t i = 0; i < config.auth.users.size(); ++i) {
    const auto& u = config.auth.users[i];
    if (u.name == "default") continue;  // AUTH default <password> is auth.password's
    compile(u.name, u.permissions, fmt::format("auth.users[{}].permissions", i));
  }
  compile("default", config.auth.permissions, "auth.permissions");
}

const Permissions& AccessControl::user(std::string_view name) const {
  auto it = users_.find(std::string(name));
  return it == users_.end() ? none_ : it->second;
}

}  // namespace frontcache::proxy
