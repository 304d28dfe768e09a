// The policy gate at the policy issue's scale: a scope of 100 grants and
// 1,000 forbids (subtrees, exact DN lists, name globs over ldap and
// postgres) and a pre-generated stream of 4,096 mixed requests
// (bench/gate_workload.h). Targets: a decision with its explanation in
// p50 <= 2 us and p99 <= 10 us; loading and verifying the signed scope in
// <= 1 ms.
//
//   BM_GateDecide          one decision + Decision::Explain per iteration
//   BM_GateDecideOnly      the same without the explanation
//   BM_GateDecideLatency   1,000,000 decisions (with explanation), each
//                          timed with steady_clock: p50/p90/p99/p99.9
//   BM_ScopeLoadAndVerify  DSSE parse, 2-of-3 owner signatures, schema
//   BM_ScopeEnvelopeParse  of which: the envelope's JSON and base64
//   BM_ScopeParsePayload   of which: the payload's JSON and schema
//   BM_ScopeJsonOnly       of that: the payload's strict JSON parse alone
//   BM_GateCreate          building the gate's index from that scope
//
// bench/gate_vs_cedar.sh runs the same workload beside Cedar.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "base/strict_json.h"
#include "bench/gate_workload.h"
#include "keys/dsse.h"
#include "policy/gate.h"
#include "policy/scope.h"
#include "policy/trust_root.h"

