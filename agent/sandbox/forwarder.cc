#include "agent/sandbox/forwarder.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>

namespace deputy::sandbox {

// Bytes read from `from` and not yet written to `to`.
struct Forwarder::Pipe {
  static constexpr std::size_t kSize = 64 << 10;
  char buf[kSize];
  std::size_t begin = 0;
  std::size_t end = 0;
  bool eof = false;   // `from` said EOF (or failed).
  bool shut = false;  // We shut down `to` for writing after EOF.
  bool empty() const { return begin == end; }
};

struct Forwarder::Connection {
  int inner = -1;  // Accepted inside the sandbox's namespace.
  int outer = -1;  // To the target.
  bool connecting = true;
  Pipe up;    // inner -> outer.
  Pipe down;  // outer -> inner.
  bool done() const {
    return (up.eof && up.empty() && down.eof && down.empty()) || inner < 0 ||
           outer < 0;
  }
  void Close() {
    if (inner >= 0) ::close(inner);
    if (outer >= 0) ::close(outer);
    inner = outer = -1;
  }
};

Forwarder::Forwarder(const sockaddr_storage& target, socklen_t target_len,
                     std::size_t max_connections)
    : target_(target),
      target_len_(target_len),
      max_connections_(max_connections) {}

Forwarder::~Forwarder() { CloseAll(); }

void Forwarder::SetListener(int fd) {
  if (listener_ >= 0) ::close(listener_);
  listener_ = fd;
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

void Forwarder::CloseAll() {
  for (auto& c : connections_) c->Close();
  connections_.clear();
  if (listener_ >= 0) ::close(listener_);
  listener_ = -1;
}

void Forwarder::AppendPollFds(std::vector<pollfd>& fds) const {
  if (listener_ >= 0) fds.push_back({listener_, POLLIN, 0});
  for (const auto& c : connections_) {
    if (c->connecting) {
      fds.push_back({c->outer, POLLOUT, 0});
      continue;
    }
    short in_events = 0, out_events = 0;
    // Read from a side while its pipe has room; write while data waits.
    if (!c->up.eof && c->up.end < Pipe::kSize) in_events |= POLLIN;
    if (!c->down.empty()) in_events |= POLLOUT;
    if (!c->down.eof && c->down.end < Pipe::kSize) out_events |= POLLIN;
    if (!c->up.empty()) out_events |= POLLOUT;
    fds.push_back({c->inner, in_events, 0});
    fds.push_back({c->outer, out_events, 0});
  }
}

void Forwarder::Accept() {
  for (;;) {
    int fd =
        ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or the namespace is gone.
    ++accepted_;
    if (connections_.size() >= max_connections_) {
      ++refused_;
      ::close(fd);
      continue;
    }
    int out = ::socket(target_.ss_family,
                       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (out < 0) {
      ++failed_upstream_;
      ::close(fd);
      continue;
    }
    int rc = ::connect(out, reinterpret_cast<const sockaddr*>(&target_),
                       target_len_);
    if (rc < 0 && errno != EINPROGRESS) {
      ++failed_upstream_;
      ::close(fd);
      ::close(out);
      continue;
    }
    // A relay must not add Nagle delays of its own: the two ends chose
    // their own settings (libldap, libpq and the servers disable Nagle),
    // and a held-back small write behind a delayed ACK costs ~40 ms.
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(out, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_unique<Connection>();
    c->inner = fd;
    c->outer = out;
    c->connecting = rc < 0;
    connections_.push_back(std::move(c));
  }
}

void Forwarder::Service(Connection& c, int fd, short revents) {
  bool inner = fd == c.inner;
  Pipe& from_here = inner ? c.up : c.down;  // Read from fd into this.
  Pipe& to_here = inner ? c.down : c.up;    // Write this to fd.
  if ((revents & (POLLIN | POLLHUP | POLLERR)) && !from_here.eof) {
    if (from_here.empty()) from_here.begin = from_here.end = 0;
    while (from_here.end < Pipe::kSize) {
      ssize_t n = ::read(fd, from_here.buf + from_here.end,
                         Pipe::kSize - from_here.end);
      if (n > 0) {
        from_here.end += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      from_here.eof = true;  // EOF, or the peer reset: nothing more.
      break;
    }
  }
  if (revents & (POLLOUT | POLLERR | POLLHUP)) {
    while (!to_here.empty()) {
      ssize_t n = ::send(fd, to_here.buf + to_here.begin,
                         to_here.end - to_here.begin, MSG_NOSIGNAL);
      if (n > 0) {
        to_here.begin += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      // This side is gone: nothing more will get through either way.
      to_here.begin = to_here.end;
      to_here.eof = true;
      from_here.eof = true;
      break;
    }
  }
  // Pass a half-close on once everything before it is through.
  for (Pipe* p : {&c.up, &c.down}) {
    if (p->eof && p->empty() && !p->shut) {
      ::shutdown(p == &c.up ? c.outer : c.inner, SHUT_WR);
      p->shut = true;
    }
  }
}

void Forwarder::Handle(const std::vector<pollfd>& fds) {
  for (const pollfd& p : fds) {
    if (p.revents == 0) continue;
    if (p.fd == listener_) {
      Accept();
      continue;
    }
    for (auto& c : connections_) {
      if (p.fd != c->inner && p.fd != c->outer) continue;
      if (c->connecting && p.fd == c->outer) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(c->outer, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          ++failed_upstream_;
          c->Close();
        } else {
          c->connecting = false;
        }
      } else if (!c->connecting) {
        Service(*c, p.fd, p.revents);
      }
      break;
    }
  }
  connections_.erase(std::remove_if(connections_.begin(), connections_.end(),
                                    [](const std::unique_ptr<Connection>& c) {
                                      if (!c->done()) return false;
                                      c->Close();
                                      return true;
                                    }),
                     connections_.end());
}

}  // namespace deputy::sandbox
