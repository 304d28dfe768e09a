#include "keys/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace deputy::keys {
namespace {

// Fetched once: an explicit fetch avoids OpenSSL 3's per-call provider
// lookup that EVP_sha256() implies on every EVP_DigestInit_ex.
const EVP_MD* Sha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) std::abort();  // The default provider is always there.
  return md;
}

}  // namespace

struct Sha256Hasher::Ctx {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(ctx); }
};

Sha256Hasher::Sha256Hasher() : ctx_(std::make_unique<Ctx>()) {
  if (ctx_->ctx == nullptr ||
      EVP_DigestInit_ex2(ctx_->ctx, Sha256Md(), nullptr) != 1) {
    std::abort();  // Out of memory: nothing sensible to return.
  }
}
Sha256Hasher::~Sha256Hasher() = default;
Sha256Hasher::Sha256Hasher(Sha256Hasher&&) noexcept = default;
Sha256Hasher& Sha256Hasher::operator=(Sha256Hasher&&) noexcept = default;

Sha256Hasher& Sha256Hasher::Update(ByteSpan data) {
  if (!data.empty() &&
      EVP_DigestUpdate(ctx_->ctx, data.data(), data.size()) != 1) {
    std::abort();
  }
  return *this;
}

Digest Sha256Hasher::Finish() {
  Digest out;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->ctx, out.data(), &len) != 1 ||
      len != out.size() ||
      EVP_DigestInit_ex2(ctx_->ctx, nullptr, nullptr) != 1) {
    std::abort();
  }
  return out;
}

Digest Sha256(ByteSpan data) {
  Digest out;
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, Sha256Md(),
                 nullptr) != 1 ||
      len != out.size()) {
    std::abort();
  }
  return out;
}

std::string Sha256Hex(ByteSpan data) { return HexEncode(Sha256(data)); }

}  // namespace deputy::keys
