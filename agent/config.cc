#include "agent/config.h"

#include <filesystem>

#include "base/encoding.h"
#include "base/files.h"
#include "base/strict_json.h"
#include "keys/sha256.h"

namespace deputy::agent {
namespace {

constexpr std::size_t kMaxConfigBytes = 1 << 20;

std::string Resolve(const std::string& base, const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  return (std::filesystem::path(base) / p).lexically_normal().string();
}

Status CheckName(std::string_view name, std::string_view path) {
  if (name.empty() || name.size() > 64) {
    return Status::Invalid(std::string(path) + ": 1-64 characters");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-';
    if (!ok) {
      return Status::Invalid(std::string(path) + ": only [a-z0-9_-]");
    }
  }
  return Status::Ok();
}

Result<sandbox::Limits> ParseLimits(const nlohmann::json* j,
                                    const std::string& path) {
  sandbox::Limits l;
  if (j == nullptr) return l;
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(*j, path));
  ASSIGN_OR_RETURN(auto deadline, r.OptionalInt("deadline_ms"));
  ASSIGN_OR_RETURN(auto memory, r.OptionalInt("memory_bytes"));
  ASSIGN_OR_RETURN(auto processes, r.OptionalInt("processes"));
  RETURN_IF_ERROR(r.Finish());
  if (deadline) {
    if (*deadline < 100 || *deadline > 3600000) {
      return Status::Invalid(path + ".deadline_ms: 100 to 3600000");
    }
    l.deadline_ms = *deadline;
  }
  if (memory) {
    if (*memory < (16 << 20)) {
      return Status::Invalid(path + ".memory_bytes: at least 16 MiB");
    }
    l.memory = static_cast<std::uint64_t>(*memory);
  }
  if (processes) {
    if (*processes < 1 || *processes > 1024) {
      return Status::Invalid(path + ".processes: 1 to 1024");
    }
    l.processes = static_cast<std::uint64_t>(*processes);
  }
  return l;
}

Result<TargetConfig> ParseTarget(const nlohmann::json& j,
                                 const std::string& path,
                                 const std::string& base) {
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(j, path));
  TargetConfig t;
  ASSIGN_OR_RETURN(t.name, r.String("name"));
  RETURN_IF_ERROR(CheckName(t.name, path + ".name"));
  ASSIGN_OR_RETURN(t.kind, r.String("kind"));
  if (t.kind != "ldap" && t.kind != "postgres") {
    return Status::Invalid(path + ".kind: \"ldap\" or \"postgres\"");
  }
  ASSIGN_OR_RETURN(std::string module, r.String("module"));
  t.module = Resolve(base, module);
  ASSIGN_OR_RETURN(t.host, r.String("host"));
  ASSIGN_OR_RETURN(t.address, r.String("address"));
  ASSIGN_OR_RETURN(std::int64_t port, r.Int("port"));
  if (port < 1 || port > 65535) {
    return Status::Invalid(path + ".port: 1 to 65535");
  }
  t.port = static_cast<int>(port);
  ASSIGN_OR_RETURN(std::string cred, r.String("credential_file"));
  t.credential_file = Resolve(base, cred);
  ASSIGN_OR_RETURN(const nlohmann::json* options, r.OptionalObject("options"));
  if (options != nullptr) t.options = *options;
  ASSIGN_OR_RETURN(const nlohmann::json* limits, r.OptionalObject("limits"));
  ASSIGN_OR_RETURN(t.limits, ParseLimits(limits, path + ".limits"));
  ASSIGN_OR_RETURN(const nlohmann::json* ro, r.OptionalArray("read_only"));
  if (ro != nullptr) {
    for (std::size_t i = 0; i < ro->size(); ++i) {
      if (!(*ro)[i].is_string()) {
        return Status::Invalid(json::IndexPath(path + ".read_only", i) +
                               ": must be a string");
      }
      t.read_only.push_back(Resolve(base, (*ro)[i].get<std::string>()));
    }
  }
  RETURN_IF_ERROR(r.Finish());
  return t;
}

}  // namespace

Result<Config> Config::Load(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFileBounded(path, kMaxConfigBytes));
  std::string base =
      std::filesystem::absolute(std::filesystem::path(path)).parent_path();
  auto config = Parse(bytes, base);
  if (!config.ok()) return config.status().Within(path);
  config->path = path;
  return config;
}

