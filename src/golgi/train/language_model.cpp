#include "golgi/train/language_model.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/seed.h"
#include "golgi/data/text_corpus.h"
#include "golgi/io/atomic_file.h"
#include "golgi/models/registry.h"
#include "golgi/tokenize/bpe.h"

namespace golgi::train {

bool is_text_corpus(const std::string& name) { return data::text_corpus_registry().find(name) != nullptr; }

std::shared_ptr<tokenize::Tokenizer> make_lm_tokenizer(const std::string& spec) {
  if (spec == "byte") return std::make_shared<tokenize::ByteTokenizer>();
  return std::shared_ptr<tokenize::Tokenizer>(tokenize::load_tokenizer(spec));
}

std::optional<int64_t> document_separator(const tokenize::Tokenizer& tokenizer) {
  for (const char* name : {"<|endoftext|>", "<|eos|>"})
    if (auto id = tokenizer.special_id(name)) return id;
  return std::nullopt;
}

namespace {
int64_t separator_id(const tokenize::Tokenizer& tokenizer, const std::string& spec) {
  if (auto id = document_separator(tokenizer)) return *id;
  GOLGI_FAIL("tokenizer '", spec, "' has no end-of-document token (<|endoftext|> or <|eos|>); language-model ",
             "training separates documents with one");
}

struct Packed {
  std::vector<std::vector<int64_t>> windows;  // per window, seq_len + 1 ids (-1 padding)
  std::vector<int64_t> language;
};

// Packs one language's documents (see the header) and appends its windows.
void pack(const std::vector<const data::TextDocument*>& docs, const tokenize::Tokenizer& tokenizer, int64_t sep,
          int64_t seq_len, bool keep_partial, int64_t language, Packed& out) {
  std::vector<int64_t> stream{sep};
  for (const auto* doc : docs) {
    auto ids = tokenizer.encode(doc->text);
    stream.insert(stream.end(), ids.begin(), ids.end());
    stream.push_back(sep);
  }
  const int64_t n = static_cast<int64_t>(stream.size());
  for (int64_t begin = 0; begin + 1 < n; begin += seq_len) {
    const int64_t end = begin + seq_len + 1;
    if (end > n && !keep_partial) break;
    std::vector<int64_t> w(stream.begin() + begin, stream.begin() + std::min(end, n));
    w.resize(seq_len + 1, -1);
    out.windows.push_back(std::move(w));
    out.language.push_back(language);
  }
}

std::shared_ptr<data::Dataset> to_dataset(const std::string& name, const std::string& split, const Packed& p,
                                          int64_t seq_len, const Json& card) {
  const int64_t n = static_cast<int64_t>(p.windows.size());
  at::Tensor inputs = torch::empty({n, seq_len + 1}, torch::kLong);
  auto* dst = inputs.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) std::copy(p.windows[i].begin(), p.windows[i].end(), dst + i * (seq_len + 1));
  at::Tensor targets = torch::tensor(p.language, torch::kLong);
  return std::make_shared<data::Dataset>(name, split, inputs, targets, card);
}
}  // namespace

LmDataOptions lm_data_options_from_card(const Json& card, const std::string& model_dir) {
  const Json train_options =
      card.contains("card") ? card["card"].value("train_options", Json::object()) : Json::object();
  LmDataOptions o;
  o.corpus = train_options.value("dataset", std::string());
  o.seed = train_options.value("seed", uint64_t{0});
  o.seq_len = train_options.value("seq_len", int64_t{256});
  const std::string dir = models::model_folder(model_dir);
  o.tokenizer = (io::file_exists(dir + "/tokenizer_config.json") || io::file_exists(dir + "/vocab.json") ||
                 io::file_exists(dir + "/tokenizer.json"))
                    ? dir
                    : train_options.value("tokenizer", std::string("byte"));
  return o;
}

