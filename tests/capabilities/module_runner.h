// Test helper: runs a capability module binary directly (no sandbox), the
// way the agent's plain runner would: request on stdin, credential on fd 3,
// response from stdout. Integration tests of a module's behaviour against
// a real server use it; the sandbox's own tests cover isolation.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace deputy::testing {

struct ModuleRun {
  int exit_code = -1;  // -1 when killed by a signal.
  int signal = 0;
  std::string out;
  std::string err;
};

// Runs `binary` with `request` on stdin and `credential` on fd 3 (no fd 3
// at all when `with_credential` is false). Blocks until it exits.
inline ModuleRun RunModuleBinary(const std::string& binary,
                                 const std::string& request,
                                 const std::string& credential,
                                 bool with_credential = true) {
  int in[2], out[2], err[2], cred[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) ||
      pipe2(cred, O_CLOEXEC)) {
    return {};
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    if (with_credential) {
      dup2(cred[0], 3);
    } else {
      close(3);
    }
    char* argv[] = {const_cast<char*>(binary.c_str()), nullptr};
    char* envp[] = {nullptr};
    execve(binary.c_str(), argv, envp);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  close(cred[0]);
  signal(SIGPIPE, SIG_IGN);
  // Credentials are small; the pipe buffer holds them.
  if (write(cred[1], credential.data(), credential.size()) < 0) {
  }
  close(cred[1]);
  std::size_t off = 0;
  ModuleRun run;
  struct pollfd fds[3] = {
      {in[1], POLLOUT, 0}, {out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  if (request.empty()) {
    close(in[1]);
    fds[0].fd = -1;
  }
  int open_readers = 2;
  char buf[65536];
  while (open_readers > 0) {
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].fd >= 0 && fds[0].revents) {
      ssize_t n = write(in[1], request.data() + off, request.size() - off);
      if (n > 0) off += static_cast<std::size_t>(n);
      if (n < 0 || off == request.size()) {
        close(in[1]);
        fds[0].fd = -1;
      }
    }
    for (int i = 1; i < 3; ++i) {
      if (fds[i].fd >= 0 && fds[i].revents) {
        ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n > 0) {
          (i == 1 ? run.out : run.err).append(buf, static_cast<std::size_t>(n));
        } else {
          close(fds[i].fd);
          fds[i].fd = -1;
          --open_readers;
        }
      }
    }
  }
  if (fds[0].fd >= 0) close(fds[0].fd);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) run.signal = WTERMSIG(status);
  return run;
}

}  // namespace deputy::testing
