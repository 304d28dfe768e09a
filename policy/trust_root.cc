#include "policy/trust_root.h"

#include <array>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>
#include <utility>

#include "base/civil_time.h"
#include "base/strict_json.h"
#include "keys/sha256.h"

namespace deputy::policy {
namespace {

using Json = nlohmann::json;
using RawKey = std::array<std::uint8_t, keys::kPublicKeyBytes>;

constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kSecondsPerDay = 86'400;
constexpr std::size_t kMaxContactBytes = 256;
constexpr std::size_t kMaxAccountBytes = 1024;

// Reads `count` decimal digits at `pos`; -1 if any is not a digit.
int Digits(std::string_view text, std::size_t pos, std::size_t count) {
  int value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

std::string Quoted(std::string_view text) {
  // Names in messages are short and validated where they come from; cap
  // anything else so an error never echoes a whole document.
  std::string out = "\"";
  for (char c : text.substr(0, 64)) {
    out.push_back(std::isprint(static_cast<unsigned char>(c)) ? c : '?');
  }
  if (text.size() > 64) out += "...";
  out += "\"";
  return out;
}

Result<std::string> ReadName(json::ObjectReader& r, std::string_view key) {
  ASSIGN_OR_RETURN(std::string name, r.String(key));
  Status valid = ValidatePrincipalName(name);
  if (!valid.ok()) return valid.Within(json::ChildPath(r.path(), key));
  return name;
}

Result<std::vector<std::string>> ReadAccounts(json::ObjectReader& r) {
  ASSIGN_OR_RETURN(const Json* list, r.OptionalArray("accounts"));
  std::vector<std::string> accounts;
  if (list == nullptr) return accounts;
  const std::string path = json::ChildPath(r.path(), "accounts");
  for (std::size_t i = 0; i < list->size(); ++i) {
    const Json& item = (*list)[i];
    const std::string item_path = json::IndexPath(path, i);
    if (!item.is_string()) {
      return Status::Invalid(item_path + ": expected a string, found " +
                             std::string(json::TypeName(item)));
    }
    const auto& account = item.get_ref<const std::string&>();
    if (account.empty() || account.size() > kMaxAccountBytes) {
      return Status::Invalid(item_path + ": an account is 1 to " +
                             std::to_string(kMaxAccountBytes) + " bytes");
    }
    accounts.push_back(account);
  }
  return accounts;
}

Result<keys::PublicKey> ReadKey(const Json& item, const std::string& path) {
  if (!item.is_string()) {
    return Status::Invalid(path + ": expected a string, found " +
                           std::string(json::TypeName(item)));
  }
  auto key = keys::PublicKey::Parse(item.get_ref<const std::string&>());
  if (!key.ok()) return key.status().Within(path);
  return key;
}

// One owner or auditor: {"name", "contact"?, "keys", "accounts"?}.
Result<Principal> ReadPrincipal(const Json& value, const std::string& path) {
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(value, path));
  Principal p;
  ASSIGN_OR_RETURN(p.name, ReadName(r, "name"));
  ASSIGN_OR_RETURN(auto contact, r.OptionalString("contact"));
  if (contact.has_value()) {
    if (contact->empty() || contact->size() > kMaxContactBytes) {
      return Status::Invalid(json::ChildPath(path, "contact") +
                             ": a contact is 1 to " +
                             std::to_string(kMaxContactBytes) + " bytes");
    }
    p.contact = std::move(*contact);
  }
  ASSIGN_OR_RETURN(const Json* key_list, r.Array("keys"));
  const std::string keys_path = json::ChildPath(path, "keys");
  if (key_list->empty()) {
    return Status::Invalid(keys_path + ": at least one key is required");
  }
  for (std::size_t i = 0; i < key_list->size(); ++i) {
    ASSIGN_OR_RETURN(auto key,
                     ReadKey((*key_list)[i], json::IndexPath(keys_path, i)));
    p.keys.push_back(std::move(key));
  }
  ASSIGN_OR_RETURN(p.accounts, ReadAccounts(r));
  RETURN_IF_ERROR(r.Finish());
  return p;
}

Result<AgentIdentity> ReadAgent(const Json& value, const std::string& path) {
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(value, path));
  ASSIGN_OR_RETURN(std::string id, ReadName(r, "id"));
  ASSIGN_OR_RETURN(const Json* key_text, r.Any("key"));
  ASSIGN_OR_RETURN(auto key, ReadKey(*key_text, json::ChildPath(path, "key")));
  ASSIGN_OR_RETURN(std::string owner, ReadName(r, "owner"));
  ASSIGN_OR_RETURN(std::string backup, ReadName(r, "backup_owner"));
  ASSIGN_OR_RETURN(auto accounts, ReadAccounts(r));
  RETURN_IF_ERROR(r.Finish());
  return AgentIdentity{std::move(id), std::move(key), std::move(owner),
                       std::move(backup), std::move(accounts)};
}

Result<int> ReadThreshold(json::ObjectReader& r, std::string_view key,
                          int max) {
  ASSIGN_OR_RETURN(std::int64_t n, r.Int(key));
  if (n < 1 || n > max) {
    return Status::Invalid(json::ChildPath(r.path(), key) + ": " +
                           std::to_string(n) + " is not between 1 and " +
                           std::to_string(max) + " (the number of owners)");
  }
  return static_cast<int>(n);
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// A threshold check on an envelope already verified against `keyring`.
Status RequireOwners(const TrustRoot& root,
                     const keys::VerifiedEnvelope& verified, int threshold,
                     std::string_view whose) {
  const int owners = root.CountOwners(verified.signers);
  if (owners < threshold) {
    return Status::PermissionDenied(
        "trust root signed by " + std::to_string(owners) + " of " +
        std::string(whose) + " owners, needs " + std::to_string(threshold));
  }
  return Status::Ok();
}

Status RequireNotExpired(const TrustRoot& root, std::int64_t now_micros) {
  if (now_micros >= root.expires()) {
    return Status::FailedPrecondition(
        "trust root version " + std::to_string(root.version()) +
        " expired at " + FormatRfc3339Seconds(root.expires()));
  }
  return Status::Ok();
}

}  // namespace

Result<std::int64_t> ParseRfc3339Seconds(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return Status::Invalid("time " + Quoted(text) + ": " + std::string(why) +
                           " (expected YYYY-MM-DDTHH:MM:SSZ)");
  };
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' ||
      text[10] != 'T' || text[13] != ':' || text[16] != ':' ||
      text[19] != 'Z') {
    return bad("wrong format");
  }
  const int year = Digits(text, 0, 4);
  const int month = Digits(text, 5, 2);
  const int day = Digits(text, 8, 2);
  const int hour = Digits(text, 11, 2);
  const int minute = Digits(text, 14, 2);
  const int second = Digits(text, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 ||
      second < 0) {
    return bad("wrong format");
  }
  if (year < 1970) return bad("year before 1970");
  if (month < 1 || month > 12) return bad("month out of range");
  if (day < 1 || static_cast<unsigned>(day) >
                     DaysInMonth(year, static_cast<unsigned>(month))) {
    return bad("day out of range");
  }
  if (hour > 23 || minute > 59 || second > 59) {
    return bad("time of day out of range");
  }
  const std::int64_t days = DaysFromCivil(year, static_cast<unsigned>(month),
                                          static_cast<unsigned>(day));
  const std::int64_t seconds =
      days * kSecondsPerDay + hour * 3600 + minute * 60 + second;
  return seconds * kMicrosPerSecond;
}

