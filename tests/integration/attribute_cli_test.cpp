// golgi attribute and golgi visualize on tiny untrained models saved with models::save_model:
// every file with the right shapes, the completeness of integrated gradients from the files alone,
// clear errors (exit 2) that write nothing, and activation-maximisation images within [lo, hi].
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include <torch/torch.h>

#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/models/registry.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using golgi::testing::run_cli;

class AttributeCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(golgi::testing::scratch_dir("attribute_cli"));
    const golgi::Json card = {{"dataset", {{"name", "fashion-mnist"}}}};
    torch::manual_seed(3);
    golgi::models::save_model(*dir_ + "/cnn", *golgi::models::make_model("cnn", {{"channels", {2, 3}}, {"hidden", {6}}}),
                              card);
    golgi::models::save_model(*dir_ + "/mlp", *golgi::models::make_model("mlp", {{"hidden", {8}}}), card);
    golgi::models::save_model(*dir_ + "/resnet",
                              *golgi::models::make_model("resnet", {{"stem_channels", 2}, {"stages", {2, 3}}}), card);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string dir() { return *dir_; }

  // Runs `golgi attribute MODEL ... --out OUT` and checks the files every run writes.
  static golgi::Json attribute(const std::string& model, const std::string& flags, const std::string& out,
                               int64_t samples) {
    auto r = run_cli("--quiet --threads 1 attribute " + dir() + "/" + model + " " + flags + " --out " + out);
    EXPECT_EQ(r.exit_code, 0) << flags << "\n" << r.out;
    if (r.exit_code != 0) return golgi::Json();
    for (const char* file : {"attributions.npy", "inputs.npy", "attributions.json", "heatmaps.png"})
      EXPECT_TRUE(fs::exists(out + "/" + file)) << file;
    golgi::Json doc = golgi::io::read_json_file(out + "/attributions.json");
    at::Tensor inputs = golgi::io::load_npy(out + "/inputs.npy");
    EXPECT_EQ(inputs.sizes().vec(), (std::vector<int64_t>{samples, 1, 28, 28}));
    EXPECT_EQ(doc["ids"].size(), static_cast<size_t>(samples));
    EXPECT_EQ(doc["objective"].size(), static_cast<size_t>(samples));
    EXPECT_EQ(doc["predicted"].size(), static_cast<size_t>(samples));
    at::Tensor maps = golgi::io::load_npy(out + "/attributions.npy");
    EXPECT_EQ(maps.scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::isfinite(maps).all().item<bool>());
    // The JSON's per-sample sums are those of the exported maps.
    for (int64_t k = 0; k < samples; ++k)
      EXPECT_NEAR(doc["attribution_sum"][k].get<double>(), maps[k].sum().item<double>(),
                  1e-4 * (1 + std::abs(doc["attribution_sum"][k].get<double>())));
    return doc;
  }

  static void expect_error(const std::string& args, const std::string& needle) {
    const std::string out = dir() + "/bad";
    fs::remove_all(out);
    auto r = run_cli("--quiet --threads 1 " + args + " --out " + out);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
    EXPECT_FALSE(fs::exists(out)) << args << " wrote " << out;
  }

  static std::string* dir_;
};
std::string* AttributeCli::dir_ = nullptr;

