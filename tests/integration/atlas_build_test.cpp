// golgi atlas build end to end: statistics and exemplars against an independent pass over the same
// examples, text exemplar windows, annotators, resume after SIGKILL, atomic output, and memory that
// does not grow with the dataset.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include <torch/torch.h>

#include "golgi/atlas/schema.h"
#include "golgi/atlas/sqlite.h"
#include "golgi/core/json.h"
#include "golgi/data/registry.h"
#include "golgi/hooks/scoped_hooks.h"
#include "golgi/io/atomic_file.h"
#include "golgi/models/registry.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using golgi::Json;
using golgi::atlas::Database;
using golgi::testing::run_cli;
using golgi::testing::spawn_cli;

std::string cnn_dir() { return golgi::testing::source_dir() + "/assets/models/fashion-cnn"; }
std::string lm_dir() { return golgi::testing::source_dir() + "/assets/models/tiny-multilingual"; }

std::string cnn_args(const std::string& out, int64_t limit, const std::string& extra = "") {
  return "--threads 1 --quiet atlas build --model " + cnn_dir() + " --limit " + std::to_string(limit) +
         " --batch-size 8 --exemplars 5 --out " + out + " " + extra;
}

// Exit status and peak resident memory (KiB) of a CLI run.
std::pair<int, long> run_measured(const std::string& args, const std::string& log) {
  pid_t pid = spawn_cli(args, log);
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, usage.ru_maxrss};
}

// Rows of a query as one string, for comparing two atlases.
std::string dump(const std::string& path, const std::string& sql) {
  Database db = golgi::atlas::open_atlas(path);
  auto q = db.prepare(sql);
  std::string out;
  while (q.step()) {
    for (int c = 0; c < q.columns(); ++c) out += q.text(c) + "|";
    out += "\n";
  }
  return out;
}

