#include "agent/evidence/merkle.h"

#include <array>
#include <bit>
#include <cstring>
#include <string>

namespace deputy::evidence {
namespace {

constexpr std::uint8_t kLeafPrefix = 0x00;
constexpr std::uint8_t kNodePrefix = 0x01;

// One EVP context per thread: keys::Sha256 allocates and frees a context on
// every call, which would dominate the cost of a 65-byte node hash.
keys::Sha256Hasher& ThreadHasher() {
  thread_local keys::Sha256Hasher hasher;
  return hasher;
}

// The largest power of two strictly below n (n >= 2): where RFC 6962 splits
// a tree of n leaves.
std::uint64_t SplitPoint(std::uint64_t n) { return std::bit_floor(n - 1); }

std::string TreeDesc(std::uint64_t index, std::uint64_t tree_size) {
  return "index " + std::to_string(index) + " in tree of " +
         std::to_string(tree_size);
}

// The audit path for `index` in a tree of `tree_size` leaves splits into an
// inner part, below the node where the paths to `index` and to the last leaf
// diverge, and a border part of left siblings above it; the proof length is
// their sum. Requires index < tree_size.
struct PathShape {
  int inner;
  int border;
};
PathShape InclusionShape(std::uint64_t index, std::uint64_t tree_size) {
  const int inner = std::bit_width(index ^ (tree_size - 1));
  // A shift by 64 would be undefined; no bits remain above the split then.
  const std::uint64_t above = inner >= 64 ? 0 : index >> inner;
  return {inner, std::popcount(above)};
}

std::size_t InclusionProofLength(std::uint64_t index, std::uint64_t tree_size) {
  const PathShape s = InclusionShape(index, tree_size);
  return static_cast<std::size_t>(s.inner + s.border);
}

// A consistency proof is the inclusion path of the old tree's last leaf, cut
// at the level of the old tree's rightmost perfect subtree, plus that
// subtree's root unless it is the whole old tree (old_size a power of two).
// Requires 0 < old_size < new_size.
std::size_t ConsistencyProofLength(std::uint64_t old_size,
                                   std::uint64_t new_size) {
  const int level = std::countr_zero(old_size);  // < 64 since old_size > 0.
  const std::uint64_t node = (old_size - 1) >> level;
  const std::uint64_t last = (new_size - 1) >> level;
  const PathShape s = InclusionShape(node, last + 1);
  return static_cast<std::size_t>(s.inner + s.border) + (node == 0 ? 0 : 1);
}

// RFC 6962 section 2.1.1 PATH(m, D[n]), appending bottom-up.
void AppendPath(std::span<const Hash> d, std::uint64_t m,
                std::vector<Hash>& out) {
  const std::uint64_t n = d.size();
  if (n <= 1) return;
  const std::uint64_t k = SplitPoint(n);
  if (m < k) {
    AppendPath(d.first(k), m, out);
    out.push_back(RootOf(d.subspan(k)));
  } else {
    AppendPath(d.subspan(k), m - k, out);
    out.push_back(RootOf(d.first(k)));
  }
}

// RFC 6962 section 2.1.2 SUBPROOF(m, D[n], b), appending bottom-up.
void AppendSubproof(std::span<const Hash> d, std::uint64_t m,
                    bool whole_old_tree, std::vector<Hash>& out) {
  const std::uint64_t n = d.size();
  if (m == n) {
    if (!whole_old_tree) out.push_back(RootOf(d));
    return;
  }
  const std::uint64_t k = SplitPoint(n);
  if (m <= k) {
    AppendSubproof(d.first(k), m, whole_old_tree, out);
    out.push_back(RootOf(d.subspan(k)));
  } else {
    AppendSubproof(d.subspan(k), m - k, false, out);
    out.push_back(RootOf(d.first(k)));
  }
}

}  // namespace

Hash LeafHash(ByteSpan data) {
  const std::uint8_t prefix = kLeafPrefix;
  return ThreadHasher().Update(ByteSpan(&prefix, 1)).Update(data).Finish();
}

Hash NodeHash(const Hash& left, const Hash& right) {
  std::array<std::uint8_t, 1 + 2 * sizeof(Hash)> buf;
  buf[0] = kNodePrefix;
  std::memcpy(buf.data() + 1, left.data(), left.size());
  std::memcpy(buf.data() + 1 + left.size(), right.data(), right.size());
  return ThreadHasher().Update(buf).Finish();
}

Hash EmptyTreeHash() {
  static const Hash kEmpty = keys::Sha256(ByteSpan());
  return kEmpty;
}

void TreeBuilder::Append(const Hash& leaf_hash) {
  // Each trailing one bit of size_ is a perfect subtree of the same height
  // as the one being carried up: merge them, like binary addition.
  Hash carry = leaf_hash;
  for (std::uint64_t s = size_; (s & 1) != 0; s >>= 1) {
    carry = NodeHash(stack_.back(), carry);
    stack_.pop_back();
  }
  stack_.push_back(carry);
  ++size_;
}

Hash TreeBuilder::Root() const {
  if (stack_.empty()) return EmptyTreeHash();
  Hash root = stack_.back();
  for (auto it = stack_.rbegin() + 1; it != stack_.rend(); ++it) {
    root = NodeHash(*it, root);
  }
  return root;
}

Hash RootOf(std::span<const Hash> leaves) {
  if (leaves.empty()) return EmptyTreeHash();
  // The TreeBuilder algorithm on a fixed stack: at most one entry per bit of
  // the size, so no allocation.
  std::array<Hash, 64> stack;
  std::size_t depth = 0;
  for (std::uint64_t i = 0; i < leaves.size(); ++i) {
    Hash carry = leaves[i];
    for (std::uint64_t s = i; (s & 1) != 0; s >>= 1) {
      carry = NodeHash(stack[--depth], carry);
    }
    stack[depth++] = carry;
  }
  Hash root = stack[--depth];
  while (depth > 0) root = NodeHash(stack[--depth], root);
  return root;
}

Result<std::vector<Hash>> InclusionProof(std::span<const Hash> leaves,
                                         std::uint64_t index,
                                         std::uint64_t tree_size) {
  if (tree_size > leaves.size()) {
    return Status::Invalid("inclusion proof for tree of " +
                           std::to_string(tree_size) + " but only " +
                           std::to_string(leaves.size()) + " leaves");
  }
  if (index >= tree_size) {
    return Status::Invalid("inclusion proof for " + TreeDesc(index, tree_size) +
                           ": index out of range");
  }
  std::vector<Hash> proof;
  proof.reserve(InclusionProofLength(index, tree_size));
  AppendPath(leaves.first(tree_size), index, proof);
  return proof;
}

Status VerifyInclusion(const Hash& leaf_hash, std::uint64_t index,
                       std::uint64_t tree_size, std::span<const Hash> proof,
                       const Hash& root) {
  if (index >= tree_size) {
    return Status::Invalid("inclusion proof for " + TreeDesc(index, tree_size) +
                           ": index out of range");
  }
  // Checking the length first bounds the work by the proof an honest log
  // would send (at most 64 hashes) and names the problem precisely.
  const std::size_t want = InclusionProofLength(index, tree_size);
  if (proof.size() != want) {
    return Status::DataLoss("inclusion proof has wrong length for " +
                            TreeDesc(index, tree_size) + ": got " +
                            std::to_string(proof.size()) + " hashes, want " +
                            std::to_string(want));
  }
  // RFC 9162 section 2.1.3.2, step by step.
  std::uint64_t fn = index;
  std::uint64_t sn = tree_size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) {
      return Status::DataLoss("inclusion proof for " +
                              TreeDesc(index, tree_size) +
                              " is longer than the path to the root");
    }
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return Status::DataLoss("inclusion proof for " +
                            TreeDesc(index, tree_size) +
                            " is shorter than the path to the root");
  }
  if (r != root) {
    return Status::DataLoss("inclusion proof for " +
                            TreeDesc(index, tree_size) + ": computed root " +
                            HexEncode(r) + " does not match expected root " +
                            HexEncode(root));
  }
  return Status::Ok();
}

