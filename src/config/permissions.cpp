// Permission lists in Redis ACL syntax (the command and key parts of ACL SETUSER). Names are
// checked for form here; whether a command exists is known only against the upstream's command
// table, when the proxy compiles the list (proxy/permissions.cpp).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <cctype>

#include "frontcache/config/config.hpp"

namespace frontcache::config {

namespace {

using Kind = PermissionRule::Kind;

// Redis 7's ACL categories (acl.c), as command::kCategoryNames.
constexpr std::array<std::string_view, 21> kCategories = {
    "keyspace", "read",   "write",       "set",       "sortedset",  "list",        "hash",
    "string",   "bitmap", "hyperloglog", "geo",       "stream",     "pubsub",      "admin",
    "fast",     "slow",   "blocking",    "dangerous", "connection", "transaction", "scripting"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool command_name(std::string_view name) {
  if (name.empty() || name.front() == '|' || name.back() == '|') return false;
  int bars = 0;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '|') ++bars;
    if (!std::isalnum(u) && c != '|' && c != '_' && c != '-' && c != '.' && c != ':') return false;
  }
  return bars <= 1;
}

// Everything of ACL SETUSER this list does not do, with what to do instead.
std::string unsupported(std::string_view token) {
  if (token.starts_with('&') || token == "allchannels" || token == "resetchannels") {
    return "pub/sub channel permissions are not supported (channels are not checked)";
  }
  if (token.starts_with('%')) {
    return "read/write key permissions (%R~, %W~) are not supported; ~pattern allows both";
  }
  if (token.starts_with('>') || token.starts_with('<') || token.starts_with('#') ||
      token.starts_with('!') || token == "nopass" || token == "resetpass") {
    return "passwords are set with password, password_env or password_file, not here";
  }
  if (token == "on" || token == "off" || token == "reset") {
    return "user flags are not part of a permission list";
  }
  if (token.starts_with('(')) return "selectors are not supported";
  return "expected +@category, -@category, +command, -command, allcommands, nocommands, "
         "~pattern, allkeys or resetkeys";
}

bool parse_token(std::string_view token, std::vector<PermissionRule>& rules, std::string& error) {
  const std::string word = lower(token);
  if (word == "allcommands" || word == "+@all") {
    rules.push_back({Kind::AllCommands, ""});
  } else if (word == "nocommands" || word == "-@all") {
    rules.push_back({Kind::NoCommands, ""});
  } else if (word == "allkeys" || token == "~*") {
    rules.push_back({Kind::AllKeys, ""});
  } else if (word == "resetkeys") {
    rules.push_back({Kind::ResetKeys, ""});
  } else if (token.starts_with('~')) {
    if (token.size() == 1) {
      error = "\"~\" needs a key pattern after it (~app:*)";
      return false;
    }
    rules.push_back({Kind::KeyPattern, std::string(token.substr(1))});
  } else if ((token.starts_with("+@") || token.starts_with("-@"))) {
    const std::string name = word.substr(2);
    bool known = false;
    for (auto c : kCategories) known = known || c == name;
    if (!known) {
      error = fmt::format("unknown category \"@{}\" (Redis 7 has @{})", token.substr(2),
                          fmt::join(kCategories, ", @"));
      return false;
    }
    rules.push_back({token[0] == '+' ? Kind::AllowCategory : Kind::DenyCategory, name});
  } else if (token.starts_with('+') || token.starts_with('-')) {
    const std::string name = word.substr(1);
    if (!command_name(name)) {
      error = fmt::format("\"{}\" is not a command name (command or command|subcommand)",
                          token.substr(1));
      return false;
    }
    rules.push_back({token[0] == '+' ? Kind::AllowCommand : Kind::DenyCommand, name});
  } else {
    error = fmt::format("\"{}\": {}", token, unsupported(word));
    return false;
  }
  return true;
}

}  // namespace

std::span<const std::string_view> acl_categories() { return kCategories; }

std::optional<Permissions> parse_permissions(std::string_view text, std::string& error) {
  Permissions out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    std::size_t end = i;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    if (end == i) break;
    const std::string_view token = text.substr(i, end - i);
    if (!parse_token(token, out.rules, error)) return std::nullopt;
    if (!out.text.empty()) out.text += ' ';
    out.text += token;
    i = end;
  }
  return out;
}

Permissions default_permissions(AdminCommands admin) {
  std::string ignored;
  return *parse_permissions(admin == AdminCommands::Deny ? "+@all -@admin" : "+@all", ignored);
}

}  // namespace frontcache::config
