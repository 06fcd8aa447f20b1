// Language-model training end to end: `golgi train` on multilingual-fortunes (packed windows,
// per-language bits per byte), then the saved folder through `golgi eval`, `forward` and
// `generate`, as a user would run them.
#include <gtest/gtest.h>

#include <cmath>

#include <torch/torch.h>

#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/train/language_model.h"
#include "golgi/train/trainer.h"
#include "test_support.h"

namespace {

using namespace golgi;
using golgi::testing::run_cli;

TEST(LanguageModel, PackingKeepsEveryLanguageAndItsText) {
  train::LmDataOptions o;
  o.seq_len = 64;
  o.languages = {"ga", "eo"};
  auto d = train::load_lm_data(o);
  EXPECT_EQ(d.languages, (std::vector<std::string>{"eo", "ga"}));
  EXPECT_EQ(d.train->inputs().size(1), 65);
  EXPECT_GE(d.train->inputs().min().item<int64_t>(), 0);  // training windows are never padded
  EXPECT_LT(d.val->inputs().min().item<int64_t>(), 0);    // val keeps each language's padded tail
  EXPECT_EQ(d.token_bytes[65].item<int64_t>(), 1);        // byte tokens stand for one byte
  // Consecutive windows of a language overlap by one token.
  at::Tensor w = d.train->inputs();
  EXPECT_EQ(w[0][64].item<int64_t>(), w[1][0].item<int64_t>());
  // The stream starts with the document separator.
  EXPECT_EQ(w[0][0].item<int64_t>(), *d.tokenizer->special_id("<|eos|>"));
  // Balance repeats the smaller language's windows, never the largest one's.
  o.balance = 0.5;
  auto balanced = train::load_lm_data(o);
  EXPECT_GT(balanced.card["per_language"]["ga"]["train_repeats"].get<int64_t>(), 1);
  EXPECT_EQ(balanced.card["per_language"]["eo"]["train_repeats"].get<int64_t>(), 1);
  EXPECT_GT(balanced.train->size(), d.train->size());
}

TEST(LanguageModel, TrainEvalForwardGenerate) {
  const std::string out = golgi::testing::scratch_dir("lm_train");
  train::TrainOptions options;
  options.model("llama").dataset("multilingual-fortunes").out(out).steps(6).batch_size(4).seq_len(32).lr(1e-2)
      .warmup_steps(0).test_limit(48).threads(1);
  Json model_options = {{"d_model", 16}, {"n_layers", 1}, {"n_heads", 2}, {"n_kv_heads", 1}, {"d_mlp", 32}};
  auto result = train::train(options, model_options, "test", false);
  ASSERT_TRUE(result.finished);
  EXPECT_EQ(result.steps, 6);
  const Json& val = result.metrics["val"];
  ASSERT_TRUE(val["per_language"].contains("de"));
  EXPECT_GE(val["per_language"].size(), 10u);  // the even spread reaches (almost) every language
  for (const auto& [lang, m] : val["per_language"].items()) {
    EXPECT_TRUE(std::isfinite(m["bits_per_byte"].get<double>())) << lang;
    EXPECT_GT(m["bits_per_byte"].get<double>(), 1.0) << lang;  // 6 steps cannot have learned much
  }
  EXPECT_TRUE(io::file_exists(out + "/config.json"));
  EXPECT_TRUE(io::file_exists(out + "/tokenizer_config.json"));
  auto card = io::read_json_file(out + "/model.json");
  EXPECT_EQ(card["options"]["vocab_size"], 259);  // adapted to the byte tokenizer
  EXPECT_EQ(card["card"]["metrics"]["val"]["bits_per_byte"], val["bits_per_byte"]);

  // Continued training: --init-from starts from the saved weights (a negligible learning rate keeps
  // the validation numbers), and a conflicting explicit option is an error.
  {
    train::TrainOptions more = options;
    more.out(out + "/continued").steps(1).lr(1e-12).init_from(out);
    auto continued = train::train(more, Json::object(), "test", false);
    EXPECT_NEAR(continued.metrics["val"]["bits_per_byte"].get<double>(), val["bits_per_byte"].get<double>(), 1e-4);
    more.out(out + "/conflict");
    EXPECT_NE(golgi::testing::error_of([&] { train::train(more, {{"d_model", 32}}, "test", false); }).find("d_model"),
              std::string::npos);
  }

  // golgi eval on the same windows reproduces the card's numbers.
  auto eval = run_cli("--quiet eval --model " + out + " --split val --limit 48 --out " + out + "/eval.json");
  ASSERT_EQ(eval.exit_code, 0) << eval.out;
  auto evaluated = io::read_json_file(out + "/eval.json");
  for (const auto& [lang, m] : val["per_language"].items())
    EXPECT_NEAR(evaluated["per_language"][lang]["bits_per_byte"].get<double>(), m["bits_per_byte"].get<double>(), 1e-4)
        << lang;

  // forward: ids in, logits out.
  io::save_npy(out + "/ids.npy", torch::tensor({{256L, 68L, 101L}, {256L, 69L, 114L}}));
  auto fwd = run_cli("--quiet forward --model " + out + " --input-ids " + out + "/ids.npy --out " + out + "/logits.npy");
  ASSERT_EQ(fwd.exit_code, 0) << fwd.out;
  EXPECT_EQ(io::load_npy(out + "/logits.npy").sizes(), (std::vector<int64_t>{2, 3, 259}));

  // generate: the prompt comes back first, then the continuation; the same seed gives the same text.
  auto g1 = run_cli("--quiet generate --model " + out + " --prompt \"Der \" --max-new-tokens 8 --seed 5");
  auto g2 = run_cli("--quiet generate --model " + out + " --prompt \"Der \" --max-new-tokens 8 --seed 5");
  ASSERT_EQ(g1.exit_code, 0) << g1.out;
  EXPECT_EQ(g1.out.rfind("Der ", 0), 0u) << g1.out;
  EXPECT_EQ(g1.out, g2.out);

  // Steering: clamping MLP neurons during generation changes the greedy continuation; bad refs are
  // clear errors.
  const std::string greedy = "--quiet generate --model " + out + " --prompt \"Der \" --max-new-tokens 12 --temperature 0";
  auto plain = run_cli(greedy);
  std::string clamps;
  for (int n = 0; n < 8; ++n) clamps += " --clamp blocks.0.mlp.hook_post:" + std::to_string(n) + "=30";
  auto steered = run_cli(greedy + clamps);
  ASSERT_EQ(steered.exit_code, 0) << steered.out;
  EXPECT_NE(steered.out, plain.out);
  auto badref = run_cli(greedy + " --clamp blocks.7.mlp.hook_post:1=2");
  EXPECT_EQ(badref.exit_code, 2);
  EXPECT_NE(badref.out.find("blocks.7.mlp.hook_post"), std::string::npos) << badref.out;
  auto badvalue = run_cli(greedy + " --clamp blocks.0.mlp.hook_post:1=big");
  EXPECT_EQ(badvalue.exit_code, 2);
  EXPECT_NE(badvalue.out.find("not a number"), std::string::npos) << badvalue.out;

  // Bad input: a classifier dataset for a language model, float ids.
  auto bad = run_cli("--quiet train --model llama --dataset synthetic-blobs --out " + out + "/bad");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.out.find("language model"), std::string::npos) << bad.out;
  io::save_npy(out + "/float.npy", torch::zeros({1, 3}));
  auto badids = run_cli("--quiet forward --model " + out + " --input-ids " + out + "/float.npy --out " + out + "/x.npy");
  EXPECT_EQ(badids.exit_code, 2);
  EXPECT_NE(badids.out.find("integer token ids"), std::string::npos) << badids.out;
}

}  // namespace