Result<std::vector<Hash>> ConsistencyProof(std::span<const Hash> leaves,
                                           std::uint64_t old_size,
                                           std::uint64_t new_size) {
  if (old_size == 0 || old_size > new_size || new_size > leaves.size()) {
    return Status::Invalid("consistency proof from tree of " +
                           std::to_string(old_size) + " to tree of " +
                           std::to_string(new_size) + " over " +
                           std::to_string(leaves.size()) +
                           " leaves: need 0 < old size <= new size <= leaves");
  }
  std::vector<Hash> proof;
  if (old_size == new_size) return proof;
  proof.reserve(ConsistencyProofLength(old_size, new_size));
  AppendSubproof(leaves.first(new_size), old_size, true, proof);
  return proof;
}

Status VerifyConsistency(std::uint64_t old_size, std::uint64_t new_size,
                         const Hash& old_root, const Hash& new_root,
                         std::span<const Hash> proof) {
  const std::string sizes = "consistency proof from tree of " +
                            std::to_string(old_size) + " to tree of " +
                            std::to_string(new_size);
  if (old_size == 0) {
    // RFC 9162 defines consistency proofs only for 0 < first: the empty tree
    // is a prefix of every tree, so there is nothing to prove.
    return Status::Invalid(sizes + ": the empty tree has no consistency proof");
  }
  if (old_size > new_size) {
    return Status::Invalid(sizes + ": the tree shrank");
  }
  if (old_size == new_size) {
    if (!proof.empty()) {
      return Status::DataLoss(sizes + ": proof must be empty, got " +
                              std::to_string(proof.size()) + " hashes");
    }
    if (old_root != new_root) {
      return Status::DataLoss(sizes + ": roots differ (" + HexEncode(old_root) +
                              " vs " + HexEncode(new_root) + ")");
    }
    return Status::Ok();
  }
  const std::size_t want = ConsistencyProofLength(old_size, new_size);
  if (proof.size() != want) {
    return Status::DataLoss(sizes + " has wrong length: got " +
                            std::to_string(proof.size()) + " hashes, want " +
                            std::to_string(want));
  }

  // RFC 9162 section 2.1.4.2, step by step. Step 1 (reject an empty path)
  // is implied by the length check: want >= 1 when old_size < new_size.
  // Step 2 prepends old_root when
  // old_size is a power of two; `path` indexes that virtual array without
  // copying the proof.
  const bool prepend_old_root = std::has_single_bit(old_size);
  const std::size_t path_size = proof.size() + (prepend_old_root ? 1 : 0);
  auto path = [&](std::size_t i) -> const Hash& {
    if (prepend_old_root) return i == 0 ? old_root : proof[i - 1];
    return proof[i];
  };
  std::uint64_t fn = old_size - 1;
  std::uint64_t sn = new_size - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path(0);
  Hash sr = path(0);
  for (std::size_t i = 1; i < path_size; ++i) {
    const Hash& c = path(i);
    if (sn == 0) {
      return Status::DataLoss(sizes + " is longer than the path to the root");
    }
    if ((fn & 1) != 0 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return Status::DataLoss(sizes + " is shorter than the path to the root");
  }
  if (fr != old_root) {
    return Status::DataLoss(
        sizes + " does not lead to the old root: computed " + HexEncode(fr) +
        ", expected " + HexEncode(old_root));
  }
  if (sr != new_root) {
    return Status::DataLoss(
        sizes + " does not lead to the new root: computed " + HexEncode(sr) +
        ", expected " + HexEncode(new_root));
  }
  return Status::Ok();
}

}  // namespace deputy::evidence
