#include "base/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace deputy {
namespace {

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/deputy-files-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(FilesTest, AtomicWriteSetsModeAndRefusesToOverwrite) {
  std::string path = dir_ + "/a.key";
  ASSERT_TRUE(WriteFileAtomic(path, "one", 0600, Overwrite::kRefuse).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Status again = WriteFileAtomic(path, "two", 0600, Overwrite::kRefuse);
  EXPECT_EQ(again.code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(*ReadFileBounded(path, 100), "one");
  ASSERT_TRUE(WriteFileAtomic(path, "two", 0600, Overwrite::kReplace).ok());
  EXPECT_EQ(*ReadFileBounded(path, 100), "two");
  // No temporary files are left behind.
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(FilesTest, BoundedReadRefusesOversizedFiles) {
  std::string path = dir_ + "/big";
  std::ofstream(path) << std::string(1000, 'x');
  auto r = ReadFileBounded(path, 999);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(ReadFileBounded(path, 1000)->size(), 1000u);
}

TEST_F(FilesTest, BoundedReadStopsOnEndlessDevices) {
  auto r = ReadFileBounded("/dev/zero", 4096);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kResourceExhausted);
}

TEST_F(FilesTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadFileBounded(dir_ + "/none", 10).status().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(ReadFileBounded(dir_, 10).status().code(),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace deputy
