#include "golgi/spiking/spike_linear.h"

#include <torch/torch.h>

#include <ATen/Parallel.h>

#include <atomic>
#include <vector>

#include "golgi/core/error.h"

namespace golgi::spiking {

namespace {

// Active columns per row (CSR), or nothing when the input is not 0/1 or too dense.
struct ActiveSet {
  at::Tensor row_start;  // [R + 1] int64
  at::Tensor columns;    // [nnz] int32
  bool usable = false;
};

ActiveSet active_set(const at::Tensor& s, double max_density) {
  const int64_t rows = s.size(0), k = s.size(1);
  const float* data = s.data_ptr<float>();
  at::Tensor counts = torch::empty({rows + 1}, torch::kLong);
  int64_t* count = counts.data_ptr<int64_t>();
  std::atomic<bool> binary{true};
  at::parallel_for(0, rows, 256, [&](int64_t begin, int64_t end) {
    int64_t not_binary = 0;  // branch-free scan: the loop vectorises
    for (int64_t r = begin; r < end; ++r) {
      int64_t c = 0;
      const float* row = data + r * k;
      for (int64_t j = 0; j < k; ++j) {
        not_binary += (row[j] != 0.0f) & (row[j] != 1.0f);
        c += row[j] != 0.0f;
      }
      count[r + 1] = c;
    }
    if (not_binary) binary = false;
  });
  ActiveSet set;
  if (!binary) return set;
  count[0] = 0;
  for (int64_t r = 0; r < rows; ++r) count[r + 1] += count[r];
  const int64_t nnz = count[rows];
  if (static_cast<double>(nnz) > max_density * static_cast<double>(rows * k)) return set;
  set.row_start = counts;
  set.columns = torch::empty({nnz}, torch::kInt);
  int32_t* columns = set.columns.data_ptr<int32_t>();
  at::parallel_for(0, rows, 256, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      int64_t at = count[r];
      const float* row = data + r * k;
      for (int64_t j = 0; j < k; ++j)
        if (row[j] != 0.0f) columns[at++] = static_cast<int32_t>(j);
    }
  });
  set.usable = true;
  return set;
}

// out[0, n) += Σ_i table[index[i], 0..n). Register-blocked: a 64-wide slice of `out` stays in
// registers while every indexed row adds into it, so `out` is loaded and stored once per slice
// instead of once per index. The AVX2 clone is picked at load time where the CPU has it.
constexpr int64_t kSlice = 64;

__attribute__((target_clones("avx2", "default"))) void gather_add(float* out, const float* table,
                                                                   const int32_t* index, int64_t count, int64_t n) {
  int64_t j0 = 0;
  for (; j0 + kSlice <= n; j0 += kSlice) {
    float acc[kSlice];
    for (int64_t j = 0; j < kSlice; ++j) acc[j] = out[j0 + j];
    for (int64_t i = 0; i < count; ++i) {
      const float* row = table + static_cast<int64_t>(index[i]) * n + j0;
      for (int64_t j = 0; j < kSlice; ++j) acc[j] += row[j];
    }
    for (int64_t j = 0; j < kSlice; ++j) out[j0 + j] = acc[j];
  }
  for (int64_t i = 0; i < count && j0 < n; ++i) {  // the tail narrower than a slice
    const float* row = table + static_cast<int64_t>(index[i]) * n;
    for (int64_t j = j0; j < n; ++j) out[j] += row[j];
  }
}

