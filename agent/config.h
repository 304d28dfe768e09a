// The agent's configuration file (docs/configuration.md): who the agent
// is, where its key, trust root, scope, state and log live, the targets
// and their modules, intake, workers, the department-to-entitlement map,
// retries and the leaver grace. Strict JSON; relative paths are resolved
// against the file's directory. Config is an immutable value; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "agent/sandbox/sandbox.h"
#include "base/status.h"

namespace deputy::agent {

struct TargetConfig {
  std::string name;     // As in scope grants: "ldap".
  std::string kind;     // The module kind: "ldap" or "postgres".
  std::string module;   // Absolute path of the module binary.
  std::string host;     // The name the module is told.
  std::string address;  // The literal address deputy connects to.
  int port = 0;
  std::string credential_file;  // JSON handed to the module on fd 3.
  nlohmann::json options = nlohmann::json::object();  // target.options.
  sandbox::Limits limits;
  std::vector<std::string> read_only;  // Extra paths the module may read.
};

struct RetryConfig {
  int max_attempts = 4;  // Applies of one action, transient errors only.
  std::int64_t initial_backoff_ms = 200;
  std::int64_t max_backoff_ms = 5000;
};

struct Config {
  std::string path;    // The file itself.
  std::string sha256;  // Of its bytes (logged in agent.started).
  std::string agent;   // Agent id, as in the trust root.
  std::string origin;  // The evidence log's origin.
  std::string key;     // The agent's private key (encrypted).
  std::string passphrase_file;
  bool insecure_unencrypted_key = false;
  std::string trust;      // The signed trust root.
  std::string trust_pin;  // Hex SHA-256 of its payload (deputy trust pin).
  std::string scope;      // The signed scope manifest.
  std::string state_dir;  // Policy state, inbox, pending approvals.
  std::string log_dir;
  std::string intake_dir;  // Tickets in; done/ and rejected/ beside.
  std::string receipts_dir;
  int workers = 2;
  std::vector<TargetConfig> targets;
  // department -> target name -> entitlements (group DNs, role names).
  std::map<std::string, std::map<std::string, std::vector<std::string>>>
      departments;
  std::int64_t leaver_grace_seconds = 0;
  RetryConfig retry;
  std::int64_t approval_wait_seconds = 7 * 24 * 3600;
  std::int64_t expiry_warning_days = 14;
  std::vector<sandbox::Layer> insecure_sandbox_without;

  static Result<Config> Load(const std::string& path);
  // From bytes, resolving relative paths against `base_dir`.
  static Result<Config> Parse(std::string_view bytes,
                              const std::string& base_dir);

  const TargetConfig* FindTarget(std::string_view name) const;
};

}  // namespace deputy::agent
