// deputy keys gen|show, deputy sign, deputy verify.
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "agent/cli.h"
#include "agent/cli_util.h"
#include "base/files.h"
#include "keys/dsse.h"
#include "keys/private_key.h"
#include "keys/public_key.h"

namespace deputy::cli {
namespace {

std::string HumanBytes(std::uint64_t n) {
  if (n % (1 << 20) == 0) return std::to_string(n >> 20) + " MiB";
  return std::to_string(n) + " bytes";
}

// --- deputy keys gen --------------------------------------------------------

struct GenOptions {
  std::string name;
  std::string out_dir;
  std::string kdf = "moderate";
  PassphraseSource passphrase;
};

int KeysGen(Context& ctx, const GenOptions& o) {
  if (!o.passphrase.Given() && !o.passphrase.insecure_unencrypted) {
    ctx.err << "deputy keys gen: a passphrase is required: --passphrase-file "
               "or --passphrase-fd (--insecure-unencrypted-key for tests "
               "only)\n";
    return kExitUsage;
  }
  auto key = keys::PrivateKey::Generate(o.name);
  if (!key.ok()) return Fail(ctx, "keys gen", key.status());
  std::string key_text;
  if (o.passphrase.insecure_unencrypted) {
    key_text = key->SerializeUnencryptedInsecure();
  } else {
    auto passphrase = o.passphrase.Read();
    if (!passphrase.ok()) return Fail(ctx, "keys gen", passphrase.status());
    auto text = key->SerializeEncrypted((*passphrase)->view(),
                                        o.kdf == "interactive"
                                            ? keys::KdfCost::Interactive()
                                            : keys::KdfCost::Moderate());
    if (!text.ok()) return Fail(ctx, "keys gen", text.status());
    key_text = std::move(*text);
  }
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec) {
    return Fail(ctx, "keys gen",
                Status::Io("create " + o.out_dir + ": " + ec.message()));
  }
  std::string base = (std::filesystem::path(o.out_dir) / o.name).string();
  // The private key first: if it cannot be written, no orphan .pub appears.
  Status s = WriteFileAtomic(base + ".key", key_text, 0600, Overwrite::kRefuse);
  if (!s.ok()) return Fail(ctx, "keys gen", s);
  s = WriteFileAtomic(base + ".pub", key->public_key().Serialize(), 0644,
                      Overwrite::kRefuse);
  if (!s.ok()) return Fail(ctx, "keys gen", s);
  ctx.out << "wrote " << base << ".key (private, "
          << (o.passphrase.insecure_unencrypted ? "UNENCRYPTED" : "encrypted")
          << ") and " << base << ".pub\n"
          << "key id: " << key->public_key().key_id() << "\n";
  return kExitOk;
}

// --- deputy keys show -------------------------------------------------------

int KeysShow(Context& ctx, const std::string& path, bool as_json) {
  auto text = ReadInput(path, keys::kMaxPrivateKeyFileBytes);
  if (!text.ok()) return Fail(ctx, "keys show", text.status());
  nlohmann::json info;
  if (text->rfind(std::string(keys::kAlgorithm) + " ", 0) == 0) {
    auto pub = keys::PublicKey::Parse(*text);
    if (!pub.ok()) return Fail(ctx, "keys show", pub.status().Within(path));
    info = {{"kind", "public"},
            {"name", pub->name()},
            {"algorithm", keys::kAlgorithm},
            {"key_id", pub->key_id()},
            {"public_key", pub->Base64()}};
  } else {
    auto priv = keys::InspectPrivateKey(*text);
    if (!priv.ok()) return Fail(ctx, "keys show", priv.status().Within(path));
    const auto& pub = priv->public_key;
    info = {{"kind", "private"},
            {"name", pub.name()},
            {"algorithm", keys::kAlgorithm},
            {"key_id", pub.key_id()},
            {"public_key", pub.Base64()},
            {"encrypted", priv->encrypted}};
    if (priv->encrypted) {
      info["kdf"] = {{"algorithm", priv->kdf},
                     {"opslimit", priv->opslimit},
                     {"memlimit", priv->memlimit}};
      info["cipher"] = priv->cipher;
    }
  }
  if (as_json) {
    ctx.out << info.dump(2) << "\n";
    return kExitOk;
  }
  ctx.out << "kind:       " << info["kind"].get<std::string>() << " key\n"
          << "name:       " << info["name"].get<std::string>() << "\n"
          << "algorithm:  ed25519\n"
          << "key id:     " << info["key_id"].get<std::string>() << "\n"
          << "public key: " << info["public_key"].get<std::string>() << "\n";
  if (info["kind"] == "private") {
    if (info["encrypted"].get<bool>()) {
      ctx.out << "encryption: " << info["cipher"].get<std::string>()
              << ", key from " << info["kdf"]["algorithm"].get<std::string>()
              << " (opslimit " << info["kdf"]["opslimit"].get<std::uint64_t>()
              << ", memlimit "
              << HumanBytes(info["kdf"]["memlimit"].get<std::uint64_t>())
              << ")\n";
    } else {
      ctx.out << "encryption: NONE (insecure; tests and examples only)\n";
    }
  }
  return kExitOk;
}

// --- deputy sign ------------------------------------------------------------

struct SignOptions {
  std::string key_path;
  std::string type;
  std::string file;
  bool cosign = false;
  PassphraseSource passphrase;
};

int Sign(Context& ctx, const SignOptions& o) {
  auto key = LoadSigningKey(o.key_path, o.passphrase);
  if (!key.ok()) return Fail(ctx, "sign", key.status());
  auto input = ReadInput(o.file, keys::kMaxEnvelopeBytes);
  if (!input.ok()) return Fail(ctx, "sign", input.status());
  if (!o.cosign) {
    ctx.out << keys::SignEnvelope(o.type, *input, *key).Serialize();
    return kExitOk;
  }
  auto env = keys::Envelope::Parse(*input);
  if (!env.ok()) return Fail(ctx, "sign", env.status().Within(o.file));
  if (!o.type.empty() && env->payload_type != o.type) {
    return Fail(
        ctx, "sign",
        Status::PermissionDenied("envelope payloadType \"" + env->payload_type +
                                 "\" is not \"" + o.type + "\""));
  }
  Status s = keys::AddSignature(*env, *key);
  if (!s.ok()) return Fail(ctx, "sign", s);
  ctx.out << env->Serialize();
  return kExitOk;
}

// --- deputy verify ----------------------------------------------------------

struct VerifyOptions {
  std::vector<std::string> pubs;
  std::string type;
  std::string envelope;
  std::string payload_out;
};

int Verify(Context& ctx, const VerifyOptions& o) {
  keys::Keyring keyring;
  for (const auto& path : o.pubs) {
    auto pub = keys::PublicKey::LoadFile(path);
    if (!pub.ok()) return Fail(ctx, "verify", pub.status());
    keyring.Add(*pub);
  }
  auto text = ReadInput(o.envelope, keys::kMaxEnvelopeBytes);
  if (!text.ok()) return Fail(ctx, "verify", text.status());
  auto env = keys::Envelope::Parse(*text);
  if (!env.ok()) {
    ctx.err << "invalid: " << env.status().message() << "\n";
    return kExitFailure;
  }
  auto verified = keys::VerifyEnvelope(
      *env, keyring, o.type.empty() ? env->payload_type : o.type);
  if (!verified.ok()) {
    ctx.err << "invalid: " << verified.status().message() << "\n";
    return kExitFailure;
  }
  if (!o.payload_out.empty()) {
    if (o.payload_out == "-") {
      ctx.out << verified->payload;
      return kExitOk;
    }
    Status s = WriteFileAtomic(o.payload_out, verified->payload, 0644,
                               Overwrite::kReplace);
    if (!s.ok()) return Fail(ctx, "verify", s);
  }
  ctx.out << "valid: payloadType " << verified->payload_type << ", "
          << verified->payload.size() << " bytes, signed by";
  for (const auto& s : verified->signers) {
    ctx.out << " " << s.name() << " (" << s.key_id().substr(0, 16) << ")";
  }
  if (verified->unknown_signatures > 0) {
    ctx.out << "; " << verified->unknown_signatures
            << " signature(s) by keys not given were ignored";
  }
  ctx.out << "\n";
  return kExitOk;
}

}  // namespace