namespace {

using deputy::bench::GateWorkload;
using deputy::bench::kWorkloadAgent;
using deputy::bench::kWorkloadNow;
using namespace deputy::policy;

// The workload and a gate built from its verified scope, shared by every
// benchmark (built on first use, never modified).
struct Fixture {
  GateWorkload workload;
  std::unique_ptr<TrustRoot> trust;
  std::unique_ptr<ScopeManifest> scope;
  std::unique_ptr<Gate> gate;
  std::vector<Action> actions;
  // Share of each outcome over the stream, in percent.
  double allow_pct = 0;
  double approval_pct = 0;
  double forbidden_pct = 0;
  double no_grant_pct = 0;
  double invariant_pct = 0;
};

[[noreturn]] void Die(const std::string& what, const deputy::Status& s) {
  std::fprintf(stderr, "bench_gate: %s: %s\n", what.c_str(),
               s.ToString().c_str());
  std::abort();
}

std::unique_ptr<Fixture> MakeFixture() {
  auto f = std::make_unique<Fixture>();
  auto workload = deputy::bench::MakeGateWorkload();
  if (!workload.ok()) Die("workload", workload.status());
  f->workload = std::move(*workload);
  auto trust = TrustRoot::ParsePayload(f->workload.trust_payload);
  if (!trust.ok()) Die("trust root", trust.status());
  f->trust = std::make_unique<TrustRoot>(std::move(*trust));
  auto envelope = deputy::keys::Envelope::Parse(f->workload.signed_scope);
  if (!envelope.ok()) Die("scope envelope", envelope.status());
  auto scope = ScopeManifest::Verify(*envelope, *f->trust, kWorkloadAgent, 0,
                                     kWorkloadNow);
  if (!scope.ok()) Die("scope", scope.status());
  f->scope = std::make_unique<ScopeManifest>(std::move(*scope));
  auto gate =
      Gate::Create(*f->trust, std::string(kWorkloadAgent), f->scope.get());
  if (!gate.ok()) Die("gate", gate.status());
  f->gate = std::make_unique<Gate>(std::move(*gate));
  for (const auto& r : f->workload.requests) f->actions.push_back(r.action);

  DecisionContext ctx;
  ctx.now_micros = kWorkloadNow;
  const double unit = 100.0 / static_cast<double>(f->actions.size());
  for (const Action& a : f->actions) {
    const Decision d = f->gate->Decide(a, ctx);
    const std::string& reason = d.reasons.front();
    if (d.effect == Effect::kAllow) f->allow_pct += unit;
    if (d.effect == Effect::kNeedsApproval) f->approval_pct += unit;
    if (reason == "forbidden") f->forbidden_pct += unit;
    if (reason == "no_matching_grant") f->no_grant_pct += unit;
    if (reason.rfind("invariant_", 0) == 0) f->invariant_pct += unit;
  }
  return f;
}

const Fixture& GetFixture() {
  static const std::unique_ptr<Fixture> fixture = MakeFixture();
  return *fixture;
}

DecisionContext Context() {
  DecisionContext ctx;
  ctx.now_micros = kWorkloadNow;
  return ctx;
}

void BM_GateDecide(benchmark::State& state) {
  const Fixture& f = GetFixture();
  const DecisionContext ctx = Context();
  const std::size_t mask = f.actions.size() - 1;  // A power of two.
  std::size_t i = 0;
  for (auto _ : state) {
    const Action& a = f.actions[i++ & mask];
    const Decision d = f.gate->Decide(a, ctx);
    std::string explanation = d.Explain(a);
    benchmark::DoNotOptimize(explanation);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["allow_pct"] = f.allow_pct;
  state.counters["approval_pct"] = f.approval_pct;
  state.counters["forbidden_pct"] = f.forbidden_pct;
  state.counters["no_grant_pct"] = f.no_grant_pct;
  state.counters["invariant_pct"] = f.invariant_pct;
}
BENCHMARK(BM_GateDecide);

void BM_GateDecideOnly(benchmark::State& state) {
  const Fixture& f = GetFixture();
  const DecisionContext ctx = Context();
  const std::size_t mask = f.actions.size() - 1;
  std::size_t i = 0;
  for (auto _ : state) {
    Decision d = f.gate->Decide(f.actions[i++ & mask], ctx);
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GateDecideOnly);

// The value below which `q` of the samples lie (nearest rank).
double Quantile(std::vector<std::int64_t>& samples, double q) {
  auto k = static_cast<std::size_t>(q * static_cast<double>(samples.size()));
  k = std::min(k, samples.size() - 1);
  std::nth_element(samples.begin(), samples.begin() + static_cast<long>(k),
                   samples.end());
  return static_cast<double>(samples[k]);
}

void BM_GateDecideLatency(benchmark::State& state) {
  using Clock = std::chrono::steady_clock;
  const Fixture& f = GetFixture();
  const DecisionContext ctx = Context();
  const std::size_t mask = f.actions.size() - 1;
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<std::int64_t> ns(n);
  std::vector<std::int64_t> clock_ns(100000);
  for (auto _ : state) {
    // A warm-up pass over the stream, then every decision on its own.
    for (const Action& a : f.actions) {
      benchmark::DoNotOptimize(f.gate->Decide(a, ctx).Explain(a));
    }
    for (std::size_t i = 0; i < n; ++i) {
      const Action& a = f.actions[i & mask];
      const auto t0 = Clock::now();
      const Decision d = f.gate->Decide(a, ctx);
      std::string explanation = d.Explain(a);
      benchmark::DoNotOptimize(explanation);
      const auto t1 = Clock::now();
      ns[i] =
          std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
    }
    // What a pair of clock reads costs on its own: included above.
    for (auto& c : clock_ns) {
      const auto t0 = Clock::now();
      const auto t1 = Clock::now();
      c = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
    }
  }
  std::int64_t total = 0;
  for (std::int64_t x : ns) total += x;
  state.counters["decisions"] = static_cast<double>(n);
  state.counters["mean_ns"] =
      static_cast<double>(total) / static_cast<double>(n);
  state.counters["p50_ns"] = Quantile(ns, 0.50);
  state.counters["p90_ns"] = Quantile(ns, 0.90);
  state.counters["p99_ns"] = Quantile(ns, 0.99);
  state.counters["p999_ns"] = Quantile(ns, 0.999);
  state.counters["clock_ns"] = Quantile(clock_ns, 0.50);
}
BENCHMARK(BM_GateDecideLatency)
    ->Arg(1000000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

void BM_ScopeLoadAndVerify(benchmark::State& state) {
  const Fixture& f = GetFixture();
  const std::string& text = f.workload.signed_scope;
  for (auto _ : state) {
    auto envelope = deputy::keys::Envelope::Parse(text);
    if (!envelope.ok()) {
      state.SkipWithError("envelope does not parse");
      break;
    }
    auto scope = ScopeManifest::Verify(*envelope, *f.trust, kWorkloadAgent, 0,
                                       kWorkloadNow);
    if (!scope.ok()) {
      state.SkipWithError("scope does not verify");
      break;
    }
    benchmark::DoNotOptimize(scope);
  }
  state.counters["payload_bytes"] =
      static_cast<double>(f.workload.scope_payload.size());
  state.counters["envelope_bytes"] = static_cast<double>(text.size());
  state.SetBytesProcessed(state.iterations() *
                          static_cast<std::int64_t>(text.size()));
}
BENCHMARK(BM_ScopeLoadAndVerify)->Unit(benchmark::kMicrosecond);

// The parts of BM_ScopeLoadAndVerify: the envelope's strict JSON and
// base64 alone, the payload's schema alone (no signatures), and the
// payload's strict JSON parse alone.
void BM_ScopeEnvelopeParse(benchmark::State& state) {
  const Fixture& f = GetFixture();
  for (auto _ : state) {
    auto envelope = deputy::keys::Envelope::Parse(f.workload.signed_scope);
    if (!envelope.ok()) {
      state.SkipWithError("envelope does not parse");
      break;
    }
    benchmark::DoNotOptimize(envelope);
  }
}
BENCHMARK(BM_ScopeEnvelopeParse)->Unit(benchmark::kMicrosecond);

void BM_ScopeJsonOnly(benchmark::State& state) {
  const Fixture& f = GetFixture();
  for (auto _ : state) {
    auto doc = deputy::json::ParseStrict(
        f.workload.scope_payload,
        {.max_bytes = deputy::policy::kMaxScopeBytes});
    if (!doc.ok()) {
      state.SkipWithError("payload is not JSON");
      break;
    }
    benchmark::DoNotOptimize(doc);
  }
}
BENCHMARK(BM_ScopeJsonOnly)->Unit(benchmark::kMicrosecond);

void BM_ScopeParsePayload(benchmark::State& state) {
  const Fixture& f = GetFixture();
  for (auto _ : state) {
    auto scope = ScopeManifest::ParsePayload(f.workload.scope_payload);
    if (!scope.ok()) {
      state.SkipWithError("payload does not parse");
      break;
    }
    benchmark::DoNotOptimize(scope);
  }
}
BENCHMARK(BM_ScopeParsePayload)->Unit(benchmark::kMicrosecond);

void BM_GateCreate(benchmark::State& state) {
  const Fixture& f = GetFixture();
  for (auto _ : state) {
    auto gate =
        Gate::Create(*f.trust, std::string(kWorkloadAgent), f.scope.get());
    if (!gate.ok()) {
      state.SkipWithError("gate");
      break;
    }
    benchmark::DoNotOptimize(gate);
  }
}
BENCHMARK(BM_GateCreate)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
