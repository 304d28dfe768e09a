#include "keys/dsse.h"

#include <nlohmann/json.hpp>

#include "base/strict_json.h"

namespace deputy::keys {

std::string PreAuthEncoding(std::string_view payload_type,
                            std::string_view payload) {
  std::string out = "DSSEv1 ";
  out += std::to_string(payload_type.size());
  out += ' ';
  out += payload_type;
  out += ' ';
  out += std::to_string(payload.size());
  out += ' ';
  out += payload;
  return out;
}

Result<Envelope> Envelope::Parse(std::string_view text, std::size_t max_bytes) {
  auto doc = json::ParseStrict(text, {.max_bytes = max_bytes});
  if (!doc.ok()) return doc.status().Within("envelope");
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(*doc, "$"));
  Envelope env;
  ASSIGN_OR_RETURN(env.payload_type, r.String("payloadType"));
  ASSIGN_OR_RETURN(std::string payload_b64, r.String("payload"));
  auto payload = Base64Decode(payload_b64);
  if (!payload.ok()) return payload.status().Within("envelope: $.payload");
  env.payload.assign(AsChars(*payload));
  ASSIGN_OR_RETURN(const nlohmann::json* sigs, r.Array("signatures"));
  RETURN_IF_ERROR(r.Finish().Within("envelope"));
  if (sigs->empty()) return Status::Invalid("envelope: no signatures");
  if (sigs->size() > kMaxEnvelopeSignatures) {
    return Status::ResourceExhausted(
        "envelope: " + std::to_string(sigs->size()) +
        " signatures, over the limit of " +
        std::to_string(kMaxEnvelopeSignatures));
  }
  for (std::size_t i = 0; i < sigs->size(); ++i) {
    std::string path = json::IndexPath("$.signatures", i);
    auto s = json::ObjectReader::Create((*sigs)[i], path);
    if (!s.ok()) return s.status().Within("envelope");
    EnvelopeSignature sig;
    auto keyid = s->OptionalString("keyid");
    if (!keyid.ok()) return keyid.status().Within("envelope");
    sig.keyid = keyid->value_or("");
    auto sig_b64 = s->String("sig");
    if (!sig_b64.ok()) return sig_b64.status().Within("envelope");
    auto raw = Base64Decode(*sig_b64);
    if (!raw.ok()) return raw.status().Within("envelope: " + path + ".sig");
    sig.sig = std::move(*raw);
    RETURN_IF_ERROR(s->Finish().Within("envelope"));
    env.signatures.push_back(std::move(sig));
  }
  return env;
}

std::string Envelope::Serialize() const {
  nlohmann::json sigs = nlohmann::json::array();
  for (const auto& s : signatures) {
    sigs.push_back({{"keyid", s.keyid}, {"sig", Base64Encode(s.sig)}});
  }
  // Invalid UTF-8 cannot occur in the fields we dump: payload is base64 and
  // the type came from a validated parse or from our own callers; replace
  // keeps dump() from throwing regardless.
  nlohmann::json doc = {{"payloadType", payload_type},
                        {"payload", Base64Encode(AsBytes(payload))},
                        {"signatures", sigs}};
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

Envelope SignEnvelope(std::string_view payload_type, std::string_view payload,
                      const PrivateKey& key) {
  Envelope env{std::string(payload_type), std::string(payload), {}};
  Signature sig = key.Sign(AsBytes(PreAuthEncoding(payload_type, payload)));
  env.signatures.push_back(
      {key.public_key().key_id(), Bytes(sig.begin(), sig.end())});
  return env;
}

Status AddSignature(Envelope& envelope, const PrivateKey& key) {
  std::string pae = PreAuthEncoding(envelope.payload_type, envelope.payload);
  for (const auto& s : envelope.signatures) {
    if (s.keyid == key.public_key().key_id() &&
        key.public_key().Verify(AsBytes(pae), s.sig).ok()) {
      return Status::AlreadyExists("envelope is already signed by " +
                                   key.name());
    }
  }
  if (envelope.signatures.size() >= kMaxEnvelopeSignatures) {
    return Status::ResourceExhausted("envelope has too many signatures");
  }
  Signature sig = key.Sign(AsBytes(pae));
  envelope.signatures.push_back(
      {key.public_key().key_id(), Bytes(sig.begin(), sig.end())});
  return Status::Ok();
}

Keyring::Keyring(const std::vector<PublicKey>& keys) {
  for (const auto& k : keys) Add(k);
}

void Keyring::Add(const PublicKey& key) {
  for (const auto& k : keys_) {
    if (k.SameKey(key)) return;
  }
  keys_.push_back(key);
}

const PublicKey* Keyring::FindByKeyId(std::string_view keyid) const {
  for (const auto& k : keys_) {
    if (k.key_id() == keyid) return &k;
  }
  return nullptr;
}

Result<VerifiedEnvelope> VerifyEnvelope(const Envelope& envelope,
                                        const Keyring& keyring,
                                        std::string_view expected_type) {
  if (envelope.payload_type != expected_type) {
    return Status::PermissionDenied(
        "envelope payloadType \"" + envelope.payload_type.substr(0, 80) +
        "\" is not the expected \"" + std::string(expected_type) + "\"");
  }
  if (keyring.empty()) {
    return Status::FailedPrecondition("no trusted keys to verify against");
  }
  VerifiedEnvelope out{envelope.payload_type, envelope.payload, {}, 0};
  std::string pae = PreAuthEncoding(envelope.payload_type, envelope.payload);
  for (std::size_t i = 0; i < envelope.signatures.size(); ++i) {
    const EnvelopeSignature& s = envelope.signatures[i];
    const PublicKey* key = nullptr;
    if (!s.keyid.empty()) {
      key = keyring.FindByKeyId(s.keyid);
      if (key == nullptr) {
        ++out.unknown_signatures;
        continue;
      }
      Status st = key->Verify(AsBytes(pae), s.sig);
      if (!st.ok()) {
        return st.Within("signature " + std::to_string(i));
      }
    } else {
      // DSSE allows an empty keyid: try each pinned key.
      for (const auto& k : keyring.keys()) {
        if (k.Verify(AsBytes(pae), s.sig).ok()) {
          key = &k;
          break;
        }
      }
      if (key == nullptr) {
        ++out.unknown_signatures;
        continue;
      }
    }
    bool seen = false;
    for (const auto& signer : out.signers) seen = seen || signer.SameKey(*key);
    if (!seen) out.signers.push_back(*key);
  }
  if (out.signers.empty()) {
    return Status::Unauthenticated(
        "no signature by a trusted key (" +
        std::to_string(envelope.signatures.size()) + " signature(s), " +
        std::to_string(out.unknown_signatures) + " by unknown keys)");
  }
  return out;
}

}  // namespace deputy::keys
