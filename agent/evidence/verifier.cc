#include "agent/evidence/verifier.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "agent/evidence/clock.h"
#include "agent/evidence/segments.h"
#include "base/files.h"
#include "base/strict_json.h"

namespace deputy::evidence {
namespace {

std::string ActionKey(const EntryView& e) {
  return e.task.value_or("") + '\0' + e.action.value_or("");
}

std::string Describe(const EntryView& e) {
  return "task " + e.task.value_or("-") + " action " + e.action.value_or("-");
}

class IntentNeedsAllow final : public Rule {
 public:
  std::string_view name() const override { return "intent-needs-allow"; }
  Status OnEntry(const EntryView& e) override {
    if (e.kind == "gate.decision") {
      auto payload = json::ParseStrict(e.payload);
      if (!payload.ok()) return payload.status();
      auto it = payload->find("effect");
      if (it != payload->end() && it->is_string() && *it == "allow") {
        allowed_.insert(ActionKey(e));
      } else {
        allowed_.erase(ActionKey(e));
      }
    } else if (e.kind == "action.intent") {
      if (!e.task || !e.action) {
        return Status::FailedPrecondition("action.intent without task/action");
      }
      if (allowed_.count(ActionKey(e)) == 0) {
        return Status::FailedPrecondition(
            "action.intent for " + Describe(e) +
            " has no preceding gate.decision with effect allow");
      }
    } else if (e.kind == "action.result" || e.kind == "action.recovered") {
      allowed_.erase(ActionKey(e));
    }
    return Status::Ok();
  }
  Status OnEnd(std::optional<std::uint64_t>&) override { return Status::Ok(); }

 private:
  std::unordered_set<std::string> allowed_;
};

class IntentResolved final : public Rule {
 public:
  std::string_view name() const override { return "intent-resolved"; }
  Status OnEntry(const EntryView& e) override {
    if (e.kind == "action.intent") {
      open_.emplace(ActionKey(e), std::make_pair(e.seq, Describe(e)));
    } else if (e.kind == "action.result" || e.kind == "action.recovered") {
      open_.erase(ActionKey(e));
    }
    return Status::Ok();
  }
  Status OnEnd(std::optional<std::uint64_t>& seq) override {
    if (open_.empty()) return Status::Ok();
    auto first = std::min_element(open_.begin(), open_.end(),
                                  [](const auto& a, const auto& b) {
                                    return a.second.first < b.second.first;
                                  });
    seq = first->second.first;
    return Status::FailedPrecondition(
        std::to_string(open_.size()) +
        " action.intent entries never resolved; the first is seq " +
        std::to_string(first->second.first) + " (" + first->second.second +
        ")");
  }

 private:
  std::unordered_map<std::string, std::pair<std::uint64_t, std::string>> open_;
};

void HexInto(const Hash& h, char out[64]) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (std::size_t i = 0; i < h.size(); ++i) {
    out[2 * i] = kDigits[h[i] >> 4];
    out[2 * i + 1] = kDigits[h[i] & 15];
  }
}

// A root the stream must reproduce when it reaches `size` entries.
struct Target {
  std::uint64_t size;
  Hash root;
  std::string source;
  bool witnessed;
};

}  // namespace

std::vector<std::unique_ptr<Rule>> DefaultRules() {
  std::vector<std::unique_ptr<Rule>> rules;
  rules.push_back(std::make_unique<IntentNeedsAllow>());
  rules.push_back(std::make_unique<IntentResolved>());
  return rules;
}

std::string VerifyFailure::ToString() const {
  std::string s = "rule " + rule;
  if (seq) s += ", seq " + std::to_string(*seq);
  if (!file.empty()) s += ", " + file + " byte " + std::to_string(offset);
  return s + ": " + message;
}

