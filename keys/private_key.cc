#include "keys/private_key.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "base/files.h"
#include "base/strict_json.h"

namespace deputy::keys {
namespace {

constexpr std::string_view kFormat = "deputy-private-key";
constexpr std::int64_t kVersion = 1;
constexpr std::string_view kKdf = "argon2id13";
constexpr std::string_view kCipher = "xchacha20poly1305-ietf";
constexpr std::size_t kSeedBytes = crypto_sign_SEEDBYTES;
constexpr std::size_t kMaxPassphraseBytes = 1024;

// Bounds on KDF parameters read from a file: below them a key would be
// cheap to brute-force, above them loading is a denial of service.
constexpr std::uint64_t kMinOps = crypto_pwhash_OPSLIMIT_INTERACTIVE;
constexpr std::uint64_t kMaxOps = 16;
constexpr std::uint64_t kMinMem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
constexpr std::uint64_t kMaxMem = std::uint64_t{1} << 30;

// Everything in the file that is not the ciphertext, bound to it as AEAD
// associated data so no header field can be swapped or downgraded.
std::string AssociatedData(std::string_view name, std::string_view pub_b64,
                           std::uint64_t ops, std::uint64_t mem) {
  std::string ad(kFormat);
  const std::string ops_text = std::to_string(ops);
  const std::string mem_text = std::to_string(mem);
  for (std::string_view part :
       {std::string_view("v1"), name, pub_b64, kKdf, std::string_view(ops_text),
        std::string_view(mem_text), kCipher}) {
    ad += '\0';
    ad += part;
  }
  return ad;
}

struct ParsedFile {
  std::string name;
  Bytes public_key;
  bool encrypted = false;
  std::uint64_t opslimit = 0;
  std::uint64_t memlimit = 0;
  Bytes salt;
  Bytes nonce;
  Bytes ciphertext;
  Bytes seed;  // Only for unencrypted files. Wiped by the caller.
};

Result<Bytes> DecodeSized(json::ObjectReader& r, std::string_view key,
                          std::size_t size) {
  ASSIGN_OR_RETURN(std::string text, r.String(key));
  auto bytes = Base64Decode(text);
  if (!bytes.ok()) return bytes.status().Within(json::ChildPath(r.path(), key));
  if (bytes->size() != size) {
    return Status::Invalid(json::ChildPath(r.path(), key) + ": expected " +
                           std::to_string(size) + " bytes, got " +
                           std::to_string(bytes->size()));
  }
  return bytes;
}

Result<ParsedFile> ParseFile(std::string_view text) {
  ASSIGN_OR_RETURN(
      nlohmann::json doc,
      json::ParseStrict(text, {.max_bytes = kMaxPrivateKeyFileBytes}));
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(doc, "$"));
  ParsedFile f;
  ASSIGN_OR_RETURN(std::string format, r.String("format"));
  if (format != kFormat) {
    return Status::Invalid("$.format: not a deputy private key (\"" +
                           format.substr(0, 40) + "\")");
  }
  ASSIGN_OR_RETURN(std::int64_t version, r.Int("version"));
  if (version != kVersion) {
    return Status::Invalid("$.version: unsupported version " +
                           std::to_string(version));
  }
  ASSIGN_OR_RETURN(std::string algorithm, r.String("algorithm"));
  if (algorithm != kAlgorithm) {
    return Status::Invalid("$.algorithm: unsupported \"" +
                           algorithm.substr(0, 40) + "\"");
  }
  ASSIGN_OR_RETURN(f.name, r.String("name"));
  ASSIGN_OR_RETURN(f.public_key, DecodeSized(r, "public_key", kPublicKeyBytes));
  ASSIGN_OR_RETURN(const nlohmann::json* enc, r.OptionalObject("encryption"));
  ASSIGN_OR_RETURN(auto seed_b64,
                   r.OptionalString("insecure_unencrypted_seed"));
  if ((enc == nullptr) == !seed_b64.has_value()) {
    return Status::Invalid(
        "$: exactly one of \"encryption\" and \"insecure_unencrypted_seed\" "
        "must be present");
  }
  if (enc != nullptr) {
    f.encrypted = true;
    ASSIGN_OR_RETURN(auto e, json::ObjectReader::Create(*enc, "$.encryption"));
    ASSIGN_OR_RETURN(std::string kdf, e.String("kdf"));
    if (kdf != kKdf) {
      return Status::Invalid("$.encryption.kdf: unsupported \"" +
                             kdf.substr(0, 40) + "\"");
    }
    ASSIGN_OR_RETURN(std::int64_t ops, e.Int("opslimit"));
    ASSIGN_OR_RETURN(std::int64_t mem, e.Int("memlimit"));
    if (ops < static_cast<std::int64_t>(kMinOps) ||
        ops > static_cast<std::int64_t>(kMaxOps)) {
      return Status::Invalid("$.encryption.opslimit: " + std::to_string(ops) +
                             " outside [" + std::to_string(kMinOps) + ", " +
                             std::to_string(kMaxOps) + "]");
    }
    if (mem < static_cast<std::int64_t>(kMinMem) ||
        mem > static_cast<std::int64_t>(kMaxMem)) {
      return Status::Invalid("$.encryption.memlimit: " + std::to_string(mem) +
                             " outside [" + std::to_string(kMinMem) + ", " +
                             std::to_string(kMaxMem) + "]");
    }
    f.opslimit = static_cast<std::uint64_t>(ops);
    f.memlimit = static_cast<std::uint64_t>(mem);
    ASSIGN_OR_RETURN(f.salt, DecodeSized(e, "salt", crypto_pwhash_SALTBYTES));
    ASSIGN_OR_RETURN(std::string cipher, e.String("cipher"));
    if (cipher != kCipher) {
      return Status::Invalid("$.encryption.cipher: unsupported \"" +
                             cipher.substr(0, 40) + "\"");
    }
    ASSIGN_OR_RETURN(
        f.nonce,
        DecodeSized(e, "nonce", crypto_aead_xchacha20poly1305_ietf_NPUBBYTES));
    ASSIGN_OR_RETURN(
        f.ciphertext,
        DecodeSized(e, "ciphertext",
                    kSeedBytes + crypto_aead_xchacha20poly1305_ietf_ABYTES));
    RETURN_IF_ERROR(e.Finish());
  } else {
    auto seed = Base64Decode(*seed_b64);
    if (!seed.ok() || seed->size() != kSeedBytes) {
      return Status::Invalid(
          "$.insecure_unencrypted_seed: expected 32 bytes of base64");
    }
    f.seed = std::move(*seed);
  }
  RETURN_IF_ERROR(r.Finish());
  RETURN_IF_ERROR(ValidateKeyName(f.name).Within("$.name"));
  return f;
}

}  // namespace

