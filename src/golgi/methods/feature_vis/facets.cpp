#include "golgi/methods/feature_vis/facets.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <torch/torch.h>

#include "golgi/analysis/kmeans.h"
#include "golgi/analysis/pca.h"
#include "golgi/analysis/tsne.h"
#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/hooks/activation_cache.h"
#include "golgi/models/model.h"

namespace golgi::methods {

const OptionSchema<FacetOptions>& FacetOptions::schema() {
  static const auto schema =
      OptionSchema<FacetOptions>("facets")
          .add("hook", &FacetOptions::hook_, "hook point whose activations are the codes (the penultimate layer)")
          .add("target_class", &FacetOptions::target_class_,
               "keep only the images the model classifies as this class; -1 keeps all", at_least<int64_t>(-1))
          .add("facets", &FacetOptions::facets_, "k, the number of facets (k-means clusters)", at_least<int64_t>(1))
          .add("pca_components", &FacetOptions::pca_components_, "PCA dimensions before t-SNE (capped at min(n, d))",
               at_least<int64_t>(1))
          .add("perplexity", &FacetOptions::perplexity_, "t-SNE perplexity (capped at (n - 1) / 3)",
               at_least(1.0))
          .add("tsne_iter", &FacetOptions::tsne_iter_, "t-SNE iterations, both stages", at_least<int64_t>(250))
          .add("kmeans_init", &FacetOptions::kmeans_init_, "k-means++ seedings; the lowest inertia is kept",
               at_least<int64_t>(1))
          .add("nearest", &FacetOptions::nearest_, "images nearest each centroid averaged into its initial image",
               at_least<int64_t>(1))
          .add("max_images", &FacetOptions::max_images_, "images clustered at most (a seeded subset beyond)",
               at_least<int64_t>(2))
          .add("batch_size", &FacetOptions::batch_size_, "forward-pass batch for the codes", at_least<int64_t>(1))
          .add("seed", &FacetOptions::seed_, "seed of the subset, t-SNE and k-means", at_least<int64_t>(0))
          .add("progress", &FacetOptions::progress_, "show the t-SNE progress bar");
  return schema;
}

Json FacetClusters::to_json() const {
  return {{"facets", static_cast<int64_t>(sizes.size())},
          {"sizes", sizes},
          {"nearest", nearest},
          {"pca_components", pca_components},
          {"pca_explained", pca_explained},
          {"tsne_kl", tsne_kl},
          {"kmeans_inertia", kmeans_inertia}};
}

Json Facets::to_json() const {
  // The clusters' rows index `indices`; the document lists the given images' indices instead, which
  // is what a reader can look up.
  Json nearest_images = Json::array();
  for (const auto& rows : clusters.nearest) {
    std::vector<int64_t> images;
    for (int64_t r : rows) images.push_back(indices[r]);
    nearest_images.push_back(images);
  }
  Json out = clusters.to_json();
  out["nearest_images"] = nearest_images;
  out["given"] = given;
  out["recognised"] = recognised;
  out["clustered"] = static_cast<int64_t>(indices.size());
  return out;
}

std::vector<std::vector<int64_t>> nearest_members(const at::Tensor& points, const std::vector<int64_t>& labels,
                                                  const at::Tensor& centroids, int64_t count) {
  GOLGI_CHECK(points.dim() == 2 && centroids.dim() == 2 && points.size(1) == centroids.size(1),
              "nearest_members: points must be [n, m] and centroids [k, m], got ", points.sizes(), " and ",
              centroids.sizes());
  GOLGI_CHECK(static_cast<int64_t>(labels.size()) == points.size(0), "nearest_members: ", labels.size(),
              " labels for ", points.size(0), " points");
  GOLGI_CHECK(count >= 1, "nearest_members: count must be >= 1, got ", count);
  const int64_t k = centroids.size(0);
  const at::Tensor p = points.to(torch::kFloat64).contiguous(), c = centroids.to(torch::kFloat64).contiguous();
  const auto P = p.accessor<double, 2>();
  const auto C = c.accessor<double, 2>();
  std::vector<std::vector<std::pair<double, int64_t>>> by_cluster(k);
  for (int64_t i = 0; i < p.size(0); ++i) {
    const int64_t label = labels[i];
    GOLGI_CHECK(label >= 0 && label < k, "nearest_members: label ", label, " of point ", i, " is not in 0..", k - 1);
    double d2 = 0;
    for (int64_t j = 0; j < p.size(1); ++j) d2 += (P[i][j] - C[label][j]) * (P[i][j] - C[label][j]);
    by_cluster[label].emplace_back(d2, i);
  }
  std::vector<std::vector<int64_t>> out(k);
  for (int64_t c_index = 0; c_index < k; ++c_index) {
    auto& members = by_cluster[c_index];
    // Pairs compare by distance, then by row: ties go to the lower row.
    std::sort(members.begin(), members.end());
    const int64_t keep = std::min<int64_t>(count, static_cast<int64_t>(members.size()));
    for (int64_t i = 0; i < keep; ++i) out[c_index].push_back(members[i].second);
  }
  return out;
}

std::vector<int64_t> nearest_centroid(const at::Tensor& codes, const at::Tensor& centroids) {
  GOLGI_CHECK(codes.dim() == 2 && centroids.dim() == 2 && codes.size(1) == centroids.size(1) && centroids.size(0) >= 1,
              "nearest_centroid: codes must be [m, d] and centroids [k >= 1, d], got ", codes.sizes(), " and ",
              centroids.sizes());
  const at::Tensor x = codes.to(torch::kFloat64), c = centroids.to(torch::kFloat64);
  const at::Tensor d2 = (x.unsqueeze(1) - c.unsqueeze(0)).pow(2).sum(2).contiguous();  // [m, k]
  const auto D = d2.accessor<double, 2>();
  std::vector<int64_t> out(x.size(0));
  for (int64_t i = 0; i < x.size(0); ++i) {
    int64_t best = 0;
    for (int64_t j = 1; j < c.size(0); ++j)
      if (D[i][j] < D[i][best]) best = j;  // strict: ties keep the lower index
    out[i] = best;
  }
  return out;
}

at::Tensor mean_images_of(const at::Tensor& images, const std::vector<std::vector<int64_t>>& rows) {
  GOLGI_CHECK(images.dim() >= 1 && images.size(0) >= 1, "mean_images_of: images must be [N, ...], got ",
              images.sizes());
  std::vector<at::Tensor> means;
  for (size_t c = 0; c < rows.size(); ++c) {
    GOLGI_CHECK(!rows[c].empty(), "mean_images_of: facet ", c, " has no images to average");
    for (int64_t r : rows[c])
      GOLGI_CHECK(r >= 0 && r < images.size(0), "mean_images_of: row ", r, " is outside the ", images.size(0),
                  " images");
    const at::Tensor index = torch::tensor(rows[c], torch::kInt64);
    means.push_back(images.index_select(0, index).to(torch::kFloat64).mean(0).to(torch::kFloat32));
  }
  GOLGI_CHECK(!means.empty(), "mean_images_of: no facets given");
  return torch::stack(means);
}

at::Tensor hook_codes(models::Model& model, const at::Tensor& inputs, const std::string& hook, int64_t batch_size,
                      at::Tensor* logits) {
  GOLGI_CHECK(model.has_hook(hook), "facets: model '", model.architecture(), "' has no hook point '", hook,
              "'; see `golgi info` for its hook names (the penultimate layer of fashion-cnn is fc1.hook_post)");
  GOLGI_CHECK(batch_size >= 1, "facets: batch_size must be >= 1, got ", batch_size);
  GOLGI_CHECK(inputs.dim() >= 1 && inputs.size(0) >= 1, "facets: no images given");
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  hooks::ActivationCache cache(model, {hook});
  std::vector<at::Tensor> codes, outputs;
  for (int64_t begin = 0; begin < inputs.size(0); begin += batch_size) {
    const int64_t end = std::min(inputs.size(0), begin + batch_size);
    const at::Tensor out = cache.run([&] { return model.forward(inputs.slice(0, begin, end)); });
    codes.push_back(cache[hook].reshape({end - begin, -1}).to(torch::kFloat64));
    if (logits) outputs.push_back(out.detach());
  }
  model.train(was_training);
  if (logits) *logits = torch::cat(outputs);
  return torch::cat(codes);
}

FacetClusters cluster_facets(const at::Tensor& codes, const FacetOptions& options) {
  FacetOptions::schema().validate(options);
  GOLGI_CHECK(codes.dim() == 2, "facets: codes must be [n, d], got ", codes.sizes());
  const int64_t n = codes.size(0), d = codes.size(1), k = options.facets();
  GOLGI_CHECK(n >= std::max<int64_t>(k, 2), "facets: ", n, " images cannot make ", k,
              " facets; give at least max(facets, 2) images (or lower facets)");
  GOLGI_CHECK(n >= 4, "facets: t-SNE needs at least 4 images (perplexity >= 1 < (n - 1) / 3), got ", n);
  const at::Tensor x = codes.to(torch::kFloat64);
  GOLGI_CHECK(torch::isfinite(x).all().item<bool>(), "facets: the codes contain NaN or infinity");

  FacetClusters out;
  const int64_t components = std::min({options.pca_components(), n, d});
  const analysis::Pca pca = analysis::fit_pca(x, analysis::PcaOptions().components(components));
  out.pca_components = components;
  out.pca_explained = pca.explained_variance_ratio.sum().item<double>();
  const at::Tensor reduced = pca.transform(x);

  // Exact t-SNE's binary search needs perplexity well below n; (n - 1) / 3 is scikit-learn's bound
  // for its neighbour count, used here only when a class has very few images.
  const double perplexity = std::min(options.perplexity(), (n - 1) / 3.0);
  const analysis::TsneResult tsne =
      analysis::tsne(reduced, analysis::TsneOptions()
                                  .dims(2)
                                  .perplexity(perplexity)
                                  .max_iter(options.tsne_iter())
                                  .init("pca")
                                  .seed(static_cast<int64_t>(derive_seed(options.seed(), "facets/tsne") >> 1))
                                  .progress(options.progress()));
  out.embedding = tsne.embedding;
  out.tsne_kl = tsne.kl_divergence;

  const analysis::KMeansResult km = analysis::kmeans(
      out.embedding, analysis::KMeansOptions().clusters(k).n_init(options.kmeans_init()).seed(
                         static_cast<int64_t>(derive_seed(options.seed(), "facets/kmeans") >> 1)));
  out.labels = km.labels;
  out.centroids = km.centroids;
  out.kmeans_inertia = km.inertia;
  out.nearest = nearest_members(out.embedding, out.labels, out.centroids, options.nearest());

  out.sizes.assign(k, 0);
  for (int64_t label : out.labels) ++out.sizes[label];
  for (int64_t c = 0; c < k; ++c)  // k-means relocates empty clusters, so with n >= k none is empty
    GOLGI_ASSERT(out.sizes[c] > 0, "facet ", c, " has no members");
  const at::Tensor sums = torch::zeros({k, d}, torch::kFloat64).index_add_(0, torch::tensor(out.labels, torch::kInt64), x);
  out.code_centroids = sums / torch::tensor(out.sizes, torch::kFloat64).unsqueeze(1);
  return out;
}

Facets find_facets(models::Model& model, const at::Tensor& images, const FacetOptions& options) {
  FacetOptions::schema().validate(options);
  const auto shape = model.input_shape();
  GOLGI_CHECK(images.dim() == static_cast<int64_t>(shape.size()) + 1,
              "facets: images must be [N, ...input shape] with input shape ", at::IntArrayRef(shape), ", got ",
              images.sizes());
  GOLGI_CHECK(images.is_floating_point(), "facets: images must be floating point (the model's input units), got ",
              images.scalar_type());

  Facets out;
  out.given = images.size(0);
  at::Tensor logits;
  at::Tensor codes = hook_codes(model, images, options.hook(), options.batch_size(),
                                options.target_class() >= 0 ? &logits : nullptr);

  std::vector<int64_t> kept;
  if (options.target_class() >= 0) {
    GOLGI_CHECK(logits.dim() == 2 && options.target_class() < logits.size(1), "facets: target_class ",
                options.target_class(), " is not a class of this model (outputs ", logits.sizes(), ")");
    const at::Tensor predicted = logits.argmax(1).contiguous();
    const auto pred = predicted.accessor<int64_t, 1>();
    for (int64_t i = 0; i < out.given; ++i)
      if (pred[i] == options.target_class()) kept.push_back(i);
  } else {
    kept.resize(out.given);
    std::iota(kept.begin(), kept.end(), 0);
  }
  out.recognised = static_cast<int64_t>(kept.size());
  if (out.recognised > options.max_images()) {
    // A seeded subset, kept in ascending order so that the clustering's rows follow the images'.
    const auto order = permutation(out.recognised, derive_seed(options.seed(), "facets/subset"));
    std::vector<int64_t> subset;
    for (int64_t i = 0; i < options.max_images(); ++i) subset.push_back(kept[order[i]]);
    std::sort(subset.begin(), subset.end());
    kept = subset;
  }
  GOLGI_CHECK(static_cast<int64_t>(kept.size()) >= std::max<int64_t>({options.facets(), 4}), "facets: only ",
              kept.size(), " of ", out.given, " images",
              options.target_class() >= 0 ? " are classified as the target class" : "",
              "; at least max(facets, 4) are needed");
  out.indices = kept;
  const at::Tensor index = torch::tensor(kept, torch::kInt64);
  out.codes = codes.index_select(0, index);
  out.clusters = cluster_facets(out.codes, options);
  out.mean_images = mean_images_of(images.index_select(0, index), out.clusters.nearest);
  return out;
}

}  // namespace golgi::methods