std::string FormatRfc3339Seconds(std::int64_t micros) {
  // Floor divisions, so times before the epoch format as the second they
  // fall in rather than rounding towards it.
  std::int64_t seconds = micros / kMicrosPerSecond;
  if (micros % kMicrosPerSecond < 0) --seconds;
  std::int64_t days = seconds / kSecondsPerDay;
  std::int64_t second_of_day = seconds % kSecondsPerDay;
  if (second_of_day < 0) {
    second_of_day += kSecondsPerDay;
    --days;
  }
  const CivilDate c = CivilFromDays(days);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02d:%02d:%02dZ",
                static_cast<long long>(c.year), c.month, c.day,
                static_cast<int>(second_of_day / 3600),
                static_cast<int>(second_of_day / 60 % 60),
                static_cast<int>(second_of_day % 60));
  return buf;
}

Status ValidatePrincipalName(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return Status::Invalid("a name is 1 to 64 characters");
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                    c == '@' || c == '-';
    if (!ok) {
      return Status::Invalid("name " + Quoted(name) +
                             " may contain only letters, digits and . _ @ -");
    }
  }
  return Status::Ok();
}

bool IsSha256Hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<TrustRoot> TrustRoot::ParsePayload(std::string_view payload) {
  auto doc = json::ParseStrict(payload, {.max_bytes = kMaxTrustRootBytes});
  if (!doc.ok()) return doc.status().Within("trust root");
  auto parsed = [&]() -> Result<TrustRoot> {
    ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(*doc, "$"));
    TrustRoot root;
    ASSIGN_OR_RETURN(root.version_, r.Int("version"));
    if (root.version_ < 1) {
      return Status::Invalid("$.version: must be at least 1");
    }
    ASSIGN_OR_RETURN(std::string expires, r.String("expires"));
    auto expires_micros = ParseRfc3339Seconds(expires);
    if (!expires_micros.ok())
      return expires_micros.status().Within("$.expires");
    root.expires_ = *expires_micros;

    ASSIGN_OR_RETURN(const Json* owners, r.Array("owners"));
    if (owners->empty()) {
      return Status::Invalid("$.owners: at least one owner is required");
    }
    for (std::size_t i = 0; i < owners->size(); ++i) {
      ASSIGN_OR_RETURN(
          auto p, ReadPrincipal((*owners)[i], json::IndexPath("$.owners", i)));
      root.owners_.push_back(std::move(p));
    }
    ASSIGN_OR_RETURN(const Json* auditors, r.OptionalArray("auditors"));
    for (std::size_t i = 0; auditors != nullptr && i < auditors->size(); ++i) {
      ASSIGN_OR_RETURN(auto p, ReadPrincipal((*auditors)[i],
                                             json::IndexPath("$.auditors", i)));
      root.auditors_.push_back(std::move(p));
    }
    ASSIGN_OR_RETURN(const Json* agents, r.OptionalArray("agents"));
    for (std::size_t i = 0; agents != nullptr && i < agents->size(); ++i) {
      ASSIGN_OR_RETURN(auto a,
                       ReadAgent((*agents)[i], json::IndexPath("$.agents", i)));
      root.agents_.push_back(std::move(a));
    }

    ASSIGN_OR_RETURN(const Json* thresholds, r.Object("thresholds"));
    ASSIGN_OR_RETURN(auto t,
                     json::ObjectReader::Create(*thresholds, "$.thresholds"));
    const int owner_count = static_cast<int>(root.owners_.size());
    ASSIGN_OR_RETURN(root.thresholds_.trust_change,
                     ReadThreshold(t, "trust_change", owner_count));
    ASSIGN_OR_RETURN(root.thresholds_.scope_grant,
                     ReadThreshold(t, "scope_grant", owner_count));
    ASSIGN_OR_RETURN(std::int64_t revocation, t.Int("revocation"));
    if (revocation != 1) {
      return Status::Invalid(
          "$.thresholds.revocation: must be 1 (any single owner can revoke), "
          "got " +
          std::to_string(revocation));
    }
    root.thresholds_.revocation = 1;
    RETURN_IF_ERROR(t.Finish());
    RETURN_IF_ERROR(r.Finish());
    return root;
  }();
  if (!parsed.ok()) return std::move(parsed).status().Within("trust root");
  TrustRoot root = std::move(parsed).value();

  // Cross-field rules. Names are compared case-insensitively so that
  // "alice" and "Alice" cannot be two people in one root.
  std::set<std::string> names;
  const auto claim_name = [&](const std::string& name,
                              const std::string& path) -> Status {
    if (!names.insert(Lower(name)).second) {
      return Status::Invalid("trust root: " + path + ": name " + Quoted(name) +
                             " is used twice among owners, auditors and "
                             "agents");
    }
    return Status::Ok();
  };
  std::map<RawKey, std::string> key_owner;
  const auto claim_key = [&](const keys::PublicKey& key,
                             const std::string& principal,
                             const std::string& path) -> Status {
    auto [it, inserted] = key_owner.emplace(key.raw(), principal);
    if (!inserted) {
      return Status::Invalid("trust root: " + path + ": key " +
                             key.key_id().substr(0, 16) +
                             " is already listed for " + Quoted(it->second) +
                             "; a key belongs to exactly one principal, once");
    }
    return Status::Ok();
  };
  const auto claim_principals = [&](const std::vector<Principal>& list,
                                    const std::string& field) -> Status {
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string path = json::IndexPath(field, i);
      RETURN_IF_ERROR(claim_name(list[i].name, path + ".name"));
      for (std::size_t k = 0; k < list[i].keys.size(); ++k) {
        RETURN_IF_ERROR(claim_key(list[i].keys[k], list[i].name,
                                  json::IndexPath(path + ".keys", k)));
      }
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(claim_principals(root.owners_, "$.owners"));
  RETURN_IF_ERROR(claim_principals(root.auditors_, "$.auditors"));
  for (std::size_t i = 0; i < root.agents_.size(); ++i) {
    const AgentIdentity& agent = root.agents_[i];
    const std::string path = json::IndexPath("$.agents", i);
    RETURN_IF_ERROR(claim_name(agent.id, path + ".id"));
    RETURN_IF_ERROR(claim_key(agent.key, agent.id, path + ".key"));
    if (root.FindOwner(agent.owner) == nullptr) {
      return Status::Invalid("trust root: " + path + ".owner: " +
                             Quoted(agent.owner) + " is not an owner");
    }
    if (root.FindOwner(agent.backup_owner) == nullptr) {
      return Status::Invalid("trust root: " + path + ".backup_owner: " +
                             Quoted(agent.backup_owner) + " is not an owner");
    }
    if (agent.owner == agent.backup_owner) {
      return Status::Invalid("trust root: " + path +
                             ".backup_owner: must be another owner than "
                             "the owner");
    }
  }
  root.payload_.assign(payload);
  root.digest_ = keys::Sha256Hex(AsBytes(payload));
  return root;
}

