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


// Token stores (language models): one row per token with its window and position.
StoreConfig token_config(int64_t shard_rows) {
  StoreConfig c;
  c.hooks = {{"blocks.0.mlp.hook_post", {2}}};
  c.shard_rows = shard_rows;
  c.token_rows = true;
  c.dataset = {{"corpus", "test"}, {"split", "test"}, {"seq_len", 4}};
  return c;
}

// Rows of window w: positions 0..w % 4 (a ragged number of tokens per window, as padding makes).
void append_windows(ActivationStoreWriter& w, int64_t begin, int64_t end) {
  std::vector<int64_t> ids, positions;
  for (int64_t window = begin; window < end; ++window)
    for (int64_t p = 0; p <= window % 4; ++p) {
      ids.push_back(window);
      positions.push_back(p);
    }
  const at::Tensor id = torch::tensor(ids, torch::kLong), pos = torch::tensor(positions, torch::kLong);
  const at::Tensor acts = torch::stack({id.to(torch::kFloat), pos.to(torch::kFloat)}, 1);
  w.append({{"blocks.0.mlp.hook_post", acts}}, id, pos);
}

TEST(ActivationStore, TokenRowsKeepWindowAndPosition) {
  auto dir = golgi::testing::scratch_dir("store_tokens");
  {
    ActivationStoreWriter w(dir, token_config(3));
    append_windows(w, 0, 4);  // 1 + 2 + 3 + 4 = 10 rows
    w.finish();
  }
  ActivationStoreReader r(dir);
  EXPECT_TRUE(r.token_rows());
  EXPECT_EQ(r.rows(), 10);
  EXPECT_EQ(r.hook_shape("blocks.0.mlp.hook_post"), (std::vector<int64_t>{2}));
  const at::Tensor ids = r.sample_ids(), positions = r.positions();
  EXPECT_TRUE(torch::equal(ids, torch::tensor({0, 1, 1, 2, 2, 2, 3, 3, 3, 3}, torch::kLong)));
  EXPECT_TRUE(torch::equal(positions, torch::tensor({0, 0, 1, 0, 1, 2, 0, 1, 2, 3}, torch::kLong)));
  // Rows read back in any range agree with their ids and positions (the test's activations encode them).
  const at::Tensor a = r.read("blocks.0.mlp.hook_post", 2, 9);
  EXPECT_TRUE(torch::equal(a.select(1, 0).to(torch::kLong), ids.slice(0, 2, 9)));
  EXPECT_TRUE(torch::equal(r.positions(2, 9), a.select(1, 1).to(torch::kLong)));
  // Every shard lists its positions file, a plain .npy.
  for (const auto& shard : r.index()["shards"])
    EXPECT_TRUE(golgi::io::file_exists(dir + "/" + shard["positions"].get<std::string>()));
  EXPECT_TRUE(r.index()["token_rows"].get<bool>());
}

TEST(ActivationStore, TokenStoreResumesToTheSameRows) {
  auto whole = golgi::testing::scratch_dir("store_tokens_whole");
  auto resumed = golgi::testing::scratch_dir("store_tokens_resumed");
  {
    ActivationStoreWriter w(whole, token_config(4));
    append_windows(w, 0, 8);  // 1+2+3+4+1+2+3+4 = 20 rows
    w.finish();
  }
  ActivationStoreReader reference(whole);
  {
    ActivationStoreWriter w(resumed, token_config(4));
    append_windows(w, 0, 4);  // 10 rows: 8 committed, 2 buffered and lost with the "crash"
    EXPECT_EQ(w.rows_committed(), 8);
  }
  {
    ActivationStoreWriter w(resumed, token_config(4));
    ASSERT_TRUE(w.resumed());
    ASSERT_EQ(w.rows_committed(), 8);
    // The last committed row says where a recorder goes on: window 3 after position 1.
    ActivationStoreReader committed(resumed);
    EXPECT_EQ(committed.sample_ids(7, 8).item<int64_t>(), 3);
    EXPECT_EQ(committed.positions(7, 8).item<int64_t>(), 1);
    w.append({{"blocks.0.mlp.hook_post", reference.read("blocks.0.mlp.hook_post", 8, 20)}}, reference.sample_ids(8, 20),
             reference.positions(8, 20));
    w.finish();
  }
  ActivationStoreReader r(resumed);
  EXPECT_EQ(r.rows(), 20);
  EXPECT_EQ(r.index()["shards"], reference.index()["shards"]);
  EXPECT_TRUE(torch::equal(reference.positions(), r.positions()));
  EXPECT_TRUE(torch::equal(reference.sample_ids(), r.sample_ids()));
  EXPECT_TRUE(torch::equal(reference.read("blocks.0.mlp.hook_post"), r.read("blocks.0.mlp.hook_post")));
}

TEST(ActivationStore, PositionsOnlyForTokenStores) {
  auto dir = golgi::testing::scratch_dir("store_positions_errors");
  {
    ActivationStoreWriter w(dir + "/samples", config(4));
    const at::Tensor ids = torch::arange(2, torch::kLong);
    EXPECT_NE(golgi::testing::error_of([&] {
                w.append({{"a.hook", torch::zeros({2, 3})}, {"b.hook", torch::zeros({2, 2, 2})}}, ids, ids);
              }).find("token_rows"),
              std::string::npos);
    append_rows(w, 0, 2);
    w.finish();
  }
  ActivationStoreReader r(dir + "/samples");
  EXPECT_FALSE(r.token_rows());
  EXPECT_NE(golgi::testing::error_of([&] { r.positions(); }).find("one row per sample"), std::string::npos);
  EXPECT_NE(golgi::testing::error_of([&] { r.hook_shape("c.hook"); }).find("a.hook, b.hook"), std::string::npos);
  // A token store needs positions with every batch.
  ActivationStoreWriter w(dir + "/tokens", token_config(4));
  EXPECT_NE(golgi::testing::error_of([&] {
              w.append({{"blocks.0.mlp.hook_post", torch::zeros({2, 2})}}, torch::arange(2, torch::kLong));
            }).find("needs positions"),
            std::string::npos);
  // Resuming a token store as a per-sample one (or the reverse) is refused.
  StoreConfig other = token_config(4);
  other.token_rows = false;
  EXPECT_THROW(ActivationStoreWriter(dir + "/tokens", other), golgi::Error);
}

}  // namespace
