// The loops are written without branches and with restrict pointers so that the vectoriser turns
// them into masked vector code; O3 here because the project's -O2 leaves them scalar.
#pragma GCC optimize("O3")

#include "golgi/spiking/sim/kernels.h"

#include <immintrin.h>

namespace golgi::spiking::sim::kernels {

namespace {

template <typename T>
inline void integrate_body(T* __restrict V, int32_t* __restrict ref, int32_t* __restrict flag, int64_t n, T v_inf,
                           T decay, T v_th) {
  for (int64_t i = 0; i < n; ++i) {
    int32_t r = ref[i];
    r = r > 0 ? r - 1 : 0;
    const T v = V[i];
    const T integrated = v_inf + (v - v_inf) * decay;
    const T v_new = r > 0 ? v : integrated;
    V[i] = v_new;
    ref[i] = r;
    flag[i] = (r == 0) & (v_new >= v_th);
  }
}

template <typename T>
inline void deliver_body(T* __restrict V, int32_t* __restrict ref, const int32_t* __restrict flag, T* __restrict in,
                         int64_t n, T v_reset, int32_t refractory, bool after_reset) {
  // A spiking neuron lands on v_reset, plus its input when it is delivered after the reset.
  const T keep_input = after_reset && refractory == 0 ? T(1) : T(0);
  for (int64_t i = 0; i < n; ++i) {
    const T x = in[i];
    in[i] = 0;
    const int32_t s = flag[i], r = ref[i];
    const T v = V[i];
    // Refractory and spiking neurons discard their input (Brian2's conditional write on V_m).
    const T received = ((r > 0) | s) ? v : v + x;
    V[i] = s ? v_reset + keep_input * x : received;
    ref[i] = s ? refractory : r;
  }
}

}  // namespace

#define GOLGI_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

GOLGI_CLONES void integrate(float* V, int32_t* ref, int32_t* flag, int64_t n, float v_inf, float decay, float v_th) {
  integrate_body(V, ref, flag, n, v_inf, decay, v_th);
}
GOLGI_CLONES void integrate(double* V, int32_t* ref, int32_t* flag, int64_t n, double v_inf, double decay,
                            double v_th) {
  integrate_body(V, ref, flag, n, v_inf, decay, v_th);
}
GOLGI_CLONES void deliver_and_reset(float* V, int32_t* ref, const int32_t* flag, float* in, int64_t n, float v_reset,
                                    int32_t refractory, bool after_reset) {
  deliver_body(V, ref, flag, in, n, v_reset, refractory, after_reset);
}
GOLGI_CLONES void deliver_and_reset(double* V, int32_t* ref, const int32_t* flag, double* in, int64_t n,
                                    double v_reset, int32_t refractory, bool after_reset) {
  deliver_body(V, ref, flag, in, n, v_reset, refractory, after_reset);
}

uint32_t hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

namespace {

int64_t compact_portable(const int32_t* flag, int64_t n, int32_t base, int32_t* out) {
  int64_t count = 0;
  // Branch-free: Poisson flags are dense and random, which a branch would mispredict.
  for (int64_t i = 0; i < n; ++i) {
    out[count] = base + static_cast<int32_t>(i);
    count += flag[i] != 0;
  }
  return count;
}

// AVX-512 has a compress-store: 16 flags tested and their indices packed in two instructions.
__attribute__((target("avx512f"))) int64_t compact_avx512(const int32_t* flag, int64_t n, int32_t base,
                                                          int32_t* out) {
  int64_t count = 0, i = 0;
  __m512i index = _mm512_add_epi32(_mm512_set1_epi32(base),
                                   _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  const __m512i sixteen = _mm512_set1_epi32(16);
  for (; i + 16 <= n; i += 16) {
    const __m512i f = _mm512_loadu_si512(flag + i);
    const __mmask16 mask = _mm512_test_epi32_mask(f, f);
    if (mask) {
      _mm512_mask_compressstoreu_epi32(out + count, mask, index);
      count += __builtin_popcount(static_cast<unsigned>(mask));
    }
    index = _mm512_add_epi32(index, sixteen);
  }
  return count + compact_portable(flag + i, n - i, base + static_cast<int32_t>(i), out + count);
}

}  // namespace

int64_t compact(const int32_t* flag, int64_t n, int32_t base, int32_t* out) {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  return avx512 ? compact_avx512(flag, n, base, out) : compact_portable(flag, n, base, out);
}

GOLGI_CLONES void poisson_flags(int32_t* __restrict flag, int64_t n, uint32_t first, uint32_t step_key,
                                uint32_t threshold) {
  for (int64_t i = 0; i < n; ++i) {
    uint32_t x = (first + static_cast<uint32_t>(i)) * 0x9e3779b9U + step_key;
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    x ^= step_key;
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    flag[i] = x < threshold;
  }
}

}  // namespace golgi::spiking::sim::kernels
