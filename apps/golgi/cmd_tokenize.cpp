// golgi tokenize / golgi tokenizer train: text <-> token ids, and learning a BPE vocabulary.
#include <cstdio>
#include <string>
#include <vector>

#include "cli.h"
#include "golgi/core/error.h"
#include "golgi/io/atomic_file.h"
#include "golgi/tokenize/bpe.h"
#include "golgi/tokenize/tokenizer.h"

namespace golgi::cli {

namespace {

struct TokenizeArgs {
  std::string tokenizer, text_file;
  bool decode = false, no_special = false;
};

struct TrainArgs {
  std::vector<std::string> corpus, special_tokens = {"<|endoftext|>"};
  std::string out;
  int64_t vocab_size = 4096, min_frequency = 2;
};

// Lines split at '\n' only, so that a '\r' or other whitespace stays part of the text it is in; a
// trailing newline does not start an extra empty line.
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return lines;
}

std::vector<int64_t> parse_ids(const std::string& line, const std::string& where) {
  Json json;
  try {
    json = Json::parse(line);
  } catch (const Json::parse_error&) {
    GOLGI_FAIL(where, ": expected a JSON array of token ids, got '", line, "'");
  }
  GOLGI_CHECK(json.is_array(), where, ": expected a JSON array of token ids, got ", json.type_name());
  std::vector<int64_t> ids;
  for (const auto& v : json) {
    GOLGI_CHECK(v.is_number_integer(), where, ": token ids must be integers, got ", v.dump());
    ids.push_back(v.get<int64_t>());
  }
  return ids;
}

}  // namespace

Command add_tokenize(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  auto* sub = app.add_subcommand(
      "tokenize",
      "Turn text into token ids (one JSON array per input line on stdout), or with --decode turn JSON arrays of\n"
      "ids (one per line) back into text. The tokenizer folder holds vocab.json + merges.txt (GPT-2 byte-level BPE),\n"
      "a Hugging Face tokenizer.json (BPE), or tokenizer_config.json with {\"type\": \"byte\"} (bytes as tokens).\n"
      "Lines are split at '\\n' only; special tokens such as <|endoftext|> in the text become their ids unless\n"
      "--no-special is given.\n"
      "Example: golgi tokenize --tokenizer runs/tok --text-file notes.txt > ids.jsonl");
  sub->add_option("--tokenizer", args->tokenizer, "tokenizer folder")->required();
  sub->add_option("--text-file", args->text_file, "input file: text lines, or JSON id arrays with --decode")->required();
  sub->add_flag("--decode", args->decode, "read JSON arrays of ids per line and print the text of each");
  sub->add_flag("--no-special", args->no_special, "tokenize special token text like any other text");
  return {sub, [args] {
            auto tokenizer = tokenize::load_tokenizer(args->tokenizer);
            tokenizer->set_recognise_special(!args->no_special);
            const auto lines = split_lines(io::read_file(args->text_file));
            std::string out;
            for (size_t k = 0; k < lines.size(); ++k) {
              if (args->decode) {
                out += tokenizer->decode(parse_ids(lines[k], args->text_file + " line " + std::to_string(k + 1)));
                out += '\n';
              } else {
                out += '[';
                bool first = true;
                for (int64_t id : tokenizer->encode(lines[k])) {
                  if (!first) out += ',';
                  first = false;
                  out += std::to_string(id);
                }
                out += "]\n";
              }
              if (out.size() > (1 << 20)) {
                std::fwrite(out.data(), 1, out.size(), stdout);
                out.clear();
              }
            }
            std::fwrite(out.data(), 1, out.size(), stdout);
            std::fflush(stdout);
            return kExitOk;
          }};
}

Command add_tokenizer(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  auto* group = app.add_subcommand("tokenizer", "Tokenizer tools (see: golgi tokenizer train --help).");
  group->require_subcommand(1);
  auto* sub = group->add_subcommand(
      "train",
      "Learn a GPT-2 style byte-level BPE tokenizer on text files and write OUT/vocab.json + OUT/merges.txt\n"
      "(the format `golgi tokenize --tokenizer OUT` and Hugging Face read). Text is pre-tokenised with the GPT-2\n"
      "pattern; each step merges the most frequent adjacent pair (ties: smallest token strings), so the result is\n"
      "deterministic. The vocabulary is 256 byte tokens + merges + special tokens = --vocab-size, or smaller when no\n"
      "pair occurs --min-frequency times.\n"
      "Example: golgi tokenizer train --corpus a.txt b.txt --vocab-size 4096 --out runs/tok");
  sub->add_option("--corpus", args->corpus, "text files to learn from")->required()->check(CLI::ExistingFile);
  sub->add_option("--vocab-size", args->vocab_size, "target vocabulary size, special tokens included")
      ->capture_default_str();
  sub->add_option("--out", args->out, "output folder")->required();
  sub->add_option("--min-frequency", args->min_frequency, "fewest occurrences for a pair to be merged")
      ->capture_default_str();
  sub->add_option("--special-tokens", args->special_tokens, "special tokens, given the last ids")
      ->delimiter(',')
      ->capture_default_str();
  return {sub, [args] {
            std::vector<std::string> texts;
            for (const auto& path : args->corpus) texts.push_back(io::read_file(path));
            tokenize::BpeTrainOptions options;
            options.special_tokens = args->special_tokens;
            options.min_frequency = args->min_frequency;
            auto tokenizer = tokenize::train_bpe(texts, args->vocab_size, options);
            tokenizer->save(args->out);
            std::printf("trained %lld merges; vocabulary %lld tokens; wrote %s/vocab.json and %s/merges.txt\n",
                        static_cast<long long>(tokenizer->n_merges()), static_cast<long long>(tokenizer->vocab_size()),
                        args->out.c_str(), args->out.c_str());
            return kExitOk;
          }};
}

}  // namespace golgi::cli
