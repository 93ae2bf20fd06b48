/* The load test's expected-state file and block content (load_state.h). */
#include "load_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct block_head {
	uint64_t magic;
	load_tag tag;
	uint32_t block;
	uint32_t pad;
};

int64_t load_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t splitmix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void payload_fill(unsigned char *p, size_t len, load_tag tag, uint32_t block)
{
	uint64_t state = tag ^ ((uint64_t)block << 20) ^ 0x10adULL;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t w = splitmix(&state);

		memcpy(p + i, &w, 8);
	}
}

void load_block_fill(unsigned char *buf, load_tag tag, uint32_t block)
{
	struct block_head head = { .magic = LOAD_MAGIC, .tag = tag, .block = block };

	memcpy(buf, &head, sizeof(head));
	payload_fill(buf + sizeof(head), LOAD_BLOCK - sizeof(head), tag, block);
}

bool load_block_valid(const unsigned char *buf, uint32_t block, load_tag *tag)
{
	unsigned char want[LOAD_BLOCK];
	struct block_head head;

	memcpy(&head, buf, sizeof(head));
	if (head.magic != LOAD_MAGIC || head.block != block)
		return false;
	*tag = head.tag;
	load_block_fill(want, head.tag, block);
	return memcmp(want, buf, LOAD_BLOCK) == 0;
}

void load_path_name(const struct load_state *s, int i, char *buf, size_t size)
{
	snprintf(buf, size, "d%02u/f%04u", (unsigned)i / s->h->files_per_dir,
		 (unsigned)i % s->h->files_per_dir);
}

int load_path_dir(const struct load_state *s, int i)
{
	return i / (int)s->h->files_per_dir;
}

int load_path_index(const struct load_state *s, int dir, const char *name)
{
	char *end;
	unsigned long n;

	if (name[0] != 'f' || strlen(name) != 5)
		return -1;
	n = strtoul(name + 1, &end, 10);
	if (*end || n >= s->h->files_per_dir)
		return -1;
	return dir * (int)s->h->files_per_dir + (int)n;
}

static size_t state_size(uint32_t npaths)
{
	return sizeof(struct load_header) + (size_t)npaths * sizeof(struct load_path);
}

static int map_state(int fd, size_t len, struct load_state *s)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	s->h = p;
	s->paths = (struct load_path *)((char *)p + sizeof(struct load_header));
	s->map_len = len;
	s->npaths = (int)(s->h->ndirs * s->h->files_per_dir);
	return 0;
}

/* The locks live in the shared file: process-shared, or a second process
 * would not see them held. */
static int init_locks(struct load_state *s)
{
	pthread_rwlockattr_t attr;
	int i, err;

	if ((err = pthread_rwlockattr_init(&attr)) != 0)
		return -err;
	err = pthread_rwlockattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	for (i = 0; !err && i < s->npaths; i++)
		err = pthread_rwlock_init(&s->paths[i].lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	return -err;
}

int load_state_create(const char *file, struct load_state *s, uint32_t ndirs,
		      uint32_t files_per_dir, uint32_t shared_per_dir, uint32_t hot_per_dir)
{
	size_t len = state_size(ndirs * files_per_dir);
	int fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int err;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	err = map_state(fd, sizeof(struct load_header), s);
	if (!err) {
		s->h->magic = LOAD_MAGIC;
		s->h->ndirs = ndirs;
		s->h->files_per_dir = files_per_dir;
		s->h->shared_per_dir = shared_per_dir;
		s->h->hot_per_dir = hot_per_dir;
		munmap(s->h, sizeof(struct load_header));
		err = map_state(fd, len, s);
	}
	close(fd);
	return err ? err : init_locks(s);
}

int load_state_open(const char *file, struct load_state *s)
{
	struct load_header head;
	int fd = open(file, O_RDWR | O_CLOEXEC);
	struct stat st;
	int err = 0;

	if (fd < 0)
		return -errno;
	if (pread(fd, &head, sizeof(head), 0) != (ssize_t)sizeof(head) || head.magic != LOAD_MAGIC ||
	    fstat(fd, &st) < 0 || (size_t)st.st_size != state_size(head.ndirs * head.files_per_dir))
		err = -EINVAL;
	if (!err)
		err = map_state(fd, (size_t)st.st_size, s);
	close(fd);
	return err;
}

void load_state_close(struct load_state *s)
{
	if (s->h)
		munmap(s->h, s->map_len);
	s->h = NULL;
}
