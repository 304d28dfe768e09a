#include "agent/evidence/merkle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/encoding.h"
#include "keys/sha256.h"

namespace deputy::evidence {
namespace {

using ::testing::HasSubstr;
using U64s = std::initializer_list<std::uint64_t>;

Hash H(std::string_view hex) {
  Result<Bytes> bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.ok()) << hex;
  Hash h{};
  EXPECT_EQ(bytes->size(), h.size()) << hex;
  std::copy(bytes->begin(), bytes->end(), h.begin());
  return h;
}

std::vector<Hash> Hs(std::initializer_list<std::string_view> hexes) {
  std::vector<Hash> out;
  for (std::string_view hex : hexes) out.push_back(H(hex));
  return out;
}

// The RFC 6962 test data used by Certificate Transparency and
// transparency-dev/merkle (proof/verify_test.go).
std::vector<Hash> RfcLeafHashes() {
  std::vector<Hash> out;
  for (std::string_view hex :
       {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
        "606162636465666768696a6b6c6d6e6f"}) {
    Result<Bytes> data = HexDecode(hex);
    EXPECT_TRUE(data.ok());
    out.push_back(LeafHash(*data));
  }
  return out;
}

// MTH(D[0:n]) for n = 0..8 over RfcLeafHashes().
const char* const kRfcRoots[] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

struct InclusionVector {
  std::uint64_t index;
  std::uint64_t size;
  std::vector<Hash> proof;
};
std::vector<InclusionVector> RfcInclusionVectors() {
  return {
      {0, 1, {}},
      {0, 8,
       Hs({"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
           "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
           "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e"
           "4"})},
      {5, 8,
       Hs({"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
           "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
           "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b"
           "7"})},
      {2, 3,
       Hs({"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c12"
           "5"})},
      {1, 5,
       Hs({"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
           "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
           "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6"
           "b"})},
  };
}

struct ConsistencyVector {
  std::uint64_t old_size;
  std::uint64_t new_size;
  std::vector<Hash> proof;
};
std::vector<ConsistencyVector> RfcConsistencyVectors() {
  return {
      {1, 1, {}},
      {1, 8,
       Hs({"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
           "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
           "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e"
           "4"})},
      {6, 8,
       Hs({"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
           "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
           "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b"
           "7"})},
      {2, 5,
       Hs({"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
           "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6"
           "b"})},
      {6, 7,
       Hs({"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
           "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
           "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b"
           "7"})},
  };
}

// An independent reference: hashes built byte by byte with one-shot SHA-256
// and the recursive MTH definition of RFC 6962 section 2.1.
Hash NaiveNode(const Hash& l, const Hash& r) {
  Bytes buf = {0x01};
  buf.insert(buf.end(), l.begin(), l.end());
  buf.insert(buf.end(), r.begin(), r.end());
  return keys::Sha256(buf);
}
std::uint64_t NaiveSplit(std::uint64_t n) {
  std::uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
Hash NaiveRoot(std::span<const Hash> d) {
  if (d.empty()) return keys::Sha256(ByteSpan());
  if (d.size() == 1) return d[0];
  const std::uint64_t k = NaiveSplit(d.size());
  return NaiveNode(NaiveRoot(d.first(k)), NaiveRoot(d.subspan(k)));
}

// Bottom-up sides of the siblings on the RFC 6962 PATH(m, D[n]): true when
// the sibling is on the left. Two (index, size) pairs with the same sides
// make the verifier compute the same root from the same proof.
void PathSides(std::uint64_t m, std::uint64_t n, std::vector<bool>& out) {
  if (n <= 1) return;
  const std::uint64_t k = NaiveSplit(n);
  if (m < k) {
    PathSides(m, k, out);
    out.push_back(false);
  } else {
    PathSides(m - k, n - k, out);
    out.push_back(true);
  }
}
std::vector<bool> PathSides(std::uint64_t m, std::uint64_t n) {
  std::vector<bool> out;
  PathSides(m, n, out);
  return out;
}

std::vector<Hash> RandomLeaves(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Hash> out(n);
  for (Hash& h : out) {
    for (std::uint8_t& b : h) b = static_cast<std::uint8_t>(rng());
  }
  return out;
}

// Built once: the property tests below share these leaves.
const std::vector<Hash>& Leaves64() {
  static const std::vector<Hash> leaves = RandomLeaves(64, 6962);
  return leaves;
}
const std::vector<Hash>& Roots64() {
  static const std::vector<Hash> roots = [] {
    std::vector<Hash> out;
    for (std::size_t n = 0; n <= 64; ++n) {
      out.push_back(NaiveRoot(std::span(Leaves64()).first(n)));
    }
    return out;
  }();
  return roots;
}

// The bit-flip tests flip every bit of every proof hash in trees of up to 16
// leaves and, to keep the run short, one bit per byte (a different bit in
// each byte) in the larger trees.
bool FlipThisBit(std::uint64_t tree_size, std::size_t bit) {
  return tree_size <= 16 || bit % 8 == (bit / 8) % 8;
}

// ---------------------------------------------------------------- Merkle

TEST(Merkle, EmptyTreeHashIsSha256OfNothing) {
  EXPECT_EQ(HexEncode(EmptyTreeHash()), kRfcRoots[0]);
}

TEST(Merkle, LeafAndNodeHashesAreDomainSeparated) {
  const Hash l = H(kRfcRoots[1]);
  const Hash r = H(kRfcRoots[2]);
  Bytes leaf_input = {0x00, 'a', 'b', 'c'};
  EXPECT_EQ(LeafHash(AsBytes("abc")), keys::Sha256(leaf_input));
  EXPECT_NE(LeafHash(AsBytes("abc")), keys::Sha256(std::string_view("abc")));
  EXPECT_EQ(NodeHash(l, r), NaiveNode(l, r));
  EXPECT_NE(NodeHash(l, r), NodeHash(r, l));
  // A leaf whose data is two hashes does not collide with their node.
  Bytes both(l.begin(), l.end());
  both.insert(both.end(), r.begin(), r.end());
  EXPECT_NE(LeafHash(both), NodeHash(l, r));
}

TEST(Merkle, RootOfMatchesRfc6962VectorsForSizes0To8) {
  const std::vector<Hash> leaves = RfcLeafHashes();
  EXPECT_EQ(HexEncode(leaves[0]), kRfcRoots[1]);  // MTH({d0}) = leaf hash.
  for (std::size_t n = 0; n <= 8; ++n) {
    EXPECT_EQ(HexEncode(RootOf(std::span(leaves).first(n))), kRfcRoots[n])
        << "n=" << n;
  }
}

TEST(Merkle, RootOfMatchesNaiveRecursionUpTo300Leaves) {
  const std::vector<Hash> leaves = RandomLeaves(300, 1);
  for (std::size_t n = 0; n <= leaves.size(); ++n) {
    const std::span<const Hash> d = std::span(leaves).first(n);
    ASSERT_EQ(RootOf(d), NaiveRoot(d)) << "n=" << n;
  }
}

// ----------------------------------------------------------- TreeBuilder

TEST(TreeBuilder, EmptyBuilderHasEmptyTreeRoot) {
  TreeBuilder b;
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.Root(), EmptyTreeHash());
}

TEST(TreeBuilder, MatchesRfc6962RootsAtEverySize) {
  TreeBuilder b;
  for (const Hash& leaf : RfcLeafHashes()) {
    b.Append(leaf);
    EXPECT_EQ(HexEncode(b.Root()), kRfcRoots[b.size()]) << "n=" << b.size();
  }
}

TEST(TreeBuilder, RootEqualsRootOfAtEverySizeUpTo1000) {
  const std::vector<Hash> leaves = RandomLeaves(1000, 2);
  TreeBuilder b;
  for (std::size_t n = 1; n <= leaves.size(); ++n) {
    b.Append(leaves[n - 1]);
    ASSERT_EQ(b.size(), n);
    ASSERT_EQ(b.Root(), RootOf(std::span(leaves).first(n))) << "n=" << n;
  }
}

TEST(TreeBuilder, RootDoesNotChangeTheBuilder) {
  const std::vector<Hash> leaves = RandomLeaves(13, 3);
  TreeBuilder b;
  for (std::size_t i = 0; i < 7; ++i) b.Append(leaves[i]);
  const Hash first = b.Root();
  EXPECT_EQ(b.Root(), first);
  EXPECT_EQ(b.size(), 7u);
  for (std::size_t i = 7; i < leaves.size(); ++i) b.Append(leaves[i]);
  EXPECT_EQ(b.Root(), RootOf(leaves));
}

TEST(TreeBuilder, CopiesGrowIndependently) {
  const std::vector<Hash> leaves = RandomLeaves(6, 4);
  TreeBuilder a;
  for (std::size_t i = 0; i < 5; ++i) a.Append(leaves[i]);
  TreeBuilder b = a;
  b.Append(leaves[5]);
  EXPECT_EQ(a.Root(), RootOf(std::span(leaves).first(5)));
  EXPECT_EQ(b.Root(), RootOf(leaves));
}

// -------------------------------------------------------- InclusionProof

TEST(InclusionProof, GeneratesRfc6962Vectors) {
  const std::vector<Hash> leaves = RfcLeafHashes();
  for (const InclusionVector& v : RfcInclusionVectors()) {
    Result<std::vector<Hash>> proof = InclusionProof(leaves, v.index, v.size);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    EXPECT_EQ(*proof, v.proof) << "index " << v.index << " size " << v.size;
  }
}

TEST(InclusionProof, VerifiesRfc6962Vectors) {
  const std::vector<Hash> leaves = RfcLeafHashes();
  for (const InclusionVector& v : RfcInclusionVectors()) {
    EXPECT_EQ(VerifyInclusion(leaves[v.index], v.index, v.size, v.proof,
                              H(kRfcRoots[v.size])),
              Status::Ok())
        << "index " << v.index << " size " << v.size;
  }
}

TEST(InclusionProof, SingleLeafTreeHasEmptyProof) {
  const Hash leaf = LeafHash(AsBytes("data"));
  Result<std::vector<Hash>> proof = InclusionProof(std::span(&leaf, 1), 0, 1);
  ASSERT_TRUE(proof.ok());
  EXPECT_TRUE(proof->empty());
  EXPECT_TRUE(VerifyInclusion(leaf, 0, 1, {}, leaf).ok());
  EXPECT_EQ(VerifyInclusion(leaf, 0, 1, {}, EmptyTreeHash()).code(),
            ErrorCode::kDataLoss);
  EXPECT_EQ(VerifyInclusion(leaf, 0, 1, std::span(&leaf, 1), leaf).code(),
            ErrorCode::kDataLoss);
}

TEST(InclusionProof, GenerationRejectsImpossibleArguments) {
  const std::vector<Hash> leaves = RandomLeaves(8, 5);
  EXPECT_EQ(InclusionProof(leaves, 8, 8).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(InclusionProof(leaves, 3, 3).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(InclusionProof(leaves, 0, 0).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(InclusionProof(leaves, 0, 9).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(InclusionProof({}, 0, 0).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST(InclusionProof, IndexOutsideTheTreeIsInvalid) {
  const Hash h = H(kRfcRoots[1]);
  for (auto [index, size] :
       std::vector<std::pair<std::uint64_t, std::uint64_t>>{
           {0, 0}, {1, 0}, {1, 1}, {2, 1}, {8, 8}, {~0ull, ~0ull}}) {
    EXPECT_EQ(VerifyInclusion(h, index, size, {}, h).code(),
              ErrorCode::kInvalidArgument)
        << index << " " << size;
  }
}

TEST(InclusionProof, ErrorsSayWhatIsWrong) {
  const std::vector<Hash> leaves = RfcLeafHashes();
  const InclusionVector v = RfcInclusionVectors()[2];  // Index 5 of 8.
  const Hash root = H(kRfcRoots[8]);
  const std::span<const Hash> short_proof = std::span(v.proof).first(2);
  Status s = VerifyInclusion(leaves[5], 5, 8, short_proof, root);
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
  EXPECT_THAT(s.message(),
              HasSubstr("inclusion proof has wrong length for index 5 in "
                        "tree of 8: got 2 hashes, want 3"));
  s = VerifyInclusion(leaves[4], 5, 8, v.proof, root);
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("index 5 in tree of 8: computed root "));
  EXPECT_THAT(s.message(),
              HasSubstr("does not match expected root " + HexEncode(root)));
}

TEST(InclusionProof, EveryProofVerifiesUpTo64Leaves) {
  const std::vector<Hash>& leaves = Leaves64();
  for (std::uint64_t n = 1; n <= 64; ++n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      Result<std::vector<Hash>> proof = InclusionProof(leaves, i, n);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      ASSERT_EQ(proof->size(), PathSides(i, n).size());
      ASSERT_EQ(VerifyInclusion(leaves[i], i, n, *proof, Roots64()[n]),
                Status::Ok())
          << "index " << i << " size " << n;
    }
  }
}

TEST(InclusionProof, AnyBitFlipInTheProofFails) {
  const std::vector<Hash>& leaves = Leaves64();
  for (std::uint64_t n = 1; n <= 64; ++n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      std::vector<Hash> proof = *InclusionProof(leaves, i, n);
      for (Hash& h : proof) {
        for (std::size_t bit = 0; bit < 8 * h.size(); ++bit) {
          if (!FlipThisBit(n, bit)) continue;
          h[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
          ASSERT_EQ(
              VerifyInclusion(leaves[i], i, n, proof, Roots64()[n]).code(),
              ErrorCode::kDataLoss)
              << "index " << i << " size " << n << " bit " << bit;
          h[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        }
      }
    }
  }
}

TEST(InclusionProof, WrongIndexFails) {
  const std::vector<Hash>& leaves = Leaves64();
  for (std::uint64_t n = 1; n <= 64; ++n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::vector<Hash> proof = *InclusionProof(leaves, i, n);
      for (std::uint64_t j = 0; j <= n; ++j) {
        if (j == i) continue;
        ASSERT_FALSE(VerifyInclusion(leaves[i], j, n, proof, Roots64()[n]).ok())
            << "proof for " << i << " accepted at " << j << " size " << n;
      }
    }
  }
}

// A proof does not commit to the tree size by itself (the signed checkpoint
// binds size and root): another size verifies exactly when its audit path has
// the same shape, so the verifier recomputes the very same root.
TEST(InclusionProof, WrongSizeFailsUnlessPathShapeIsIdentical) {
  const std::vector<Hash>& leaves = Leaves64();
  int rejected = 0;
  for (std::uint64_t n = 1; n <= 64; ++n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::vector<Hash> proof = *InclusionProof(leaves, i, n);
      const std::vector<bool> sides = PathSides(i, n);
      for (std::uint64_t s = i + 1; s <= 2 * n + 1; ++s) {
        if (s == n) continue;
        const bool same_shape = PathSides(i, s) == sides;
        const Status st = VerifyInclusion(leaves[i], i, s, proof, Roots64()[n]);
        ASSERT_EQ(st.ok(), same_shape)
            << "index " << i << " size " << n << " claimed " << s << ": "
            << st.ToString();
        if (!st.ok()) ++rejected;
      }
    }
  }
  EXPECT_GT(rejected, 0);
}

TEST(InclusionProof, TruncatedOrExtendedProofFails) {
  const std::vector<Hash>& leaves = Leaves64();
  const Hash extra = H(kRfcRoots[3]);
  for (std::uint64_t n = 1; n <= 64; ++n) {
    const Hash& root = Roots64()[n];
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::vector<Hash> proof = *InclusionProof(leaves, i, n);
      for (std::size_t len = 0; len < proof.size(); ++len) {
        ASSERT_EQ(
            VerifyInclusion(leaves[i], i, n, std::span(proof).first(len), root)
                .code(),
            ErrorCode::kDataLoss);
      }
      for (const Hash& tail :
           {extra, root, leaves[i], proof.empty() ? extra : proof.back()}) {
        std::vector<Hash> longer = proof;
        longer.push_back(tail);
        ASSERT_EQ(VerifyInclusion(leaves[i], i, n, longer, root).code(),
                  ErrorCode::kDataLoss);
        longer = proof;
        longer.insert(longer.begin(), tail);
        ASSERT_EQ(VerifyInclusion(leaves[i], i, n, longer, root).code(),
                  ErrorCode::kDataLoss);
      }
    }
  }
}

TEST(InclusionProof, DifferentLeafOrRootFails) {
  const std::vector<Hash>& leaves = Leaves64();
  for (std::uint64_t n = 1; n <= 64; ++n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::vector<Hash> proof = *InclusionProof(leaves, i, n);
      Hash other = leaves[i];
      other[31] ^= 1;
      ASSERT_EQ(VerifyInclusion(other, i, n, proof, Roots64()[n]).code(),
                ErrorCode::kDataLoss);
      ASSERT_EQ(VerifyInclusion(leaves[(i + 1) % 64], i, n, proof, Roots64()[n])
                    .code(),
                ErrorCode::kDataLoss);
      ASSERT_EQ(VerifyInclusion(leaves[i], i, n, proof, EmptyTreeHash()).code(),
                ErrorCode::kDataLoss);
    }
  }
}

TEST(InclusionProof, HugeSizesWithShortProofsFailFast) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  const std::vector<Hash> junk = RandomLeaves(3, 7);
  for (std::uint64_t size : U64s{kMax, kMax - 1, 1ull << 63, (1ull << 63) + 1,
                                 (1ull << 63) - 1, 1ull << 62}) {
    for (std::uint64_t index : U64s{0ull, 1ull, size / 2, size - 2, size - 1}) {
      for (std::size_t len = 0; len <= junk.size(); ++len) {
        EXPECT_EQ(VerifyInclusion(junk[0], index, size,
                                  std::span(junk).first(len), junk[1])
                      .code(),
                  ErrorCode::kDataLoss)
            << index << " of " << size << " len " << len;
      }
    }
  }
}

// Fuzz-style: arbitrary sizes and proofs of every length up to twice the
// longest honest proof never verify and never read out of bounds (run under
// ASan/UBSan to see the second half).
TEST(InclusionProof, ArbitraryProofsNeverVerify) {
  std::mt19937_64 rng(8);
  const std::vector<Hash> pool = RandomLeaves(130, 9);
  for (int trial = 0; trial < 20000; ++trial) {
    std::uint64_t size = rng() >> (rng() % 64);
    std::uint64_t index = size == 0 ? rng() : rng() % size;
    if (trial % 7 == 0) index = rng();  // Sometimes out of range.
    const std::size_t len = rng() % pool.size();
    // Distinct leaf and root, or a one-leaf tree would rightly verify.
    const std::size_t leaf = rng() % pool.size();
    const std::size_t root =
        (leaf + 1 + rng() % (pool.size() - 1)) % pool.size();
    const Status s = VerifyInclusion(pool[leaf], index, size,
                                     std::span(pool).first(len), pool[root]);
    ASSERT_FALSE(s.ok()) << index << " of " << size << " len " << len;
  }
}

TEST(InclusionProof, WorksInATreeOfAQuarterMillionLeaves) {
  const std::vector<Hash> leaves = RandomLeaves((1u << 18) + 3, 10);
  TreeBuilder b;
  for (const Hash& h : leaves) b.Append(h);
  const Hash root = b.Root();
  ASSERT_EQ(root, RootOf(leaves));
  const std::uint64_t n = leaves.size();
  for (std::uint64_t i :
       U64s{0ull, 1ull, n / 2, (1ull << 18) - 1, 1ull << 18, n - 2, n - 1}) {
    Result<std::vector<Hash>> proof = InclusionProof(leaves, i, n);
    ASSERT_TRUE(proof.ok());
    EXPECT_LE(proof->size(), 19u);
    EXPECT_EQ(VerifyInclusion(leaves[i], i, n, *proof, root), Status::Ok())
        << i;
  }
}

// ------------------------------------------------------ ConsistencyProof

TEST(ConsistencyProof, GeneratesRfc6962Vectors) {
  const std::vector<Hash> leaves = RfcLeafHashes();
  for (const ConsistencyVector& v : RfcConsistencyVectors()) {
    Result<std::vector<Hash>> proof =
        ConsistencyProof(leaves, v.old_size, v.new_size);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    EXPECT_EQ(*proof, v.proof) << v.old_size << " -> " << v.new_size;
  }
}

TEST(ConsistencyProof, VerifiesRfc6962Vectors) {
  for (const ConsistencyVector& v : RfcConsistencyVectors()) {
    EXPECT_EQ(
        VerifyConsistency(v.old_size, v.new_size, H(kRfcRoots[v.old_size]),
                          H(kRfcRoots[v.new_size]), v.proof),
        Status::Ok())
        << v.old_size << " -> " << v.new_size;
  }
}

TEST(ConsistencyProof, EqualSizesNeedEmptyProofAndEqualRoots) {
  const Hash a = H(kRfcRoots[3]);
  const Hash b = H(kRfcRoots[4]);
  EXPECT_EQ(VerifyConsistency(3, 3, a, a, {}), Status::Ok());
  Status s = VerifyConsistency(3, 3, a, b, {});
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("roots differ"));
  s = VerifyConsistency(3, 3, a, a, std::span(&a, 1));
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("proof must be empty"));
  Result<std::vector<Hash>> proof = ConsistencyProof(RfcLeafHashes(), 5, 5);
  ASSERT_TRUE(proof.ok());
  EXPECT_TRUE(proof->empty());
}

