// golgi record for language models (token rows) and golgi snmf over the store: outputs, the text of
// the top examples, resume (record and snmf), the atlas annotator file, and clear errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <limits>

#include <torch/torch.h>

#include "golgi/hooks/activation_store.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using golgi::testing::run_cli;

const char* kHook = "blocks.2.mlp.hook_post";

std::string lm_dir() { return golgi::testing::source_dir() + "/assets/models/tiny-multilingual"; }

std::map<std::string, at::Tensor> factors(const std::string& path) {
  std::map<std::string, at::Tensor> out;
  for (auto& [name, t] : golgi::io::load_tensors(path)) out[name] = t;
  return out;
}

void expect_error(const std::string& args, const std::string& needle) {
  auto r = run_cli("--quiet " + args);
  EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.out;
  EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
}

// A per-sample store of `rows` rows of hook [d]: a planted rank-4 semi-NMF structure plus noise,
// optionally with one NaN.
void write_store(const std::string& path, const std::string& hook, int64_t d, int64_t rows, bool nan) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(17);
  golgi::hooks::StoreConfig config;
  config.hooks = {{hook, {d}}};
  config.shard_rows = 128;
  golgi::hooks::ActivationStoreWriter w(path, config);
  at::Tensor acts = torch::rand({rows, 4}, gen).matmul(torch::randn({4, d}, gen)) + 0.01 * torch::randn({rows, d}, gen);
  if (nan) acts[rows / 2][1] = std::numeric_limits<float>::quiet_NaN();
  w.append({{hook, acts}}, torch::arange(rows, torch::kLong));
  w.finish();
}

// One recording shared by the tests (each stays well under 20 s).
class DecompositionCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(golgi::testing::scratch_dir("decomposition_cli"));
    auto rec = run_cli("--quiet --threads 1 record --model " + lm_dir() + " --limit 24 --hooks " + kHook +
                       " --shard-rows 1000 --out " + *dir_ + "/acts");
    recorded_ = rec.exit_code == 0;
    if (!recorded_) std::fprintf(stderr, "%s\n", rec.out.c_str());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(recorded_) << "golgi record failed"; }
  static std::string dir() { return *dir_; }
  static std::string store() { return *dir_ + "/acts"; }
  static std::string common() {
    return "--threads 1 snmf --store " + store() + " --hook " + kHook +
           " --features 6 --sparsity 0.05 --patience 100 --top 5 --max-memory 16MB --seed 3";
  }
  static std::string* dir_;
  static bool recorded_;
};
std::string* DecompositionCli::dir_ = nullptr;
bool DecompositionCli::recorded_ = false;

TEST_F(DecompositionCli, RecordWritesTokenRowsAndResumes) {
  const std::string dir = this->dir(), store = this->store();
  golgi::hooks::ActivationStoreReader reader(store);
  ASSERT_TRUE(reader.token_rows());
  EXPECT_EQ(reader.hook_names(), std::vector<std::string>{kHook});
  EXPECT_EQ(reader.hook_shape(kHook), std::vector<int64_t>{512});
  const int64_t n = reader.rows();
  const golgi::Json& dataset = reader.index()["dataset"];
  EXPECT_EQ(dataset["corpus"], "multilingual-fortunes");
  EXPECT_EQ(dataset["split"], "test");
  EXPECT_EQ(dataset["limit"], 24);
  const int64_t windows = dataset["windows"].get<int64_t>();
  const int64_t seq_len = dataset["seq_len"].get<int64_t>();
  EXPECT_GT(windows, 0);
  EXPECT_LE(windows, 24);
  EXPECT_GT(n, windows);  // many tokens per window
  EXPECT_LE(n, windows * seq_len);
  // Rows are ordered by (window, position), inside the windows, and each (window, position) once.
  const at::Tensor ids = reader.sample_ids(), positions = reader.positions();
  const at::Tensor key = ids * seq_len + positions;
  EXPECT_TRUE(key.slice(0, 1).gt(key.slice(0, 0, -1)).all().item<bool>());
  EXPECT_GE(positions.min().item<int64_t>(), 0);
  EXPECT_LT(positions.max().item<int64_t>(), seq_len);
  EXPECT_LT(ids.max().item<int64_t>(), windows);

  // Resume: a copy cut back to its first committed shard and marked incomplete (a recording killed
  // after that shard) is finished by the same command into the same store.
  const std::string cut = dir + "/acts_cut";
  fs::copy(store, cut, fs::copy_options::recursive);
  golgi::Json index = golgi::io::read_json_file(cut + "/index.json");
  ASSERT_GE(index["shards"].size(), 2u);
  golgi::Json first = golgi::Json::array({index["shards"][0]});
  index["shards"] = first;
  index["rows"] = first[0]["rows"][1];
  index["complete"] = false;
  golgi::io::write_json_file(cut + "/index.json", index);
  auto resumed = run_cli("--quiet --threads 1 record --model " + lm_dir() + " --limit 24 --hooks " + kHook + " --shard-rows 1000 --out " + cut);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  golgi::hooks::ActivationStoreReader again(cut);
  EXPECT_EQ(again.rows(), n);
  EXPECT_EQ(again.index()["shards"], reader.index()["shards"]);
  EXPECT_TRUE(torch::equal(again.positions(), positions));
  EXPECT_TRUE(torch::equal(again.read(kHook), reader.read(kHook)));
}