LmData load_lm_data(const LmDataOptions& o) {
  GOLGI_CHECK(o.seq_len >= 1, "seq_len must be >= 1, got ", o.seq_len);
  GOLGI_CHECK(o.balance > 0 && o.balance <= 1, "balance must be in (0, 1], got ", o.balance);
  auto corpus = data::load_text_corpus(
      o.corpus, data::TextCorpusOptions().with_data_dir(o.data_dir).with_seed(o.seed).with_languages(o.languages));
  LmData d;
  d.tokenizer = make_lm_tokenizer(o.tokenizer);
  const int64_t sep = separator_id(*d.tokenizer, o.tokenizer);
  for (const auto* split : {&corpus.train, &corpus.val, &corpus.test})
    for (const auto& doc : *split)
      if (std::find(d.languages.begin(), d.languages.end(), doc.language) == d.languages.end())
        d.languages.push_back(doc.language);
  std::sort(d.languages.begin(), d.languages.end());

  const int64_t vocab = d.tokenizer->vocab_size();
  d.token_bytes = torch::empty({vocab}, torch::kLong);
  for (int64_t id = 0; id < vocab; ++id)
    d.token_bytes[id] = d.tokenizer->is_special(id) ? 1 : static_cast<int64_t>(d.tokenizer->decode({id}).size());

  Packed train, val, test;
  Json per_language = Json::object();
  std::vector<int64_t> train_counts;
  for (size_t l = 0; l < d.languages.size(); ++l) {
    auto of = [&](const std::vector<data::TextDocument>& docs) {
      std::vector<const data::TextDocument*> out;
      for (const auto& doc : docs)
        if (doc.language == d.languages[l]) out.push_back(&doc);
      return out;
    };
    const size_t before_train = train.windows.size(), before_val = val.windows.size(), before_test = test.windows.size();
    pack(of(corpus.train), *d.tokenizer, sep, o.seq_len, false, static_cast<int64_t>(l), train);
    pack(of(corpus.val), *d.tokenizer, sep, o.seq_len, true, static_cast<int64_t>(l), val);
    pack(of(corpus.test), *d.tokenizer, sep, o.seq_len, true, static_cast<int64_t>(l), test);
    train_counts.push_back(static_cast<int64_t>(train.windows.size() - before_train));
    per_language[d.languages[l]] = {{"train_windows", train_counts.back()},
                                    {"val_windows", val.windows.size() - before_val},
                                    {"test_windows", test.windows.size() - before_test}};
  }
  GOLGI_CHECK(!train.windows.empty(), "corpus '", o.corpus, "' has no training text long enough for seq_len ", o.seq_len);

  if (o.balance < 1.0) {
    // Repeat windows so that language l holds about total * n_l^a / sum(n^a) of them (never fewer
    // than it has).
    double total = 0, mass = 0;
    for (int64_t c : train_counts) {
      total += static_cast<double>(c);
      mass += std::pow(static_cast<double>(c), o.balance);
    }
    Packed balanced;
    size_t offset = 0;
    for (size_t l = 0; l < train_counts.size(); ++l) {
      const int64_t c = train_counts[l];
      const double target = total * std::pow(static_cast<double>(c), o.balance) / mass;
      const int64_t repeats = c > 0 ? std::max<int64_t>(1, std::llround(target / static_cast<double>(c))) : 0;
      for (int64_t r = 0; r < repeats; ++r)
        for (int64_t i = 0; i < c; ++i) {
          balanced.windows.push_back(train.windows[offset + i]);
          balanced.language.push_back(train.language[offset + i]);
        }
      per_language[d.languages[l]]["train_repeats"] = repeats;
      offset += static_cast<size_t>(c);
    }
    train = std::move(balanced);
  }

  d.card = {{"corpus", o.corpus},
            {"corpus_card", corpus.card},
            {"tokenizer", o.tokenizer},
            {"tokenizer_kind", d.tokenizer->kind()},
            {"vocab_size", vocab},
            {"separator_id", sep},
            {"seq_len", o.seq_len},
            {"balance", o.balance},
            {"languages", d.languages},
            {"per_language", per_language},
            {"packing", "per language: documents each followed by the separator, windows of seq_len + 1 "
                        "overlapping by one; val/test keep the padded final window"}};
  d.train = to_dataset(o.corpus, "train", train, o.seq_len, d.card);
  d.val = to_dataset(o.corpus, "val", val, o.seq_len, d.card);
  d.test = to_dataset(o.corpus, "test", test, o.seq_len, d.card);
  return d;
}

at::Tensor lm_loss(models::Model& model, const at::Tensor& windows) {
  const int64_t t = windows.size(1) - 1;
  at::Tensor inputs = windows.narrow(1, 0, t).clamp_min(0);
  at::Tensor targets = windows.narrow(1, 1, t);
  at::Tensor logits = model.forward(inputs);
  return torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}),
                                              torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-1));
}

Json LmEvalResult::to_json() const {
  Json langs = Json::object();
  for (const auto& l : per_language)
    langs[l.language] = {{"tokens", l.tokens}, {"bytes", l.bytes}, {"loss", l.loss}, {"bits_per_byte", l.bits_per_byte}};
  return {{"windows", windows}, {"tokens", tokens}, {"bytes", bytes}, {"loss", loss},
          {"bits_per_byte", bits_per_byte}, {"per_language", langs}};
}

