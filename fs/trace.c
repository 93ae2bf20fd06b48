/* Writing trace lines. One mutex keeps lines from different threads whole. */
#include "trace.h"

#include "ufs.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void trace_line(struct ufs *u, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&u->trace_lock);
	va_start(ap, fmt);
	vfprintf(u->trace, fmt, ap);
	va_end(ap);
	fputc('\n', u->trace);
	fflush(u->trace);
	pthread_mutex_unlock(&u->trace_lock);
}

const char *trace_layer(const struct ufs *u, int layer, char *buf)
{
	int number = u->nlayers - 1 - layer;
	const char *role = layer_role_name(u->layers[layer].role);

	if (layer == u->upper)
		return "upper";
	if (number == 0)
		role = "base";
	snprintf(buf, TRACE_LAYER_MAX, "layer %d (%s)", number, role);
	return buf;
}

char *trace_path(const struct node *dir, const char *name)
{
	char *base = node_path(dir), *path;

	if (!base)
		return NULL;
	if (strcmp(base, ".") == 0)
		base[0] = '\0';
	if (asprintf(&path, "/%s%s%s", base, *base && name ? "/" : "", name ? name : "") < 0)
		path = NULL;
	free(base);
	return path;
}

void trace_size(off_t size, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double value = (double)size;
	size_t unit = 0;

	while (value >= 1024 && unit + 1 < sizeof(units) / sizeof(units[0])) {
		value /= 1024;
		unit++;
	}
	if (unit == 0)
		snprintf(buf, len, "%lld B", (long long)size);
	else
		snprintf(buf, len, "%.1f %s", value, units[unit]);
}

double trace_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
