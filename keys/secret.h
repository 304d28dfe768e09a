// SecretBytes: a fixed-size buffer for key material and passphrases.
//
// The bytes live in libsodium's guarded allocation (guard pages, mlock'd so
// they are not swapped, wiped on free), are never copied implicitly and are
// wiped when the object dies. Move-only; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "base/status.h"

namespace deputy::keys {

// Initialises libsodium once; safe to call from any thread, any number of
// times. Every entry point of this library calls it.
void EnsureSodium();

// Compares two equal-length byte strings in constant time.
bool ConstantTimeEqual(std::span<const std::uint8_t> a,
                       std::span<const std::uint8_t> b);

class SecretBytes {
 public:
  // Fails only when the guarded allocation fails.
  static Result<SecretBytes> Allocate(std::size_t size);

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes();

  std::uint8_t* data() { return data_; }
  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::span<const std::uint8_t> span() const { return {data_, size_}; }
  std::string_view view() const {
    return {reinterpret_cast<const char*>(data_), size_};
  }
  // Shrinks the logical size (the tail is wiped), e.g. after reading a
  // passphrase shorter than the buffer.
  void Truncate(std::size_t size);

 private:
  SecretBytes(std::uint8_t* data, std::size_t size)
      : data_(data), size_(size) {}
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace deputy::keys
