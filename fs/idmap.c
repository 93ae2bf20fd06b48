/* Owners as stored and owners as shown (idmap.h). */
#include "idmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void idmap_init(struct idmap *m)
{
	memset(m, 0, sizeof(*m));
	m->overflow = IDMAP_OVERFLOW_DEFAULT;
}

void idmap_free(struct idmap *m)
{
	free(m->ranges);
	m->ranges = NULL;
	m->nranges = 0;
}

int idmap_copy(struct idmap *dst, const struct idmap *src)
{
	*dst = *src;
	dst->ranges = NULL;
	if (src->nranges == 0)
		return 0;
	dst->ranges = malloc(sizeof(*dst->ranges) * (size_t)src->nranges);
	if (!dst->ranges)
		return -ENOMEM;
	memcpy(dst->ranges, src->ranges, sizeof(*dst->ranges) * (size_t)src->nranges);
	return 0;
}

static int parse_number(const char **p, unsigned int *out)
{
	char *end;
	unsigned long v;

	if (**p < '0' || **p > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(*p, &end, 10);
	if (errno || v > 0xffffffffUL)
		return -EINVAL;
	*out = (unsigned int)v;
	*p = end;
	return 0;
}

static int append_range(struct idmap *m, const struct id_range *r)
{
	struct id_range *grown = realloc(m->ranges, sizeof(*grown) * (size_t)(m->nranges + 1));

	if (!grown)
		return -ENOMEM;
	m->ranges = grown;
	m->ranges[m->nranges++] = *r;
	return 0;
}

int idmap_parse(struct idmap *m, const char *spec)
{
	const char *p = spec;
	struct id_range r;
	int err;

	if (*p == ':')
		p++;
	do {
		if (parse_number(&p, &r.stored) || *p++ != ':' ||
		    parse_number(&p, &r.shown) || *p++ != ':' ||
		    parse_number(&p, &r.count) || r.count == 0 ||
		    (*p != ':' && *p != '\0'))
			return -EINVAL;
		err = append_range(m, &r);
		if (err)
			return err;
	} while (*p++ == ':');
	return 0;
}

static unsigned int read_id_file(const char *path, unsigned int fallback)
{
	unsigned int v;
	FILE *f = fopen(path, "re");

	if (!f)
		return fallback;
	if (fscanf(f, "%u", &v) != 1)
		v = fallback;
	fclose(f);
	return v;
}

bool idmap_detect_namespace(struct idmap *m, const char *map_file, const char *overflow_file)
{
	unsigned long inside, outside, count;
	bool all = false, overflow_mapped = false;
	FILE *f;

	m->overflow = read_id_file(overflow_file, IDMAP_OVERFLOW_DEFAULT);
	f = fopen(map_file, "re");
	if (!f)
		return true;
	while (fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3) {
		if (inside == 0 && count == 4294967295UL)
			all = true;
		if (m->overflow >= inside && m->overflow - inside < count)
			overflow_mapped = true;
	}
	fclose(f);
	m->unmapped_as_root = !all && !overflow_mapped;
	return all;
}

unsigned int idmap_shown(const struct idmap *m, unsigned int stored)
{
	int i;

	if (m->squash)
		return m->squash_to;
	if (m->nranges == 0)
		return m->unmapped_as_root && stored == m->overflow ? 0 : stored;
	for (i = 0; i < m->nranges; i++)
		if (stored >= m->ranges[i].stored && stored - m->ranges[i].stored < m->ranges[i].count)
			return m->ranges[i].shown + (stored - m->ranges[i].stored);
	return m->overflow;
}

unsigned int idmap_stored(const struct idmap *m, unsigned int shown)
{
	int i;

	if (m->nranges == 0)
		return shown;
	for (i = 0; i < m->nranges; i++)
		if (shown >= m->ranges[i].shown && shown - m->ranges[i].shown < m->ranges[i].count)
			return m->ranges[i].stored + (shown - m->ranges[i].shown);
	return m->overflow;
}

unsigned int idmap_copy_owner(const struct idmap *m, unsigned int stored)
{
	if (m->nranges == 0 && m->unmapped_as_root && stored == m->overflow)
		return 0;
	return stored;
}

bool idmap_active(const struct idmap *m)
{
	return m->nranges > 0 || m->squash || m->unmapped_as_root;
}
