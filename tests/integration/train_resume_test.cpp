// Training end to end through the CLI: resume after SIGKILL and after Ctrl-C ends with weights
// identical to an uninterrupted run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <torch/torch.h>

#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "test_support.h"

namespace {

using golgi::testing::run_cli;
using golgi::testing::spawn_cli;

const std::string kTrainArgs =
    "--threads 1 --quiet train --model cnn --dataset fashion-mnist --train-limit 3000 --test-limit 500 "
    "--epochs 2 --batch-size 50 --checkpoint-every 7 --warmup-steps 10 --seed 11";

// Waits until `path` exists (the run has written its first checkpoint), then a little longer so
// the kill lands mid-epoch.
bool wait_for_file(const std::string& path, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (golgi::io::file_exists(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void expect_same_weights(const std::string& a, const std::string& b) {
  auto ta = golgi::io::load_tensors(a + "/model.safetensors");
  auto tb = golgi::io::load_tensors(b + "/model.safetensors");
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); ++i) {
    EXPECT_EQ(ta[i].first, tb[i].first);
    EXPECT_TRUE(torch::equal(ta[i].second, tb[i].second)) << ta[i].first << " differs";
  }
}

class TrainResume : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // One folder per process: ctest runs the tests of this suite in parallel processes.
    reference_ = golgi::testing::scratch_dir("train_reference_" + std::to_string(getpid()));
    auto r = run_cli(kTrainArgs + " --out " + reference_);
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
  static std::string reference_;
};
std::string TrainResume::reference_;

TEST_F(TrainResume, UninterruptedRunWritesModelCardAndMetrics) {
  auto card = golgi::io::read_json_file(reference_ + "/model.json");
  EXPECT_EQ(card["architecture"], "cnn");
  EXPECT_EQ(card["card"]["seed"], 11);
  EXPECT_NE(card["card"]["command"].get<std::string>().find("--seed 11"), std::string::npos);
  auto metrics = golgi::io::read_json_file(reference_ + "/metrics.json");
  EXPECT_EQ(metrics["history"].size(), 2u);
  EXPECT_EQ(metrics["steps"], 120);
  // Far above chance (10%) even on 3000 samples: the loop really trains.
  EXPECT_GT(metrics["test"]["accuracy"].get<double>(), 0.6);
}

TEST_F(TrainResume, SigkillThenResumeGivesIdenticalWeights) {
  auto dir = golgi::testing::scratch_dir("train_sigkill");
  pid_t pid = spawn_cli(kTrainArgs + " --out " + dir, dir + "/../train_sigkill.log");
  ASSERT_TRUE(wait_for_file(dir + "/checkpoint.safetensors", 120));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed; make it longer";
  EXPECT_FALSE(golgi::io::file_exists(dir + "/model.safetensors"));
  auto r = run_cli(kTrainArgs + " --out " + dir + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  expect_same_weights(reference_, dir);
}

TEST_F(TrainResume, MaxStepsThenResumeGivesIdenticalWeights) {
  auto dir = golgi::testing::scratch_dir("train_maxsteps");
  // Stop exactly at an epoch boundary (60 steps per epoch) and mid-epoch, then finish.
  auto r = run_cli(kTrainArgs + " --out " + dir + " --max-steps 60");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = run_cli(kTrainArgs + " --out " + dir + " --max-steps 83 --resume");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = run_cli(kTrainArgs + " --out " + dir + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  expect_same_weights(reference_, dir);
  auto metrics = golgi::io::read_json_file(dir + "/metrics.json");
  auto reference = golgi::io::read_json_file(reference_ + "/metrics.json");
  EXPECT_EQ(metrics["test"]["accuracy"], reference["test"]["accuracy"]);
  EXPECT_EQ(metrics["history"][0]["train_loss"], reference["history"][0]["train_loss"]);
}

TEST_F(TrainResume, CtrlCSavesCheckpointAndExits130) {
  auto dir = golgi::testing::scratch_dir("train_sigint");
  pid_t pid = spawn_cli(kTrainArgs + " --out " + dir, dir + "/../train_sigint.log");
  ASSERT_TRUE(wait_for_file(dir + "/checkpoint.safetensors", 120));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 0) GTEST_SKIP() << "the run finished before SIGINT arrived";
  EXPECT_EQ(WEXITSTATUS(status), 130);
  auto r = run_cli(kTrainArgs + " --out " + dir + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  expect_same_weights(reference_, dir);
}

TEST_F(TrainResume, ResumeWithOtherOptionsIsRefused) {
  auto dir = golgi::testing::scratch_dir("train_refuse");
  auto r = run_cli(kTrainArgs + " --out " + dir + " --max-steps 5");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = run_cli(kTrainArgs + " --out " + dir + " --resume --lr 0.1");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("cannot resume"), std::string::npos) << r.out;
}

}  // namespace
