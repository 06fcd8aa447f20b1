// Sparse autoencoders (methods/sae, paper id sae-select): the codes' contract (TopK sparsity,
// non-negativity, unit-norm decoder), recovery of a planted dictionary, the ReLU + L1 trade-off,
// dead-latent bookkeeping and AuxK, bit-exact resume, save/load, metric known values, bad input.
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/runtime.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/methods/sae/sae.h"
#include "test_support.h"

namespace golgi::methods {
namespace {

using golgi::testing::error_of;
using golgi::testing::scratch_dir;

SaeRows rows_of(const at::Tensor& data) {
  return [data](int64_t begin, int64_t end) { return data.slice(0, begin, end); };
}

// A planted dictionary: `atoms` random unit vectors in R^d; each row is a nonnegative combination
// of `active` of them (weights in [0.5, 1.5]) plus Gaussian noise of standard deviation `noise`.
struct Planted {
  at::Tensor atoms;  // [atoms, d]
  at::Tensor rows;   // [n, d]
};
Planted planted(int64_t n, int64_t d, int64_t atoms, int64_t active, double noise, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  Planted p;
  p.atoms = torch::randn({atoms, d}, gen, torch::kFloat);
  p.atoms /= p.atoms.norm(2, {1}, true);
  at::Tensor scores = torch::rand({n, atoms}, gen, torch::kFloat);
  at::Tensor chosen = std::get<1>(scores.topk(active, 1));
  at::Tensor weights = torch::zeros({n, atoms}).scatter(1, chosen, 0.5 + torch::rand({n, active}, gen, torch::kFloat));
  p.rows = weights.matmul(p.atoms) + noise * torch::randn({n, d}, gen, torch::kFloat);
  return p;
}

at::Tensor gaussian(int64_t n, int64_t d, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::randn({n, d}, gen, torch::kFloat) + 0.5;
}

TEST(SaeTopK, CodesAreSparseNonnegativeAndDecoderColumnsUnitNorm) {
  ScopedThreads one(1);
  const at::Tensor data = gaussian(600, 16, 1);
  auto options = SaeOptions().latents(48).k(5).batch_size(64).steps(25).lr(3e-3);
  auto result = train_sae(rows_of(data), 600, 16, options);
  ASSERT_EQ(result.steps, 25);
  ASSERT_EQ(result.loss_history.size(), 25u);
  at::Tensor z = result.sae.encode(data);
  ASSERT_EQ(z.sizes(), (std::vector<int64_t>{600, 48}));
  EXPECT_LE((z > 0).sum(1).max().item<int64_t>(), 5);
  EXPECT_GE((z > 0).sum(1).min().item<int64_t>(), 1);
  EXPECT_GE(z.min().item<float>(), 0.0f);
  at::Tensor norms = result.sae.W_dec.norm(2, {0});
  EXPECT_LT((norms - 1).abs().max().item<float>(), 1e-5f);
  // The training loss fell, and the batch metrics agree with a direct evaluation's scale.
  EXPECT_LT(result.loss_history.back(), result.loss_history.front());
  EXPECT_LE(result.final_batch.l0, 5.0);
}

TEST(SaeTopK, RecoversAPlantedDictionary) {
  ScopedThreads one(1);
  // 64 unit atoms in d = 32, 3 active per row, noise 0.01 per coordinate.
  const Planted p = planted(8192, 32, 64, 3, 0.01, 7);
  auto options = SaeOptions().latents(128).k(4).batch_size(256).steps(600).lr(4e-3).seed(3).dead_after_rows(4096);
  SaeTrainOptions train;
  train.buffer_rows = 3000;  // three runs of rows, shuffled within each
  auto result = train_sae(rows_of(p.rows), p.rows.size(0), 32, options, train);
  const SaeMetrics m = evaluate_sae(result.sae, rows_of(p.rows), p.rows.size(0), 1000);
  // Max cosine of each planted atom with any decoder column.
  at::Tensor cos = p.atoms.matmul(result.sae.W_dec);  // [atoms, latents], both unit norm
  at::Tensor best = std::get<0>(cos.max(1));
  const double recovered = (best >= 0.9).to(torch::kDouble).mean().item<double>();
  RecordProperty("fvu", std::to_string(m.fvu));
  RecordProperty("recovered", std::to_string(recovered));
  std::printf("planted: fvu %.4f l0 %.2f dead %.3f recovered(cos>=0.9) %.3f\n", m.fvu, m.l0, m.dead_fraction,
              recovered);
  EXPECT_LT(m.fvu, 0.1);
  EXPECT_LE(m.l0, 4.0);
  EXPECT_GE(recovered, 0.8);
}

TEST(SaeRelu, L1TradesReconstructionForSparsity) {
  ScopedThreads one(1);
  const Planted p = planted(2048, 16, 32, 3, 0.01, 11);
  std::vector<double> l0s, fvus;
  for (double l1 : {0.05, 0.5, 5.0}) {
    auto options = SaeOptions().kind("relu").latents(64).l1_coefficient(l1).batch_size(128).steps(150).lr(3e-3);
    auto result = train_sae(rows_of(p.rows), 2048, 16, options);
    const SaeMetrics m = evaluate_sae(result.sae, rows_of(p.rows), 2048);
    EXPECT_LT(result.loss_history.back(), result.loss_history.front()) << "l1 " << l1;
    EXPECT_GE(result.sae.encode(p.rows).min().item<float>(), 0.0f);
    std::printf("relu l1 %.2f: fvu %.4f l0 %.2f\n", l1, m.fvu, m.l0);
    l0s.push_back(m.l0);
    fvus.push_back(m.fvu);
  }
  EXPECT_LT(fvus.front(), 0.2);  // a light penalty reconstructs well
  EXPECT_GT(l0s[0], l0s[1]);
  EXPECT_GT(l0s[1], l0s[2]);
  EXPECT_LT(fvus[0], fvus[2]);
}

TEST(SaeDead, ALatentThatNeverFiresIsDead) {
  // Evaluation: latents whose bias keeps them below zero never fire, and only they are dead.
  SparseAutoencoder sae(8, SaeOptions().kind("relu").latents(10));
  const at::Tensor data = gaussian(300, 8, 2);
  {
    torch::NoGradGuard no_grad;
    sae.b_enc.index_put_({0}, -1e6);
    sae.b_enc.index_put_({3}, -1e6);
  }
  const SaeMetrics m = evaluate_sae(sae, rows_of(data), 300, 64);
  const at::Tensor z = sae.encode(data);
  const double never = ((z > 0).any(0).logical_not()).sum().item<double>() / 10.0;
  EXPECT_GE(m.dead_fraction, 0.2 - 1e-12);
  EXPECT_DOUBLE_EQ(m.dead_fraction, never);

  // Training: an L1 weight so large that every code is driven to zero kills every latent once
  // dead_after_rows rows have passed without a firing.
  auto options = SaeOptions().kind("relu").latents(16).l1_coefficient(1e4).batch_size(50).steps(60).lr(0.05)
                     .dead_after_rows(100);
  auto result = train_sae(rows_of(data), 300, 8, options);
  EXPECT_DOUBLE_EQ(result.final_batch.dead_fraction, 1.0);
  EXPECT_EQ(result.final_batch.l0, 0.0);
}

TEST(SaeDead, AuxKIsZeroWithoutDeadLatentsAndRevivesThem) {
  ScopedThreads one(1);
  const Planted p = planted(2048, 16, 32, 2, 0.01, 5);
  // No latent can be dead within 30 steps of 64 rows when dead_after_rows is huge: the AuxK term
  // is then exactly 0, so its coefficient cannot change anything.
  auto base = SaeOptions().latents(64).k(2).batch_size(64).steps(30).lr(3e-3).dead_after_rows(1000000);
  auto without = train_sae(rows_of(p.rows), 2048, 16, SaeOptions(base).aux_coefficient(0.0));
  auto with = train_sae(rows_of(p.rows), 2048, 16, SaeOptions(base).aux_coefficient(1.0));
  EXPECT_EQ(without.loss_history, with.loss_history);
  EXPECT_TRUE(torch::equal(without.sae.W_dec, with.sae.W_dec));
  EXPECT_EQ(with.final_batch.dead_fraction, 0.0);

  // With a short dead window (256 latents for 32 atoms, k = 2) many latents die; then AuxK is
  // active and changes the trajectory from the first step that has dead latents on.
  auto short_window = SaeOptions(base).latents(256).steps(60).dead_after_rows(256);
  auto plain = train_sae(rows_of(p.rows), 2048, 16, SaeOptions(short_window).aux_coefficient(0.0));
  auto aux = train_sae(rows_of(p.rows), 2048, 16, SaeOptions(short_window).aux_coefficient(1.0 / 32));
  EXPECT_GT(plain.final_batch.dead_fraction, 0.0);
  // Steps 1..4 see 256 rows at most, so no latent can be dead yet: identical so far.
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(plain.loss_history[i], aux.loss_history[i]) << "step " << i;
  EXPECT_NE(plain.loss_history.back(), aux.loss_history.back());
}

TEST(SaeTrain, ResumedRunEqualsUninterruptedRun) {
  ScopedThreads one(1);
  const at::Tensor data = planted(1000, 12, 24, 3, 0.02, 9).rows;
  const std::string dir = scratch_dir("sae_resume");
  // buffer 300 of 1000 rows: 4 runs (the last of 100), batches of 64 that do not divide a run.
  // A dead window of one batch: some latents are dead at most steps, so AuxK and the dead
  // counters are part of what must be restored.
  auto options = SaeOptions().latents(64).k(3).batch_size(64).steps(40).lr(3e-3).dead_after_rows(64);
  SaeTrainOptions train;
  train.buffer_rows = 300;
  train.checkpoint_every = 7;
  auto whole = train_sae(rows_of(data), 1000, 12, options, train);
  EXPECT_GT(whole.final_batch.dead_fraction, 0.0);

  train.checkpoint = dir + "/checkpoint.safetensors";
  auto first = train_sae(rows_of(data), 1000, 12, SaeOptions(options).steps(20), train);
  EXPECT_FALSE(first.resumed);
  // Without resume an existing checkpoint is an error, never silently overwritten.
  EXPECT_NE(error_of([&] { train_sae(rows_of(data), 1000, 12, options, train); }).find("--resume"),
            std::string::npos);
  // Other options than the checkpoint's: refused.
  train.resume = true;
  EXPECT_NE(error_of([&] { train_sae(rows_of(data), 1000, 12, SaeOptions(options).lr(1e-2), train); })
                .find("other options"),
            std::string::npos);
  auto rest = train_sae(rows_of(data), 1000, 12, options, train);
  EXPECT_TRUE(rest.resumed);
  EXPECT_EQ(rest.steps, 40);
  EXPECT_EQ(rest.loss_history, whole.loss_history);
  EXPECT_TRUE(torch::equal(rest.sae.W_enc, whole.sae.W_enc));
  EXPECT_TRUE(torch::equal(rest.sae.W_dec, whole.sae.W_dec));
  EXPECT_TRUE(torch::equal(rest.sae.b_enc, whole.sae.b_enc));
  EXPECT_TRUE(torch::equal(rest.sae.b_pre, whole.sae.b_pre));
  // A run stopped early (Ctrl-C in the CLI) checkpoints where it stopped and resumes exactly.
  const std::string stopped = dir + "/stopped.safetensors";
  SaeTrainOptions interrupted = train;
  interrupted.checkpoint = stopped;
  interrupted.resume = false;
  interrupted.checkpoint_every = 1000;  // only the stop writes one
  int64_t asked = 0;
  interrupted.stop = [&asked] { return ++asked == 13; };
  auto cut = train_sae(rows_of(data), 1000, 12, options, interrupted);
  EXPECT_TRUE(cut.interrupted);
  EXPECT_EQ(cut.steps, 13);
  interrupted.stop = nullptr;
  interrupted.resume = true;
  auto finished = train_sae(rows_of(data), 1000, 12, options, interrupted);
  EXPECT_FALSE(finished.interrupted);
  EXPECT_EQ(finished.loss_history, whole.loss_history);
  EXPECT_TRUE(torch::equal(finished.sae.W_dec, whole.sae.W_dec));

  // A different buffer changes the data order: refused.
  train.buffer_rows = 250;
  EXPECT_NE(error_of([&] { train_sae(rows_of(data), 1000, 12, SaeOptions(options).steps(50), train); })
                .find("buffer"),
            std::string::npos);
}

TEST(SaeTrain, SameSeedSameResultOtherSeedOther) {
  ScopedThreads one(1);
  const at::Tensor data = gaussian(400, 8, 4);
  auto options = SaeOptions().latents(16).k(2).batch_size(32).steps(10);
  auto a = train_sae(rows_of(data), 400, 8, options);
  auto b = train_sae(rows_of(data), 400, 8, options);
  auto c = train_sae(rows_of(data), 400, 8, SaeOptions(options).seed(1));
  EXPECT_TRUE(torch::equal(a.sae.W_dec, b.sae.W_dec));
  EXPECT_FALSE(torch::equal(a.sae.W_dec, c.sae.W_dec));
}

TEST(SaeTrain, ReadsRowsInBufferSizedRuns) {
  const at::Tensor data = gaussian(1000, 4, 6);
  int64_t largest = 0, calls = 0;
  SaeRows counting = [&](int64_t begin, int64_t end) {
    largest = std::max(largest, end - begin);
    ++calls;
    return data.slice(0, begin, end);
  };
  SaeTrainOptions train;
  train.buffer_rows = 128;
  train_sae(counting, 1000, 4, SaeOptions().latents(8).k(2).batch_size(32).steps(70), train);
  EXPECT_EQ(largest, 128);
  EXPECT_GE(calls, 8);  // 70 steps × 32 rows visit all 8 runs at least once
}

TEST(SaeTrain, BadRowsAndOptionsAreErrors) {
  at::Tensor data = gaussian(200, 6, 3);
  data.index_put_({137, 2}, std::nanf(""));
  SaeTrainOptions train;
  train.buffer_rows = 50;
  const std::string nan_error =
      error_of([&] { train_sae(rows_of(data), 200, 6, SaeOptions().latents(8).k(2).batch_size(10).steps(100), train); });
  EXPECT_NE(nan_error.find("row 137"), std::string::npos) << nan_error;
  EXPECT_NE(nan_error.find("[100, 150)"), std::string::npos) << nan_error;
  EXPECT_NE(error_of([&] { train_sae(rows_of(data), 200, 7, SaeOptions().latents(8).k(2), train); }).find("[50, 7]"),
            std::string::npos);
  EXPECT_NE(error_of([] { SparseAutoencoder(6, SaeOptions().latents(8).k(9)); }).find("'sae.k'"),
            std::string::npos);
  EXPECT_NE(error_of([] { SparseAutoencoder(6, SaeOptions().kind("gated")); }).find("topk"), std::string::npos);
  SparseAutoencoder sae(6, SaeOptions().latents(8).k(2));
  EXPECT_NE(error_of([&] { sae.encode(torch::zeros({3, 5})); }).find("[n, 6]"), std::string::npos);
  EXPECT_NE(error_of([&] { sae.decode(torch::zeros({3, 6})); }).find("[n, 8]"), std::string::npos);
}

TEST(SaeMetricsTest, KnownValues) {
  // Perfect reconstruction: identity encoder and decoder on nonnegative rows (ReLU keeps them).
  const int64_t d = 5;
  SparseAutoencoder sae(d, SaeOptions().kind("relu").latents(d));
  {
    torch::NoGradGuard no_grad;
    sae.W_enc = torch::eye(d);
    sae.W_dec = torch::eye(d);
    sae.b_enc.zero_();
    sae.b_pre.zero_();
  }
  const at::Tensor data = gaussian(103, d, 8).abs() + 1;
  SaeMetrics perfect = evaluate_sae(sae, rows_of(data), 103, 10);
  EXPECT_NEAR(perfect.fvu, 0.0, 1e-12);
  EXPECT_NEAR(perfect.mse, 0.0, 1e-12);
  EXPECT_DOUBLE_EQ(perfect.l0, double(d));
  EXPECT_EQ(perfect.dead_fraction, 0.0);
  EXPECT_EQ(perfect.rows, 103);

  // Reconstruction by the mean: no latent fires, x̂ = b_pre = mean(h): FVU 1, every latent dead,
  // and mse = Σ‖h − mean‖² / n, computed independently in double.
  {
    torch::NoGradGuard no_grad;
    sae.W_enc.zero_();
    sae.b_pre.copy_(data.mean(0));
  }
  SaeMetrics by_mean = evaluate_sae(sae, rows_of(data), 103, 10);
  const at::Tensor dd = data.to(torch::kDouble);
  const double variance = (dd - dd.mean(0)).pow(2).sum().item<double>();
  EXPECT_NEAR(by_mean.fvu, 1.0, 1e-5);
  EXPECT_NEAR(by_mean.mse, variance / 103, 1e-5 * variance / 103);
  EXPECT_EQ(by_mean.l0, 0.0);
  EXPECT_EQ(by_mean.dead_fraction, 1.0);
}

TEST(SaeSave, RoundTrip) {
  const std::string dir = scratch_dir("sae_save");
  const at::Tensor data = gaussian(200, 6, 12);
  auto trained = train_sae(rows_of(data), 200, 6, SaeOptions().latents(12).k(3).batch_size(20).steps(5)).sae;
  trained.save(dir + "/sae", Json{{"hook", "blocks.0.mlp.hook_post"}});
  Json info;
  SparseAutoencoder loaded = SparseAutoencoder::load(dir + "/sae", &info);
  EXPECT_EQ(info["hook"], "blocks.0.mlp.hook_post");
  EXPECT_EQ(loaded.d_in(), 6);
  EXPECT_EQ(loaded.latents(), 12);
  EXPECT_EQ(loaded.options().k(), 3);
  EXPECT_TRUE(torch::equal(loaded.encode(data), trained.encode(data)));
  EXPECT_TRUE(torch::equal(loaded.W_dec, trained.W_dec));
  EXPECT_EQ(io::read_json_file(dir + "/sae/sae.json")["format"], "golgi-sae");
}

TEST(SaeSave, LoadErrors) {
  const std::string dir = scratch_dir("sae_load_errors");
  SparseAutoencoder sae(6, SaeOptions().latents(12).k(3));
  EXPECT_NE(error_of([&] { SparseAutoencoder::load(dir + "/missing"); }).find("does not exist"), std::string::npos);

  sae.save(dir + "/corrupt");
  io::write_file_atomic(dir + "/corrupt/sae.safetensors", "not a safetensors file at all");
  EXPECT_NE(error_of([&] { SparseAutoencoder::load(dir + "/corrupt"); }), "");

  sae.save(dir + "/shape");
  Json doc = io::read_json_file(dir + "/shape/sae.json");
  doc["d_in"] = 7;
  io::write_json_file(dir + "/shape/sae.json", doc);
  EXPECT_NE(error_of([&] { SparseAutoencoder::load(dir + "/shape"); }).find("has shape"), std::string::npos);

  sae.save(dir + "/format");
  doc = io::read_json_file(dir + "/format/sae.json");
  doc["format"] = "something-else";
  io::write_json_file(dir + "/format/sae.json", doc);
  EXPECT_NE(error_of([&] { SparseAutoencoder::load(dir + "/format"); }).find("golgi-sae"), std::string::npos);
}

TEST(SaeBudget, BufferRowsFollowTheBudget) {
  auto options = SaeOptions().latents(256).k(8).batch_size(128);
  const int64_t d = 64;
  const int64_t rows = sae_buffer_rows_for_budget(d, options, 64ll << 20);
  // Known arithmetic (sae.cpp): 16·(2·256·64 + 256 + 64) bytes of SAE state, 4·128·(6·64 + 7·256)
  // of batch working set, 8·64 + 8 per buffered row.
  const double expected = ((64ll << 20) - 16.0 * (2 * 256 * 64 + 256 + 64) - 4.0 * 128 * (6 * 64 + 7 * 256)) /
                          (8.0 * 64 + 8);
  EXPECT_EQ(rows, static_cast<int64_t>(expected));
  EXPECT_LT(sae_buffer_rows_for_budget(d, options, 32ll << 20), rows);
  EXPECT_NE(error_of([&] { sae_buffer_rows_for_budget(d, options, 1 << 20); }).find("--max-memory"),
            std::string::npos);
}

}  // namespace
}  // namespace golgi::methods
