// golgi eval: loss and accuracy of a saved model on a dataset split.
#include <cstdio>

#include "cli.h"
#include "golgi/core/json.h"
#include "golgi/data/registry.h"
#include "golgi/io/json_file.h"
#include "golgi/models/registry.h"
#include "golgi/io/atomic_file.h"
#include "golgi/train/language_model.h"
#include "golgi/train/trainer.h"

namespace golgi::cli {

namespace {
struct EvalArgs {
  std::string model, dataset, split = "test", data_dir, out, tokenizer;
  int64_t batch_size = 256, limit = 0, seq_len = 0;
};

// Language models: bits per byte and loss per language on a text corpus split. The corpus,
// window length, seed and tokenizer default to those the model card records.
int eval_language_model(const EvalArgs& args, const models::LoadedModel& loaded) {
  train::LmDataOptions o = train::lm_data_options_from_card(loaded.card, args.model);
  if (!args.dataset.empty()) o.corpus = args.dataset;
  GOLGI_CHECK(!o.corpus.empty(), "'", args.model, "' has no training record naming its text corpus; pass --dataset ",
              "(e.g. multilingual-fortunes)");
  GOLGI_CHECK(train::is_text_corpus(o.corpus), "'", o.corpus, "' is not a text corpus; language models are ",
              "evaluated on one (see `golgi info`)");
  o.data_dir = args.data_dir;
  if (args.seq_len > 0) o.seq_len = args.seq_len;
  if (!args.tokenizer.empty()) o.tokenizer = args.tokenizer;
  auto data = train::load_lm_data(o);
  std::shared_ptr<data::Dataset> split;
  if (args.split == "val") split = data.val;
  else if (args.split == "test") split = data.test;
  else if (args.split == "train") split = data.train;
  else GOLGI_FAIL("unknown split '", args.split, "' for a text corpus; use train, val or test");
  split = train::spread_subset(split, args.limit);
  auto r = train::evaluate_lm(*loaded.model, *split, data.token_bytes, data.languages,
                              std::max<int64_t>(1, std::min<int64_t>(args.batch_size, 64)));
  Json out = r.to_json();
  out["model"] = args.model;
  out["dataset"] = o.corpus;
  out["split"] = args.split;
  out["seq_len"] = o.seq_len;
  out["tokenizer"] = o.tokenizer;
  if (!args.out.empty()) io::write_json_file(args.out, out);
  std::printf("%s\n", out.dump(2).c_str());
  std::fprintf(stderr, "%-6s %10s %10s %14s\n", "lang", "bytes", "loss", "bits/byte");
  for (const auto& l : r.per_language)
    std::fprintf(stderr, "%-6s %10lld %10.4f %14.4f\n", l.language.c_str(), static_cast<long long>(l.bytes), l.loss,
                 l.bits_per_byte);
  std::fprintf(stderr, "%-6s %10lld %10.4f %14.4f\n", "all", static_cast<long long>(r.bytes), r.loss, r.bits_per_byte);
  return kExitOk;
}
}  // namespace

Command add_eval(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  auto* sub = app.add_subcommand(
      "eval",
      "Evaluate a saved model on a dataset split and print the result as JSON.\n"
      "Classifiers: loss, accuracy and per-class accuracy. Language models: loss and bits per byte, overall and\n"
      "per language, on a text corpus split (train, val or test; corpus, window length and tokenizer default to\n"
      "those of the model card; a table goes to stderr).");
  sub->add_option("--model", args->model, "model folder")->required();
  sub->add_option("--dataset", args->dataset, "dataset (default: the one in the model card)");
  sub->add_option("--split", args->split, "dataset split")->capture_default_str();
  sub->add_option("--data-dir", args->data_dir, "dataset folder (default: the dataset's own)");
  sub->add_option("--batch-size", args->batch_size, "samples per forward pass")->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--limit", args->limit, "only the first N samples (language models: N windows spread over the split; 0: all)")->check(CLI::NonNegativeNumber);
  sub->add_option("--out", args->out, "also write the JSON to this file");
  sub->add_option("--seq-len", args->seq_len, "language models: window length (default: the training one)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--tokenizer", args->tokenizer, "language models: tokenizer folder or 'byte' (default: the model's)");
  return {sub, [args] {
            {
              auto loaded = models::load_model(args->model);
              if (loaded.model->task() == "language-model") return eval_language_model(*args, loaded);
            }
            auto loaded = load_model_and_data(args->model, args->dataset, args->split, args->data_dir, args->limit);
            auto r = train::evaluate(*loaded.model, *loaded.data, args->batch_size);
            Json out = r.to_json();
            out["model"] = args->model;
            out["dataset"] = loaded.dataset;
            out["split"] = args->split;
            if (!args->out.empty()) io::write_json_file(args->out, out);
            std::printf("%s\n", out.dump(2).c_str());
            return kExitOk;
          }};
}

}  // namespace golgi::cli
