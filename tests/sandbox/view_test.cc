// The supervisor's pure judgements: path normalisation, what is outside a
// module's view, which addresses are the forwarder's; and the seccomp
// filter's compilation and classification.
#include "agent/sandbox/view.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <cstring>

#include "agent/sandbox/seccomp.h"

namespace deputy::sandbox {
namespace {

View TestView() {
  View v;
  v.visible_prefixes = {"/usr", "/proc", "/tmp", "/etc/ssl"};
  v.visible_exact = {"/etc/hosts", "/dev/null", "/module"};
  v.writable_prefixes = {"/tmp"};
  v.writable_exact = {"/dev/null"};
  v.quiet_prefixes = {"/etc/gai.conf"};
  v.forward_port = 389;
  return v;
}

TEST(SandboxView, NormalisesPathsLexically) {
  EXPECT_EQ(NormalisePath("", "/usr/../etc/./shadow"), "/etc/shadow");
  EXPECT_EQ(NormalisePath("", "//tmp///x/"), "/tmp/x");
  EXPECT_EQ(NormalisePath("/tmp", "../etc/passwd"), "/etc/passwd");
  EXPECT_EQ(NormalisePath("", "/../../.."), "/");
  EXPECT_EQ(NormalisePath("", "relative"), "");
}

TEST(SandboxView, ReadsOutsideTheViewAreViolations) {
  View v = TestView();
  EXPECT_FALSE(JudgePath(v, "openat", "/usr/lib/libc.so.6", Access::kRead));
  EXPECT_FALSE(JudgePath(v, "openat", "/etc/hosts", Access::kRead));
  EXPECT_FALSE(JudgePath(v, "openat", "/etc", Access::kRead));  // Ancestor.
  EXPECT_FALSE(JudgePath(v, "openat", "/", Access::kRead));
  EXPECT_FALSE(JudgePath(v, "openat", "/etc/gai.conf", Access::kRead));
  auto shadow = JudgePath(v, "openat", "/etc/shadow", Access::kRead);
  ASSERT_TRUE(shadow);
  EXPECT_EQ(shadow->layer, "filesystem");
  EXPECT_EQ(shadow->what, "openat /etc/shadow (read)");
  // A prefix is a whole path component: /usrx is not under /usr.
  EXPECT_TRUE(JudgePath(v, "openat", "/usrx/evil", Access::kRead));
  EXPECT_TRUE(JudgePath(v, "execve", "/oldroot/bin/sh", Access::kExecute));
}

TEST(SandboxView, WritesOutsideTmpAreViolations) {
  View v = TestView();
  EXPECT_FALSE(JudgePath(v, "openat", "/tmp/x", Access::kWrite));
  EXPECT_FALSE(JudgePath(v, "openat", "/dev/null", Access::kWrite));
  auto usr = JudgePath(v, "openat", "/usr/lib/x", Access::kWrite);
  ASSERT_TRUE(usr);
  EXPECT_EQ(usr->what, "openat /usr/lib/x (write)");
  EXPECT_TRUE(JudgePath(v, "mkdir", "/tmpx", Access::kWrite));
  EXPECT_TRUE(JudgePath(v, "openat", "/etc/hosts", Access::kWrite));
}

TEST(SandboxView, OnlyTheForwarderIsAReachableAddress) {
  View v = TestView();
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(389);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto* sa = reinterpret_cast<sockaddr*>(&a);
  EXPECT_FALSE(JudgeConnect(v, sa, sizeof a));
  a.sin_port = htons(390);
  auto other_port = JudgeConnect(v, sa, sizeof a);
  ASSERT_TRUE(other_port);
  EXPECT_EQ(other_port->what, "connect 127.0.0.1:390");
  a.sin_port = htons(389);
  inet_pton(AF_INET, "10.0.0.1", &a.sin_addr);
  EXPECT_TRUE(JudgeConnect(v, sa, sizeof a));
  sockaddr_in6 six{};
  six.sin6_family = AF_INET6;
  six.sin6_port = htons(389);
  six.sin6_addr = in6addr_loopback;
  EXPECT_FALSE(JudgeConnect(v, reinterpret_cast<sockaddr*>(&six), sizeof six));
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::strcpy(un.sun_path, "/run/x.sock");
  auto unix_path = JudgeConnect(v, reinterpret_cast<sockaddr*>(&un), sizeof un);
  ASSERT_TRUE(unix_path);
  EXPECT_EQ(unix_path->what, "connect unix:/run/x.sock");
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  EXPECT_FALSE(JudgeConnect(v, &unspec, sizeof unspec));
  // A truncated address is reported, never trusted.
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_TRUE(JudgeConnect(v, sa, 4));
}

TEST(SandboxSeccomp, FilterCompilesWithAndWithoutNotification) {
  auto notify = CompileFilter(true);
  ASSERT_TRUE(notify.ok()) << notify.status().ToString();
  EXPECT_GT(notify->size(), 20u);
  auto plain = CompileFilter(false);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_LT(plain->size(), notify->size());
}

TEST(SandboxSeccomp, ClassifiesNotifiedCalls) {
  EXPECT_EQ(ClassifyNotified(SYS_ptrace), Notified::kRefuse);
  EXPECT_EQ(ClassifyNotified(SYS_mount), Notified::kRefuse);
  EXPECT_EQ(ClassifyNotified(SYS_socket), Notified::kRefuse);
  EXPECT_EQ(ClassifyNotified(SYS_openat), Notified::kObservePath);
  EXPECT_EQ(ClassifyNotified(SYS_execve), Notified::kObservePath);
  EXPECT_EQ(ClassifyNotified(SYS_connect), Notified::kObserveConnect);
  EXPECT_EQ(ClassifyNotified(SYS_kill), Notified::kObserveSignal);
  EXPECT_EQ(ClassifyNotified(SYS_personality), Notified::kObservePersonality);
  EXPECT_EQ(SyscallName(SYS_openat), "openat");
}

}  // namespace
}  // namespace deputy::sandbox
