// Durable append throughput and time-to-durable of the evidence log with
// group commit, on the real filesystem.
//
//   evidence_append_bench DIR MODE [THREADS] [ENTRIES] [PAYLOAD_BYTES]
//
// MODE sync: THREADS writers each append ENTRIES/THREADS entries with
//   Durability::kSync (each call returns only once its entry is on disk)
//   and record how long each call took.
// MODE stream: THREADS producers append as fast as they can with kAsync;
//   the log's on_durable hook stamps when each entry became durable, so
//   time-to-durable is measured per entry without making producers wait.
// MODE generate: one producer writes ENTRIES entries (for the verifier
//   benchmark) and writes DIR.pub, the key to verify them with.
// Prints durable entries/s, p50/p99/max time-to-durable and the number of
// fdatasync calls (batches).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "agent/evidence/log.h"

namespace {

using namespace deputy::evidence;
using Steady = std::chrono::steady_clock;

class CountingOps final : public FileOps {
 public:
  int DataSync(int fd) override {
    syncs.fetch_add(1, std::memory_order_relaxed);
    auto t0 = std::chrono::steady_clock::now();
    int rc = FileOps::DataSync(fd);
    sync_us.fetch_add(std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - t0)
                          .count(),
                      std::memory_order_relaxed);
    return rc;
  }
  std::atomic<long> syncs{0};
  std::atomic<long> sync_us{0};
};

// Each action's life in four entries, as the executor writes it: the
// gate's allow decision, the intent, the result and the verification. The
// generated log therefore passes the verifier's semantic rules.
EntryDraft MakeDraft(std::size_t payload_bytes, std::uint64_t i) {
  static constexpr const char* kKinds[] = {"gate.decision", "action.intent",
                                           "action.result", "action.verified"};
  const std::uint64_t action = i / 4;
  nlohmann::json payload = {
      {"target", "ldap"},
      {"op", "ensure_absent_from_group"},
      {"dn",
       "uid=user" + std::to_string(action) + ",ou=people,dc=example,dc=org"},
      {"group", "cn=payroll,ou=groups,dc=example,dc=org"}};
  if (i % 4 == 0) payload["effect"] = "allow";
  std::size_t now = payload.dump().size();
  if (payload_bytes > now + 10) {
    payload["pad"] = std::string(payload_bytes - now - 10, 'p');
  }
  return EntryDraft{kKinds[i % 4],
                    "agent-1",
                    "alice",
                    "T-" + std::to_string(action / 2),
                    "a-" + std::to_string(action),
                    std::move(payload)};
}

struct Stats {
  std::vector<double> latencies_us;  // Sorted.
  double seconds;
};