KdfCost KdfCost::Interactive() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE,
          crypto_pwhash_MEMLIMIT_INTERACTIVE};
}
KdfCost KdfCost::Moderate() {
  return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
}

Result<PrivateKey> PrivateKey::FromSeed(ByteSpan seed, std::string name) {
  EnsureSodium();
  ASSIGN_OR_RETURN(SecretBytes secret,
                   SecretBytes::Allocate(crypto_sign_SECRETKEYBYTES));
  std::array<std::uint8_t, kPublicKeyBytes> pub;
  if (crypto_sign_seed_keypair(pub.data(), secret.data(), seed.data()) != 0) {
    return Status::Internal("crypto_sign_seed_keypair failed");
  }
  ASSIGN_OR_RETURN(PublicKey public_key,
                   PublicKey::FromRaw(pub, std::move(name)));
  return PrivateKey(std::move(secret), std::move(public_key));
}

Result<PrivateKey> PrivateKey::Generate(std::string name) {
  RETURN_IF_ERROR(ValidateKeyName(name));
  ASSIGN_OR_RETURN(SecretBytes seed, SecretBytes::Allocate(kSeedBytes));
  randombytes_buf(seed.data(), seed.size());
  return FromSeed(seed.span(), std::move(name));
}

Signature PrivateKey::Sign(ByteSpan message) const {
  Signature sig;
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(),
                       secret_.data());
  return sig;
}

