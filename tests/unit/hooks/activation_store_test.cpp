#include <gtest/gtest.h>
#include <torch/torch.h>

#include "golgi/hooks/activation_store.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "test_support.h"

namespace {

using namespace golgi::hooks;

StoreConfig config(int64_t shard_rows) {
  StoreConfig c;
  c.hooks = {{"a.hook", {3}}, {"b.hook", {2, 2}}};
  c.shard_rows = shard_rows;
  c.seed = 7;
  c.dataset = {{"name", "test"}, {"split", "test"}};
  return c;
}

void append_rows(ActivationStoreWriter& w, int64_t begin, int64_t end) {
  auto ids = torch::arange(begin, end, torch::kLong);
  auto a = ids.to(torch::kFloat).unsqueeze(1).repeat({1, 3}) + torch::arange(3).to(torch::kFloat) / 10;
  auto b = ids.to(torch::kFloat).view({-1, 1, 1}).repeat({1, 2, 2}) * -1;
  w.append({{"a.hook", a}, {"b.hook", b}}, ids);
}

TEST(ActivationStore, ShardsAndReadsBackAcrossBoundaries) {
  auto dir = golgi::testing::scratch_dir("store_basic");
  {
    ActivationStoreWriter w(dir, config(4));
    append_rows(w, 0, 3);
    append_rows(w, 3, 10);
    EXPECT_EQ(w.rows_committed(), 8);
    w.finish();
  }
  ActivationStoreReader r(dir);
  EXPECT_TRUE(r.complete());
  EXPECT_EQ(r.rows(), 10);
  EXPECT_EQ(r.index()["shards"].size(), 3u);
  auto a = r.read("a.hook");
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{10, 3}));
  EXPECT_FLOAT_EQ(a[9][2].item<float>(), 9.2f);
  auto slice = r.read("b.hook", 3, 6);
  EXPECT_EQ(slice.sizes(), (std::vector<int64_t>{3, 2, 2}));
  EXPECT_FLOAT_EQ(slice[0][1][1].item<float>(), -3.0f);
  EXPECT_TRUE(torch::equal(r.sample_ids(), torch::arange(10, torch::kLong)));
  // Each shard is a plain .npy file.
  auto shard = golgi::io::load_npy(dir + "/a.hook/shard_00000.npy");
  EXPECT_EQ(shard.sizes(), (std::vector<int64_t>{4, 3}));
  EXPECT_THROW(r.read("c.hook"), golgi::Error);
  EXPECT_THROW(r.read("a.hook", 5, 11), golgi::Error);
}

TEST(ActivationStore, ResumesAfterCrashWithoutDuplicates) {
  auto dir = golgi::testing::scratch_dir("store_resume");
  {
    ActivationStoreWriter w(dir, config(4));
    append_rows(w, 0, 6);  // one shard committed, two rows buffered and lost in the "crash"
  }
  ActivationStoreWriter w(dir, config(4));
  EXPECT_TRUE(w.resumed());
  EXPECT_EQ(w.rows_committed(), 4);
  append_rows(w, 4, 9);
  w.finish();
  ActivationStoreReader r(dir);
  EXPECT_EQ(r.rows(), 9);
  EXPECT_TRUE(torch::equal(r.sample_ids(), torch::arange(9, torch::kLong)));
  EXPECT_FLOAT_EQ(r.read("a.hook")[8][0].item<float>(), 8.0f);
}

TEST(ActivationStore, RefusesMismatchedOrCompleteStores) {
  auto dir = golgi::testing::scratch_dir("store_mismatch");
  {
    ActivationStoreWriter w(dir, config(4));
    append_rows(w, 0, 4);
  }
  EXPECT_THROW(ActivationStoreWriter(dir, config(5)), golgi::Error);
  {
    ActivationStoreWriter w(dir, config(4));
    w.finish();
  }
  EXPECT_THROW(ActivationStoreWriter(dir, config(4)), golgi::Error);
  ActivationStoreWriter fresh(golgi::testing::scratch_dir("store_badbatch"), config(4));
  EXPECT_THROW(fresh.append({{"a.hook", torch::zeros({2, 3})}}, torch::arange(2)), golgi::Error);
  EXPECT_THROW(fresh.append({{"a.hook", torch::zeros({2, 4})}, {"b.hook", torch::zeros({2, 2, 2})}}, torch::arange(2)),
               golgi::Error);
}

TEST(ActivationStore, NotAStoreIsAClearError) {
  auto dir = golgi::testing::scratch_dir("store_none");
  EXPECT_FALSE(is_activation_store(dir));
  try {
    ActivationStoreReader r(dir);
    FAIL();
  } catch (const golgi::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no index.json"), std::string::npos);
  }
  golgi::io::write_file_atomic(dir + "/index.json", "{not json");
  EXPECT_THROW(ActivationStoreReader r(dir), golgi::Error);
}

}  // namespace
