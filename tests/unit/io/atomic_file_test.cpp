#include "golgi/io/atomic_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "golgi/core/error.h"

namespace golgi::io {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards.
class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "golgi_atomic_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  // Names in the folder, to catch leftover temporaries.
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  std::string dir_;
};

TEST_F(AtomicFileTest, CommitWritesTheContentAndLeavesNoTemporary) {
  const std::string path = dir_ + "/out.bin";
  {
    AtomicFile file(path);
    file.write("hello ");
    file.write(std::string_view("world"));
    EXPECT_EQ(file.bytes_written(), 11u);
    EXPECT_EQ(file.path(), path);
    // Not visible before commit: readers see the old state or the new one, never a partial file.
    EXPECT_FALSE(file_exists(path));
    file.commit();
  }
  EXPECT_EQ(read_file(path), "hello world");
  EXPECT_EQ(listing(), std::vector<std::string>{"out.bin"});
}

TEST_F(AtomicFileTest, CommitReplacesAnExistingFile) {
  const std::string path = dir_ + "/out.txt";
  write_file_atomic(path, "old content that is longer");
  write_file_atomic(path, "new");
  EXPECT_EQ(read_file(path), "new");
  EXPECT_EQ(listing(), std::vector<std::string>{"out.txt"});
}

TEST_F(AtomicFileTest, DestroyingWithoutCommitKeepsTheOldFileAndRemovesTheTemporary) {
  const std::string path = dir_ + "/keep.txt";
  write_file_atomic(path, "precious");
  try {
    AtomicFile file(path);
    file.write("half-writ");
    EXPECT_EQ(listing().size(), 2u);  // the destination and the temporary
    throw std::runtime_error("simulated failure while writing");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(read_file(path), "precious");
  EXPECT_EQ(listing(), std::vector<std::string>{"keep.txt"});
}

TEST_F(AtomicFileTest, TemporaryIsHiddenInTheSameFolder) {
  AtomicFile file(dir_ + "/name.bin");
  auto names = listing();
  ASSERT_EQ(names.size(), 1u);
  EXPECT_THAT(names[0], HasSubstr(".name.bin.tmp."));
  EXPECT_EQ(names[0][0], '.');
}

TEST_F(AtomicFileTest, TwoWritersToOnePathUseDifferentTemporaries) {
  const std::string path = dir_ + "/same";
  AtomicFile a(path);
  AtomicFile b(path);
  a.write("a");
  b.write("b");
  EXPECT_EQ(listing().size(), 2u);
  a.commit();
  b.commit();
  EXPECT_EQ(read_file(path), "b");
}

TEST_F(AtomicFileTest, EmptyFile) {
  const std::string path = dir_ + "/empty";
  write_file_atomic(path, "");
  EXPECT_TRUE(file_exists(path));
  EXPECT_EQ(read_file(path), "");
}

TEST_F(AtomicFileTest, LargeContentRoundTrips) {
  std::string content(3 << 20, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7919 % 251);
  write_file_atomic(dir_ + "/big", content);
  EXPECT_EQ(read_file(dir_ + "/big"), content);
}

TEST_F(AtomicFileTest, MissingFolderIsAClearError) {
  const std::string path = dir_ + "/no/such/folder/file.bin";
  try {
    AtomicFile file(path);
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));
    EXPECT_THAT(e.what(), HasSubstr("No such file or directory"));
    EXPECT_THAT(e.what(), HasSubstr("does not exist"));
  }
}

TEST_F(AtomicFileTest, UnwritableFolderIsAClearError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can write into read-only folders";
  const std::string locked = dir_ + "/locked";
  make_dirs(locked);
  ASSERT_EQ(::chmod(locked.c_str(), 0500), 0);
  try {
    AtomicFile file(locked + "/f");
    ::chmod(locked.c_str(), 0700);
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    ::chmod(locked.c_str(), 0700);
    EXPECT_THAT(e.what(), HasSubstr(locked + "/f"));
    EXPECT_THAT(e.what(), HasSubstr("Permission denied"));
  }
}

TEST_F(AtomicFileTest, PathNamingAFolderIsRejected) {
  EXPECT_THROW(AtomicFile(dir_ + "/"), Error);
  EXPECT_THROW(AtomicFile(""), Error);
}

TEST_F(AtomicFileTest, CommitOverAFolderFailsAndCleansUp) {
  make_dirs(dir_ + "/sub/inner");
  try {
    AtomicFile file(dir_ + "/sub");
    file.write("x");
    file.commit();
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir_ + "/sub"));
    EXPECT_THAT(e.what(), HasSubstr("renaming"));
  }
  EXPECT_EQ(listing(), std::vector<std::string>{"sub"});
  EXPECT_TRUE(fs::is_directory(dir_ + "/sub/inner"));
}

TEST_F(AtomicFileTest, WriteAfterCommitIsRejected) {
  AtomicFile file(dir_ + "/x");
  file.commit();
  EXPECT_THROW(file.write("late"), Error);
  EXPECT_THROW(file.commit(), Error);
}

TEST_F(AtomicFileTest, ReadFileErrorsNameThePath) {
  const std::string missing = dir_ + "/missing.bin";
  try {
    read_file(missing);
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(missing));
    EXPECT_THAT(e.what(), HasSubstr("No such file"));
  }
  try {
    read_file(dir_);
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("folder"));
  }
}

TEST_F(AtomicFileTest, MakeDirsCreatesNestedFoldersAndIsIdempotent) {
  const std::string nested = dir_ + "/a/b/c";
  make_dirs(nested);
  EXPECT_TRUE(fs::is_directory(nested));
  make_dirs(nested);
  make_dirs(nested + "/");
  EXPECT_TRUE(file_exists(nested));
  EXPECT_FALSE(file_exists(nested + "/d"));
}

TEST_F(AtomicFileTest, MakeDirsThroughAFileIsAClearError) {
  write_file_atomic(dir_ + "/file", "x");
  try {
    make_dirs(dir_ + "/file/sub");
    FAIL() << "expected golgi::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("not a folder"));
    EXPECT_THAT(e.what(), HasSubstr(dir_ + "/file"));
  }
}

}  // namespace
}  // namespace golgi::io