Result<std::string> PrivateKey::SerializeEncrypted(std::string_view passphrase,
                                                   KdfCost cost) const {
  if (passphrase.empty()) return Status::Invalid("empty passphrase");
  if (cost.opslimit < kMinOps || cost.opslimit > kMaxOps ||
      cost.memlimit < kMinMem || cost.memlimit > kMaxMem) {
    return Status::Invalid("KDF cost outside the accepted bounds");
  }
  std::array<std::uint8_t, crypto_pwhash_SALTBYTES> salt;
  std::array<std::uint8_t, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES> nonce;
  randombytes_buf(salt.data(), salt.size());
  randombytes_buf(nonce.data(), nonce.size());
  ASSIGN_OR_RETURN(
      SecretBytes key,
      SecretBytes::Allocate(crypto_aead_xchacha20poly1305_ietf_KEYBYTES));
  if (crypto_pwhash(key.data(), key.size(), passphrase.data(),
                    passphrase.size(), salt.data(), cost.opslimit,
                    cost.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::ResourceExhausted("Argon2id ran out of memory");
  }
  std::string pub_b64 = public_key_.Base64();
  std::string ad =
      AssociatedData(name(), pub_b64, cost.opslimit, cost.memlimit);
  Bytes ciphertext(kSeedBytes + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      ciphertext.data(), &clen, secret_.data(), kSeedBytes,
      reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr,
      nonce.data(), key.data());
  nlohmann::json doc = {{"format", kFormat},
                        {"version", kVersion},
                        {"algorithm", kAlgorithm},
                        {"name", name()},
                        {"public_key", pub_b64},
                        {"encryption",
                         {{"kdf", kKdf},
                          {"opslimit", cost.opslimit},
                          {"memlimit", cost.memlimit},
                          {"salt", Base64Encode(salt)},
                          {"cipher", kCipher},
                          {"nonce", Base64Encode(nonce)},
                          {"ciphertext", Base64Encode(ciphertext)}}}};
  return doc.dump(2) + "\n";
}

std::string PrivateKey::SerializeUnencryptedInsecure() const {
  nlohmann::json doc = {{"format", kFormat},
                        {"version", kVersion},
                        {"algorithm", kAlgorithm},
                        {"name", name()},
                        {"public_key", public_key_.Base64()},
                        {"insecure_unencrypted_seed",
                         Base64Encode(ByteSpan(secret_.data(), kSeedBytes))}};
  return doc.dump(2) + "\n";
}

Result<PrivateKey> PrivateKey::Parse(std::string_view text,
                                     std::string_view passphrase,
                                     UnencryptedKeys unencrypted) {
  EnsureSodium();
  auto parsed = ParseFile(text);
  if (!parsed.ok()) return parsed.status().Within("private key file");
  ParsedFile& f = *parsed;
  auto finish = [&](ByteSpan seed) -> Result<PrivateKey> {
    ASSIGN_OR_RETURN(PrivateKey key, FromSeed(seed, f.name));
    if (!ConstantTimeEqual(key.public_key().raw(), f.public_key)) {
      return Status::DataLoss(
          "private key file: the public key does not match the secret key");
    }
    return key;
  };
  if (!f.encrypted) {
    auto wipe = [&] { sodium_memzero(f.seed.data(), f.seed.size()); };
    if (unencrypted != UnencryptedKeys::kAllowInsecure) {
      wipe();
      return Status::PermissionDenied(
          "private key file is not encrypted; unencrypted keys are for "
          "tests and examples only and need --insecure-unencrypted-key");
    }
    auto key = finish(f.seed);
    wipe();
    return key;
  }
  if (passphrase.empty()) {
    return Status::Invalid(
        "private key file is encrypted: a passphrase is "
        "required (--passphrase-file or --passphrase-fd)");
  }
  ASSIGN_OR_RETURN(
      SecretBytes kek,
      SecretBytes::Allocate(crypto_aead_xchacha20poly1305_ietf_KEYBYTES));
  if (crypto_pwhash(kek.data(), kek.size(), passphrase.data(),
                    passphrase.size(), f.salt.data(), f.opslimit, f.memlimit,
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::ResourceExhausted("Argon2id ran out of memory");
  }
  std::string ad = AssociatedData(f.name, Base64Encode(f.public_key),
                                  f.opslimit, f.memlimit);
  ASSIGN_OR_RETURN(SecretBytes seed, SecretBytes::Allocate(kSeedBytes));
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          seed.data(), &mlen, nullptr, f.ciphertext.data(), f.ciphertext.size(),
          reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
          f.nonce.data(), kek.data()) != 0 ||
      mlen != kSeedBytes) {
    return Status::Unauthenticated(
        "private key file: wrong passphrase, or the file was modified");
  }
  return finish(seed.span());
}

