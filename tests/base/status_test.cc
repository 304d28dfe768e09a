#include "base/status.h"

#include <gtest/gtest.h>

namespace deputy {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::Invalid(std::to_string(x) + " is odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(Status, WithinPrefixesTheMessageAndKeepsTheCode) {
  Status s = Status::DataLoss("bad hash").Within("log.seg").Within("dir");
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
  EXPECT_EQ(s.message(), "dir: log.seg: bad hash");
  EXPECT_EQ(s.ToString(), "data_loss: dir: log.seg: bad hash");
  EXPECT_TRUE(Status::Ok().Within("x").ok());
}

TEST(Status, ErrnoMapsMissingFilesToNotFound) {
  EXPECT_EQ(Status::Errno("open a", ENOENT).code(), ErrorCode::kNotFound);
  EXPECT_EQ(Status::Errno("write a", ENOSPC).code(), ErrorCode::kIo);
  EXPECT_NE(Status::Errno("write a", ENOSPC).message().find("space"),
            std::string::npos);
}

TEST(Result, PropagatesTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "3 is odd");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(5).code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace deputy
