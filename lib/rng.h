/*
 * lib/rng.h — the library's one splitmix64 (Steele, Lea, Flood, "Fast
 * splittable pseudorandom number generators", OOPSLA 2014): a 64-bit state
 * advanced by the golden-ratio increment, each output the finaliser of the
 * new state.  Reproducible from a seed on every platform; for generated
 * inputs and synthetic weights, not for anything secret.
 */
#ifndef LC_RNG_H
#define LC_RNG_H

#include <math.h>
#include <stdint.h>

/* splitmix64's increment: 2^64 / golden ratio, odd. */
#define LC_SPLITMIX64_GAMMA 0x9E3779B97F4A7C15ull

/* The finaliser (a bijection of 64-bit words, every output bit depending
 * on every input bit); lib/synth.c hashes with it too. */
static inline uint64_t lc_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* The next output of the generator whose state is *s. */
static inline uint64_t lc_splitmix64(uint64_t *s) {
  return lc_mix64(*s += LC_SPLITMIX64_GAMMA);
}

/* Uniform in [lo, hi] (the modulo bias, below (hi - lo + 1) / 2^64, is
 * irrelevant for generated inputs). */
static inline int64_t lc_splitmix_range(uint64_t *s, int64_t lo, int64_t hi) {
  return lo + (int64_t)(lc_splitmix64(s) % ((uint64_t)(hi - lo) + 1u));
}

/* N(0, 1) by Box-Muller from two outputs; u1 in (0, 1] keeps log(u1) finite. */
static inline float lc_splitmix_normal(uint64_t *s) {
  double u1 = ((double)(lc_splitmix64(s) >> 11) + 1.0) * 0x1p-53;
  double u2 = (double)(lc_splitmix64(s) >> 11) * 0x1p-53;
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

#endif /* LC_RNG_H */