Result<PrivateKey> PrivateKey::LoadFile(const std::string& path,
                                        std::string_view passphrase,
                                        UnencryptedKeys unencrypted) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::Errno("private key file " + path, errno);
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return Status::PermissionDenied(
        "private key file " + path + " has mode " + mode +
        ": group or others can read it; chmod 600 it");
  }
  ASSIGN_OR_RETURN(std::string text,
                   ReadFileBounded(path, kMaxPrivateKeyFileBytes));
  auto key = Parse(text, passphrase, unencrypted);
  sodium_memzero(text.data(), text.size());
  if (!key.ok()) return key.status().Within(path);
  return key;
}

Result<PrivateKeyInfo> InspectPrivateKey(std::string_view text) {
  auto parsed = ParseFile(text);
  if (!parsed.ok()) return parsed.status().Within("private key file");
  if (!parsed->seed.empty()) {
    sodium_memzero(parsed->seed.data(), parsed->seed.size());
  }
  ASSIGN_OR_RETURN(PublicKey pub,
                   PublicKey::FromRaw(parsed->public_key, parsed->name));
  PrivateKeyInfo info{.public_key = std::move(pub),
                      .encrypted = parsed->encrypted,
                      .kdf = {},
                      .opslimit = 0,
                      .memlimit = 0,
                      .cipher = {}};
  if (parsed->encrypted) {
    info.kdf = kKdf;
    info.opslimit = parsed->opslimit;
    info.memlimit = parsed->memlimit;
    info.cipher = kCipher;
  }
  return info;
}

namespace {

Result<SecretBytes> ReadPassphraseFrom(int fd, const std::string& what) {
  ASSIGN_OR_RETURN(SecretBytes buffer,
                   SecretBytes::Allocate(kMaxPassphraseBytes + 1));
  std::size_t len = 0;
  for (;;) {
    if (len == buffer.size()) {
      return Status::ResourceExhausted(what + " is longer than " +
                                       std::to_string(kMaxPassphraseBytes) +
                                       " bytes");
    }
    ssize_t n = ::read(fd, buffer.data() + len, buffer.size() - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Errno("read " + what, errno);
    }
    if (n == 0) break;
    len += static_cast<std::size_t>(n);
  }
  if (len > 0 && buffer.data()[len - 1] == '\n') --len;
  if (len > 0 && buffer.data()[len - 1] == '\r') --len;
  buffer.Truncate(len);
  if (len == 0) return Status::Invalid(what + " is empty");
  return buffer;
}

}  // namespace

Result<SecretBytes> ReadPassphraseFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return Status::Errno("passphrase file " + path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::Errno("passphrase file " + path, err);
  }
  if (S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return Status::PermissionDenied("passphrase file " + path + " has mode " +
                                    mode +
                                    ": group or others can read it; chmod "
                                    "600 it");
  }
  auto result = ReadPassphraseFrom(fd, "passphrase file " + path);
  ::close(fd);
  return result;
}

Result<SecretBytes> ReadPassphraseFd(int fd) {
  if (fd < 0) return Status::Invalid("passphrase descriptor must be >= 0");
  return ReadPassphraseFrom(fd, "passphrase descriptor " + std::to_string(fd));
}

}  // namespace deputy::keys