Result<Config> Config::Parse(std::string_view bytes,
                             const std::string& base_dir) {
  json::ParseOptions options;
  options.max_bytes = kMaxConfigBytes;
  ASSIGN_OR_RETURN(auto doc, json::ParseStrict(bytes, options));
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(doc, "$"));
  Config c;
  c.sha256 = keys::Sha256Hex(AsBytes(bytes));
  ASSIGN_OR_RETURN(c.agent, r.String("agent"));
  ASSIGN_OR_RETURN(c.origin, r.String("origin"));
  ASSIGN_OR_RETURN(std::string key, r.String("key"));
  c.key = Resolve(base_dir, key);
  ASSIGN_OR_RETURN(auto pass, r.OptionalString("passphrase_file"));
  if (pass) c.passphrase_file = Resolve(base_dir, *pass);
  ASSIGN_OR_RETURN(auto insecure_key,
                   r.OptionalBool("insecure_unencrypted_key"));
  c.insecure_unencrypted_key = insecure_key.value_or(false);
  if (c.passphrase_file.empty() && !c.insecure_unencrypted_key) {
    return Status::Invalid(
        "$.passphrase_file: required (the agent's key is encrypted at rest; "
        "insecure_unencrypted_key is for tests only)");
  }
  ASSIGN_OR_RETURN(std::string trust, r.String("trust"));
  c.trust = Resolve(base_dir, trust);
  ASSIGN_OR_RETURN(c.trust_pin, r.String("trust_pin"));
  if (!c.trust_pin.empty() && c.trust_pin[0] == '@') {
    // The pin file written by deputy trust pin.
    const std::string file = Resolve(base_dir, c.trust_pin.substr(1));
    auto text = ReadFileBounded(file, 256);
    if (!text.ok()) return text.status().Within("$.trust_pin");
    c.trust_pin = *text;
    while (!c.trust_pin.empty() &&
           (c.trust_pin.back() == '\n' || c.trust_pin.back() == ' ')) {
      c.trust_pin.pop_back();
    }
  }
  if (c.trust_pin.size() != 64 ||
      c.trust_pin.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Status::Invalid(
        "$.trust_pin: the hex SHA-256 printed by deputy trust init (or "
        "@FILE, the pin file written by deputy trust pin)");
  }
  ASSIGN_OR_RETURN(std::string scope, r.String("scope"));
  c.scope = Resolve(base_dir, scope);
  ASSIGN_OR_RETURN(std::string state, r.String("state_dir"));
  c.state_dir = Resolve(base_dir, state);
  ASSIGN_OR_RETURN(std::string log, r.String("log_dir"));
  c.log_dir = Resolve(base_dir, log);
  ASSIGN_OR_RETURN(const nlohmann::json* intake, r.Object("intake"));
  {
    ASSIGN_OR_RETURN(auto ir, json::ObjectReader::Create(*intake, "$.intake"));
    ASSIGN_OR_RETURN(std::string dir, ir.String("directory"));
    RETURN_IF_ERROR(ir.Finish());
    c.intake_dir = Resolve(base_dir, dir);
  }
  ASSIGN_OR_RETURN(std::string receipts, r.String("receipts_dir"));
  c.receipts_dir = Resolve(base_dir, receipts);
  ASSIGN_OR_RETURN(auto workers, r.OptionalInt("workers"));
  c.workers = static_cast<int>(workers.value_or(2));
  if (c.workers < 1 || c.workers > 64) {
    return Status::Invalid("$.workers: 1 to 64");
  }
  ASSIGN_OR_RETURN(const nlohmann::json* targets, r.Array("targets"));
  for (std::size_t i = 0; i < targets->size(); ++i) {
    std::string path = json::IndexPath("$.targets", i);
    ASSIGN_OR_RETURN(auto t, ParseTarget((*targets)[i], path, base_dir));
    if (c.FindTarget(t.name) != nullptr) {
      return Status::Invalid(path + ".name: \"" + t.name +
                             "\" is configured twice");
    }
    c.targets.push_back(std::move(t));
  }
  if (c.targets.empty()) return Status::Invalid("$.targets: none configured");
  ASSIGN_OR_RETURN(const nlohmann::json* depts,
                   r.OptionalObject("departments"));
  if (depts != nullptr) {
    for (const auto& [dept, per_target] : depts->items()) {
      std::string path = json::ChildPath("$.departments", dept);
      RETURN_IF_ERROR(CheckName(dept, path));
      if (!per_target.is_object()) {
        return Status::Invalid(path + ": must be an object");
      }
      auto& out = c.departments[dept];
      for (const auto& [target, list] : per_target.items()) {
        std::string tpath = json::ChildPath(path, target);
        if (c.FindTarget(target) == nullptr) {
          return Status::Invalid(tpath + ": no such target");
        }
        if (!list.is_array()) {
          return Status::Invalid(tpath + ": must be an array of names");
        }
        for (std::size_t i = 0; i < list.size(); ++i) {
          if (!list[i].is_string() || list[i].get<std::string>().empty()) {
            return Status::Invalid(json::IndexPath(tpath, i) +
                                   ": must be a non-empty string");
          }
          out[target].push_back(list[i].get<std::string>());
        }
      }
    }
  }
  ASSIGN_OR_RETURN(const nlohmann::json* leaver, r.OptionalObject("leaver"));
  if (leaver != nullptr) {
    ASSIGN_OR_RETURN(auto lr, json::ObjectReader::Create(*leaver, "$.leaver"));
    ASSIGN_OR_RETURN(c.leaver_grace_seconds, lr.Int("grace_seconds"));
    RETURN_IF_ERROR(lr.Finish());
    if (c.leaver_grace_seconds < 0) {
      return Status::Invalid("$.leaver.grace_seconds: must be >= 0");
    }
  }
  ASSIGN_OR_RETURN(const nlohmann::json* retry, r.OptionalObject("retry"));
  if (retry != nullptr) {
    ASSIGN_OR_RETURN(auto rr, json::ObjectReader::Create(*retry, "$.retry"));
    ASSIGN_OR_RETURN(auto attempts, rr.OptionalInt("max_attempts"));
    ASSIGN_OR_RETURN(auto initial, rr.OptionalInt("initial_backoff_ms"));
    ASSIGN_OR_RETURN(auto max, rr.OptionalInt("max_backoff_ms"));
    RETURN_IF_ERROR(rr.Finish());
    if (attempts) c.retry.max_attempts = static_cast<int>(*attempts);
    if (initial) c.retry.initial_backoff_ms = *initial;
    if (max) c.retry.max_backoff_ms = *max;
    if (c.retry.max_attempts < 1 || c.retry.max_attempts > 20 ||
        c.retry.initial_backoff_ms < 1 ||
        c.retry.max_backoff_ms < c.retry.initial_backoff_ms) {
      return Status::Invalid(
          "$.retry: 1-20 attempts, backoffs positive and max >= initial");
    }
  }
  ASSIGN_OR_RETURN(auto approval_wait, r.OptionalInt("approval_wait_seconds"));
  if (approval_wait) {
    if (*approval_wait < 1) {
      return Status::Invalid("$.approval_wait_seconds: must be positive");
    }
    c.approval_wait_seconds = *approval_wait;
  }
  ASSIGN_OR_RETURN(auto warn, r.OptionalInt("expiry_warning_days"));
  if (warn) c.expiry_warning_days = *warn;
  ASSIGN_OR_RETURN(const nlohmann::json* weaken,
                   r.OptionalArray("insecure_sandbox_without"));
  if (weaken != nullptr) {
    for (std::size_t i = 0; i < weaken->size(); ++i) {
      std::string path = json::IndexPath("$.insecure_sandbox_without", i);
      if (!(*weaken)[i].is_string()) {
        return Status::Invalid(path + ": must be a string");
      }
      auto layer = sandbox::ParseLayer((*weaken)[i].get<std::string>());
      if (!layer.ok()) return layer.status().Within(path);
      c.insecure_sandbox_without.push_back(*layer);
    }
  }
  RETURN_IF_ERROR(r.Finish());
  return c;
}

const TargetConfig* Config::FindTarget(std::string_view name) const {
  for (const auto& t : targets) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace deputy::agent