Result<Checkpoint> ReadSignedCheckpoint(const std::string& path,
                                        std::string_view origin,
                                        const keys::PublicKey& agent_key,
                                        SignedNote* note_out) {
  ASSIGN_OR_RETURN(std::string text, ReadFileBounded(path, kMaxNoteBytes));
  auto note = SignedNote::Parse(text);
  if (!note.ok()) return note.status().Within(path);
  RETURN_IF_ERROR(VerifyNote(*note, origin, agent_key).Within(path));
  auto cp = Checkpoint::ParseBody(note->text);
  if (!cp.ok()) return cp.status().Within(path);
  if (cp->origin != origin) {
    return Status::DataLoss(path + ": checkpoint is for origin \"" +
                            cp->origin + "\", not this log's \"" +
                            std::string(origin) + "\"");
  }
  if (note_out != nullptr) *note_out = std::move(*note);
  return cp;
}

Result<VerifyResult> VerifyLog(const std::string& dir, VerifyOptions& options) {
  if (options.agent_key == nullptr) {
    return Status::Invalid("the agent's public key is required");
  }
  LogLayout layout{dir};
  VerifyResult r;
  ASSIGN_OR_RETURN(r.origin, ReadLogOrigin(layout));
  auto fail = [&](std::string rule, std::optional<std::uint64_t> seq,
                  std::string file, std::uint64_t offset,
                  std::string message) -> Result<VerifyResult> {
    r.failure = VerifyFailure{std::move(rule), seq, std::move(file), offset,
                              std::move(message)};
    return std::move(r);
  };

  // Every checkpoint the agent signed, then every witnessed one.
  std::vector<Target> targets;
  ASSIGN_OR_RETURN(auto cp_files, ListCheckpoints(layout));
  for (const auto& f : cp_files) {
    auto cp = ReadSignedCheckpoint(f.path, r.origin, *options.agent_key);
    if (!cp.ok()) {
      return fail("checkpoint-signature", std::nullopt, f.path, 0,
                  cp.status().message());
    }
    if (cp->size != f.size) {
      return fail("checkpoint-signature", std::nullopt, f.path, 0,
                  "file name says size " + std::to_string(f.size) +
                      " but the signed checkpoint says " +
                      std::to_string(cp->size));
    }
    targets.push_back({cp->size, cp->root, f.path, false});
    r.latest_checkpoint_size = std::max(r.latest_checkpoint_size, cp->size);
    ++r.checkpoints_verified;
  }
  for (const auto& w : options.witnessed) {
    if (w.checkpoint.origin != r.origin) {
      return fail("witness-root", std::nullopt, w.source, 0,
                  "witnessed checkpoint is for origin \"" +
                      w.checkpoint.origin + "\", not \"" + r.origin + "\"");
    }
    targets.push_back({w.checkpoint.size, w.checkpoint.root, w.source, true});
  }
  std::stable_sort(
      targets.begin(), targets.end(),
      [](const Target& a, const Target& b) { return a.size < b.size; });
  std::size_t next_target = 0;
  // Compares the tree so far with every checkpoint of exactly this size.
  auto check_targets = [&]() -> std::optional<Target> {
    while (next_target < targets.size() &&
           targets[next_target].size == r.entries) {
      const Target& t = targets[next_target++];
      if (t.root != r.tree.Root()) return t;
      if (t.witnessed) ++r.witnessed_verified;
    }
    return std::nullopt;
  };
  auto root_failure = [&](const Target& t, std::uint64_t seq,
                          const std::string& file, std::uint64_t offset) {
    return fail(t.witnessed ? "witness-root" : "checkpoint-root", seq, file,
                offset,
                "the tree of the first " + std::to_string(t.size) +
                    " entries does not have the root signed in " + t.source +
                    (t.witnessed ? ": the log was rewritten or forked after "
                                   "the witness saw it"
                                 : ": an entry before this point was "
                                   "altered"));
  };

  r.last_hash = OriginHash(r.origin);
  char prev_hex[64];
  HexInto(r.last_hash, prev_hex);
  std::string last_time;
  if (auto t = check_targets()) {
    return root_failure(*t, 0, "", 0);
  }

  ASSIGN_OR_RETURN(auto segments, ListSegments(layout));
  // Where the next entry would start: the end of the last whole line.
  std::uint64_t end_offset = 0;
  for (std::size_t si = 0; si < segments.size(); ++si) {
    const SegmentFile& seg = segments[si];
    if (seg.first_seq != r.entries) {
      return fail("seq", r.entries, seg.path, 0,
                  "segment starts at seq " + std::to_string(seg.first_seq) +
                      " but seq " + std::to_string(r.entries) +
                      " is next: entries are missing or duplicated");
    }
    r.last_segment = seg.path;
    r.last_segment_first_seq = seg.first_seq;
    ASSIGN_OR_RETURN(LineReader reader, LineReader::Open(seg.path));
    std::string_view line;
    std::uint64_t offset = 0;
    EntryView view;  // Reused: no allocation per entry.
    const EntryView* entry = &view;
    while (reader.Next(line, offset)) {
      const std::uint64_t expected = r.entries;
      if (Status parsed = ParseEntryInto(line, view); !parsed.ok()) {
        return fail("well-formed", expected, seg.path, offset,
                    parsed.message());
      }
      if (entry->seq != expected) {
        return fail("seq", expected, seg.path, offset,
                    "found seq " + std::to_string(entry->seq) + " where seq " +
                        std::to_string(expected) +
                        " belongs: entries were removed, reordered or "
                        "duplicated");
      }
      if (entry->prev != std::string_view(prev_hex, 64)) {
        return fail("prev-link", expected, seg.path, offset,
                    expected == 0 ? "prev is not the hash of the log's origin"
                                  : "prev does not match the hash of seq " +
                                        std::to_string(expected - 1) +
                                        ": that entry or this one was altered");
      }
      if (entry->time < last_time) {
        return fail("time", expected, seg.path, offset,
                    "time " + std::string(entry->time) +
                        " is before the previous entry's " + last_time);
      }
      last_time.assign(entry->time);
      r.last_hash = EntryHash(line);
      HexInto(r.last_hash, prev_hex);
      r.tree.Append(r.last_hash);
      ++r.entries;
      r.bytes += line.size() + 1;
      for (auto& rule : options.rules) {
        Status s = rule->OnEntry(*entry);
        if (!s.ok()) {
          return fail(std::string(rule->name()), expected, seg.path, offset,
                      s.message());
        }
      }
      if (auto t = check_targets()) {
        return root_failure(*t, expected, seg.path, offset);
      }
    }
    if (!reader.status().ok()) {
      return fail("well-formed", r.entries, seg.path, reader.tail_offset(),
                  reader.status().message());
    }
    if (reader.tail_bytes() > 0) {
      if (options.allow_torn_tail && si + 1 == segments.size()) {
        r.torn = TornTail{seg.path, reader.tail_offset(), reader.tail_bytes()};
      } else {
        return fail("torn-line", r.entries, seg.path, reader.tail_offset(),
                    "the segment ends with " +
                        std::to_string(reader.tail_bytes()) +
                        " bytes that are not a complete line");
      }
    }
    end_offset = reader.tail_offset();
  }
  if (!last_time.empty()) {
    auto t = ParseTimestamp(last_time);
    if (t.ok()) r.last_time = *t;
  }
  if (next_target < targets.size()) {
    const Target& t = targets[next_target];
    return fail("truncated", r.entries, r.last_segment, end_offset,
                "the log holds " + std::to_string(r.entries) + " entries but " +
                    t.source + " signed a tree of " + std::to_string(t.size) +
                    ": entries were removed from the end (truncation or "
                    "rollback)");
  }
  for (auto& rule : options.rules) {
    std::optional<std::uint64_t> seq;
    Status s = rule->OnEnd(seq);
    if (!s.ok()) {
      return fail(std::string(rule->name()), seq, r.last_segment, 0,
                  s.message());
    }
  }
  return r;
}

}  // namespace deputy::evidence