void RegisterKeysCommands(CLI::App& app, Context& ctx) {
  auto* keys_cmd =
      app.add_subcommand("keys", "Generate and inspect Ed25519 key pairs");
  keys_cmd->require_subcommand(1);

  auto gen = std::make_shared<GenOptions>();
  auto* g = keys_cmd->add_subcommand(
      "gen", "Generate a key pair: DIR/NAME.key (encrypted) and DIR/NAME.pub");
  g->add_option("--name", gen->name, "Key name (letters, digits, . _ @ + -)")
      ->required();
  g->add_option("--out", gen->out_dir, "Directory to write the key files to")
      ->required();
  g->add_option("--kdf", gen->kdf,
                "Argon2id cost: moderate (256 MiB, default) or interactive "
                "(64 MiB)")
      ->check(CLI::IsMember({"moderate", "interactive"}));
  gen->passphrase.AddOptions(
      g, "Write the private key UNENCRYPTED (tests and examples only)");
  g->callback(
      [&ctx, gen] { ctx.action = [&ctx, gen] { return KeysGen(ctx, *gen); }; });

  auto show = std::make_shared<std::pair<std::string, bool>>();
  auto* s = keys_cmd->add_subcommand(
      "show",
      "Show a public or private key file's name, key id and "
      "protection (never the secret)");
  s->add_option("FILE", show->first, "Key file (.pub or .key), - for stdin")
      ->required();
  s->add_flag("--json", show->second, "Machine-readable output");
  s->callback([&ctx, show] {
    ctx.action = [&ctx, show] {
      return KeysShow(ctx, show->first, show->second);
    };
  });

  auto sign = std::make_shared<SignOptions>();
  auto* sg = app.add_subcommand(
      "sign", "Sign FILE into a DSSE envelope printed on stdout");
  sg->add_option("--key", sign->key_path, "Private key file")->required();
  sg->add_option("--type", sign->type,
                 "Payload type (e.g. application/vnd.deputy.scope+json)");
  sg->add_flag("--cosign", sign->cosign,
               "FILE is an envelope: add this key's signature to it");
  sign->passphrase.AddOptions(
      sg, "Accept an UNENCRYPTED private key (tests and examples only)");
  sg->add_option("FILE", sign->file,
                 "Payload (or envelope with --cosign), - "
                 "for stdin")
      ->required();
  sg->callback([&ctx, sign] {
    ctx.action = [&ctx, sign]() -> int {
      if (!sign->cosign && sign->type.empty()) {
        ctx.err << "deputy sign: --type is required\n";
        return kExitUsage;
      }
      return Sign(ctx, *sign);
    };
  });

  auto verify = std::make_shared<VerifyOptions>();
  auto* v = app.add_subcommand(
      "verify",
      "Verify a DSSE envelope against pinned public keys (exit 0 valid, 1 "
      "invalid with the reason, 2 usage)");
  v->add_option("--pub", verify->pubs, "Trusted public key file (repeatable)")
      ->required();
  v->add_option("--type", verify->type,
                "Required payload type; any other type is invalid");
  v->add_option("--payload-out", verify->payload_out,
                "Write the verified payload here (- for stdout)");
  v->add_option("ENVELOPE", verify->envelope, "Envelope file, - for stdin")
      ->required();
  v->callback([&ctx, verify] {
    ctx.action = [&ctx, verify] { return Verify(ctx, *verify); };
  });
}

}  // namespace deputy::cli