// RFC 9162 defines consistency proofs only for 0 < old size; the empty tree
// is a prefix of every tree, so asking for a proof from it is a caller bug.
TEST(ConsistencyProof, FromTheEmptyTreeIsInvalid) {
  const Hash e = EmptyTreeHash();
  EXPECT_EQ(VerifyConsistency(0, 0, e, e, {}).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(VerifyConsistency(0, 5, e, H(kRfcRoots[5]), {}).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      VerifyConsistency(0, 5, e, H(kRfcRoots[5]), std::span(&e, 1)).code(),
      ErrorCode::kInvalidArgument);
  EXPECT_EQ(ConsistencyProof(RfcLeafHashes(), 0, 5).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(ConsistencyProof(RfcLeafHashes(), 0, 0).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST(ConsistencyProof, GenerationRejectsImpossibleArguments) {
  const std::vector<Hash> leaves = RfcLeafHashes();
  EXPECT_EQ(ConsistencyProof(leaves, 5, 4).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(ConsistencyProof(leaves, 3, 9).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(ConsistencyProof(leaves, 9, 9).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST(ConsistencyProof, EveryProofVerifiesUpTo64Leaves) {
  const std::vector<Hash>& leaves = Leaves64();
  for (std::uint64_t n = 1; n <= 64; ++n) {
    for (std::uint64_t m = 1; m <= n; ++m) {
      Result<std::vector<Hash>> proof = ConsistencyProof(leaves, m, n);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      ASSERT_EQ(VerifyConsistency(m, n, Roots64()[m], Roots64()[n], *proof),
                Status::Ok())
          << m << " -> " << n;
    }
  }
}

TEST(ConsistencyProof, SwappedSizesAreInvalid) {
  const std::vector<Hash>& leaves = Leaves64();
  for (std::uint64_t n = 2; n <= 64; ++n) {
    for (std::uint64_t m = 1; m < n; ++m) {
      const std::vector<Hash> proof = *ConsistencyProof(leaves, m, n);
      ASSERT_EQ(
          VerifyConsistency(n, m, Roots64()[n], Roots64()[m], proof).code(),
          ErrorCode::kInvalidArgument);
      ASSERT_EQ(
          VerifyConsistency(n, m, Roots64()[m], Roots64()[n], proof).code(),
          ErrorCode::kInvalidArgument);
    }
  }
}

TEST(ConsistencyProof, RejectsForkedHistory) {
  const std::vector<Hash>& leaves = Leaves64();
  for (std::uint64_t m = 1; m <= 64; ++m) {
    // Same first m-1 leaves, leaf m-1 rewritten, same later leaves.
    std::vector<Hash> forked = leaves;
    forked[m - 1][0] ^= 0x80;
    for (std::uint64_t n = m; n <= 64; ++n) {
      const Hash forked_root = RootOf(std::span(forked).first(n));
      ASSERT_NE(forked_root, Roots64()[n]);
      // The forked log's own proof cannot connect to the honest old root.
      const std::vector<Hash> forked_proof = *ConsistencyProof(forked, m, n);
      Status s =
          VerifyConsistency(m, n, Roots64()[m], forked_root, forked_proof);
      ASSERT_EQ(s.code(), ErrorCode::kDataLoss) << m << " -> " << n;
      // Nor can the honest proof lead to the forked new root.
      const std::vector<Hash> proof = *ConsistencyProof(leaves, m, n);
      s = VerifyConsistency(m, n, Roots64()[m], forked_root, proof);
      ASSERT_EQ(s.code(), ErrorCode::kDataLoss) << m << " -> " << n;
    }
  }
}

TEST(ConsistencyProof, AnyBitFlipInTheProofFails) {
  const std::vector<Hash>& leaves = Leaves64();
  for (std::uint64_t n = 2; n <= 64; ++n) {
    for (std::uint64_t m = 1; m < n; ++m) {
      std::vector<Hash> proof = *ConsistencyProof(leaves, m, n);
      for (Hash& h : proof) {
        for (std::size_t bit = 0; bit < 8 * h.size(); ++bit) {
          if (!FlipThisBit(n, bit)) continue;
          h[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
          ASSERT_EQ(
              VerifyConsistency(m, n, Roots64()[m], Roots64()[n], proof).code(),
              ErrorCode::kDataLoss)
              << m << " -> " << n << " bit " << bit;
          h[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        }
      }
    }
  }
}

TEST(ConsistencyProof, TruncatedOrExtendedProofFails) {
  const std::vector<Hash>& leaves = Leaves64();
  for (std::uint64_t n = 2; n <= 64; ++n) {
    for (std::uint64_t m = 1; m < n; ++m) {
      const Hash& r1 = Roots64()[m];
      const Hash& r2 = Roots64()[n];
      const std::vector<Hash> proof = *ConsistencyProof(leaves, m, n);
      for (std::size_t len = 0; len < proof.size(); ++len) {
        ASSERT_EQ(
            VerifyConsistency(m, n, r1, r2, std::span(proof).first(len)).code(),
            ErrorCode::kDataLoss);
      }
      for (const Hash& extra : {r1, r2, proof.front(), proof.back()}) {
        std::vector<Hash> longer = proof;
        longer.push_back(extra);
        ASSERT_EQ(VerifyConsistency(m, n, r1, r2, longer).code(),
                  ErrorCode::kDataLoss);
        longer = proof;
        longer.insert(longer.begin(), extra);
        ASSERT_EQ(VerifyConsistency(m, n, r1, r2, longer).code(),
                  ErrorCode::kDataLoss);
      }
    }
  }
}

TEST(ConsistencyProof, WrongRootsFail) {
  const std::vector<Hash>& leaves = Leaves64();
  for (std::uint64_t n = 2; n <= 64; ++n) {
    for (std::uint64_t m = 1; m < n; ++m) {
      const Hash& r1 = Roots64()[m];
      const Hash& r2 = Roots64()[n];
      const std::vector<Hash> proof = *ConsistencyProof(leaves, m, n);
      ASSERT_FALSE(VerifyConsistency(m, n, r2, r1, proof).ok());
      ASSERT_FALSE(VerifyConsistency(m, n, EmptyTreeHash(), r2, proof).ok());
      ASSERT_FALSE(VerifyConsistency(m, n, r1, EmptyTreeHash(), proof).ok());
      ASSERT_FALSE(VerifyConsistency(m, n, Roots64()[m - 1], r2, proof).ok());
    }
  }
}

TEST(ConsistencyProof, ErrorsSayWhichRootIsNotReached) {
  const std::vector<Hash> leaves = RfcLeafHashes();
  const ConsistencyVector v = RfcConsistencyVectors()[2];  // 6 -> 8.
  const Hash r6 = H(kRfcRoots[6]);
  const Hash r8 = H(kRfcRoots[8]);
  Status s = VerifyConsistency(6, 8, r6, H(kRfcRoots[7]), v.proof);
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("consistency proof from tree of 6 to "
                                     "tree of 8 does not lead to the new "
                                     "root"));
  s = VerifyConsistency(6, 8, H(kRfcRoots[5]), r8, v.proof);
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("does not lead to the old root"));
  s = VerifyConsistency(6, 8, r6, r8, std::span(v.proof).first(2));
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("wrong length: got 2 hashes, want 3"));
}

TEST(ConsistencyProof, HugeSizesWithShortProofsFailFast) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  const std::vector<Hash> junk = RandomLeaves(3, 11);
  for (std::uint64_t new_size :
       U64s{kMax, kMax - 1, 1ull << 63, (1ull << 63) + 1, (1ull << 63) - 1}) {
    for (std::uint64_t old_size :
         U64s{1ull, 2ull, 3ull, new_size / 2, new_size - 1, 1ull << 62}) {
      for (std::size_t len = 0; len <= junk.size(); ++len) {
        EXPECT_EQ(VerifyConsistency(old_size, new_size, junk[0], junk[1],
                                    std::span(junk).first(len))
                      .code(),
                  ErrorCode::kDataLoss)
            << old_size << " -> " << new_size << " len " << len;
      }
    }
  }
}

TEST(ConsistencyProof, ArbitraryProofsNeverVerify) {
  std::mt19937_64 rng(12);
  const std::vector<Hash> pool = RandomLeaves(140, 13);
  for (int trial = 0; trial < 20000; ++trial) {
    std::uint64_t a = rng() >> (rng() % 64);
    std::uint64_t b = rng() >> (rng() % 64);
    if (trial % 5 != 0 && a > b) std::swap(a, b);  // Mostly well ordered.
    const std::size_t len = rng() % pool.size();
    // Distinct roots, or equal sizes with an empty proof would rightly verify.
    const std::size_t r1 = rng() % pool.size();
    const std::size_t r2 = (r1 + 1 + rng() % (pool.size() - 1)) % pool.size();
    const Status s =
        VerifyConsistency(a, b, pool[r1], pool[r2], std::span(pool).first(len));
    ASSERT_FALSE(s.ok()) << a << " -> " << b << " len " << len;
  }
}

TEST(ConsistencyProof, WorksInATreeOfAQuarterMillionLeaves) {
  const std::vector<Hash> leaves = RandomLeaves((1u << 18) + 3, 14);
  const std::uint64_t n = leaves.size();
  const Hash new_root = RootOf(leaves);
  for (std::uint64_t m : U64s{1ull, 2ull, 3ull, 1000ull, (1ull << 17) + 1,
                              1ull << 18, n - 1, n}) {
    Result<std::vector<Hash>> proof = ConsistencyProof(leaves, m, n);
    ASSERT_TRUE(proof.ok());
    EXPECT_LE(proof->size(), 2u * 19u);
    EXPECT_EQ(VerifyConsistency(m, n, RootOf(std::span(leaves).first(m)),
                                new_root, *proof),
              Status::Ok())
        << m;
  }
}

}  // namespace
}  // namespace deputy::evidence