Result<TrustRoot> TrustRoot::VerifyPinned(const keys::Envelope& envelope,
                                          std::string_view pinned_sha256_hex,
                                          std::int64_t now_micros) {
  if (envelope.payload_type != kTrustRootType) {
    return Status::PermissionDenied("envelope payloadType " +
                                    Quoted(envelope.payload_type) +
                                    " is not a trust root");
  }
  if (!IsSha256Hex(pinned_sha256_hex)) {
    return Status::Invalid(
        "pinned trust root digest must be 64 lower-case hex digits");
  }
  // The keyring that checks the signatures comes from this very payload,
  // so nothing in it may be believed before the pin matches.
  const std::string digest = keys::Sha256Hex(AsBytes(envelope.payload));
  if (digest != pinned_sha256_hex) {
    return Status::PermissionDenied("trust root digest " + digest +
                                    " does not match the pinned " +
                                    std::string(pinned_sha256_hex));
  }
  ASSIGN_OR_RETURN(TrustRoot root, ParsePayload(envelope.payload));
  auto verified =
      keys::VerifyEnvelope(envelope, root.OwnerKeyring(), kTrustRootType);
  if (!verified.ok()) return verified.status().Within("trust root");
  RETURN_IF_ERROR(
      RequireOwners(root, *verified, root.thresholds_.trust_change, "its own"));
  RETURN_IF_ERROR(RequireNotExpired(root, now_micros));
  return root;
}

