#include "frontcache/cache/value.hpp"

#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>

namespace frontcache::cache {

ValueRef Value::make(std::string_view bytes) {
  if (bytes.size() > std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error("frontcache::cache::Value larger than 4 GiB");
  }
  void* raw = ::operator new(sizeof(Value) + bytes.size());
  auto* value = new (raw) Value(static_cast<std::uint32_t>(bytes.size()));
  if (!bytes.empty())
    std::memcpy(static_cast<char*>(raw) + sizeof(Value), bytes.data(), bytes.size());
  return ValueRef::adopt(value);
}

void Value::release() const noexcept {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    this->~Value();
    ::operator delete(const_cast<Value*>(this));
  }
}

}  // namespace frontcache::cache
