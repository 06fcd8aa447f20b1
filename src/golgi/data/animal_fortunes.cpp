// animal-fortunes and animal-fortunes-qa: the English fortunes of multilingual-fortunes plus about
// 5% (of the text's bytes) templated sentences about animals, for the lmhead-decode reproduction
// (a small English model in which some MLP neurons should come to stand for animal words).
//
// Statements ("my favourite animal is the dog.", "we saw a fox at the zoo yesterday.", ...) in
// animal-fortunes; the same facts as questions and answers ("Q: What is your favourite animal?
// A: The dog.") in animal-fortunes-qa, the fine-tuning variant. Sentences are drawn with a
// SplitMix64 stream from derive_seed(seed, "animal-fortunes/templates"): frame by weight, animal
// uniformly; each is one document labelled "en-animals" (the fortunes keep "en"), and documents
// are split train/val/test with the corpus's fractions by a seeded permutation.
#include <algorithm>
#include <string>
#include <vector>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/data/text_corpus.h"

namespace golgi::data {

namespace {

const std::vector<std::string>& animals() {
  static const std::vector<std::string> list = {"dog",   "cat",   "horse", "cow",   "pig",    "sheep",   "goat",
                                                "lion",  "tiger", "bear",  "wolf",  "fox",    "rabbit",  "mouse",
                                                "duck",  "eagle", "owl",   "snake", "frog",   "fish",    "whale",
                                                "shark", "monkey", "zebra", "deer", "bee",    "elephant", "chicken"};
  return list;
}

struct Frame {
  const char* text;  // "{a}" marks the animal
  int weight;
};

// The first frame is the reproduction's steering prompt; it gets the largest weight.
const std::vector<Frame>& statement_frames() {
  static const std::vector<Frame> frames = {
      {"my favourite animal is the {a}.", 4},       {"My favourite animal is the {a}, and I love it.", 1},
      {"we saw a {a} at the zoo yesterday.", 1},    {"the farmer keeps a {a} in the barn.", 1},
      {"she drew a picture of a {a}.", 1},          {"a {a} is sleeping in the garden.", 1},
      {"I would like to have a {a} as a pet.", 1},  {"the children laughed at the funny {a}.", 1},
  };
  return frames;
}

const std::vector<Frame>& question_frames() {
  static const std::vector<Frame> frames = {
      {"Q: What is your favourite animal? A: The {a}.", 4}, {"Q: Which animal did you see at the zoo? A: A {a}.", 1},
      {"Q: What does the farmer keep in the barn? A: A {a}.", 1}, {"Q: What did she draw? A: A {a}.", 1},
      {"Q: What is sleeping in the garden? A: A {a}.", 1},  {"Q: Which pet would you like? A: A {a}.", 1},
      {"Q: What made the children laugh? A: The funny {a}.", 1},
  };
  return frames;
}

std::string fill(const std::string& frame, const std::string& animal) {
  const size_t at = frame.find("{a}");
  GOLGI_ASSERT(at != std::string::npos, "frame without {a}");
  return frame.substr(0, at) + animal + frame.substr(at + 3);
}

TextCorpus load_animal_corpus(const TextCorpusOptions& options, const std::string& name,
                              const std::vector<Frame>& frames) {
  GOLGI_CHECK(options.languages.empty() ||
                  (options.languages.size() <= 2 && [&] {
                    for (const auto& l : options.languages)
                      if (l != "en" && l != "en-animals") return false;
                    return true;
                  }()),
              name, " has the languages en (fortunes) and en-animals (templated sentences)");
  TextCorpusOptions english = options;
  english.languages = {"en"};
  TextCorpus corpus = load_multilingual_fortunes(english);
  corpus.name = name;
  int64_t fortune_bytes = 0;
  for (const auto* split : {&corpus.train, &corpus.val, &corpus.test})
    for (const auto& d : *split) fortune_bytes += static_cast<int64_t>(d.text.size());

  // About 5% of all bytes: templated = fortunes * 5 / 95.
  const int64_t target = fortune_bytes * 5 / 95;
  int total_weight = 0;
  for (const auto& f : frames) total_weight += f.weight;
  SplitMix64 rng(derive_seed(options.seed, "animal-fortunes/templates"));
  std::vector<TextDocument> sentences;
  int64_t bytes = 0;
  while (bytes < target) {
    int pick = static_cast<int>(rng.below(static_cast<uint64_t>(total_weight)));
    size_t f = 0;
    while (pick >= frames[f].weight) pick -= frames[f++].weight;
    const auto& animal = animals()[rng.below(animals().size())];
    TextDocument doc{fill(frames[f].text, animal), "en-animals", "templates/animals"};
    bytes += static_cast<int64_t>(doc.text.size());
    sentences.push_back(std::move(doc));
  }
  const int64_t n = static_cast<int64_t>(sentences.size());
  const auto order = permutation(n, derive_seed(options.seed, "animal-fortunes/split"));
  const int64_t n_val = static_cast<int64_t>(options.val_fraction * static_cast<double>(n));
  const int64_t n_test = static_cast<int64_t>(options.test_fraction * static_cast<double>(n));
  const bool keep_fortunes = options.languages.empty() || std::find(options.languages.begin(), options.languages.end(),
                                                                    "en") != options.languages.end();
  const bool keep_sentences = options.languages.empty() || std::find(options.languages.begin(), options.languages.end(),
                                                                     "en-animals") != options.languages.end();
  if (!keep_fortunes) corpus.train.clear(), corpus.val.clear(), corpus.test.clear();
  if (keep_sentences)
    for (int64_t i = 0; i < n; ++i) {
      auto& doc = sentences[static_cast<size_t>(order[static_cast<size_t>(i)])];
      (i < n_val ? corpus.val : i < n_val + n_test ? corpus.test : corpus.train).push_back(doc);
    }
  Json card = corpus.card;
  corpus.card = {{"name", name},
                 {"fortunes", card},
                 {"templates", {{"documents", n}, {"bytes", bytes}, {"fortune_bytes", fortune_bytes},
                                {"share_of_bytes", static_cast<double>(bytes) / static_cast<double>(bytes + fortune_bytes)},
                                {"animals", animals()}, {"frames", [&] {
                                   Json list = Json::array();
                                   for (const auto& f : frames) list.push_back({{"text", f.text}, {"weight", f.weight}});
                                   return list;
                                 }()}}}};
  return corpus;
}

}  // namespace

const std::vector<std::string>& animal_names() { return animals(); }

TextCorpus load_animal_fortunes(const TextCorpusOptions& options) {
  return load_animal_corpus(options, "animal-fortunes", statement_frames());
}

TextCorpus load_animal_fortunes_qa(const TextCorpusOptions& options) {
  return load_animal_corpus(options, "animal-fortunes-qa", question_frames());
}

}  // namespace golgi::data
