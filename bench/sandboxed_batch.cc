// Runs module requests through deputy's sandbox the way the agent does:
// one long-lived policy, one worker thread (so its cgroup slot is joined
// once), each request in a fresh sandboxed process.
//
//   sandboxed_batch MODULE HOST PORT CREDENTIAL_FILE <requests >responses
//
// Reads one request per line; writes the module's response for each, one
// per line, in order; a run that breaks (set-up failure, violation, bad
// exit) prints {"sandbox_error": "..."} instead. On stderr: runs, total
// time, spawn p50/p95 and run p50/p95.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/sandbox/features.h"
#include "agent/sandbox/sandbox.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr,
                 "usage: sandboxed_batch MODULE HOST PORT CREDENTIAL_FILE\n");
    return 2;
  }
  using namespace deputy::sandbox;
  auto policy = PolicyBuilder(Features::Probe())
                    .Module(argv[1])
                    .Target({argv[2], "127.0.0.1", std::atoi(argv[3])})
                    .Build();
  if (!policy.ok()) {
    std::fprintf(stderr, "%s\n", policy.status().ToString().c_str());
    return 1;
  }
  std::ifstream cred_in(argv[4]);
  std::string credential((std::istreambuf_iterator<char>(cred_in)),
                         std::istreambuf_iterator<char>());
  std::vector<double> spawn, total;
  std::string line;
  const auto start = std::chrono::steady_clock::now();
  while (std::getline(std::cin, line)) {
    auto r = (*policy)->Run(line, credential);
    if (!r.ok() || !r->clean_exit()) {
      std::string why = r.ok() ? r->Summary().dump() : r.status().ToString();
      std::cout << nlohmann::json{{"sandbox_error", why}}.dump() << "\n";
      continue;
    }
    spawn.push_back(static_cast<double>(r->spawn_us));
    total.push_back(static_cast<double>(r->total_us));
    std::string out = r->out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    std::cout << out << "\n";
  }
  std::cout.flush();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  auto pct = [](std::vector<double> v, double p) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
  };
  std::fprintf(stderr,
               "sandboxed runs: %zu in %.2f s; spawn p50 %.0f us p95 %.0f us; "
               "run p50 %.0f us p95 %.0f us\n",
               total.size(), seconds, pct(spawn, 0.5), pct(spawn, 0.95),
               pct(total, 0.5), pct(total, 0.95));
  return 0;
}