class SpikeLinearFunction : public torch::autograd::Function<SpikeLinearFunction> {
 public:
  // s2d [R, K] (0/1, float32), weight [N, K], bias [N] or empty; the active set comes in built.
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& s2d,
                                                const at::Tensor& weight, const at::Tensor& bias,
                                                const at::Tensor& row_start, const at::Tensor& columns) {
    const int64_t rows = s2d.size(0), n = weight.size(0);
    const at::Tensor weight_t = weight.detach().t().contiguous();  // [K, N]
    at::Tensor y = bias.numel() ? bias.detach().reshape({1, n}).expand({rows, n}).contiguous()
                                : torch::zeros({rows, n}, weight.options());
    const int64_t* start = row_start.data_ptr<int64_t>();
    const int32_t* cols = columns.data_ptr<int32_t>();
    const float* wt = weight_t.data_ptr<float>();
    float* out = y.data_ptr<float>();
    at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) gather_add(out + r * n, wt, cols + start[r], start[r + 1] - start[r], n);
    });
    ctx->save_for_backward({weight, row_start, columns});
    ctx->saved_data["has_bias"] = bias.numel() > 0;
    ctx->saved_data["k"] = s2d.size(1);
    return {y};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor weight = saved[0], row_start = saved[1], columns = saved[2];
    const at::Tensor dy = grads[0].contiguous();
    const int64_t rows = dy.size(0), n = dy.size(1), k = ctx->saved_data["k"].toInt();
    at::Tensor grad_input = ctx->needs_input_grad(0) ? torch::mm(dy, weight) : at::Tensor();
    at::Tensor grad_weight;
    if (ctx->needs_input_grad(1)) {
      // dW^T[k, :] = Σ_{r : s[r,k] = 1} dy[r, :]: the transpose of the active set (rows per column)
      // turns this into the same gather as the forward pass, one output row per column k, with no
      // write conflicts between threads.
      const int64_t* start = row_start.data_ptr<int64_t>();
      const int32_t* cols = columns.data_ptr<int32_t>();
      std::vector<int64_t> col_start(static_cast<size_t>(k + 1), 0);
      const int64_t nnz = start[rows];
      for (int64_t i = 0; i < nnz; ++i) ++col_start[static_cast<size_t>(cols[i]) + 1];
      for (int64_t c = 0; c < k; ++c) col_start[static_cast<size_t>(c + 1)] += col_start[static_cast<size_t>(c)];
      std::vector<int32_t> row_of(static_cast<size_t>(nnz));
      std::vector<int64_t> fill(col_start.begin(), col_start.end() - 1);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = start[r]; i < start[r + 1]; ++i) row_of[static_cast<size_t>(fill[static_cast<size_t>(cols[i])]++)] = static_cast<int32_t>(r);
      at::Tensor grad_weight_t = torch::zeros({k, n}, dy.options());
      const float* g = dy.data_ptr<float>();
      float* out = grad_weight_t.data_ptr<float>();
      at::parallel_for(0, k, 8, [&](int64_t begin, int64_t end) {
        for (int64_t c = begin; c < end; ++c)
          gather_add(out + c * n, g, row_of.data() + col_start[static_cast<size_t>(c)],
                     col_start[static_cast<size_t>(c + 1)] - col_start[static_cast<size_t>(c)], n);
      });
      grad_weight = grad_weight_t.t().contiguous();
    }
    at::Tensor grad_bias = ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2) ? dy.sum(0) : at::Tensor();
    return {grad_input, grad_weight, grad_bias, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor spike_linear(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias, double max_density) {
  GOLGI_CHECK(input.defined() && input.dim() >= 1, "spike_linear: input must be [..., K]");
  GOLGI_CHECK(weight.defined() && weight.dim() == 2 && weight.size(1) == input.size(-1),
              "spike_linear: weight must be [N, K] with K = input's last dim (", input.size(-1), "), got ",
              weight.defined() ? weight.sizes() : at::IntArrayRef{});
  GOLGI_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0)),
              "spike_linear: bias must be [N] with N = ", weight.size(0));
  GOLGI_CHECK(input.device().is_cpu() && weight.device().is_cpu(), "spike_linear: CPU tensors only");
  const bool float32 = input.scalar_type() == at::kFloat && weight.scalar_type() == at::kFloat &&
                       (!bias.defined() || bias.scalar_type() == at::kFloat);
  if (float32 && input.numel() > 0) {
    const at::Tensor s2d = input.reshape({-1, input.size(-1)}).contiguous();
    ActiveSet set = active_set(s2d.detach(), max_density);
    if (set.usable) {
      std::vector<int64_t> out_shape(input.sizes().begin(), input.sizes().end());
      out_shape.back() = weight.size(0);
      const at::Tensor b = bias.defined() ? bias : torch::empty({0}, weight.options());
      return SpikeLinearFunction::apply(s2d, weight, b, set.row_start, set.columns)[0].view(out_shape);
    }
  }
  return torch::nn::functional::linear(input, weight, bias);
}

}  // namespace golgi::spiking
