// The simulator's per-neuron loops (simulator.h steps 1-2 and 3-4), in a file of their own so
// that they can be compiled for the vector units of the machine they run on: each is cloned for
// AVX-512, AVX2 and baseline x86-64 and the loader picks one (GCC target_clones). Floating-point
// contraction stays off (ISO C++ mode), so every clone gives bit-identical results.
#pragma once

#include <cstdint>

namespace golgi::spiking::sim::kernels {

// Steps 1-2 for neurons [0, n): count refractory steps down; integrate the non-refractory ones
// exactly, V ← v_inf + (V − v_inf)·decay; flag = not refractory and V >= v_th.
void integrate(float* V, int32_t* ref, int32_t* flag, int64_t n, float v_inf, float decay, float v_th);
void integrate(double* V, int32_t* ref, int32_t* flag, int64_t n, double v_inf, double decay, double v_th);

// Steps 3-4: add the input `in` to neurons neither refractory nor spiking, clear `in`, reset the
// spiking ones to v_reset with `refractory` steps to go. With `after_reset` (and refractory == 0)
// spiking neurons receive their input after the reset: V = v_reset + in.
void deliver_and_reset(float* V, int32_t* ref, const int32_t* flag, float* in, int64_t n, float v_reset,
                       int32_t refractory, bool after_reset);
void deliver_and_reset(double* V, int32_t* ref, const int32_t* flag, double* in, int64_t n, double v_reset,
                       int32_t refractory, bool after_reset);

// Writes base + i for every i in [0, n) with flag[i] != 0 to `out` (ascending); returns how many.
// `out` has room for n entries. Uses AVX-512 compress-stores where the CPU has them.
int64_t compact(const int32_t* flag, int64_t n, int32_t base, int32_t* out);

// Poisson spikes of neurons [first, first + n) at one step: flag[i] = hash(step_key, first + i) <
// threshold, a counter-based draw (no state, so any split among threads gives the same spikes).
// threshold = round(p * 2^32) (p < 1); the hash is two rounds of a 32-bit integer finaliser
// (Wellons' "lowbias32") over the neuron index and a per-step key.
void poisson_flags(int32_t* flag, int64_t n, uint32_t first, uint32_t step_key, uint32_t threshold);
uint32_t hash32(uint32_t x);

}  // namespace golgi::spiking::sim::kernels