void Report(const char* mode, int threads, std::size_t payload, Stats st,
            const CountingOps& ops) {
  auto& all = st.latencies_us;
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all[std::min(all.size() - 1,
                        static_cast<std::size_t>(p * all.size()))];
  };
  long syncs = ops.syncs.load();
  std::printf(
      "mode=%s threads=%d entries=%zu payload=%zuB: %.0f durable entries/s, "
      "time-to-durable p50 %.2f ms p99 %.2f ms max %.2f ms, %ld fdatasync "
      "(%.1f entries per batch, %.2f ms each)\n",
      mode, threads, all.size(), payload, all.size() / st.seconds,
      pct(0.50) / 1000, pct(0.99) / 1000, all.back() / 1000, syncs,
      syncs ? static_cast<double>(all.size()) / syncs : 0.0,
      syncs ? ops.sync_us.load() / 1000.0 / syncs : 0.0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: %s DIR sync|stream|generate [THREADS] [ENTRIES] "
                 "[PAYLOAD_BYTES]\n",
                 argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const std::string mode = argv[2];
  const int threads = argc > 3 ? std::max(1, std::atoi(argv[3])) : 64;
  const std::uint64_t entries =
      argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 200000;
  const std::size_t payload =
      argc > 5 ? std::strtoul(argv[5], nullptr, 10) : 300;

  auto key = deputy::keys::PrivateKey::Generate("agent-1");
  if (!key.ok()) return 1;
  std::FILE* f = std::fopen((dir + ".pub").c_str(), "w");
  if (f == nullptr) return 1;
  std::fputs(key->public_key().Serialize().c_str(), f);
  std::fclose(f);
  if (auto s = EvidenceLog::Create(dir, "deputy.bench/agent-1"); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  const std::uint64_t per_thread = entries / threads;
  const std::uint64_t total = per_thread * threads;
  // Drafts are built before timing: the measurement is the log.
  std::vector<EntryDraft> drafts;
  drafts.reserve(total);
  for (std::uint64_t i = 0; i < total; ++i) {
    drafts.push_back(MakeDraft(payload, i));
  }

  SystemClock clock;
  CountingOps ops;
  LogOptions options;
  options.file_ops = &ops;
  // stream mode: when each seq was appended and became durable.
  std::vector<std::atomic<std::int64_t>> appended_at(mode == "stream" ? total
                                                                      : 0);
  std::vector<double> durable_latency(mode == "stream" ? total : 0);
  std::uint64_t durable_seen = 0;
  if (mode == "stream") {
    options.on_durable = [&](std::uint64_t size) {
      auto now = Steady::now().time_since_epoch().count();
      for (; durable_seen < size && durable_seen < total; ++durable_seen) {
        durable_latency[durable_seen] =
            (now - appended_at[durable_seen].load()) / 1000.0;
      }
    };
  }
  auto log = EvidenceLog::Open(dir, *key, "agent-1", "alice", clock, options);
  if (!log.ok()) {
    std::fprintf(stderr, "%s\n", log.status().ToString().c_str());
    return 1;
  }

  if (mode == "generate") {
    for (std::uint64_t i = 0; i < total; ++i) {
      if (!(*log)->Append(drafts[i], Durability::kAsync).ok()) return 1;
    }
    if (!(*log)->Close().ok()) return 1;
    std::printf("generated %llu entries in %s (key %s.pub)\n",
                static_cast<unsigned long long>(total), dir.c_str(),
                dir.c_str());
    return 0;
  }

  std::vector<std::vector<double>> latencies(threads);
  std::atomic<int> failures{0};
  std::atomic<std::uint64_t> next{0};
  auto start = Steady::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      latencies[t].reserve(per_thread);
      for (std::uint64_t i = 0; i < per_thread; ++i) {
        const std::uint64_t n = t * per_thread + i;
        auto t0 = Steady::now();
        if (mode == "stream") {
          // Stamp under the log's ordering: the seq is known only after
          // Append, so stamp the slot the entry will take, by counting.
          std::uint64_t seq = next.fetch_add(1);
          appended_at[seq].store(t0.time_since_epoch().count());
          auto a = (*log)->Append(drafts[n], Durability::kAsync);
          if (!a.ok()) {
            ++failures;
            return;
          }
          continue;
        }
        auto a = (*log)->Append(drafts[n], Durability::kSync);
        auto t1 = Steady::now();
        if (!a.ok()) {
          ++failures;
          return;
        }
        latencies[t].push_back(
            std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
    });
  }
  for (auto& w : workers) w.join();
  if (mode == "stream" && !(*log)->Sync().ok()) ++failures;
  double secs = std::chrono::duration<double>(Steady::now() - start).count();
  if (failures.load() > 0) {
    std::fprintf(stderr, "%d appends failed\n", failures.load());
    return 1;
  }
  Stats st{{}, secs};
  if (mode == "stream") {
    st.latencies_us = durable_latency;
  } else {
    for (auto& l : latencies) {
      st.latencies_us.insert(st.latencies_us.end(), l.begin(), l.end());
    }
  }
  Report(mode.c_str(), threads, payload, std::move(st), ops);
  return (*log)->Close().ok() ? 0 : 1;
}