TEST(AtlasBuild, CnnStatisticsAndExemplarsMatchAnIndependentPass) {
  auto dir = golgi::testing::scratch_dir("atlas_cnn_stats");
  const std::string out = dir + "/cnn.db";
  auto r = run_cli(cnn_args(out, 300));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  ASSERT_TRUE(golgi::io::file_exists(out));
  EXPECT_FALSE(golgi::io::file_exists(out + ".partial"));

  // Independent pass: the same 300 test images, fc1.hook_post read directly.
  auto loaded = golgi::models::load_model(cnn_dir());
  loaded.model->eval();
  golgi::data::DataOptions options;
  options.split = "test";
  auto data = golgi::data::load_dataset("fashion-mnist", options)->head(300);
  at::Tensor acts;
  {
    auto guard = golgi::hooks::read_hook(*loaded.model, "fc1.hook_post", [&](const at::Tensor& a) { acts = a.detach().clone(); });
    torch::NoGradGuard no_grad;
    loaded.model->forward(data->inputs());
  }
  ASSERT_TRUE(acts.defined());
  const int64_t neurons = acts.size(1);
  Database db = golgi::atlas::open_atlas(out);
  auto q = db.prepare(
      "SELECT n.idx, n.mean, n.max, n.prob_active, n.std FROM neurons n JOIN hooks h ON h.id = n.hook_id "
      "WHERE h.name = 'fc1.hook_post' ORDER BY n.idx");
  int64_t rows = 0;
  while (q.step()) {
    const int64_t j = q.integer(0);
    at::Tensor column = acts.select(1, j).to(torch::kDouble);
    EXPECT_NEAR(q.real(1), column.mean().item<double>(), 1e-3 * (1 + std::fabs(column.mean().item<double>()))) << j;
    EXPECT_NEAR(q.real(2), column.max().item<double>(), 1e-3 * (1 + column.max().item<double>())) << j;
    EXPECT_NEAR(q.real(3), column.gt(0).to(torch::kDouble).mean().item<double>(), 1e-3) << j;
    EXPECT_NEAR(q.real(4), column.std(/*unbiased=*/false).item<double>(), 2e-3 * (1 + column.std().item<double>())) << j;
    ++rows;
  }
  EXPECT_EQ(rows, neurons);

  // The top exemplars of every fc1 neuron are the 5 largest activations (ties: smaller index).
  auto ex = db.prepare(
      "SELECT n.idx, e.rank, e.example_id, e.activation FROM exemplars e JOIN neurons n ON n.id = e.neuron_id "
      "JOIN hooks h ON h.id = n.hook_id WHERE h.name = 'fc1.hook_post' ORDER BY n.idx, e.rank");
  int64_t checked = 0;
  while (ex.step()) {
    const int64_t j = ex.integer(0), rank = ex.integer(1);
    auto sorted = acts.select(1, j).sort(/*stable=*/true, /*dim=*/0, /*descending=*/true);
    EXPECT_EQ(ex.integer(2), std::get<1>(sorted)[rank].item<int64_t>()) << "neuron " << j << " rank " << rank;
    EXPECT_FLOAT_EQ(static_cast<float>(ex.real(3)), std::get<0>(sorted)[rank].item<float>());
    ++checked;
  }
  EXPECT_EQ(checked, neurons * 5);

  // Conv exemplars carry masks and input images; every image is a PNG.
  auto masks = db.prepare(
      "SELECT count(*), sum(e.mask_image_id IS NOT NULL) FROM exemplars e JOIN neurons n ON n.id = e.neuron_id "
      "JOIN hooks h ON h.id = n.hook_id WHERE h.kind = 'conv'");
  ASSERT_TRUE(masks.step());
  EXPECT_GT(masks.integer(0), 0);
  EXPECT_EQ(masks.integer(0), masks.integer(1));
  auto images = db.prepare("SELECT count(*), sum(CAST(substr(png, 2, 3) AS TEXT) = 'PNG') FROM images");
  ASSERT_TRUE(images.step());
  EXPECT_GT(images.integer(0), 0);
  EXPECT_EQ(images.integer(0), images.integer(1));
  auto inputs = db.prepare("SELECT count(*) FROM examples WHERE image_id IS NULL");
  ASSERT_TRUE(inputs.step());
  EXPECT_EQ(inputs.integer(0), 0);

  // label-selectivity ran; the language-model annotators said they do not apply.
  auto info = run_cli("atlas info " + out);
  ASSERT_EQ(info.exit_code, 0) << info.out;
  Json j = Json::parse(info.out);
  EXPECT_EQ(j["annotators"].count("label-selectivity"), 1u);
  EXPECT_EQ(j["annotators"].count("lmhead-decode"), 0u);
  EXPECT_EQ(j["build"]["complete"], true);

  // feature-vis: one activation-maximisation image per neuron (at most 256 per hook), each a
  // stored PNG; the class images raise their own class above chance.
  EXPECT_EQ(j["annotators"].count("feature-vis"), 1u);
  auto vis = db.prepare(
      "SELECT h.kind, min(h.neurons, 256), count(*), sum(i.id IS NOT NULL), avg(json_extract(a.value_json, "
      "'$.probability')) FROM annotations a JOIN neurons n ON n.id = a.neuron_id JOIN hooks h ON h.id = n.hook_id "
      "LEFT JOIN images i ON i.id = json_extract(a.value_json, '$.image_id') WHERE a.kind = 'feature_vis' "
      "GROUP BY h.id");
  int64_t vis_hooks = 0;
  while (vis.step()) {
    EXPECT_EQ(vis.integer(2), vis.integer(1)) << vis.text(0);
    EXPECT_EQ(vis.integer(3), vis.integer(2)) << vis.text(0);
    if (vis.text(0) == "logits") EXPECT_GT(vis.real(4), 0.5);
    ++vis_hooks;
  }
  auto hook_count = db.prepare("SELECT count(*) FROM hooks");
  ASSERT_TRUE(hook_count.step());
  EXPECT_EQ(vis_hooks, hook_count.integer(0));

  // A complete atlas is left alone.
  auto again = run_cli(cnn_args(out, 300));
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_NE(again.out.find("already_complete\": true"), std::string::npos) << again.out;
}

