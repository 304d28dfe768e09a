#include "keys/private_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/files.h"

namespace deputy::keys {
namespace {

class PrivateKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/deputy-keys-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto key = PrivateKey::Generate("owner1");
    ASSERT_TRUE(key.ok());
    key_ = std::make_unique<PrivateKey>(std::move(*key));
    auto text =
        key_->SerializeEncrypted("correct horse", KdfCost::Interactive());
    ASSERT_TRUE(text.ok()) << text.status().ToString();
    encrypted_ = *text;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text,
                    mode_t mode = 0600) {
    std::string path = dir_ + "/" + name;
    EXPECT_TRUE(WriteFileAtomic(path, text, mode, Overwrite::kReplace).ok());
    return path;
  }

  std::string dir_;
  std::unique_ptr<PrivateKey> key_;
  std::string encrypted_;
};

TEST_F(PrivateKeyTest, EncryptedRoundTripSignsWithTheSameKey) {
  auto back =
      PrivateKey::Parse(encrypted_, "correct horse", UnencryptedKeys::kRefuse);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->public_key().SameKey(key_->public_key()));
  Signature sig = back->Sign(AsBytes("hello"));
  EXPECT_TRUE(key_->public_key().Verify(AsBytes("hello"), sig).ok());
  // The file never contains the seed or the secret key in clear.
  EXPECT_EQ(encrypted_.find("seed"), std::string::npos);
}

TEST_F(PrivateKeyTest, WrongPassphraseIsUnauthenticated) {
  auto r =
      PrivateKey::Parse(encrypted_, "correct hors", UnencryptedKeys::kRefuse);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(r.status().message().find("wrong passphrase"), std::string::npos);
}

TEST_F(PrivateKeyTest, MissingPassphraseForEncryptedKeyIsAnError) {
  auto r = PrivateKey::Parse(encrypted_, "", UnencryptedKeys::kAllowInsecure);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("passphrase is required"),
            std::string::npos);
}

TEST_F(PrivateKeyTest, EveryTruncationIsRejected) {
  for (std::size_t n = 0; n + 2 < encrypted_.size(); n += 7) {
    auto r = PrivateKey::Parse(encrypted_.substr(0, n), "correct horse",
                               UnencryptedKeys::kRefuse);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << n;
  }
}

TEST_F(PrivateKeyTest, TamperedHeaderOrCiphertextFailsAuthentication) {
  auto doc = nlohmann::json::parse(encrypted_);
  // A changed name or public key is bound as associated data.
  auto renamed = doc;
  renamed["name"] = "owner2";
  auto other = PrivateKey::Generate("x");
  ASSERT_TRUE(other.ok());
  auto swapped = doc;
  swapped["public_key"] = other->public_key().Base64();
  // One flipped bit in the ciphertext.
  auto flipped = doc;
  std::string ct = flipped["encryption"]["ciphertext"];
  ct[5] = ct[5] == 'A' ? 'B' : 'A';
  flipped["encryption"]["ciphertext"] = ct;
  for (const auto& d : {renamed, swapped, flipped}) {
    auto r =
        PrivateKey::Parse(d.dump(), "correct horse", UnencryptedKeys::kRefuse);
    ASSERT_FALSE(r.ok()) << d.dump();
    EXPECT_EQ(r.status().code(), ErrorCode::kUnauthenticated) << d.dump();
  }
}

TEST_F(PrivateKeyTest, RefusesWeakOrAbusiveKdfParameters) {
  auto doc = nlohmann::json::parse(encrypted_);
  auto weak = doc;
  weak["encryption"]["opslimit"] = 1;
  auto huge = doc;
  huge["encryption"]["memlimit"] = std::int64_t{1} << 40;
  for (const auto& d : {weak, huge}) {
    auto r =
        PrivateKey::Parse(d.dump(), "correct horse", UnencryptedKeys::kRefuse);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("outside"), std::string::npos)
        << r.status().message();
  }
}

TEST_F(PrivateKeyTest, UnknownOrDuplicateFieldsAreRejected) {
  auto doc = nlohmann::json::parse(encrypted_);
  doc["comment"] = "hi";
  auto r =
      PrivateKey::Parse(doc.dump(), "correct horse", UnencryptedKeys::kRefuse);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("$.comment: unknown field"),
            std::string::npos);
  std::string dup = encrypted_;
  dup.insert(dup.find('{') + 1, "\"name\":\"evil\",");
  r = PrivateKey::Parse(dup, "correct horse", UnencryptedKeys::kRefuse);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("duplicate key"), std::string::npos)
      << r.status().message();
}

TEST_F(PrivateKeyTest, UnencryptedKeysNeedTheInsecureToken) {
  std::string plain = key_->SerializeUnencryptedInsecure();
  EXPECT_NE(plain.find("insecure_unencrypted_seed"), std::string::npos);
  auto refused = PrivateKey::Parse(plain, "", UnencryptedKeys::kRefuse);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kPermissionDenied);
  auto allowed = PrivateKey::Parse(plain, "", UnencryptedKeys::kAllowInsecure);
  ASSERT_TRUE(allowed.ok()) << allowed.status().ToString();
  EXPECT_TRUE(allowed->public_key().SameKey(key_->public_key()));
}

TEST_F(PrivateKeyTest, LoadFileRefusesGroupOrWorldReadableKeys) {
  std::string path = Write("k.key", encrypted_, 0644);
  auto r =
      PrivateKey::LoadFile(path, "correct horse", UnencryptedKeys::kRefuse);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("chmod 600"), std::string::npos);
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  EXPECT_TRUE(
      PrivateKey::LoadFile(path, "correct horse", UnencryptedKeys::kRefuse)
          .ok());
}

TEST_F(PrivateKeyTest, InspectShowsMetadataWithoutThePassphrase) {
  auto info = InspectPrivateKey(encrypted_);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_TRUE(info->encrypted);
  EXPECT_EQ(info->kdf, "argon2id13");
  EXPECT_TRUE(info->public_key.SameKey(key_->public_key()));
}

TEST_F(PrivateKeyTest, PassphraseFileRulesAndTrailingNewline) {
  std::string good = Write("pass", "correct horse\n", 0600);
  auto p = ReadPassphraseFile(good);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->view(), "correct horse");
  std::string loose = Write("loose", "correct horse\n", 0640);
  EXPECT_EQ(ReadPassphraseFile(loose).status().code(),
            ErrorCode::kPermissionDenied);
  std::string empty = Write("empty", "\n", 0600);
  EXPECT_EQ(ReadPassphraseFile(empty).status().code(),
            ErrorCode::kInvalidArgument);
  std::string big = Write("big", std::string(5000, 'x'), 0600);
  EXPECT_EQ(ReadPassphraseFile(big).status().code(),
            ErrorCode::kResourceExhausted);
}

TEST_F(PrivateKeyTest, PassphraseFromADescriptor) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], "s3cret\n", 7), 7);
  close(fds[1]);
  auto p = ReadPassphraseFd(fds[0]);
  close(fds[0]);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->view(), "s3cret");
}

TEST(PrivateKey, RefusesBadNames) {
  EXPECT_FALSE(PrivateKey::Generate("").ok());
  EXPECT_FALSE(PrivateKey::Generate("../etc/passwd").ok());
  EXPECT_FALSE(PrivateKey::Generate(std::string(65, 'a')).ok());
}

}  // namespace
}  // namespace deputy::keys
