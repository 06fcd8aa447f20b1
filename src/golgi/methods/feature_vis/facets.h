// Facets of a class neuron, and the images that initialise their visualisations (paper id
// `multifaceted-vis`): Nguyen, Yosinski & Clune 2016, "Multifaceted Feature Visualization:
// Uncovering the Different Types of Features Learned By Each Neuron in Deep Neural Networks",
// arXiv:1602.03616, sec. 2.1 and Algorithm 1.
//
// A class neuron fires for visually different kinds of images (a "sandal" is a thin-strapped sandal
// or a chunky one). Activation maximisation started from noise shows one mixture of them; started
// from the mean of one kind of training image it shows that kind, a "facet". The facets are found
// without labels, from how the network itself represents the class's training images:
//
//   1. codes: the activations at `hook` (the penultimate layer; fashion-cnn: fc1.hook_post, 128-d)
//      of the class's training images, flattened to [n, d], in float64. With `target_class` set,
//      only the images the model classifies as that class are kept; at most `max_images` of them
//      (a seeded subset, kept in the original order), because exact t-SNE costs O(n²).
//   2. PCA to min(pca_components, n, d) dimensions (analysis/pca.h);
//   3. t-SNE to 2-D (analysis/tsne.h, exact, perplexity min(perplexity, (n - 1) / 3));
//   4. k-means with k = `facets` clusters in the t-SNE plane (analysis/kmeans.h, k-means++,
//      `kmeans_init` seedings). The paper clusters the t-SNE embedding, not the codes, because the
//      embedding separates the kinds of images far more cleanly than distances in 50-D do.
//   5. per cluster, the `nearest` members nearest its k-means centroid IN THE t-SNE PLANE (where the
//      clusters were made; ties by the lower row), and their mean image, which initialises
//      activation maximisation (feature_vis/activation_max.h). A cluster with fewer members uses all.
//
// Each facet also gets its centroid in code space, the mean code of its members (not the k-means
// centroid, which lives in the t-SNE plane): a visualisation's own penultimate code can be compared
// with these to ask which facet it looks like to the network.
//
// Determinism: the subset, t-SNE and k-means randomness all derive from `seed`
// (derive_seed(seed, "facets/subset" | "facets/tsne" | "facets/kmeans")), so the same images and
// seed give the same facets on every run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::models {
class Model;
}

namespace golgi::methods {

struct FacetOptions {
  GOLGI_ARG(std::string, hook) = "fc1.hook_post";  // the penultimate layer
  GOLGI_ARG(int64_t, target_class) = -1;            // >= 0: keep only images classified as this class
  GOLGI_ARG(int64_t, facets) = 5;                   // k; the paper uses 5 at 28 x 28 (10 at 227 x 227)
  GOLGI_ARG(int64_t, pca_components) = 50;          // capped at min(n, d)
  GOLGI_ARG(double, perplexity) = 30;               // capped at (n - 1) / 3
  GOLGI_ARG(int64_t, tsne_iter) = 1000;
  GOLGI_ARG(int64_t, kmeans_init) = 10;             // k-means++ seedings, the lowest inertia kept
  GOLGI_ARG(int64_t, nearest) = 15;                 // images averaged per facet
  GOLGI_ARG(int64_t, max_images) = 2000;            // exact t-SNE bound; a seeded subset beyond it
  GOLGI_ARG(int64_t, batch_size) = 500;             // forward pass batch for the codes
  GOLGI_ARG(int64_t, seed) = 0;
  GOLGI_ARG(bool, progress) = true;
  static const OptionSchema<FacetOptions>& schema();
};

// The clustering half of the pipeline (steps 2 to 5 without the images), on given codes.
struct FacetClusters {
  at::Tensor embedding;            // [n, 2] float64, the t-SNE plane
  std::vector<int64_t> labels;     // [n], each in 0..k-1
  at::Tensor centroids;            // [k, 2] float64, k-means centroids in the t-SNE plane
  at::Tensor code_centroids;       // [k, d] float64, the mean code of each cluster's members
  std::vector<std::vector<int64_t>> nearest;  // per cluster, rows of the codes, nearest first
  std::vector<int64_t> sizes;      // [k] members per cluster
  int64_t pca_components = 0;      // the number used
  double pca_explained = 0;        // fraction of the codes' variance the kept components explain
  double tsne_kl = 0;              // the t-SNE's final KL divergence, nats
  double kmeans_inertia = 0;       // in the t-SNE plane, squared units
  Json to_json() const;            // sizes, nearest, diagnostics; no tensors
};

// The whole pipeline on one class's images.
struct Facets {
  std::vector<int64_t> indices;    // [n] rows of the given images that were clustered, ascending
  at::Tensor codes;                // [n, d] float64, their activations at the hook, flattened
  FacetClusters clusters;          // nearest[c] and labels index `indices`, not the given images
  at::Tensor mean_images;          // [k, ...input_shape] float32: the mean of each facet's nearest images
  int64_t given = 0;               // images passed in
  int64_t recognised = 0;          // of those, classified as target_class (= given without target_class)
  Json to_json() const;            // counts, the chosen images' indices (into the given images), clusters
};

// Steps 2 to 5 on codes [n, d] (finite, n >= max(k, 2)). Throws golgi::Error on bad shapes or options.
FacetClusters cluster_facets(const at::Tensor& codes, const FacetOptions& options = {});

// For each cluster c of points [n, m], the rows labelled c ordered by squared Euclidean distance
// to centroids[c] ([k, m]), nearest first, ties by the lower row, at most `count` of them.
std::vector<std::vector<int64_t>> nearest_members(const at::Tensor& points, const std::vector<int64_t>& labels,
                                                  const at::Tensor& centroids, int64_t count);

// The activations at `hook` of inputs [N, ...input_shape], flattened to [N, d] float64 (eval mode,
// no gradients, in batches of batch_size); with `logits` non-null also the model's outputs [N, C].
at::Tensor hook_codes(models::Model& model, const at::Tensor& inputs, const std::string& hook, int64_t batch_size,
                      at::Tensor* logits = nullptr);

// The mean of images[rows] for each list of rows: [k, ...] float32 (images [N, ...]).
at::Tensor mean_images_of(const at::Tensor& images, const std::vector<std::vector<int64_t>>& rows);

// Index of the row of centroids [k, d] nearest each code of codes [m, d] (squared Euclidean, ties
// by the lower index): which facet each visualisation looks like to the network.
std::vector<int64_t> nearest_centroid(const at::Tensor& codes, const at::Tensor& centroids);

// The whole pipeline: images [N, ...model.input_shape()] of one class (in the model's input units).
// Throws golgi::Error when fewer than max(k, 2) images remain after the target_class filter, or
// on an unknown hook.
Facets find_facets(models::Model& model, const at::Tensor& images, const FacetOptions& options = {});

}  // namespace golgi::methods
