/* A small deterministic PRNG (splitmix64): the same seed must give the same
 * stack and the same operations on every machine, so no rand(). */
#ifndef DIFF_RNG_H
#define DIFF_RNG_H

#include <stdint.h>

struct rng {
	uint64_t state;
};

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. The bias for small n is irrelevant here. */
static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(rng_next(r) % n);
}

/* True with probability pct/100. */
static inline int rng_chance(struct rng *r, uint32_t pct)
{
	return rng_below(r, 100) < pct;
}

#endif
