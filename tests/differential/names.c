/* The name pool. Keep it small: collisions between layers and operations are
 * what make the interesting cases (merge, shadow, whiteout, rename over). */
#include "names.h"

#include <string.h>

#define NAME_255 \
	"L123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" \
	"_123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" \
	"_123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" \
	"_123456789abcdefghijklmnopqrstuvwxyz012"

_Static_assert(sizeof(NAME_255) == 256, "the long name must be exactly 255 bytes");

static const char *const common[] = { "a", "b", "c", "d", "e" };
static const char *const odd[] = {
	"with space", "new\nline", "\xc3\xbcml\xc3\xa4ut-\xe5\x90\x8d", NAME_255,
	".hidden", "-dash",
};

const char *names_pick(struct rng *r)
{
	if (rng_chance(r, 80))
		return common[rng_below(r, sizeof(common) / sizeof(common[0]))];
	return odd[rng_below(r, sizeof(odd) / sizeof(odd[0]))];
}

int names_too_long_for_aufs(const char *name)
{
	return strlen(name) + 4 > 255;
}
