// `golgi sae train` / `golgi sae eval` over an on-disk activation store larger than the memory
// budget: the buffer respects the budget, the run completes, and a resumed run ends with the same
// SAE as an uninterrupted one (issue 7's acceptance test); --annotate writes the latents' top
// examples into a model folder and the atlas shows them.
#include <cstdio>
#include <filesystem>
#include <limits>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "golgi/core/json.h"
#include "golgi/hooks/activation_store.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/methods/sae/sae.h"
#include "test_support.h"

namespace {

using golgi::Json;
using golgi::testing::run_cli;

constexpr int64_t kRows = 40000, kWidth = 512;

// 40,000 rows × 512 float32 (82 MB): sparse nonnegative combinations of 256 random unit atoms
// plus noise, and a second hook with 2-D rows [2, 3] that an SAE must refuse.
std::string make_store(const std::string& dir) {
  const std::string store = dir + "/store";
  golgi::hooks::StoreConfig config;
  config.hooks = {{"mlp.hook_post", {kWidth}}, {"conv.hook_out", {2, 3}}};
  config.shard_rows = 4096;
  config.dataset = {{"name", "synthetic-sparse"}, {"size", kRows}};
  golgi::hooks::ActivationStoreWriter writer(store, config);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(17);
  at::Tensor atoms = torch::randn({256, kWidth}, gen, torch::kFloat);
  atoms /= atoms.norm(2, {1}, true);
  for (int64_t begin = 0; begin < kRows; begin += 5000) {
    const int64_t n = std::min<int64_t>(5000, kRows - begin);
    at::Tensor chosen = std::get<1>(torch::rand({n, 256}, gen, torch::kFloat).topk(8, 1));
    at::Tensor weights = torch::zeros({n, 256}).scatter(1, chosen, torch::rand({n, 8}, gen, torch::kFloat) + 0.5);
    at::Tensor rows = weights.matmul(atoms) + 0.05 * torch::randn({n, kWidth}, gen, torch::kFloat);
    writer.append({{"mlp.hook_post", rows}, {"conv.hook_out", torch::zeros({n, 2, 3})}},
                  torch::arange(begin, begin + n, torch::kLong));
  }
  writer.finish();
  return store;
}

Json summary_of(const golgi::testing::CliResult& r) {
  const size_t brace = r.out.rfind("\n{");
  return Json::parse(brace == std::string::npos ? r.out : r.out.substr(brace + 1));
}

TEST(SaeCli, TrainsOverAStoreLargerThanTheBudgetAndResumesExactly) {
  const std::string dir = golgi::testing::scratch_dir("sae_cli");
  const std::string store = make_store(dir);
  const golgi::hooks::ActivationStoreReader reader(store);
  ASSERT_EQ(reader.rows(), kRows);
  const int64_t store_bytes = kRows * kWidth * 4;
  const int64_t budget = 64ll << 20;
  ASSERT_GT(store_bytes, budget);

  const std::string common = "--threads 1 --quiet sae train --store " + store +
                             " --hook mlp.hook_post --latents 512 --k 16 --batch-size 512 --lr 1e-3 --seed 4"
                             " --max-memory 64MB --checkpoint-every 10 --eval-rows 4000";
  // One uninterrupted run of 40 steps.
  auto whole = run_cli(common + " --steps 40 --out " + dir + "/whole");
  ASSERT_EQ(whole.exit_code, 0) << whole.out;
  const Json s = summary_of(whole);
  const int64_t buffer = s["buffer_rows"].get<int64_t>();
  std::printf("buffer %lld rows (%.1f MB) of %lld; fvu %.4f l0 %.2f dead %.3f\n", (long long)buffer,
              buffer * kWidth * 4 / 1048576.0, (long long)kRows, s["fvu"].get<double>(), s["l0"].get<double>(),
              s["dead_fraction"].get<double>());
  // The buffer plus its transient copy fits the budget, and the store is read in several runs
  // (40 steps × 512 rows = 20,480 rows visit at least two of them).
  EXPECT_LT(2 * buffer * kWidth * 4, budget);
  EXPECT_LT(buffer, kRows / 2);
  EXPECT_EQ(buffer, golgi::methods::sae_buffer_rows_for_budget(
                        kWidth, golgi::methods::SaeOptions().latents(512).k(16).batch_size(512), budget));
  EXPECT_EQ(s["steps"], 40);
  EXPECT_LT(s["fvu"].get<double>(), 1.0);
  EXPECT_LE(s["l0"].get<double>(), 16.0);

  // 20 steps, then --resume to 40: the same SAE.
  auto half = run_cli(common + " --steps 20 --out " + dir + "/resumed");
  ASSERT_EQ(half.exit_code, 0) << half.out;
  auto refused = run_cli(common + " --steps 40 --out " + dir + "/resumed");
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  EXPECT_NE(refused.out.find("--resume"), std::string::npos) << refused.out;
  auto rest = run_cli(common + " --steps 40 --resume --out " + dir + "/resumed");
  ASSERT_EQ(rest.exit_code, 0) << rest.out;
  EXPECT_EQ(summary_of(rest)["resumed"], true);

  Json info_whole, info_resumed;
  auto a = golgi::methods::SparseAutoencoder::load(dir + "/whole", &info_whole);
  auto b = golgi::methods::SparseAutoencoder::load(dir + "/resumed", &info_resumed);
  for (auto [x, y] : {std::pair{a.W_enc, b.W_enc}, {a.b_enc, b.b_enc}, {a.W_dec, b.W_dec}, {a.b_pre, b.b_pre}})
    EXPECT_LE((x - y).abs().max().item<float>(), 1e-6f);
  EXPECT_EQ(info_whole["hook"], "mlp.hook_post");
  EXPECT_EQ(info_whole["store"], store);
  EXPECT_NEAR(info_whole["metrics"]["fvu"].get<double>(), info_resumed["metrics"]["fvu"].get<double>(), 1e-6);

  // eval on the same 4000 rows gives the metrics recorded at the end of training.
  auto eval = run_cli("--threads 1 --quiet sae eval --sae " + dir + "/whole --store " + store + " --rows 4000");
  ASSERT_EQ(eval.exit_code, 0) << eval.out;
  const Json metrics = Json::parse(eval.out.substr(eval.out.find('{')))["metrics"];
  EXPECT_NEAR(metrics["fvu"].get<double>(), s["fvu"].get<double>(), 1e-6);
  EXPECT_NEAR(metrics["l0"].get<double>(), s["l0"].get<double>(), 1e-9);
}

TEST(SaeCli, BadInputsAreOneLineErrors) {
  const std::string dir = golgi::testing::scratch_dir("sae_cli_errors");
  const std::string store = dir + "/store";
  {
    golgi::hooks::StoreConfig config;
    config.hooks = {{"mlp.hook_post", {8}}, {"conv.hook_out", {2, 3}}};
    golgi::hooks::ActivationStoreWriter writer(store, config);
    writer.append({{"mlp.hook_post", torch::randn({64, 8})}, {"conv.hook_out", torch::zeros({64, 2, 3})}},
                  torch::arange(64, torch::kLong));
    writer.finish();
  }
  auto expect_error = [](const std::string& args, const std::string& needle) {
    auto r = run_cli("--quiet " + args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
  };
  const std::string base = "sae train --store " + store + " --out " + dir + "/out --latents 16 --k 4 --steps 2";
  expect_error(base + " --hook conv.hook_out", "1-D rows");
  expect_error(base + " --hook mlp.hook_pots", "mlp.hook_post");
  expect_error(base + " --hook mlp.hook_post --max-memory lots", "not a memory size");
  expect_error(base + " --hook mlp.hook_post --max-memory 10KB", "--max-memory");
  expect_error(base + " --hook mlp.hook_post --kind gated", "topk");
  expect_error("sae train --store " + dir + "/nowhere --hook h --out " + dir + "/o", "not an activation store");
  expect_error("sae eval --sae " + dir + "/missing --store " + store, "does not exist");
  auto help = run_cli("sae train --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--l1-coefficient"), std::string::npos);
}

// `golgi select` refuses bad input with one clear line: missing files, a fraction outside (0, 1],
// an unknown method, a missing SAE folder, and an SAE whose width is not the hook's.
TEST(SelectCli, BadInputsAreOneLineErrors) {
  const std::string dir = golgi::testing::scratch_dir("select_cli_errors");
  const std::string model = golgi::testing::source_dir() + "/assets/models/tiny-multilingual";
  const std::string sae = dir + "/sae7";
  golgi::methods::SparseAutoencoder(7, golgi::methods::SaeOptions().latents(8).k(2)).save(sae);
  for (const std::string name : {"pool.txt", "target.txt"}) {
    FILE* f = std::fopen((dir + "/" + name).c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("Der Hund schläft.\nThe cat sleeps.\n", f);
    std::fclose(f);
  }
  auto expect_error = [](const std::string& args, const std::string& needle) {
    auto r = run_cli("--quiet " + args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
  };
  const std::string files = " --target " + dir + "/target.txt --out " + dir + "/picked.jsonl";
  const std::string base = "select --model " + model + " --sae " + sae + " --hook blocks.2.mlp.hook_post" + files;
  expect_error(base + " --pool " + dir + "/nowhere.jsonl", "does not exist");
  expect_error(base + " --pool " + dir + "/pool.txt --fraction 0", "fraction");
  expect_error(base + " --pool " + dir + "/pool.txt --method bm25", "jaccard");
  expect_error("select --model " + model + " --sae " + dir + "/no_sae --hook blocks.2.mlp.hook_post --pool " + dir +
                   "/pool.txt" + files,
               "--sae");
  expect_error(base + " --pool " + dir + "/pool.txt", "width");
  EXPECT_FALSE(golgi::io::file_exists(dir + "/picked.jsonl"));
}

// `sae train --annotate MODEL_DIR` on a token store of the bundled model: MODEL_DIR/sae.json holds
// the live latents with text contexts, and `atlas build --annotators sae` writes one sae_latent
// annotation per (neuron, live latent) listed for the neuron.
TEST(SaeCli, AnnotateWritesLatentExamplesThatReachTheAtlas) {
  namespace fs = std::filesystem;
  const std::string dir = golgi::testing::scratch_dir("sae_cli_annotate");
  const std::string model = dir + "/model", hook = "blocks.2.mlp.hook_post";
  // A copy: --annotate writes into the model folder, never into the source tree's assets.
  fs::copy(golgi::testing::source_dir() + "/assets/models/tiny-multilingual", model, fs::copy_options::recursive);
  auto rec = run_cli("--quiet --threads 1 record --model " + model + " --limit 24 --hooks " + hook +
                     " --shard-rows 1000 --out " + dir + "/acts");
  ASSERT_EQ(rec.exit_code, 0) << rec.out;
  const golgi::hooks::ActivationStoreReader reader(dir + "/acts");
  ASSERT_TRUE(reader.token_rows());
  auto train = run_cli("--threads 1 --quiet sae train --store " + dir + "/acts --hook " + hook + " --out " + dir +
                       "/sae --latents 64 --k 4 --batch-size 256 --steps 15 --seed 2 --top 6 --annotate-rows 2000"
                       " --annotate " + model);
  ASSERT_EQ(train.exit_code, 0) << train.out;
  const Json doc = golgi::io::read_json_file(model + "/sae.json");
  EXPECT_EQ(doc["format"], "golgi-sae-features");
  EXPECT_EQ(doc["hook"], hook);
  EXPECT_EQ(doc["d_in"], 512);
  EXPECT_EQ(doc["latents"], 64);
  EXPECT_EQ(doc["scanned_rows"], std::min<int64_t>(2000, reader.rows()));
  EXPECT_TRUE(doc["metrics"].contains("fvu"));
  const int64_t live = doc["live_latents"];
  std::printf("%lld of 64 latents live on %lld rows; fvu %.3f\n", (long long)live,
              (long long)doc["scanned_rows"].get<int64_t>(), doc["metrics"]["fvu"].get<double>());
  EXPECT_GT(live, 0);
  ASSERT_EQ(doc["per_latent"].size(), static_cast<size_t>(live));
  for (const auto& l : doc["per_latent"]) {
    EXPECT_GT(l["frequency"].get<double>(), 0.0);
    ASSERT_FALSE(l["top_examples"].empty());
    EXPECT_LE(l["top_examples"].size(), 6u);
    EXPECT_EQ(l["neurons"].size(), 8u);
    double previous = std::numeric_limits<double>::infinity();
    for (const auto& e : l["top_examples"]) {
      EXPECT_LT(e["row"].get<int64_t>(), 2000);
      EXPECT_LE(e["value"].get<double>(), previous);
      previous = e["value"].get<double>();
      EXPECT_NE(e["context"].get<std::string>().find("[[" + e["token"].get<std::string>() + "]]"), std::string::npos);
      EXPECT_FALSE(e["language"].get<std::string>().empty());
    }
    EXPECT_NE(l["summary"].get<std::string>().find(" · "), std::string::npos) << l["summary"];
  }
  int64_t listed = 0;
  ASSERT_EQ(doc["per_neuron"].size(), 512u);
  for (const auto& entries : doc["per_neuron"]) listed += static_cast<int64_t>(entries.size());
  EXPECT_EQ(listed, 512 * std::min<int64_t>(3, live));

  auto atlas = run_cli("--quiet --threads 1 atlas build --model " + model + " --limit 8 --hooks " + hook +
                       " --annotators sae --out " + dir + "/atlas.db");
  ASSERT_EQ(atlas.exit_code, 0) << atlas.out;
  EXPECT_NE(atlas.out.find("\"annotations\": " + std::to_string(listed)), std::string::npos) << atlas.out;
}

}  // namespace
