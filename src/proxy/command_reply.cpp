#include "command_reply.hpp"

#include <cctype>
#include <string>
#include <string_view>

namespace frontcache::proxy {

namespace {

using command::KeySpec;

std::string_view text(const redisReply* r) {
  if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) return {};
  return {r->str, r->len};
}

int integer(const redisReply* r) {
  return r->type == REDIS_REPLY_INTEGER ? static_cast<int>(r->integer) : 0;
}

// A RESP2 map, flattened: [key, value, key, value...]. Null when `key` is absent.
const redisReply* field(const redisReply* map, std::string_view key) {
  if (map == nullptr || map->type != REDIS_REPLY_ARRAY) return nullptr;
  for (std::size_t i = 0; i + 1 < map->elements; i += 2) {
    if (text(map->element[i]) == key) return map->element[i + 1];
  }
  return nullptr;
}

int int_field(const redisReply* map, std::string_view key, int otherwise) {
  const redisReply* r = field(map, key);
  return r != nullptr && r->type == REDIS_REPLY_INTEGER ? integer(r) : otherwise;
}

void read_begin(const redisReply* begin, KeySpec& spec) {
  const redisReply* type_field = field(begin, "type");
  const std::string_view type = type_field != nullptr ? text(type_field) : std::string_view();
  const redisReply* detail = field(begin, "spec");
  if (type == "index") {
    spec.begin = KeySpec::Begin::Index;
    spec.index = int_field(detail, "index", 0);
  } else if (type == "keyword") {
    spec.begin = KeySpec::Begin::Keyword;
    const redisReply* keyword = field(detail, "keyword");
    if (keyword != nullptr) spec.keyword = text(keyword);
    for (auto& c : spec.keyword) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    spec.startfrom = int_field(detail, "startfrom", 0);
  }
}

void read_find(const redisReply* find, KeySpec& spec) {
  const redisReply* type = field(find, "type");
  const std::string_view kind = type != nullptr ? text(type) : std::string_view();
  const redisReply* detail = field(find, "spec");
  if (kind == "range") {
    spec.find = KeySpec::Find::Range;
    spec.lastkey = int_field(detail, "lastkey", 0);
    spec.keystep = int_field(detail, "keystep", 1);
    spec.limit = int_field(detail, "limit", 0);
  } else if (kind == "keynum") {
    spec.find = KeySpec::Find::Keynum;
    spec.keynumidx = int_field(detail, "keynumidx", 0);
    spec.firstkey = int_field(detail, "firstkey", 1);
    spec.keystep = int_field(detail, "keystep", 1);
  }
}

}  // namespace

std::uint32_t parse_acl_categories(const redisReply* list) {
  std::uint32_t bits = 0;
  if (list == nullptr || list->type != REDIS_REPLY_ARRAY) return bits;
  for (std::size_t i = 0; i < list->elements; ++i) {
    std::string_view name = text(list->element[i]);
    if (name.starts_with('@')) name.remove_prefix(1);
    bits |= command::category_bit(name);
  }
  return bits;
}

std::vector<KeySpec> parse_key_specs(const redisReply* list) {
  std::vector<KeySpec> specs;
  if (list == nullptr || list->type != REDIS_REPLY_ARRAY) return specs;
  for (std::size_t i = 0; i < list->elements; ++i) {
    const redisReply* entry = list->element[i];
    KeySpec spec;
    if (const redisReply* flags = field(entry, "flags");
        flags != nullptr && flags->type == REDIS_REPLY_ARRAY) {
      for (std::size_t f = 0; f < flags->elements; ++f) {
        const std::string_view flag = text(flags->element[f]);
        if (flag == "incomplete") spec.incomplete = true;
        if (flag == "not_key") spec.not_key = true;
      }
    }
    if (const redisReply* begin = field(entry, "begin_search")) read_begin(begin, spec);
    if (const redisReply* find = field(entry, "find_keys")) read_find(find, spec);
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace frontcache::proxy