TEST_F(AttributeCli, CnnMethodsWriteMapsOfTheRightShape) {
  const std::string d = dir();
  golgi::Json doc = attribute("cnn", "--samples 3 --method gradient", d + "/grad", 3);
  EXPECT_EQ(golgi::io::load_npy(d + "/grad/attributions.npy").sizes().vec(), (std::vector<int64_t>{3, 1, 28, 28}));
  EXPECT_TRUE(fs::exists(d + "/grad/overlay.png"));
  EXPECT_EQ(doc["method"], "gradient");
  EXPECT_EQ(doc["ids"], golgi::Json({0, 1, 2}));
  // --target label explains the dataset's labels.
  EXPECT_EQ(doc["targets"], doc["labels"]);

  doc = attribute("cnn", "--ids 5,9 --method smoothgrad --noise-samples 4 --target predicted", d + "/sg", 2);
  EXPECT_EQ(doc["ids"], golgi::Json({5, 9}));
  EXPECT_EQ(doc["targets"], doc["predicted"]);
  EXPECT_EQ(doc["options"]["samples"], 4);

  doc = attribute("cnn", "--samples 2 --method gradcam --at conv2.hook_post --target 4", d + "/cam", 2);
  // GradCAM's map is [B, H, W] at the hook's resolution (same-padded conv: 14 x 14 after one pool).
  EXPECT_EQ(golgi::io::load_npy(d + "/cam/attributions.npy").sizes().vec(), (std::vector<int64_t>{2, 14, 14}));
  EXPECT_GE(golgi::io::load_npy(d + "/cam/attributions.npy").min().item<double>(), 0.0);  // ReLU
  EXPECT_TRUE(fs::exists(d + "/cam/overlay.png"));
  EXPECT_EQ(doc["targets"], golgi::Json({4, 4}));

  doc = attribute("cnn", "--samples 2 --method lrp --lrp-rule zplus", d + "/lrp", 2);
  EXPECT_EQ(golgi::io::load_npy(d + "/lrp/attributions.npy").sizes().vec(), (std::vector<int64_t>{2, 1, 28, 28}));
  EXPECT_EQ(doc["options"]["lrp_rule"], "zplus");

  // A hook attribution: [C, H, W] per sample, rendered channel-summed.
  doc = attribute("cnn", "--samples 2 --method gradient_x_input --at conv1.hook_pool", d + "/hook", 2);
  EXPECT_EQ(golgi::io::load_npy(d + "/hook/attributions.npy").sizes().vec(), (std::vector<int64_t>{2, 2, 14, 14}));
  EXPECT_TRUE(fs::exists(d + "/hook/overlay.png"));
  // A dense hook has no overlay but still a heatmap.
  doc = attribute("cnn", "--samples 2 --method gradient --at fc1.hook_post", d + "/dense", 2);
  EXPECT_EQ(golgi::io::load_npy(d + "/dense/attributions.npy").sizes().vec(), (std::vector<int64_t>{2, 6}));
  EXPECT_TRUE(doc["figures"]["overlay"].is_null());
}

TEST_F(AttributeCli, IntegratedGradientsAreCompleteFromTheFiles) {
  const std::string d = dir();
  golgi::Json doc = attribute("cnn", "--samples 3 --method integrated_gradients --steps 64", d + "/ig", 3);
  ASSERT_TRUE(doc.contains("baseline_objective"));
  for (int k = 0; k < 3; ++k) {
    double delta = doc["objective"][k].get<double>() - doc["baseline_objective"][k].get<double>();
    double sum = doc["attribution_sum"][k].get<double>();
    EXPECT_NEAR(sum, delta, 0.01 * std::abs(delta) + 1e-5) << "sample " << k;
  }
  // A neuron objective at a hook: F is the neuron's activation, x' the zero activation at the hook.
  golgi::Json neuron_doc = attribute(
      "cnn", "--samples 3 --method integrated_gradients --steps 64 --neuron fc1.hook_pre:2 --at conv2.hook_pool",
      d + "/ig_neuron", 3);
  EXPECT_EQ(neuron_doc["target_mode"], "neuron");
  EXPECT_EQ(golgi::io::load_npy(d + "/ig_neuron/attributions.npy").sizes().vec(), (std::vector<int64_t>{3, 3, 7, 7}));
  for (int k = 0; k < 3; ++k) {
    double delta = neuron_doc["objective"][k].get<double>() - neuron_doc["baseline_objective"][k].get<double>();
    EXPECT_NEAR(neuron_doc["attribution_sum"][k].get<double>(), delta, 0.01 * std::abs(delta) + 1e-5) << "sample " << k;
  }
  // F(x) is the target logit: cross-checked against a forward pass of the saved model.
  auto loaded = golgi::models::load_model(d + "/cnn");
  loaded.model->eval();
  torch::NoGradGuard no_grad;
  at::Tensor logits = loaded.model->forward(golgi::io::load_npy(d + "/ig/inputs.npy"));
  for (int k = 0; k < 3; ++k) {
    int64_t t = doc["targets"][k].get<int64_t>();
    EXPECT_NEAR(doc["objective"][k].get<double>(), logits[k][t].item<double>(), 1e-5);
    EXPECT_EQ(doc["predicted"][k].get<int64_t>(), logits[k].argmax().item<int64_t>());
  }
}

TEST_F(AttributeCli, MlpAndResnetGradients) {
  const std::string d = dir();
  attribute("mlp", "--samples 2 --method gradient", d + "/mlp", 2);
  EXPECT_EQ(golgi::io::load_npy(d + "/mlp/attributions.npy").sizes().vec(), (std::vector<int64_t>{2, 1, 28, 28}));
  attribute("mlp", "--samples 2 --method lrp", d + "/mlp_lrp", 2);
  attribute("resnet", "--samples 2 --method gradient", d + "/resnet", 2);
  EXPECT_EQ(golgi::io::load_npy(d + "/resnet/attributions.npy").sizes().vec(), (std::vector<int64_t>{2, 1, 28, 28}));
  EXPECT_TRUE(fs::exists(d + "/resnet/overlay.png"));
  attribute("resnet", "--samples 2 --method gradcam --at stages.1.0.hook_post --upsample true", d + "/resnet_cam", 2);
  EXPECT_EQ(golgi::io::load_npy(d + "/resnet_cam/attributions.npy").sizes().vec(), (std::vector<int64_t>{2, 28, 28}));
}

