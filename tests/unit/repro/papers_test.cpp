#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>

#include "golgi/repro/repro.h"
#include "test_support.h"

namespace {

std::vector<std::string> ids_in(const std::string& path, const std::regex& row) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::vector<std::string> ids;
  std::string line;
  std::smatch m;
  while (std::getline(in, line))
    if (std::regex_search(line, m, row)) ids.push_back(m[1]);
  return ids;
}

TEST(Papers, RegistryHasAll37IdsOfPapersMdInOrder) {
  auto names = golgi::repro::paper_registry().names();
  EXPECT_EQ(names.size(), 37u);
  auto shared = golgi::testing::source_dir() + "/../shared/PAPERS.md";
  std::ifstream probe(shared);
  if (!probe.good()) GTEST_SKIP() << "no ../shared/PAPERS.md beside the checkout";
  EXPECT_EQ(ids_in(shared, std::regex(R"(^\| `([a-z0-9-]+)` \|)")), names);
}

TEST(Papers, DocsTableMatchesRegistryStatus) {
  std::ifstream in(golgi::testing::source_dir() + "/docs/papers.md");
  ASSERT_TRUE(in.good());
  std::string line;
  std::smatch m;
  std::map<std::string, std::string> status;
  // Cells may contain escaped pipes ("p(d\|E)").
  const std::string cell = R"((?:[^|\\]|\\.)*\|)";
  std::regex row(R"(^\| `([a-z0-9-]+)` \|)" + cell + cell + cell + R"( (planned|implemented) \|)");
  while (std::getline(in, line))
    if (std::regex_search(line, m, row)) status[m[1]] = m[2];
  for (const auto& p : golgi::repro::paper_registry().entries()) {
    ASSERT_TRUE(status.count(p.name)) << p.name << " has no row in docs/papers.md";
    EXPECT_EQ(status[p.name], p.status) << p.name;
    EXPECT_EQ(p.status == "implemented", static_cast<bool>(p.run)) << p.name;
  }
  EXPECT_EQ(status.size(), 37u);
}

TEST(Papers, ClaimsCompareAndSerialise) {
  golgi::repro::Claim c{"gap", 4.2, ">=", 3.0, "points", "learned beats fixed"};
  EXPECT_TRUE(c.pass());
  c.value = 2.9;
  EXPECT_FALSE(c.pass());
  golgi::repro::ReproResult r;
  r.claims.push_back(c);
  auto doc = golgi::repro::result_json("dcls-delays", {true, 0, ""}, 1.5, r);
  EXPECT_EQ(doc["pass"], false);
  EXPECT_EQ(doc["claims"][0]["op"], ">=");
  EXPECT_EQ(doc["quick"], true);
}

}  // namespace
