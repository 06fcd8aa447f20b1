// SAE-based data selection (paper id sae-select): generalised Jaccard known values and bad input,
// selection on synthetic pools whose answer is known, the seeded random baseline, domain precision,
// and passage embeddings that ignore padding.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/io/atomic_file.h"
#include "golgi/methods/sae/sae.h"
#include "golgi/methods/sae_select/data_selection.h"
#include "golgi/train/language_model.h"
#include "test_support.h"

namespace golgi::methods {
namespace {

using golgi::testing::error_of;

at::Tensor vec(std::vector<double> v) { return torch::tensor(v, torch::kFloat64); }

TEST(SaeSelectJaccard, KnownValues) {
  const at::Tensor x = vec({0.5, 2.0, 0.0, 3.0});
  EXPECT_DOUBLE_EQ(generalized_jaccard(x, x), 1.0);
  EXPECT_NEAR(generalized_jaccard(vec({2, 1}), vec({1, 1})), 2.0 / 3.0, 1e-15);
  EXPECT_DOUBLE_EQ(generalized_jaccard(x, torch::zeros({4}, torch::kFloat64)), 0.0);
  // Both zero: defined as 0 rather than NaN.
  EXPECT_DOUBLE_EQ(generalized_jaccard(vec({0, 0}), vec({0, 0})), 0.0);
  // Symmetric; by hand: min sum 0.5+1+0+1 = 2.5, max sum 1+2+1+3 = 7.
  const at::Tensor y = vec({1.0, 1.0, 1.0, 1.0});
  EXPECT_NEAR(generalized_jaccard(x, y), 2.5 / 7.0, 1e-15);
  EXPECT_NEAR(generalized_jaccard(y, x), 2.5 / 7.0, 1e-15);
}

TEST(SaeSelectJaccard, BatchedFormMatchesOneAtATime) {
  torch::manual_seed(3);
  const at::Tensor rows = torch::rand({7, 12}).relu() * (torch::rand({7, 12}) > 0.5);
  const at::Tensor proto = torch::rand({12});
  const at::Tensor batched = generalized_jaccard_rows(rows, proto);
  ASSERT_EQ(batched.sizes(), (std::vector<int64_t>{7}));
  for (int64_t i = 0; i < 7; ++i) EXPECT_NEAR(batched[i].item<double>(), generalized_jaccard(rows[i], proto), 1e-12);
}

TEST(SaeSelectJaccard, RejectsNegativeEntriesAndShapeMismatch) {
  EXPECT_NE(error_of([] { generalized_jaccard(vec({1, -0.5}), vec({1, 1})); }).find("negative"), std::string::npos);
  EXPECT_NE(error_of([] { generalized_jaccard(vec({1, 1}), vec({1, -2})); }).find("negative"), std::string::npos);
  EXPECT_NE(error_of([] { generalized_jaccard(vec({1, 1, 1}), vec({1, 1})); }).find("mismatch"), std::string::npos);
  EXPECT_NE(error_of([] { generalized_jaccard_rows(torch::ones({3, 4}), torch::ones({5})); }).find("mismatch"),
            std::string::npos);
}

TEST(SaeSelectCosine, KnownValues) {
  const at::Tensor rows = torch::tensor({{1.0, 0.0}, {1.0, 1.0}, {0.0, 0.0}, {-2.0, 0.0}}, torch::kFloat64);
  const at::Tensor c = cosine_rows(rows, vec({3, 0}));
  EXPECT_NEAR(c[0].item<double>(), 1.0, 1e-15);
  EXPECT_NEAR(c[1].item<double>(), 1.0 / std::sqrt(2.0), 1e-15);
  EXPECT_DOUBLE_EQ(c[2].item<double>(), 0.0);
  EXPECT_NEAR(c[3].item<double>(), -1.0, 1e-15);
}

TEST(SaeSelectTop, CountIsCeilOfFractionAndTiesGoToTheLowerIndex) {
  const at::Tensor s = vec({0.1, 0.9, 0.5, 0.9, 0.2, 0.5, 0.0, 0.3, 0.5, 0.4});
  EXPECT_EQ(select_top(s, 0.1), (std::vector<int64_t>{1}));
  EXPECT_EQ(select_top(s, 0.2), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(select_top(s, 0.25), (std::vector<int64_t>{1, 3, 2}));  // ceil(2.5) = 3; ties 2, 5, 8
  EXPECT_EQ(select_top(s, 0.5), (std::vector<int64_t>{1, 3, 2, 5, 8}));
  EXPECT_EQ(select_top(s, 1.0).size(), 10u);
  EXPECT_EQ(select_top(torch::zeros({20}, torch::kFloat64), 0.05), (std::vector<int64_t>{0}));  // 0.05·20 = 1 exactly
  EXPECT_EQ(select_top(torch::zeros({21}, torch::kFloat64), 0.05).size(), 2u);
}

TEST(SaeSelectTop, RejectsBadFractionAndEmptyPool) {
  const at::Tensor s = vec({1, 2});
  EXPECT_NE(error_of([&] { select_top(s, 0.0); }).find("fraction"), std::string::npos);
  EXPECT_NE(error_of([&] { select_top(s, 1.5); }).find("fraction"), std::string::npos);
  EXPECT_NE(error_of([&] { select_top(s, -0.1); }).find("fraction"), std::string::npos);
  EXPECT_NE(error_of([] { select_top(torch::zeros({0}, torch::kFloat64), 0.5); }).find("empty"), std::string::npos);
  EXPECT_NE(SelectionOptions::schema().fields().size(), 0u);
}

// A pool of three "domains", each with its own active latents, plus the known-answer case where
// the generalised Jaccard and cosine disagree (same direction, very different magnitude).
PassageEmbeddings synthetic_pool(std::vector<std::string>* domain_of) {
  torch::manual_seed(11);
  const int64_t per = 10, latents = 12;
  std::vector<at::Tensor> rows;
  for (int64_t d = 0; d < 3; ++d) {
    at::Tensor r = torch::zeros({per, latents});
    r.slice(1, 4 * d, 4 * d + 4) = torch::rand({per, 4}) + 0.5;
    r.slice(1, 0, latents) += 0.05 * torch::rand({per, latents});  // a little shared background
    rows.push_back(r);
    for (int64_t i = 0; i < per; ++i) domain_of->push_back("domain" + std::to_string(d));
  }
  PassageEmbeddings pool;
  pool.sae = torch::cat(rows, 0);
  pool.raw = pool.sae.clone();
  pool.tokens = torch::full({3 * per}, 5, torch::kLong);
  return pool;
}

TEST(SaeSelectScores, EverySimilarityPicksTheTargetDomainOnASeparablePool) {
  std::vector<std::string> domain_of;
  const PassageEmbeddings pool = synthetic_pool(&domain_of);
  // Targets: fresh passages of domain 1.
  PassageEmbeddings targets;
  targets.sae = torch::zeros({4, 12});
  targets.sae.slice(1, 4, 8) = torch::rand({4, 4}) + 0.5;
  targets.raw = targets.sae.clone();
  targets.tokens = torch::full({4}, 5, torch::kLong);
  const TaskPrototype proto = task_prototype(targets);
  for (const std::string method : {"jaccard", "cosine-sae", "cosine-raw"}) {
    const auto selected = select_top(score_pool(pool, proto, method, 0), 1.0 / 3.0);
    ASSERT_EQ(selected.size(), 10u) << method;
    EXPECT_DOUBLE_EQ(domain_precision(selected, domain_of, "domain1"), 1.0) << method;
  }
  EXPECT_NE(error_of([&] { score_pool(pool, proto, "bm25", 0); }).find("jaccard"), std::string::npos);
}

TEST(SaeSelectScores, JaccardPrefersMatchingMagnitudesWhereCosineDoesNot) {
  PassageEmbeddings pool;
  // a: the prototype's direction at 10x its size (J = 2/20 = 0.1, cosine 1);
  // b: the prototype's magnitudes plus a small extra latent (J = 2/2.5 = 0.8, cosine 2/sqrt(2·2.25)).
  pool.sae = torch::tensor({{10.0f, 10.0f, 0.0f}, {1.0f, 1.0f, 0.5f}});
  pool.raw = pool.sae.clone();
  pool.tokens = torch::ones({2}, torch::kLong);
  TaskPrototype proto{vec({1, 1, 0}), vec({1, 1, 0})};
  const at::Tensor j = score_pool(pool, proto, "jaccard", 0);
  EXPECT_NEAR(j[0].item<double>(), 0.1, 1e-7);
  EXPECT_NEAR(j[1].item<double>(), 0.8, 1e-7);
  const at::Tensor c = score_pool(pool, proto, "cosine-sae", 0);
  EXPECT_NEAR(c[0].item<double>(), 1.0, 1e-7);
  EXPECT_NEAR(c[1].item<double>(), 2.0 / std::sqrt(2.0 * 2.25), 1e-7);
  EXPECT_EQ(select_top(j, 0.5), (std::vector<int64_t>{1}));
  EXPECT_EQ(select_top(c, 0.5), (std::vector<int64_t>{0}));
}

TEST(SaeSelectScores, RandomBaselineIsSeeded) {
  std::vector<std::string> domain_of;
  const PassageEmbeddings pool = synthetic_pool(&domain_of);
  TaskPrototype proto{torch::ones({12}, torch::kFloat64), torch::ones({12}, torch::kFloat64)};
  const at::Tensor a = score_pool(pool, proto, "random", 7);
  const at::Tensor b = score_pool(pool, proto, "random", 7);
  const at::Tensor c = score_pool(pool, proto, "random", 8);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
  EXPECT_GE(a.min().item<double>(), 0.0);
  EXPECT_LT(a.max().item<double>(), 1.0);
  // Independent of the embeddings: a different pool of the same size gets the same scores.
  PassageEmbeddings other = pool;
  other.sae = torch::zeros_like(pool.sae);
  EXPECT_TRUE(torch::equal(a, score_pool(other, proto, "random", 7)));
}

TEST(SaeSelectPrecision, KnownValues) {
  const std::vector<std::string> domain_of = {"a", "b", "a", "c", "a"};
  EXPECT_DOUBLE_EQ(domain_precision({0, 2, 4}, domain_of, "a"), 1.0);
  EXPECT_DOUBLE_EQ(domain_precision({0, 1, 3, 4}, domain_of, "a"), 0.5);
  EXPECT_DOUBLE_EQ(domain_precision({1}, domain_of, "a"), 0.0);
  EXPECT_DOUBLE_EQ(domain_precision({}, domain_of, "a"), 0.0);
  EXPECT_NE(error_of([&] { domain_precision({9}, domain_of, "a"); }).find("outside"), std::string::npos);
}

TEST(SaeSelectEmbeddings, PaddedPositionsChangeNothing) {
  const SparseAutoencoder sae(6, SaeOptions().latents(16).k(4).seed(5));
  torch::manual_seed(2);
  at::Tensor act = torch::randn({3, 5, 6});
  const at::Tensor mask = torch::tensor({{0, 1, 1, 1, 0}, {0, 1, 0, 0, 0}, {0, 0, 0, 0, 0}}, torch::kBool);
  const PassageEmbeddings a = pool_passage_codes(sae, act, mask);
  // Scramble every masked position, NaN included: the embeddings must not move.
  at::Tensor scrambled = act.clone();
  const at::Tensor noise = torch::randn({3, 5, 6}) * 100;
  scrambled = torch::where(mask.unsqueeze(2), act, noise);
  scrambled[2][3][1] = std::numeric_limits<float>::quiet_NaN();
  const PassageEmbeddings b = pool_passage_codes(sae, scrambled, mask);
  EXPECT_TRUE(torch::equal(a.sae, b.sae));
  EXPECT_TRUE(torch::equal(a.raw, b.raw));
  EXPECT_EQ(a.tokens[0].item<int64_t>(), 3);
  EXPECT_EQ(a.tokens[1].item<int64_t>(), 1);
  EXPECT_EQ(a.tokens[2].item<int64_t>(), 0);
  // Known values: the means of the counted rows' codes and activations; zero for no tokens.
  const at::Tensor rows0 = act[0].slice(0, 1, 4);
  EXPECT_TRUE(torch::allclose(a.sae[0], sae.encode(rows0).mean(0), 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(a.raw[0], rows0.mean(0), 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(a.sae[1], sae.encode(act[1].slice(0, 1, 2))[0], 1e-6, 1e-6));
  EXPECT_EQ(a.sae[2].abs().sum().item<double>(), 0.0);
  EXPECT_GE(a.sae.min().item<double>(), 0.0);
  EXPECT_NE(error_of([&] { pool_passage_codes(sae, torch::randn({3, 5, 7}), mask); }).find("width"), std::string::npos);
}

TEST(SaeSelectEmbeddings, PassageTokensStartWithTheSeparatorAndCutAtCharacterBoundaries) {
  const auto tokenizer = train::make_lm_tokenizer("byte");
  const auto sep = train::document_separator(*tokenizer);
  ASSERT_TRUE(sep.has_value());
  // "é" is two bytes (0xC3 0xA9): a 2-byte cut would split it, so it backs off to "a".
  const auto ids = passage_tokens(*tokenizer, sep, "a\xC3\xA9z", 2, 0);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], *sep);
  EXPECT_EQ(ids[1], 'a');
  EXPECT_EQ(passage_tokens(*tokenizer, sep, "a\xC3\xA9z", 3, 0).size(), 4u);  // separator, a, 0xC3, 0xA9
  EXPECT_EQ(passage_tokens(*tokenizer, sep, "abcdef", 100, 4).size(), 4u);
  EXPECT_EQ(passage_tokens(*tokenizer, std::nullopt, "abc", 100, 0), (std::vector<int64_t>{'a', 'b', 'c'}));
}

TEST(SaeSelectFiles, ReadsJsonLinesAndPlainText) {
  const std::string dir = golgi::testing::scratch_dir("sae_select_files");
  io::write_file_atomic(dir + "/pool.jsonl", "{\"text\": \"first\", \"domain\": \"a\"}\n\n{\"text\": \"second\"}\n");
  const auto jsonl = read_passages(dir + "/pool.jsonl", "--pool");
  ASSERT_EQ(jsonl.size(), 2u);
  EXPECT_EQ(jsonl[0].text, "first");
  EXPECT_EQ(jsonl[0].record["domain"], "a");  // other fields are kept
  EXPECT_EQ(jsonl[1].text, "second");
  io::write_file_atomic(dir + "/task.txt", "one passage\r\n\n  \nanother {not json}\nlast");
  const auto text = read_passages(dir + "/task.txt", "--target");
  ASSERT_EQ(text.size(), 3u);
  EXPECT_EQ(text[0].text, "one passage");
  EXPECT_EQ(text[1].text, "another {not json}");
  EXPECT_EQ(text[2].record["text"], "last");
}

TEST(SaeSelectFiles, BadFilesGetClearErrors) {
  const std::string dir = golgi::testing::scratch_dir("sae_select_bad_files");
  EXPECT_NE(error_of([&] { read_passages(dir + "/missing.jsonl", "--pool"); }).find("does not exist"), std::string::npos);
  io::write_file_atomic(dir + "/empty.txt", "\n\n   \n");
  EXPECT_NE(error_of([&] { read_passages(dir + "/empty.txt", "--pool"); }).find("no passages"), std::string::npos);
  io::write_file_atomic(dir + "/broken.jsonl", "{\"text\": \"ok\"}\n{\"text\": \n");
  const std::string broken = error_of([&] { read_passages(dir + "/broken.jsonl", "--pool"); });
  EXPECT_NE(broken.find("line 2"), std::string::npos) << broken;
  EXPECT_NE(broken.find("--pool"), std::string::npos) << broken;
  io::write_file_atomic(dir + "/notext.jsonl", "{\"body\": \"x\"}\n");
  EXPECT_NE(error_of([&] { read_passages(dir + "/notext.jsonl", "--target"); }).find("\"text\""), std::string::npos);
}

}  // namespace
}  // namespace golgi::methods
