#include "keys/sha256.h"

#include <gtest/gtest.h>

namespace deputy::keys {
namespace {

// FIPS 180-2 test vectors.
TEST(Sha256, MatchesFipsVectors) {
  EXPECT_EQ(Sha256Hex(AsBytes("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex(AsBytes("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(AsBytes(
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(AsBytes(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalEqualsOneShotAndResets) {
  std::string data(10000, 'q');
  Sha256Hasher h;
  for (std::size_t i = 0; i < data.size(); i += 333) {
    h.Update(std::string_view(data).substr(i, 333));
  }
  EXPECT_EQ(h.Finish(), Sha256(data));
  // After Finish the hasher starts over.
  EXPECT_EQ(h.Update("abc").Finish(), Sha256(std::string_view("abc")));
}

}  // namespace
}  // namespace deputy::keys
