// RFC 6962 / RFC 9162 Merkle tree hashing and proofs over SHA-256.
//
//   leaf hash  = SHA-256(0x00 || data)
//   node hash  = SHA-256(0x01 || left || right)
//   empty tree = SHA-256("")
//
// TreeBuilder computes the root of a growing list of leaves in O(log n)
// memory (the verifier streams a log of millions of entries through it).
// Proof generation takes the full list of leaf hashes; verification takes
// only the proof. All functions are pure; TreeBuilder is a value (not
// thread-safe to share while mutating).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/encoding.h"
#include "base/status.h"
#include "keys/sha256.h"

namespace deputy::evidence {

using Hash = keys::Digest;

Hash LeafHash(ByteSpan data);
Hash NodeHash(const Hash& left, const Hash& right);
Hash EmptyTreeHash();

class TreeBuilder {
 public:
  void Append(const Hash& leaf_hash);
  std::uint64_t size() const { return size_; }
  // The Merkle tree hash of all leaves appended so far (EmptyTreeHash()
  // when none).
  Hash Root() const;

 private:
  // Roots of the perfect subtrees that make up the tree, largest first;
  // subtree i has 2^k leaves where k is the i-th set bit of size_ from the
  // top.
  std::vector<Hash> stack_;
  std::uint64_t size_ = 0;
};

// The root of leaves[0, n).
Hash RootOf(std::span<const Hash> leaves);

// Audit path for leaf `index` in the tree of the first `tree_size` leaves
// (RFC 9162 section 2.1.3.1). Invalid when index >= tree_size or
// tree_size > leaves.size().
Result<std::vector<Hash>> InclusionProof(std::span<const Hash> leaves,
                                         std::uint64_t index,
                                         std::uint64_t tree_size);
// OK when `proof` shows `leaf_hash` at `index` in the tree with `root`
// (RFC 9162 section 2.1.3.2); DataLoss otherwise, saying why.
Status VerifyInclusion(const Hash& leaf_hash, std::uint64_t index,
                       std::uint64_t tree_size, std::span<const Hash> proof,
                       const Hash& root);

// Consistency proof between the trees of the first old_size and new_size
// leaves (RFC 9162 section 2.1.4.1). Invalid unless
// 0 < old_size <= new_size <= leaves.size().
Result<std::vector<Hash>> ConsistencyProof(std::span<const Hash> leaves,
                                           std::uint64_t old_size,
                                           std::uint64_t new_size);
// RFC 9162 section 2.1.4.2. DataLoss when the proof does not connect the
// two roots (a fork or a rewritten history). When old_size == new_size the
// proof must be empty and the roots equal. Invalid when old_size > new_size
// or old_size == 0: RFC 9162 defines consistency only for 0 < old_size (the
// empty tree is a prefix of every tree; there is nothing to prove).
Status VerifyConsistency(std::uint64_t old_size, std::uint64_t new_size,
                         const Hash& old_root, const Hash& new_root,
                         std::span<const Hash> proof);

}  // namespace deputy::evidence