TEST(AtlasBuild, LanguageModelExemplarWindowsAndAnnotators) {
  auto dir = golgi::testing::scratch_dir("atlas_lm");
  const std::string out = dir + "/lm.db";
  auto r = run_cli("--threads 1 --quiet atlas build --model " + lm_dir() + " --limit 24 --batch-size 8 --exemplars 3 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  Database db = golgi::atlas::open_atlas(out);
  // Windows spread over the languages: every one of the 12 labels streamed some tokens.
  auto labels = db.prepare("SELECT count(*) FROM labels WHERE positions > 0");
  ASSERT_TRUE(labels.step());
  EXPECT_EQ(labels.integer(0), 12);
  // Each window holds the maximum at position - window_start, with the stored activation.
  auto ex = db.prepare(
      "SELECT e.activation, e.position, e.window_start, e.acts_json, x.tokens_json FROM exemplars e "
      "JOIN neurons n ON n.id = e.neuron_id JOIN examples x ON x.id = e.example_id AND x.model_id = n.model_id "
      "WHERE e.rank = 0 LIMIT 200");
  int64_t windows = 0;
  while (ex.step()) {
    const double activation = ex.real(0);
    const int64_t position = ex.integer(1), start = ex.integer(2);
    Json acts = Json::parse(ex.text(3)), tokens = Json::parse(ex.text(4));
    ASSERT_GE(position, start);
    ASSERT_LT(position - start, static_cast<int64_t>(acts.size()));
    EXPECT_LE(static_cast<int64_t>(acts.size()), 32 + 8 + 1);
    EXPECT_NEAR(acts[static_cast<size_t>(position - start)].get<double>(), activation, 5e-3 * (1 + std::fabs(activation)));
    EXPECT_LT(start + static_cast<int64_t>(acts.size()) - 1, static_cast<int64_t>(tokens.size()));
    ++windows;
  }
  EXPECT_EQ(windows, 200);
  auto kinds = db.prepare("SELECT kind, count(*) FROM annotations GROUP BY kind ORDER BY kind");
  std::map<std::string, int64_t> counts;
  while (kinds.step()) counts[kinds.text(0)] = kinds.integer(1);
  EXPECT_EQ(counts["decoded_tokens"], 2 * 4 * 512);  // input and output side of every MLP neuron
  EXPECT_GT(counts["language"], 0);
}

TEST(AtlasBuild, ResumesAfterSigkillWithTheSameResult) {
  auto dir = golgi::testing::scratch_dir("atlas_resume");
  const std::string reference = dir + "/reference.db", out = dir + "/killed.db";
  const std::string extra = "--checkpoint-every 1 --annotators none";
  auto r = run_cli(cnn_args(reference, 3000, extra));
  ASSERT_EQ(r.exit_code, 0) << r.out;

  pid_t pid = spawn_cli(cnn_args(out, 3000, extra), dir + "/killed.log");
  // Kill once the stream has checkpointed at least once.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!golgi::io::file_exists(out + ".partial.stream") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the build finished before it could be killed; make it longer";
  // Readers never see a half-built atlas.
  EXPECT_FALSE(golgi::io::file_exists(out));
  EXPECT_TRUE(golgi::io::file_exists(out + ".partial"));

  // Other options are refused rather than mixed into the unfinished build.
  auto other = run_cli(cnn_args(out, 3000, "--checkpoint-every 1 --annotators none --histogram-bins 16"));
  EXPECT_EQ(other.exit_code, 2) << other.out;
  EXPECT_NE(other.out.find("--restart"), std::string::npos) << other.out;

  auto resumed = run_cli(cnn_args(out, 3000, extra));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  EXPECT_EQ(resumed.out.find("\"resumed_at_example\": -1"), std::string::npos) << "the rerun did not resume: " << resumed.out;
  EXPECT_FALSE(golgi::io::file_exists(out + ".partial"));
  EXPECT_FALSE(golgi::io::file_exists(out + ".partial.stream"));
  const std::string neurons = "SELECT ref, mean, std, min, max, prob_active, top_label, selectivity, histogram_json FROM neurons ORDER BY id";
  const std::string exemplars = "SELECT neuron_id, rank, activation, example_id, position FROM exemplars ORDER BY neuron_id, rank";
  const std::string per_label = "SELECT * FROM neuron_labels ORDER BY neuron_id, label_id";
  EXPECT_EQ(dump(out, neurons), dump(reference, neurons));
  EXPECT_EQ(dump(out, exemplars), dump(reference, exemplars));
  EXPECT_EQ(dump(out, per_label), dump(reference, per_label));
}

TEST(AtlasBuild, MemoryDoesNotGrowWithTheDataset) {
  auto dir = golgi::testing::scratch_dir("atlas_memory");
  // Both runs load the same test split; only the number of streamed images differs (20x).
  auto small = run_measured(cnn_args(dir + "/small.db", 500, "--annotators none"), dir + "/small.log");
  auto large = run_measured(cnn_args(dir + "/large.db", 10000, "--annotators none"), dir + "/large.log");
  ASSERT_EQ(small.first, 0) << golgi::io::read_file(dir + "/small.log");
  ASSERT_EQ(large.first, 0) << golgi::io::read_file(dir + "/large.log");
  // The bound the options set: batch activations + neurons x (exemplars + histogram sample) are a few
  // MB; 20x more images must not cost more than that.
  const long grown_kib = large.second - small.second;
  EXPECT_LT(grown_kib, 24 * 1024) << "peak RSS grew from " << small.second << " KiB to " << large.second << " KiB";
}

TEST(AtlasBuild, BadInputGetsOneClearError) {
  auto dir = golgi::testing::scratch_dir("atlas_bad_input");
  auto missing = run_cli("--quiet atlas build --model " + dir + "/nope --out " + dir + "/x.db");
  EXPECT_EQ(missing.exit_code, 2);
  auto hook = run_cli("--quiet atlas build --model " + cnn_dir() + " --hooks 'nothing.hook_here' --out " + dir + "/x.db");
  EXPECT_EQ(hook.exit_code, 2);
  EXPECT_NE(hook.out.find("no hook point matches"), std::string::npos) << hook.out;
  auto annotator = run_cli("--quiet atlas build --model " + cnn_dir() + " --annotators lmhead-decod --out " + dir + "/x.db");
  EXPECT_EQ(annotator.exit_code, 2);
  EXPECT_NE(annotator.out.find("lmhead-decode"), std::string::npos) << annotator.out;
  EXPECT_FALSE(golgi::io::file_exists(dir + "/x.db"));
}

TEST(AtlasBuild, BareOutputFileNameLandsInTheCurrentFolder) {
  // `--out atlas.db` (no folder) used to fail with "cannot create a folder with an empty path".
  auto dir = golgi::testing::scratch_dir("atlas_bare_name");
  const std::string model = std::filesystem::absolute(cnn_dir()).string();
  const auto previous = std::filesystem::current_path();
  std::filesystem::current_path(dir);
  auto r = run_cli("--threads 1 --quiet atlas build --model " + model + " --limit 20 --batch-size 8 --exemplars 2 --out bare.db");
  std::filesystem::current_path(previous);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(golgi::io::file_exists(dir + "/bare.db"));
}

}  // namespace

namespace {

TEST(AtlasDemo, NoServeBuildsBothBundledAtlasesThenReusesThem) {
  auto dir = golgi::testing::scratch_dir("atlas_demo");
  const std::string args = "--threads 1 --quiet demo --no-serve --lm-limit 24 --atlas-dir " + dir;
  auto first = run_cli(args);
  ASSERT_EQ(first.exit_code, 0) << first.out;
  for (const char* name : {"tiny-multilingual", "fashion-cnn"}) {
    const std::string path = dir + "/" + name + ".db";
    ASSERT_TRUE(golgi::io::file_exists(path)) << path;
    Database db = golgi::atlas::open_atlas(path);
    auto q = db.prepare("SELECT name FROM models");
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.text(0), name);
  }
  auto second = run_cli(args);
  ASSERT_EQ(second.exit_code, 0) << second.out;
  EXPECT_NE(second.out.find("tiny-multilingual.db is ready (cached)"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("fashion-cnn.db is ready (cached)"), std::string::npos) << second.out;
}

}  // namespace