LmEvalResult evaluate_lm(models::Model& model, const data::Dataset& windows, const at::Tensor& token_bytes,
                         const std::vector<std::string>& languages, int64_t batch_size) {
  GOLGI_CHECK(batch_size > 0, "batch_size must be > 0, got ", batch_size);
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const size_t n_lang = languages.size();
  std::vector<double> nats(n_lang, 0);
  std::vector<int64_t> tokens(n_lang, 0), bytes(n_lang, 0);
  const int64_t t = windows.inputs().size(1) - 1;
  Progress progress("evaluate", windows.size(), "window");
  for (int64_t begin = 0; begin < windows.size(); begin += batch_size) {
    auto batch = windows.range(begin, std::min(windows.size(), begin + batch_size));
    at::Tensor inputs = batch.inputs.narrow(1, 0, t).clamp_min(0);
    at::Tensor targets = batch.inputs.narrow(1, 1, t);
    at::Tensor valid = targets.ge(0);
    at::Tensor logits = model.forward(inputs);
    at::Tensor nll = torch::nn::functional::cross_entropy(
                         logits.reshape({-1, logits.size(-1)}), targets.clamp_min(0).reshape({-1}),
                         torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone))
                         .view(targets.sizes())
                         .masked_fill(~valid, 0);
    at::Tensor row_nats = nll.to(at::kDouble).sum(1);
    at::Tensor row_tokens = valid.sum(1);
    at::Tensor row_bytes = token_bytes.index_select(0, targets.clamp_min(0).reshape({-1})).view(targets.sizes())
                               .masked_fill(~valid, 0)
                               .sum(1);
    for (int64_t i = 0; i < batch.targets.size(0); ++i) {
      const int64_t l = batch.targets[i].item<int64_t>();
      GOLGI_ASSERT(l >= 0 && l < static_cast<int64_t>(n_lang), "window language ", l, " out of range");
      nats[l] += row_nats[i].item<double>();
      tokens[l] += row_tokens[i].item<int64_t>();
      bytes[l] += row_bytes[i].item<int64_t>();
    }
    progress.set(std::min(windows.size(), begin + batch_size));
  }
  progress.finish();
  if (was_training) model.train();
  LmEvalResult r;
  r.windows = windows.size();
  double all_nats = 0;
  for (size_t l = 0; l < n_lang; ++l) {
    if (tokens[l] == 0) continue;
    LmEvalResult::Language lang;
    lang.language = languages[l];
    lang.tokens = tokens[l];
    lang.bytes = bytes[l];
    lang.loss = nats[l] / static_cast<double>(tokens[l]);
    lang.bits_per_byte = nats[l] / std::log(2.0) / static_cast<double>(bytes[l]);
    r.per_language.push_back(lang);
    all_nats += nats[l];
    r.tokens += tokens[l];
    r.bytes += bytes[l];
  }
  r.loss = r.tokens ? all_nats / static_cast<double>(r.tokens) : 0;
  r.bits_per_byte = r.bytes ? all_nats / std::log(2.0) / static_cast<double>(r.bytes) : 0;
  return r;
}

std::shared_ptr<data::Dataset> spread_subset(const std::shared_ptr<data::Dataset>& windows, int64_t n) {
  const int64_t size = windows->size();
  if (n <= 0 || n >= size) return windows;
  at::Tensor ids = torch::arange(n, torch::kLong).mul(size).div(n, "floor");
  return std::make_shared<data::Dataset>(windows->name(), windows->split(), windows->inputs().index_select(0, ids),
                                         windows->targets().index_select(0, ids), windows->card());
}

std::shared_ptr<data::Dataset> per_language_subset(const std::shared_ptr<data::Dataset>& windows, int64_t per_language) {
  GOLGI_CHECK(per_language >= 1, "per_language must be >= 1, got ", per_language);
  const at::Tensor targets = windows->targets().contiguous();
  const int64_t* t = targets.data_ptr<int64_t>();
  std::map<int64_t, std::vector<int64_t>> by_language;
  for (int64_t i = 0; i < targets.numel(); ++i) by_language[t[i]].push_back(i);
  std::vector<int64_t> ids;
  for (const auto& [language, rows] : by_language) {
    const int64_t n = static_cast<int64_t>(rows.size());
    const int64_t take = std::min(n, per_language);
    for (int64_t i = 0; i < take; ++i) ids.push_back(rows[static_cast<size_t>(i * n / take)]);
  }
  at::Tensor index = torch::tensor(ids, torch::kLong);
  return std::make_shared<data::Dataset>(windows->name(), windows->split(), windows->inputs().index_select(0, index),
                                         windows->targets().index_select(0, index), windows->card());
}

void save_lm_tokenizer(const std::string& dir, const tokenize::Tokenizer& tokenizer) {
  if (const auto* bpe = dynamic_cast<const tokenize::BpeTokenizer*>(&tokenizer)) {
    bpe->save(dir);
    return;
  }
  std::vector<std::pair<int64_t, std::string>> specials;
  for (const auto& [text, id] : tokenizer.special_tokens()) specials.emplace_back(id, text);
  std::sort(specials.begin(), specials.end());
  std::vector<std::string> names;
  for (const auto& s : specials) names.push_back(s.second);
  tokenize::save_byte_tokenizer(dir, names);
}

}  // namespace golgi::train
