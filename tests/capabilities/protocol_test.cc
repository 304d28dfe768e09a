#include "capabilities/protocol/protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "capabilities/protocol/module_main.h"

namespace deputy::protocol {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

Request SampleRequest(Op op) {
  Request r;
  r.op = op;
  r.id = "CHG-1/a-1";
  r.target = {"ldap", "ldap.example.org", 389, {{"base_dn", "dc=example"}}};
  if (op == Op::kRead || op == Op::kApply || op == Op::kVerify) {
    r.action = Action{"remove_member", "cn=g,dc=example", "uid=u,dc=example",
                      json::object()};
  }
  return r;
}

TEST(Protocol, RequestRoundTrips) {
  Request r = SampleRequest(Op::kApply);
  auto back = Request::Decode(r.Encode());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->op, Op::kApply);
  EXPECT_EQ(back->id, r.id);
  EXPECT_EQ(back->target.port, 389);
  EXPECT_EQ(back->action->subject, "uid=u,dc=example");
}

TEST(Protocol, RequestRefusesUnknownFieldsDuplicatesAndBadShapes) {
  std::string base =
      R"({"protocol":1,"op":"read","id":"x","target":{"name":"t","host":"h","port":1},)";
  auto bad = [&](const std::string& text, const std::string& want) {
    auto r = Request::Decode(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_THAT(r.status().message(), HasSubstr(want)) << text;
  };
  bad(base + R"("action":{"operation":"o","resource":"r"},"extra":1})",
      "extra");
  bad(base + R"("action":{"operation":"o","resource":"r","resource":"s"}})",
      "duplicate");
  bad(base + R"("action":{"operation":"o","resource":7}})",
      "$.action.resource");
  bad(R"({"protocol":1,"op":"read","id":"x","target":{"name":"t","host":"h","port":1}})",
      "$.action: required");
  bad(R"({"protocol":2,"op":"describe","id":"x","target":{"name":"t","host":"h","port":1}})",
      "version 2");
  bad(R"({"protocol":1,"op":"drop","id":"x","target":{"name":"t","host":"h","port":1}})",
      "unknown operation");
  bad(R"({"protocol":1,"op":"describe","id":"x","target":{"name":"t","host":"h","port":70000}})",
      "not a TCP port");
  bad(std::string(kMaxMessageBytes + 1, ' '), "");
}

TEST(Protocol, ResponseMustAnswerTheSameRequest) {
  Response r = Response::Ok("a", ApplyResult{true, {{"x", 1}}}.ToJson());
  auto back = Response::Decode(r.Encode(), Op::kApply, "b");
  ASSERT_FALSE(back.ok());
  EXPECT_THAT(back.status().message(), HasSubstr("another request"));
  ASSERT_TRUE(Response::Decode(r.Encode(), Op::kApply, "a").ok());
}

TEST(Protocol, ResponseShapeIsCheckedPerOperation) {
  // An apply result is not a verify result.
  Response r = Response::Ok("a", ApplyResult{true, json::object()}.ToJson());
  EXPECT_FALSE(Response::Decode(r.Encode(), Op::kVerify, "a").ok());
  EXPECT_FALSE(Response::Decode(r.Encode(), Op::kRead, "a").ok());
}

TEST(Protocol, VerifyCannotClaimSuccessWithAFailedCheck) {
  VerifyResult v;
  v.satisfied = true;
  v.checks = {{"entry_absent", true, ""}, {"bind_fails", false, "bound"}};
  auto back = Response::Decode(Response::Ok("a", v.ToJson()).Encode(),
                               Op::kVerify, "a");
  ASSERT_FALSE(back.ok());
  EXPECT_THAT(back.status().message(), HasSubstr("a check failed"));
  v.checks.clear();
  back = Response::Decode(Response::Ok("a", v.ToJson()).Encode(), Op::kVerify,
                          "a");
  ASSERT_FALSE(back.ok());
  EXPECT_THAT(back.status().message(), HasSubstr("no check"));
}

TEST(Protocol, PartialErrorsCarryWhatRemains) {
  Response r = Response::Fail(
      "a", {ErrorKind::kPartial, "drop failed", json::array({"db2: owned"})});
  auto back = Response::Decode(r.Encode(), Op::kApply, "a");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_TRUE(back->error);
  EXPECT_EQ(back->error->kind, ErrorKind::kPartial);
  EXPECT_EQ(back->error->remaining, json::array({"db2: owned"}));
  // A partial without remaining, or remaining on another kind, is refused.
  EXPECT_FALSE(
      Response::Decode(
          R"({"protocol":1,"id":"a","ok":false,"error":{"kind":"partial","message":"m"}})",
          Op::kApply, "a")
          .ok());
  EXPECT_FALSE(
      Response::Decode(
          R"({"protocol":1,"id":"a","ok":false,"error":{"kind":"denied","message":"m","remaining":[]}})",
          Op::kApply, "a")
          .ok());
}

TEST(Protocol, ListStreamCountsRecordsAndDetectsACutStream) {
  Record acct{Record::Type::kAccount, "uid=a", "", {{"disabled", false}}};
  Record ent{Record::Type::kEntitlement, "uid=a", "cn=g", json::object()};
  std::string stream =
      acct.Encode() + ent.Encode() + Response::Ok("l", {{"count", 2}}).Encode();
  int seen = 0;
  auto sink = [&](const Record&) {
    ++seen;
    return Status::Ok();
  };
  auto r = DecodeListStream(stream, "l", sink);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(seen, 2);
  // The count must match.
  std::string lying =
      acct.Encode() + Response::Ok("l", {{"count", 2}}).Encode();
  EXPECT_FALSE(DecodeListStream(lying, "l", sink).ok());
  // Cut before the final response: not a complete listing.
  EXPECT_FALSE(DecodeListStream(acct.Encode() + ent.Encode(), "l", sink).ok());
  EXPECT_FALSE(
      DecodeListStream(stream.substr(0, stream.size() - 1), "l", sink).ok());
  EXPECT_FALSE(DecodeListStream("", "l", sink).ok());
}

// A module that records what it was asked.
class EchoModule : public Module {
 public:
  json Describe() const override {
    return {{"kind", "echo"}, {"operations", json::array({{{"name", "x"}}})}};
  }
  Reply Read(const Request& r, const Credential& c) override {
    auto pw = c.Field("password");
    if (!pw.ok()) return Reply::FromStatus(pw.status());
    return Reply::Ok(ReadResult{
        true, r.action->resource == "there", {{"pw_len", pw->size()}}}
                         .ToJson());
  }
  Reply Apply(const Request&, const Credential&) override {
    throw std::runtime_error("boom");
  }
  Reply Verify(const Request&, const Credential&) override {
    return Reply::Fail(ErrorKind::kTransient, "busy");
  }
  Reply List(const Request&, const Credential&, RecordWriter& out) override {
    for (int i = 0; i < 3; ++i) {
      Status s = out.Write({Record::Type::kAccount, "u" + std::to_string(i), "",
                            json::object()});
      if (!s.ok()) return Reply::FromStatus(s);
    }
    return Reply::Ok(json::object());
  }
};

TEST(ModuleMain, DispatchesAndAlwaysAnswers) {
  EchoModule m;
  Credential cred = Credential::FromBytes(R"({"password":"s3cret"})");
  auto read = Response::Decode(
      HandleRequest(m, SampleRequest(Op::kRead).Encode(), &cred), Op::kRead,
      "CHG-1/a-1");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ((*read->result)["state"]["pw_len"], 6);

  // An exception in a handler becomes an error response, not a crash.
  auto apply = Response::Decode(
      HandleRequest(m, SampleRequest(Op::kApply).Encode(), &cred), Op::kApply,
      "CHG-1/a-1");
  ASSERT_TRUE(apply.ok());
  ASSERT_TRUE(apply->error);
  EXPECT_THAT(apply->error->message, HasSubstr("boom"));

  // Without a credential nothing but describe runs.
  auto denied = Response::Decode(
      HandleRequest(m, SampleRequest(Op::kRead).Encode(), nullptr), Op::kRead,
      "CHG-1/a-1");
  ASSERT_TRUE(denied.ok());
  EXPECT_EQ(denied->error->kind, ErrorKind::kDenied);
  auto desc = Response::Decode(
      HandleRequest(m, SampleRequest(Op::kDescribe).Encode(), nullptr),
      Op::kDescribe, "CHG-1/a-1");
  ASSERT_TRUE(desc.ok()) << desc.status().ToString();

  // A malformed request is answered with invalid, keeping its id.
  auto bad = Response::Decode(HandleRequest(m, R"({"id":"q","op":1})", &cred),
                              Op::kRead, "q");
  ASSERT_TRUE(bad.ok()) << bad.status().ToString();
  EXPECT_EQ(bad->error->kind, ErrorKind::kInvalid);

  std::string list = HandleRequest(m, SampleRequest(Op::kList).Encode(), &cred);
  int n = 0;
  auto done = DecodeListStream(list, "CHG-1/a-1", [&](const Record&) {
    ++n;
    return Status::Ok();
  });
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(n, 3);
}

TEST(ModuleMain, CredentialErrorsNeverQuoteTheSecret) {
  Credential bad = Credential::FromBytes(R"({"password":"hunter2",})");
  auto f = bad.Field("password");
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.status().message(), ::testing::Not(HasSubstr("hunter2")));
  Credential ok = Credential::FromBytes(R"({"password":"hunter2"})");
  auto missing = ok.Field("bind_dn");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), ::testing::Not(HasSubstr("hunter2")));
}

TEST(ModuleMain, OversizedCredentialIsRefused) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  std::string big(kMaxCredentialBytes + 1, 'x');
  // The pipe buffer (64 KiB) is smaller than the credential: write from a
  // child so the reader sees the whole stream.
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    std::size_t off = 0;
    while (off < big.size()) {
      ssize_t n = write(p[1], big.data() + off, big.size() - off);
      if (n <= 0) _exit(1);
      off += static_cast<std::size_t>(n);
    }
    _exit(0);
  }
  close(p[1]);
  auto c = Credential::ReadFrom(p[0]);
  close(p[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), ErrorCode::kResourceExhausted);
  // And fd 3 closed: PermissionDenied ("no credential").
  auto none = Credential::ReadFrom(987);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), ErrorCode::kPermissionDenied);
}

}  // namespace
}  // namespace deputy::protocol