TEST_F(AttributeCli, BadMethodOptionsExitTwoAndWriteNothing) {
  const std::string cnn = "attribute " + dir() + "/cnn --samples 2";
  expect_error(cnn + " --method saliency", "saliency");
  expect_error(cnn + " --method gradient --at conv9.hook_post", "conv9.hook_post");
  expect_error(cnn + " --method gradcam --at fc1.hook_post", "GradCAM needs a convolutional hook");
  expect_error(cnn + " --method gradcam", "--method gradcam needs --at");
  expect_error("attribute " + dir() + "/resnet --samples 2 --method lrp", "lrp supports the 'mlp' and 'cnn'");
  expect_error(cnn + " --method lrp --lrp-rule gamma", "gamma");
}

TEST_F(AttributeCli, BadSamplesAndModelsExitTwoAndWriteNothing) {
  const std::string cnn = "attribute " + dir() + "/cnn --samples 2";
  expect_error("attribute " + dir() + "/cnn --ids 3,10000", "sample 10000 is out of range");
  expect_error("attribute " + dir() + "/cnn --ids 3,x", "is not a comma-separated list");
  expect_error(cnn + " --target 10", "--target 10 is out of range");
  expect_error(cnn + " --target best", "is not label, predicted or a class index");
  expect_error("attribute " + golgi::testing::source_dir() + "/assets/models/tiny-multilingual --samples 2",
               "golgi attribute explains image classifiers");
  expect_error("attribute " + dir() + "/nomodel --samples 2", "nomodel");
}

TEST_F(AttributeCli, VisualizeWritesAGridWithinTheDataRange) {
  const std::string d = dir();
  auto r = run_cli("--quiet --threads 1 visualize " + d + "/cnn --classes 0,3 --neuron conv2.hook_post:1 --starts 2 " +
                   "--steps 6 --jitter 1 --tv-weight 10 --out " + d + "/vis");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(fs::exists(d + "/vis/grid.png"));
  at::Tensor images = golgi::io::load_npy(d + "/vis/images.npy");
  EXPECT_EQ(images.sizes().vec(), (std::vector<int64_t>{3, 2, 1, 28, 28}));
  // The default range is Fashion-MNIST's, from the card.
  EXPECT_GE(images.min().item<double>(), -0.8102 - 1e-6);
  EXPECT_LE(images.max().item<double>(), 2.0227 + 1e-6);
  golgi::Json doc = golgi::io::read_json_file(d + "/vis/visualize.json");
  ASSERT_EQ(doc["targets"].size(), 3u);
  EXPECT_EQ(doc["targets"][1]["class"], 3);
  EXPECT_EQ(doc["targets"][2]["neuron"], "conv2.hook_post:1");
  EXPECT_EQ(doc["targets"][0]["objective"].size(), 2u);
  EXPECT_EQ(doc["targets"][0]["steps"][0], 6);

  // An explicit range is respected; init zeros lies inside it.
  r = run_cli("--quiet --threads 1 visualize " + d + "/cnn --all-classes --starts 1 --steps 3 --init zeros --lo -0.5 " +
              "--hi 0.5 --out " + d + "/vis2");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  images = golgi::io::load_npy(d + "/vis2/images.npy");
  EXPECT_EQ(images.sizes().vec(), (std::vector<int64_t>{10, 1, 1, 28, 28}));
  EXPECT_GE(images.min().item<double>(), -0.5 - 1e-6);
  EXPECT_LE(images.max().item<double>(), 0.5 + 1e-6);

  expect_error("visualize " + d + "/cnn --starts 2", "nothing to visualise");
  expect_error("visualize " + d + "/cnn --classes 12", "class 12 is out of range");
  expect_error("visualize " + d + "/cnn --classes 1 --lo 0", "give both --lo and --hi");
  expect_error("visualize " + d + "/cnn --neuron conv7.hook_post:1", "conv7");
  expect_error("visualize " + d + "/cnn --classes 1 --objective neuron", "--objective neuron is implied");
  expect_error("visualize " + d + "/cnn --classes 1 --init mean --dataset synthetic-blobs", "has samples");
}

}  // namespace
