#include "agent/sandbox/view.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

namespace deputy::sandbox {
namespace {

bool Under(const std::string& path, const std::string& prefix) {
  if (prefix == "/") return true;
  return path.size() >= prefix.size() &&
         path.compare(0, prefix.size(), prefix) == 0 &&
         (path.size() == prefix.size() || path[prefix.size()] == '/');
}

bool Matches(const std::string& path, const std::vector<std::string>& prefixes,
             const std::vector<std::string>& exact) {
  for (const auto& p : prefixes) {
    if (Under(path, p)) return true;
  }
  for (const auto& e : exact) {
    if (path == e) return true;
  }
  return false;
}

// The directories on the way to a visible entry are visible too ("/etc"
// for "/etc/hosts", "/" for everything).
bool IsAncestorOfVisible(const View& view, const std::string& path) {
  auto check = [&](const std::string& v) { return Under(v, path); };
  for (const auto& p : view.visible_prefixes) {
    if (check(p)) return true;
  }
  for (const auto& e : view.visible_exact) {
    if (check(e)) return true;
  }
  return false;
}

}  // namespace

std::string NormalisePath(std::string_view base, std::string_view path) {
  std::string joined;
  if (!path.empty() && path[0] == '/') {
    joined = std::string(path);
  } else {
    if (base.empty() || base[0] != '/') return "";
    joined = std::string(base) + "/" + std::string(path);
  }
  std::vector<std::string_view> parts;
  std::string_view rest = joined;
  while (!rest.empty()) {
    std::size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view()
                                           : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (auto part : parts) {
    out += '/';
    out += part;
  }
  return out.empty() ? "/" : out;
}

std::optional<Violation> JudgePath(const View& view, std::string_view call,
                                   const std::string& path, Access access) {
  if (path.empty()) return std::nullopt;  // Unknown: nothing to report.
  if (access == Access::kWrite) {
    if (Matches(path, view.writable_prefixes, view.writable_exact)) {
      return std::nullopt;
    }
    return Violation{"filesystem", std::string(call) + " " + path + " (write)",
                     "read-only: writes go only to the private /tmp"};
  }
  if (Matches(path, view.visible_prefixes, view.visible_exact) ||
      IsAncestorOfVisible(view, path)) {
    return std::nullopt;
  }
  for (const auto& q : view.quiet_prefixes) {
    if (Under(path, q)) return std::nullopt;
  }
  return Violation{"filesystem",
                   std::string(call) + " " + path +
                       (access == Access::kExecute ? " (execute)" : " (read)"),
                   "not in the sandbox's view"};
}

std::string DescribeAddress(const sockaddr* addr, socklen_t len) {
  if (addr == nullptr || len < static_cast<socklen_t>(sizeof(sa_family_t))) {
    return "no address";
  }
  char text[INET6_ADDRSTRLEN] = {0};
  switch (addr->sa_family) {
    case AF_INET: {
      if (len < static_cast<socklen_t>(sizeof(sockaddr_in))) break;
      const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
      ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
      return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
    }
    case AF_INET6: {
      if (len < static_cast<socklen_t>(sizeof(sockaddr_in6))) break;
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
      ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
      return "[" + std::string(text) +
             "]:" + std::to_string(ntohs(in6->sin6_port));
    }
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(addr);
      std::size_t max =
          static_cast<std::size_t>(len) - offsetof(sockaddr_un, sun_path);
      if (max == 0) return "unix:(unnamed)";
      if (un->sun_path[0] == '\0') {
        return "unix:@" + std::string(un->sun_path + 1,
                                      strnlen(un->sun_path + 1, max - 1));
      }
      return "unix:" + std::string(un->sun_path, strnlen(un->sun_path, max));
    }
    default:
      break;
  }
  return "family " + std::to_string(addr->sa_family);
}

std::optional<Violation> JudgeConnect(const View& view, const sockaddr* addr,
                                      socklen_t len) {
  if (addr != nullptr && len >= static_cast<socklen_t>(sizeof(sa_family_t))) {
    if (addr->sa_family == AF_UNSPEC) return std::nullopt;
    if (addr->sa_family == AF_UNIX) {
      // The C library looks for nscd; that socket is not in the sandbox.
      std::string d = DescribeAddress(addr, len);
      for (const auto& q : view.quiet_unix_paths) {
        if (d == "unix:" + q) return std::nullopt;
      }
    }
    if (addr->sa_family == AF_INET &&
        len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
      if (ntohl(in->sin_addr.s_addr) == INADDR_LOOPBACK &&
          ntohs(in->sin_port) == view.forward_port) {
        return std::nullopt;
      }
    }
    if (addr->sa_family == AF_INET6 &&
        len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
      if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) &&
          ntohs(in6->sin6_port) == view.forward_port) {
        return std::nullopt;
      }
    }
  }
  return Violation{"network", "connect " + DescribeAddress(addr, len),
                   "only the forwarder (127.0.0.1:" +
                       std::to_string(view.forward_port) + ") is reachable"};
}

}  // namespace deputy::sandbox
