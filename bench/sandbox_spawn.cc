// Sandboxed spawn latency, beside bubblewrap in the same run.
//
//   sandbox_spawn [RUNS] [MODULE [LAYER...]]
//       (defaults: 500, /usr/bin/true; LAYERs are removed, for analysis)
//
// deputy: RUNS runs of MODULE under the full sandbox (every layer: user,
// pid, mount, net, ipc, uts and cgroup namespaces, per-run uid, private
// root, forwarder listener, rlimits, cgroup v1 limits, Landlock, seccomp
// with its supervisor). Reported: clone3 to execve ("spawn"), and clone3
// to the module's exit and reaping ("total").
// bubblewrap: `bwrap --unshare-all ... MODULE` timed from posix_spawn to
// waitpid, the only thing measurable from outside: compare it with
// deputy's total. Runs alternate between the two so that noise from other
// work on the machine falls on both.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/sandbox/features.h"
#include "agent/sandbox/sandbox.h"

extern char** environ;

namespace {

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t i =
      static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

// One bubblewrap run: the same kind of isolation bwrap offers without
// configuration (all namespaces, read-only system binds, proc, dev, tmpfs,
// new session, no capabilities), to the module's exit.
double BwrapOnce(const std::string& module) {
  std::vector<std::string> args = {
      "bwrap",         "--unshare-all", "--die-with-parent",
      "--new-session", "--cap-drop",    "ALL",
      "--ro-bind",     "/usr",          "/usr",
      "--symlink",     "usr/bin",       "/bin",
      "--symlink",     "usr/lib",       "/lib",
      "--symlink",     "usr/lib64",     "/lib64",
      "--symlink",     "usr/sbin",      "/sbin",
      "--proc",        "/proc",         "--dev",
      "/dev",          "--tmpfs",       "/tmp",
      module};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", 0, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1, 0);
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid;
  if (posix_spawnp(&pid, "bwrap", &fa, nullptr, argv.data(), environ) != 0) {
    std::fprintf(stderr, "cannot run bwrap (install bubblewrap)\n");
    std::exit(1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  auto us = std::chrono::duration<double, std::micro>(
                std::chrono::steady_clock::now() - t0)
                .count();
  posix_spawn_file_actions_destroy(&fa);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bwrap run failed (status %d)\n", status);
    std::exit(1);
  }
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 500;
  std::string module = argc > 2 ? argv[2] : "/usr/bin/true";
  using namespace deputy::sandbox;
  Features f = Features::Probe();
  PolicyBuilder builder(f);
  builder.Module(module).Target({"target.example.org", "127.0.0.1", 389});
  // Further arguments remove layers, to see what each costs.
  for (int i = 3; i < argc; ++i) {
    auto layer = ParseLayer(argv[i]);
    if (!layer.ok()) {
      std::fprintf(stderr, "%s\n", layer.status().ToString().c_str());
      return 2;
    }
    builder.Weaken(InsecureWeakening::Without(*layer));
  }
  auto policy = builder.Build();
  if (!policy.ok()) {
    std::fprintf(stderr, "%s\n", policy.status().ToString().c_str());
    return 1;
  }
  std::printf("sandbox: %s\n", (*policy)->Describe().dump().c_str());
  // deputy's runs happen on their own thread, as on an agent worker: the
  // thread's cgroup slot would otherwise also hold the bwrap processes.
  std::vector<double> spawn, total, bwrap;
  std::mutex mu;
  std::condition_variable cv;
  int turn = 0;  // Even: deputy's, odd: bwrap's.
  bool failed = false;
  const int warmup = 10;
  std::thread worker([&] {
    for (int i = 0; i < runs + warmup; ++i) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return turn % 2 == 0; });
      lock.unlock();
      auto r = (*policy)->Run("", "");
      lock.lock();
      if (!r.ok() || !r->clean_exit()) {
        std::fprintf(stderr, "run %d failed: %s\n", i,
                     r.ok() ? r->Summary().dump().c_str()
                            : r.status().ToString().c_str());
        failed = true;
      } else if (i >= warmup) {
        spawn.push_back(static_cast<double>(r->spawn_us));
        total.push_back(static_cast<double>(r->total_us));
      }
      ++turn;
      cv.notify_all();
      if (failed) return;
    }
  });
  for (int i = 0; i < runs + warmup; ++i) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return turn % 2 == 1 || failed; });
    if (failed) break;
    lock.unlock();
    double us = BwrapOnce(module);
    lock.lock();
    if (i >= warmup) bwrap.push_back(us);
    ++turn;
    cv.notify_all();
  }
  worker.join();
  if (failed) return 1;
  std::printf("runs: %d of %s\n", runs, module.c_str());
  std::printf(
      "deputy spawn (clone3 -> execve): p50 %.0f us, p95 %.0f us, "
      "p99 %.0f us\n",
      Percentile(spawn, 0.5), Percentile(spawn, 0.95), Percentile(spawn, 0.99));
  std::printf(
      "deputy total (clone3 -> exit, reaped): p50 %.0f us, p95 %.0f "
      "us\n",
      Percentile(total, 0.5), Percentile(total, 0.95));
  std::printf(
      "bwrap total (posix_spawn -> exit, reaped): p50 %.0f us, p95 "
      "%.0f us\n",
      Percentile(bwrap, 0.5), Percentile(bwrap, 0.95));
  std::printf("ratio deputy/bwrap, total: p50 %.2f, p95 %.2f\n",
              Percentile(total, 0.5) / Percentile(bwrap, 0.5),
              Percentile(total, 0.95) / Percentile(bwrap, 0.95));
  return 0;
}