Result<TrustRoot> TrustRoot::VerifyUpdate(const TrustRoot& current,
                                          const keys::Envelope& envelope,
                                          std::int64_t now_micros) {
  if (envelope.payload_type != kTrustRootType) {
    return Status::PermissionDenied("envelope payloadType " +
                                    Quoted(envelope.payload_type) +
                                    " is not a trust root");
  }
  // The current owners vouch for the payload before it is parsed.
  auto by_current =
      keys::VerifyEnvelope(envelope, current.OwnerKeyring(), kTrustRootType);
  if (!by_current.ok()) {
    return by_current.status().Within("trust root update, current owners");
  }
  RETURN_IF_ERROR(RequireOwners(
      current, *by_current, current.thresholds_.trust_change, "the current"));
  ASSIGN_OR_RETURN(TrustRoot next, ParsePayload(envelope.payload));
  if (next.version_ <= current.version_) {
    return Status::PermissionDenied(
        "rollback: trust root version " + std::to_string(next.version_) +
        " is not above the current " + std::to_string(current.version_));
  }
  // The new owners prove they hold the keys the root names for them.
  auto by_next =
      keys::VerifyEnvelope(envelope, next.OwnerKeyring(), kTrustRootType);
  if (!by_next.ok()) {
    return by_next.status().Within("trust root update, new owners");
  }
  RETURN_IF_ERROR(
      RequireOwners(next, *by_next, next.thresholds_.trust_change, "the new"));
  RETURN_IF_ERROR(RequireNotExpired(next, now_micros));
  return next;
}

const AgentIdentity* TrustRoot::FindAgent(std::string_view id) const {
  for (const auto& a : agents_) {
    if (a.id == id) return &a;
  }
  return nullptr;
}

const Principal* TrustRoot::FindOwner(std::string_view name) const {
  for (const auto& o : owners_) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

const Principal* TrustRoot::OwnerOfKey(const keys::PublicKey& key) const {
  for (const auto& o : owners_) {
    for (const auto& k : o.keys) {
      if (k.SameKey(key)) return &o;
    }
  }
  return nullptr;
}

keys::Keyring TrustRoot::OwnerKeyring() const {
  keys::Keyring ring;
  for (const auto& o : owners_) {
    for (const auto& k : o.keys) ring.Add(k);
  }
  return ring;
}

int TrustRoot::CountOwners(const std::vector<keys::PublicKey>& signers) const {
  std::set<const Principal*> counted;
  for (const auto& signer : signers) {
    if (const Principal* owner = OwnerOfKey(signer)) counted.insert(owner);
  }
  return static_cast<int>(counted.size());
}

}  // namespace deputy::policy
