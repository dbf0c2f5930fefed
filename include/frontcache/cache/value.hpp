// Cached values: immutable, refcounted byte buffers (the exact RESP bytes of a reply).
// A hit hands out a ValueRef (a refcount increment, never a copy); an evicted value stays valid
// for as long as any ValueRef to it is alive, e.g. while a reply is still being written.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace frontcache::cache {

class ValueRef;

// Header followed in the same allocation by size() bytes.
class Value {
 public:
  // One allocation: header and bytes together. Sizes above 4 GiB are rejected (std::length_error).
  static ValueRef make(std::string_view bytes);

  [[nodiscard]] std::string_view bytes() const noexcept {
    return {reinterpret_cast<const char*>(this + 1), size_};
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;

 private:
  friend class ValueRef;
  explicit Value(std::uint32_t size) noexcept : size_(size) {}
  ~Value() = default;
  void retain() const noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() const noexcept;

  mutable std::atomic<std::uint32_t> refs_{1};
  std::uint32_t size_;
};

// Shared handle to a Value. Copying is one atomic increment; null means "no value".
class ValueRef {
 public:
  ValueRef() noexcept = default;
  ValueRef(const ValueRef& other) noexcept : value_(other.value_) {
    if (value_ != nullptr) value_->retain();
  }
  ValueRef(ValueRef&& other) noexcept : value_(std::exchange(other.value_, nullptr)) {}
  ValueRef& operator=(ValueRef other) noexcept {
    std::swap(value_, other.value_);
    return *this;
  }
  ~ValueRef() {
    if (value_ != nullptr) value_->release();
  }

  explicit operator bool() const noexcept { return value_ != nullptr; }
  [[nodiscard]] const Value* get() const noexcept { return value_; }
  const Value* operator->() const noexcept { return value_; }
  // Bytes of the value; empty for a null handle.
  [[nodiscard]] std::string_view bytes() const noexcept {
    return value_ != nullptr ? value_->bytes() : std::string_view{};
  }
  [[nodiscard]] std::size_t size() const noexcept { return value_ != nullptr ? value_->size() : 0; }

  // Adopts/leaks a reference without touching the count (for intrusive storage in the cache).
  static ValueRef adopt(const Value* value) noexcept { return ValueRef(value); }
  const Value* release_raw() noexcept { return std::exchange(value_, nullptr); }

  friend bool operator==(const ValueRef& a, const ValueRef& b) noexcept {
    return a.value_ == b.value_;
  }

 private:
  explicit ValueRef(const Value* value) noexcept : value_(value) {}
  const Value* value_ = nullptr;
};

}  // namespace frontcache::cache
