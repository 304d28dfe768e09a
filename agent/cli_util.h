// Helpers shared by the command families of the deputy CLI.
#pragma once

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "agent/cli.h"
#include "base/files.h"
#include "keys/private_key.h"

namespace deputy::cli {

// How a command obtains a private key's passphrase. Never from argv or the
// environment: a file (mode 0600) or an inherited descriptor.
struct PassphraseSource {
  std::string file;
  int fd = -1;
  bool insecure_unencrypted = false;

  void AddOptions(CLI::App* cmd, std::string_view insecure_help) {
    auto* f = cmd->add_option("--passphrase-file", file,
                              "Read the passphrase from this file (mode 0600; "
                              "one trailing newline is dropped)");
    auto* d = cmd->add_option("--passphrase-fd", fd,
                              "Read the passphrase from this open descriptor");
    auto* i = cmd->add_flag("--insecure-unencrypted-key", insecure_unencrypted,
                            std::string(insecure_help));
    f->excludes(d)->excludes(i);
    d->excludes(i);
  }
  bool Given() const { return !file.empty() || fd >= 0; }

  // An empty result with OK status means "no passphrase" (unencrypted).
  Result<std::optional<keys::SecretBytes>> Read() const {
    if (!file.empty()) {
      ASSIGN_OR_RETURN(auto p, keys::ReadPassphraseFile(file));
      return std::optional<keys::SecretBytes>(std::move(p));
    }
    if (fd >= 0) {
      ASSIGN_OR_RETURN(auto p, keys::ReadPassphraseFd(fd));
      return std::optional<keys::SecretBytes>(std::move(p));
    }
    return std::optional<keys::SecretBytes>();
  }
};

inline Result<keys::PrivateKey> LoadSigningKey(const std::string& path,
                                               const PassphraseSource& source) {
  ASSIGN_OR_RETURN(auto passphrase, source.Read());
  return keys::PrivateKey::LoadFile(
      path, passphrase ? passphrase->view() : std::string_view(),
      source.insecure_unencrypted ? keys::UnencryptedKeys::kAllowInsecure
                                  : keys::UnencryptedKeys::kRefuse);
}

// "-" reads standard input.
inline Result<std::string> ReadInput(const std::string& path,
                                     std::size_t max_bytes) {
  if (path == "-") return ReadFdBounded(STDIN_FILENO, max_bytes, "stdin");
  return ReadFileBounded(path, max_bytes);
}

inline int Fail(Context& ctx, std::string_view command, const Status& status) {
  ctx.err << "deputy " << command << ": " << status.message() << "\n";
  return kExitFailure;
}

// A pin is 64 hex digits, given directly or as @FILE.
inline Result<std::string> ReadPin(const std::string& pin) {
  std::string value = pin;
  if (!pin.empty() && pin[0] == '@') {
    ASSIGN_OR_RETURN(value, ReadFileBounded(pin.substr(1), 256));
    while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) {
      value.pop_back();
    }
  }
  if (value.size() != 64 ||
      value.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Status::Invalid("a trust root pin is 64 lower-case hex digits");
  }
  return value;
}

}  // namespace deputy::cli
