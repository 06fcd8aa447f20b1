// golgi info: version, threads, BLAS in use, and every registry.
#include <cstdio>

#include "cli.h"
#include "golgi/core/json.h"
#include "golgi/core/runtime.h"
#include "golgi/core/version.h"
#include "golgi/data/facts_kb.h"
#include "golgi/data/registry.h"
#include "golgi/data/text_corpus.h"
#include "golgi/models/registry.h"
#include "golgi/repro/repro.h"

namespace golgi::cli {

Command add_info(CLI::App& app) {
  auto* sub = app.add_subcommand("info", "Show version, threads, the BLAS LibTorch really uses, and the registries "
                                         "(models, datasets, text corpora, tokenizers, methods, reproductions).");
  auto json_out = std::make_shared<bool>(false);
  sub->add_flag("--json", *json_out, "print JSON instead of text");
  return {sub, [json_out] {
            BlasInfo blas = detect_blas();
            Json info = {{"version", kVersion},
                         {"threads", threads()},
                         {"hardware_threads", hardware_threads()},
                         {"blas", {{"name", blas.name}, {"path", blas.path}, {"reference", blas.reference}}}};
            Json models = Json::array(), datasets = Json::array(), repros = Json::array();
            for (const auto& m : models::model_registry().entries())
              models.push_back({{"name", m.name}, {"description", m.description}});
            for (const auto& d : data::dataset_registry().entries())
              datasets.push_back({{"name", d.name}, {"description", d.description}});
            int implemented = 0;
            for (const auto& p : repro::paper_registry().entries()) {
              repros.push_back({{"id", p.name}, {"status", p.status}});
              implemented += p.status == "implemented";
            }
            Json corpora = Json::array(), relations = Json::array();
            for (const auto& c : data::text_corpus_registry().entries())
              corpora.push_back({{"name", c.name}, {"description", c.description}});
            for (const auto& r : data::facts_kb_relations()) relations.push_back(r.name);
            const Json tokenizers = Json::array(
                {{{"name", "byte"}, {"description", "bytes as tokens (ids 0-255) + <|bos|> <|eos|> <|pad|>; "
                                                    "`--tokenizer byte`"}},
                 {{"name", "bpe"}, {"description", "GPT-2 byte-level BPE from a folder with vocab.json + merges.txt "
                                                   "or a Hugging Face tokenizer.json; train one with "
                                                   "`golgi tokenizer train`"}}});
            info["models"] = models;
            info["datasets"] = datasets;
            info["text_corpora"] = corpora;
            info["knowledge_bases"] = Json::array({{{"name", "facts-kb"}, {"relations", relations}}});
            info["tokenizers"] = tokenizers;
            info["methods"] = Json::array();
            info["repros"] = repros;
            if (!blas.warning.empty()) std::fprintf(stderr, "golgi: warning: %s\n", blas.warning.c_str());
            if (*json_out) {
              std::printf("%s\n", info.dump(2).c_str());
              return kExitOk;
            }
            std::printf("golgi %s\n", kVersion);
            std::printf("threads      %d of %d cores\n", threads(), hardware_threads());
            std::printf("blas         %s (%s)%s\n", blas.name.c_str(), blas.path.c_str(),
                        blas.reference ? "  << SLOW reference BLAS" : "");
            std::printf("\nmodels\n");
            for (const auto& m : models::model_registry().entries())
              std::printf("  %-16s %s\n", m.name.c_str(), m.description.c_str());
            std::printf("\ndatasets\n");
            for (const auto& d : data::dataset_registry().entries())
              std::printf("  %-16s %s\n", d.name.c_str(), d.description.c_str());
            std::printf("\ntext corpora (language models: `golgi train --model llama --dataset NAME`)\n");
            for (const auto& c : corpora)
              std::printf("  %-22s %s\n", c["name"].get<std::string>().c_str(), c["description"].get<std::string>().c_str());
            std::printf("\nknowledge bases\n  %-22s relations: %s\n", "facts-kb", [&] {
              std::string out;
              for (const auto& r : relations) out += (out.empty() ? "" : ", ") + r.get<std::string>();
              return out;
            }().c_str());
            std::printf("\ntokenizers\n");
            for (const auto& t : tokenizers)
              std::printf("  %-22s %s\n", t["name"].get<std::string>().c_str(), t["description"].get<std::string>().c_str());
            std::printf("\nmethods\n  (none yet: they arrive with the method issues)\n");
            std::printf("\nreproductions: %zu paper ids, %d implemented (`golgi repro --list`)\n",
                        repro::paper_registry().entries().size(), implemented);
            return kExitOk;
          }};
}

}  // namespace golgi::cli
