// Throughput of the keys library: Ed25519 sign and verify (libsodium),
// SHA-256 (OpenSSL EVP), and a whole DSSE envelope parse + verify.
// Compare with `openssl speed` through bench/keys_vs_openssl.sh.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "keys/dsse.h"
#include "keys/private_key.h"
#include "keys/sha256.h"

namespace {

using deputy::AsBytes;
using namespace deputy::keys;

const PrivateKey& Key() {
  static auto key = PrivateKey::Generate("bench");
  if (!key.ok()) std::abort();
  return *key;
}

// 64 bytes matches what `openssl speed ed25519` signs.
void BM_Ed25519Sign(benchmark::State& state) {
  std::string msg(static_cast<std::size_t>(state.range(0)), 'm');
  for (auto _ : state) {
    benchmark::DoNotOptimize(Key().Sign(AsBytes(msg)));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ed25519Sign)->Arg(64)->Arg(1024);

void BM_Ed25519Verify(benchmark::State& state) {
  std::string msg(static_cast<std::size_t>(state.range(0)), 'm');
  Signature sig = Key().Sign(AsBytes(msg));
  for (auto _ : state) {
    deputy::Status s = Key().public_key().Verify(AsBytes(msg), sig);
    if (!s.ok()) state.SkipWithError("verify failed");
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ed25519Verify)->Arg(64)->Arg(1024);

void BM_Sha256(benchmark::State& state) {
  std::string data(static_cast<std::size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    benchmark::DoNotOptimize(Sha256(AsBytes(data)));
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Sha256)->Arg(64)->Arg(300)->Arg(16384)->Arg(1 << 20);

// A scope-manifest-sized envelope: strict JSON parse, base64, PAE, verify.
void BM_DsseParseAndVerify(benchmark::State& state) {
  std::string payload(4096, 'p');
  std::string text =
      SignEnvelope("application/vnd.deputy.scope+json", payload, Key())
          .Serialize();
  Keyring ring({Key().public_key()});
  for (auto _ : state) {
    auto env = Envelope::Parse(text);
    auto v = VerifyEnvelope(*env, ring, "application/vnd.deputy.scope+json");
    if (!v.ok()) state.SkipWithError("verify failed");
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DsseParseAndVerify);

}  // namespace

BENCHMARK_MAIN();
