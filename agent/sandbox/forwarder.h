// The supervisor's half of the sandbox network: the only way out of a
// module's network namespace. The child creates a listening socket on
// 127.0.0.1:PORT inside its namespace and hands it over; the supervisor
// accepts each connection there and relays its bytes to the one approved
// target address and port, in the host's namespace.
//
// Driven by the supervisor's poll loop: AppendPollFds() adds what to wait
// for, Handle() services what poll() reported. Not thread-safe (owned by
// one run).
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace deputy::sandbox {

class Forwarder {
 public:
  Forwarder(const sockaddr_storage& target, socklen_t target_len,
            std::size_t max_connections);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Takes ownership of the listening socket (non-blocking).
  void SetListener(int fd);
  void AppendPollFds(std::vector<pollfd>& fds) const;
  // Services every descriptor of ours in `fds` that has events.
  void Handle(const std::vector<pollfd>& fds);
  void CloseAll();

  int accepted() const { return accepted_; }
  int refused() const { return refused_; }
  int failed_upstream() const { return failed_upstream_; }

 private:
  struct Pipe;  // One direction of one connection.
  struct Connection;
  void Accept();
  void Service(Connection& c, int fd, short revents);

  sockaddr_storage target_;
  socklen_t target_len_;
  std::size_t max_connections_;
  int listener_ = -1;
  std::vector<std::unique_ptr<Connection>> connections_;
  int accepted_ = 0;
  int refused_ = 0;
  int failed_upstream_ = 0;
};

}  // namespace deputy::sandbox