TEST_F(DecompositionCli, SnmfOutputsAndAnnotationFile) {
  const std::string dir = this->dir(), store = this->store(), common = this->common();
  golgi::hooks::ActivationStoreReader reader(store);
  const int64_t n = reader.rows();
  const at::Tensor ids = reader.sample_ids(), positions = reader.positions();
  // snmf, with the annotator file written into a copy of the model folder.
  const std::string model = dir + "/model";
  fs::copy(lm_dir(), model, fs::copy_options::recursive);
  auto full = run_cli("--quiet " + common + " --max-iter 6 --out " + dir + "/full --annotate " + model);
  ASSERT_EQ(full.exit_code, 0) << full.out;
  const golgi::Json doc = golgi::io::read_json_file(dir + "/full/snmf.json");
  EXPECT_EQ(doc["format"], "golgi-snmf");
  EXPECT_EQ(doc["hook"], kHook);
  EXPECT_EQ(doc["rows"], n);
  EXPECT_EQ(doc["loss_history"].size(), 6u);
  const double relative_error = doc["relative_error"].get<double>();
  EXPECT_GT(relative_error, 0);
  EXPECT_LT(relative_error, 1);
  ASSERT_EQ(doc["features"].size(), 6u);
  for (const auto& f : doc["features"]) {
    EXPECT_GE(f["neurons"].size(), 1u);
    EXPECT_LE(f["neurons"].size(), 26u);  // ceil(0.05 * 512) kept, ties aside
    ASSERT_GE(f["top_examples"].size(), 1u);
    EXPECT_LE(f["top_examples"].size(), 5u);
    double previous = 1e300;
    for (const auto& e : f["top_examples"]) {
      const int64_t row = e["row"];
      EXPECT_EQ(e["sample"].get<int64_t>(), ids[row].item<int64_t>());
      EXPECT_EQ(e["position"].get<int64_t>(), positions[row].item<int64_t>());
      EXPECT_LE(e["value"].get<double>(), previous);
      previous = e["value"].get<double>();
      EXPECT_NE(e["context"].get<std::string>().find("[[" + e["token"].get<std::string>() + "]]"), std::string::npos);
      EXPECT_FALSE(e["language"].get<std::string>().empty());
    }
  }
  auto F = factors(dir + "/full/snmf.safetensors");
  ASSERT_EQ(F.at("F").sizes(), (std::vector<int64_t>{512, 6}));
  ASSERT_EQ(F.at("G").sizes(), (std::vector<int64_t>{n, 6}));
  EXPECT_GE(F.at("G").min().item<float>(), 0.0f);
  // The top example of feature 0 is G's largest entry in column 0.
  EXPECT_EQ(doc["features"][0]["top_examples"][0]["row"].get<int64_t>(), F.at("G").select(1, 0).argmax().item<int64_t>());
  // The annotator's file is the same document.
  EXPECT_EQ(golgi::io::read_json_file(model + "/snmf.json")["features"], doc["features"]);

}

TEST_F(DecompositionCli, SnmfResumeEqualsOneLongerRun) {
  const std::string dir = this->dir(), common = this->common();
  auto full = run_cli("--quiet " + common + " --max-iter 6 --out " + dir + "/six");
  ASSERT_EQ(full.exit_code, 0) << full.out;
  auto F = factors(dir + "/six/snmf.safetensors");
  // A run stopped after 3 iterations and resumed to 6 ends with the factors of the 6-iteration run.
  auto part = run_cli("--quiet " + common + " --max-iter 3 --out " + dir + "/part");
  ASSERT_EQ(part.exit_code, 0) << part.out;
  expect_error(common + " --max-iter 6 --out " + dir + "/part", "--resume");
  auto rest = run_cli("--quiet " + common + " --max-iter 6 --resume --out " + dir + "/part");
  ASSERT_EQ(rest.exit_code, 0) << rest.out;
  auto R = factors(dir + "/part/snmf.safetensors");
  EXPECT_TRUE(torch::equal(R.at("F"), F.at("F")));
  EXPECT_TRUE(torch::equal(R.at("G"), F.at("G")));
  EXPECT_EQ(golgi::io::read_json_file(dir + "/part/snmf.json")["loss_history"],
            golgi::io::read_json_file(dir + "/six/snmf.json")["loss_history"]);
}

