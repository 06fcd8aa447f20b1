// Spike-sparse linear layer: y = s W^T + b for binary (0/1) inputs s, computed as sums of the
// weight rows of the active inputs instead of a dense matrix product.
//
// Spiking layers feed 0/1 spikes into linear maps, typically with 5-25% of entries active. Then
//   forward   y[r, :]   = b + Σ_{k : s[r,k] = 1} W^T[k, :]          (nnz · N adds)
//   backward  dW^T[k, :] = Σ_{r : s[r,k] = 1} dy[r, :]               (nnz · N adds)
//             ds        = dy W                                       (dense; only if s needs grad)
//             db        = Σ_r dy[r, :]
// against 2 · R · K · N flops for each dense product, so the forward pass and the weight gradient
// cost about density × a dense product. The active set is built once (a CSR of active columns per
// row) in the forward pass and reused by the backward pass.
//
// Falls back to torch's dense linear (same result up to summation order) when the input is not
// exactly 0/1, is not float32, or is denser than `max_density`. Differentiable with respect to the
// weight, the bias and, when it requires grad, the input (with the same gradient as the dense
// product: the sparsity is only a way of computing it).
#pragma once

#include <ATen/core/Tensor.h>

namespace golgi::spiking {

// input [..., K], weight [N, K], bias [N] or undefined -> [..., N]. CPU tensors.
at::Tensor spike_linear(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias = {},
                        double max_density = 0.35);

}  // namespace golgi::spiking
