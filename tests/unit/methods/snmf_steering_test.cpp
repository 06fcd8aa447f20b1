// snmf's steering (KL-matched α by bisection, steered generation) on a tiny random Llama, and the
// byte-trigram language identifier the reproduction scores continuations with.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "golgi/analysis/language_id.h"
#include "golgi/core/error.h"
#include "golgi/methods/snmf/steering.h"
#include "golgi/models/generate.h"
#include "golgi/models/registry.h"
#include "golgi/models/transformer.h"
#include "test_support.h"

namespace golgi::methods {
namespace {

using golgi::testing::error_of;

std::shared_ptr<models::Model> tiny_llama() {
  torch::manual_seed(0);
  return models::make_model("llama", Json{{"vocab_size", 13}, {"n_ctx", 16}, {"d_model", 8}, {"n_layers", 2},
                                          {"n_heads", 2}, {"n_kv_heads", 1}, {"d_mlp", 12}});
}

TEST(SnmfSteering, KlGrowsWithAlphaAndBisectionHitsTheTarget) {
  auto model = tiny_llama();
  auto& lm = dynamic_cast<models::TransformerLM&>(*model);
  lm.eval();
  const at::Tensor prompts = torch::randint(13, {4, 5}, torch::kLong);
  const at::Tensor direction = torch::randn({12});
  const std::string hook = "blocks.0.mlp.hook_post";
  EXPECT_NEAR(steering_kl(lm, hook, direction, 1e-9, prompts), 0.0, 1e-9);
  const double small = steering_kl(lm, hook, direction, 1.0, prompts);
  const double large = steering_kl(lm, hook, direction, 20.0, prompts);
  EXPECT_GT(small, 0.0);
  EXPECT_GT(large, small);
  // A target between the two is found within the bracket's final width.
  const double target = 0.5 * (small + large);
  AlphaSearch found = alpha_for_kl(lm, hook, direction, prompts, target, 1.0, 20.0, 30);
  EXPECT_GT(found.alpha, 1.0);
  EXPECT_LT(found.alpha, 20.0);
  EXPECT_NEAR(found.kl, target, 1e-3 * target);
  EXPECT_EQ(found.steps, 32);
  // Out of reach: the bracket's end is returned.
  EXPECT_DOUBLE_EQ(alpha_for_kl(lm, hook, direction, prompts, 1e6, 1.0, 20.0).alpha, 20.0);
  // The direction's scale does not matter (it is normalised).
  EXPECT_NEAR(steering_kl(lm, hook, direction * 7.0, 3.0, prompts), steering_kl(lm, hook, direction, 3.0, prompts),
              1e-6);
  EXPECT_NE(error_of([&] { steering_kl(lm, hook, torch::zeros({12}), 1.0, prompts); }).find("norm"), std::string::npos);
  EXPECT_NE(error_of([&] { alpha_for_kl(lm, hook, direction, prompts, 0.1, 5.0, 1.0); }).find("lo < hi"),
            std::string::npos);
}

TEST(SnmfSteering, GenerationWithoutSteeringIsPlainGeneration) {
  auto model = tiny_llama();
  auto& lm = dynamic_cast<models::TransformerLM&>(*model);
  lm.eval();
  const at::Tensor prompts = torch::randint(13, {3, 4}, torch::kLong);
  models::GenerateOptions g;
  g.max_new_tokens(6).temperature(0.0);
  const at::Tensor plain = models::generate(lm, prompts, g);
  EXPECT_TRUE(torch::equal(steered_generate(lm, "blocks.1.mlp.hook_post", torch::randn({12}), 0.0, prompts, g), plain));
  // A strong push changes some continuation, and the hooks are gone afterwards.
  const at::Tensor pushed = steered_generate(lm, "blocks.1.mlp.hook_post", torch::randn({12}), 500.0, prompts, g);
  EXPECT_FALSE(torch::equal(pushed, plain));
  EXPECT_TRUE(torch::equal(models::generate(lm, prompts, g), plain));
}

TEST(ByteTrigramLanguageId, ClassifiesByTrigramLikelihood) {
  analysis::ByteTrigramLanguageId lid;
  EXPECT_EQ(lid.classify("anything"), "");
  lid.add("en", "the cat sat on the mat with the hat");
  lid.add("de", "der hund und die katze sind nicht hier");
  lid.add("de", "ich und du");
  EXPECT_EQ(lid.languages(), (std::vector<std::string>{"de", "en"}));
  EXPECT_EQ(lid.classify("the hat"), "en");
  EXPECT_EQ(lid.classify("und die"), "de");
  EXPECT_EQ(lid.classify(""), "");
  // Raw bytes (invalid UTF-8) are fine.
  EXPECT_FALSE(lid.classify(std::string("\xff\xfe the", 6)).empty());
  // Scores are log-likelihoods: a text seen in training scores higher under its language.
  const auto s = lid.scores("ich und du");
  EXPECT_GT(s[0], s[1]);
}

}  // namespace
}  // namespace golgi::methods
