#include "keys/secret.h"

#include <sodium.h>

#include <cstdlib>
#include <mutex>

namespace deputy::keys {

void EnsureSodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) std::abort();  // No usable randomness source.
  });
}

bool ConstantTimeEqual(std::span<const std::uint8_t> a,
                       std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  EnsureSodium();
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<SecretBytes> SecretBytes::Allocate(std::size_t size) {
  EnsureSodium();
  // sodium_malloc(0) is valid but keep one byte so data() is never null.
  void* p = sodium_malloc(size == 0 ? 1 : size);
  if (p == nullptr) {
    return Status::ResourceExhausted("cannot allocate guarded memory");
  }
  sodium_memzero(p, size == 0 ? 1 : size);
  return SecretBytes(static_cast<std::uint8_t*>(p), size);
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) sodium_free(data_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

SecretBytes::~SecretBytes() {
  if (data_ != nullptr) sodium_free(data_);  // Wipes before freeing.
}

void SecretBytes::Truncate(std::size_t size) {
  if (size >= size_) return;
  sodium_memzero(data_ + size, size_ - size);
  size_ = size;
}

}  // namespace deputy::keys
