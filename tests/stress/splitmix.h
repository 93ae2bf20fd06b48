/* splitmix64: a small, fast generator; the same seed gives the same
 * sequence everywhere, which is what makes a failing run replayable. */
#ifndef UNIONFUSE_STRESS_SPLITMIX_H
#define UNIONFUSE_STRESS_SPLITMIX_H

#include <stdint.h>

static inline uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#endif
