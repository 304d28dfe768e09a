#include "base/encoding.h"

#include <gtest/gtest.h>

#include <random>

namespace deputy {
namespace {

TEST(Hex, RoundTripsAndRejectsBadDigits) {
  Bytes b = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(HexEncode(b), "0001abff");
  EXPECT_EQ(*HexDecode("0001ABff"), b);
  EXPECT_FALSE(HexDecode("abc").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
}

// RFC 4648 section 10 test vectors.
TEST(Base64, MatchesRfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(AsBytes(plain)), encoded);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded;
    EXPECT_EQ(AsChars(*decoded), plain);
  }
}

TEST(Base64, RejectsNonCanonicalForms) {
  EXPECT_FALSE(Base64Decode("Zg").ok());        // Missing padding.
  EXPECT_FALSE(Base64Decode("Zh==").ok());      // Non-zero padding bits.
  EXPECT_FALSE(Base64Decode("Zm9=").ok());      // Non-zero padding bits.
  EXPECT_FALSE(Base64Decode("Zm 9v").ok());     // Whitespace.
  EXPECT_FALSE(Base64Decode("Zm9v\n").ok());    // Newline.
  EXPECT_FALSE(Base64Decode("Zm-_").ok());      // URL alphabet.
  EXPECT_FALSE(Base64Decode("Z===").ok());      // Too much padding.
  EXPECT_FALSE(Base64Decode("Zg==Zg==").ok());  // Padding in the middle.
}

TEST(Base64, RoundTripsRandomBytes) {
  std::mt19937 rng(7);
  for (int len = 0; len < 100; ++len) {
    Bytes b(len);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    auto back = Base64Decode(Base64Encode(b));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, b);
  }
}

}  // namespace
}  // namespace deputy
