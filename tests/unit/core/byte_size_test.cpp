// parse_byte_size: the memory budgets of golgi snmf / golgi sae train (--max-memory).
#include <gtest/gtest.h>

#include "golgi/core/byte_size.h"
#include "golgi/core/error.h"

namespace {

TEST(ByteSize, KnownValuesAreBinary) {
  EXPECT_EQ(golgi::parse_byte_size("4096", "--m"), 4096);
  EXPECT_EQ(golgi::parse_byte_size("64MB", "--m"), 64LL << 20);
  EXPECT_EQ(golgi::parse_byte_size("64mib", "--m"), 64LL << 20);
  EXPECT_EQ(golgi::parse_byte_size("512K", "--m"), 512LL << 10);
  EXPECT_EQ(golgi::parse_byte_size("1.5G", "--m"), 3LL << 29);
  EXPECT_EQ(golgi::parse_byte_size("2 GB", "--m"), 2LL << 30);
  EXPECT_EQ(golgi::parse_byte_size("1TiB", "--m"), 1LL << 40);
}

TEST(ByteSize, NonSizesNameTheFlag) {
  for (const char* bad : {"", "MB", "-5MB", "0", "12 parsecs", "nan", "inf"}) {
    try {
      golgi::parse_byte_size(bad, "--max-memory");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const golgi::Error& e) {
      EXPECT_NE(std::string(e.what()).find("--max-memory"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