// Errors that need the token store; the others run on small stores below.
TEST_F(DecompositionCli, SnmfTokenStoreErrors) {
  const std::string dir = this->dir(), store = this->store();
  const std::string small = "snmf --hook " + std::string(kHook) + " --out " + dir + "/bad --store ";
  expect_error("snmf --store " + store + " --hook blocks.9.mlp.hook_post --out " + dir + "/bad", kHook);
  expect_error(small + store + " --features 100000", "more than min(d, rows)");
  expect_error(small + store + " --max-memory 1KB", "need at least");
}

TEST(DecompositionCliSmall, SnmfInitsOnADenseStore) {
  const std::string dir = golgi::testing::scratch_dir("decomposition_cli_inits");
  // The SVD and k-means starts (on a small per-sample store: no text to rebuild).
  write_store(dir + "/dense", "fc.hook_post", 32, 300, false);
  for (const char* init : {"svd", "kmeans"}) {
    auto r = run_cli("--quiet --threads 1 snmf --store " + dir + "/dense --hook fc.hook_post --features 4 --sparsity 1 " +
                     "--max-iter 3 --init " + init + " --out " + dir + "/" + init);
    ASSERT_EQ(r.exit_code, 0) << init << r.out;
    const golgi::Json doc = golgi::io::read_json_file(dir + "/" + init + "/snmf.json");
    EXPECT_EQ(doc["options"]["init"], init);
    EXPECT_FALSE(doc["token_rows"].get<bool>());
    // A rank-4 store plus 1% noise: 3 iterations get well below a rank-0 fit, the loss falling.
    EXPECT_LT(doc["relative_error"].get<double>(), 0.35) << init;
    const auto losses = doc["loss_history"].get<std::vector<double>>();
    ASSERT_EQ(losses.size(), 3u);
    EXPECT_LT(losses[2], losses[0]) << init;
    EXPECT_FALSE(doc["features"][0]["top_examples"][0].contains("context"));
  }
}

TEST(DecompositionCliSmall, SnmfErrors) {
  const std::string dir = golgi::testing::scratch_dir("decomposition_cli_errors");
  write_store(dir + "/dense", "fc.hook_post", 8, 50, false);
  const std::string dense = "snmf --store " + dir + "/dense --hook fc.hook_post --features 2 --out " + dir + "/bad";
  expect_error("snmf --store " + dir + "/nowhere --hook fc.hook_post --out " + dir + "/bad", "does not exist");
  expect_error(dense + " --max-memory lots", "not a memory size");
  expect_error(dense + " --init svdd", "random, svd or kmeans");
  expect_error(dense + " --max-iter 0", "max_iter");
  expect_error(dense + " --sparsity 2", "sparsity");
  {
    golgi::hooks::StoreConfig config;
    config.hooks = {{"maps", {2, 2}}};
    golgi::hooks::ActivationStoreWriter w(dir + "/maps", config);
    w.append({{"maps", torch::ones({4, 2, 2})}}, torch::arange(4, torch::kLong));
    w.finish();
  }
  write_store(dir + "/tiny", "vec", 3, 4, true);
  expect_error("snmf --store " + dir + "/maps --hook maps --features 1 --out " + dir + "/bad", "per-row shape [2,2]");
  expect_error("snmf --store " + dir + "/tiny --hook vec --features 1 --out " + dir + "/bad", "NaN");
}

// The annotator file reaches the atlas: one snmf_feature annotation per nonzero entry of F.
TEST(DecompositionCliAtlas, SnmfAnnotationReachesTheAtlas) {
  const std::string dir = golgi::testing::scratch_dir("decomposition_cli_atlas");
  const std::string model = dir + "/model";
  fs::copy(lm_dir(), model, fs::copy_options::recursive);
  write_store(dir + "/acts", kHook, 512, 400, false);
  auto snmf = run_cli("--quiet --threads 1 snmf --store " + dir + "/acts --hook " + kHook +
                      " --features 5 --max-iter 3 --out " + dir + "/snmf --annotate " + model);
  ASSERT_EQ(snmf.exit_code, 0) << snmf.out;
  const int64_t nonzero = factors(dir + "/snmf/snmf.safetensors").at("F").ne(0).sum().item<int64_t>();
  EXPECT_GE(nonzero, 5 * 6);  // ceil(0.01 * 512) = 6 neurons per feature, ties aside
  auto atlas = run_cli("--quiet --threads 1 atlas build --model " + model + " --limit 8 --hooks " + kHook +
                       " --annotators snmf --out " + dir + "/atlas.db");
  ASSERT_EQ(atlas.exit_code, 0) << atlas.out;
  EXPECT_NE(atlas.out.find("\"annotations\": " + std::to_string(nonzero)), std::string::npos) << atlas.out;
}

}  // namespace
