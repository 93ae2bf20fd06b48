/* sha256 through OpenSSL's EVP interface: the one hash OCI layouts and
 * docker archives name their blobs by. */
#include "digest.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct digest {
	EVP_MD_CTX *ctx;
};

struct digest *digest_new(void)
{
	struct digest *d = malloc(sizeof(*d));

	if (!d)
		return NULL;
	d->ctx = EVP_MD_CTX_new();
	if (!d->ctx || EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(d->ctx);
		free(d);
		return NULL;
	}
	return d;
}

void digest_update(struct digest *d, const void *buf, size_t len)
{
	EVP_DigestUpdate(d->ctx, buf, len);
}

void digest_finish(struct digest *d, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;

	EVP_DigestFinal_ex(d->ctx, md, &len);
	strcpy(out, "sha256:");
	for (i = 0; i < len && i < 32; i++)
		sprintf(out + 7 + 2 * i, "%02x", md[i]);
	digest_free(d);
}

void digest_free(struct digest *d)
{
	if (!d)
		return;
	EVP_MD_CTX_free(d->ctx);
	free(d);
}

int digest_file(const char *path, char *out, uint64_t *size)
{
	struct digest *d;
	char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	d = digest_new();
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	*size = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		digest_update(d, buf, (size_t)n);
		*size += (uint64_t)n;
	}
	if (n < 0)
		err = -errno;
	close(fd);
	if (err) {
		digest_free(d);
		return err;
	}
	digest_finish(d, out);
	return 0;
}

void digest_buffer(const void *buf, size_t len, char *out)
{
	struct digest *d = digest_new();

	if (!d) {
		out[0] = '\0';
		return;
	}
	digest_update(d, buf, len);
	digest_finish(d, out);
}

int digest_valid(const char *s)
{
	size_t i;

	if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
		return 0;
	for (i = 7; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}
