/*
 * blob.c - what every blob store shares (blob.h): the object name rule,
 * closing a store, and the streaming writer that writes in place on a store
 * that can and stages in a temporary file on one that cannot.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob.h"

bool blob_name_ok(const char *name)
{
	size_t n = 0;

	if (name == NULL || name[0] == '\0' || name[0] == '.')
		return false;
	for (const char *p = name; *p != '\0'; p++, n++) {
		char c = *p;

		if (n >= BLOB_NAME_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

void blob_store_close(struct blob_store **s)
{
	if (*s != NULL)
		(*s)->ops->destroy(*s);
	*s = NULL;
}

struct blob_writer {
	struct blob_store *s;
	struct blob_wr *wr;     /* in place, or NULL when staging */
	int fd;                 /* the staging file, or -1 */
	uint64_t size;
	char name[BLOB_NAME_MAX + 1];
};

/* An unnamed read-write temporary file under dir. */
static int blob_stage_file(const char *dir)
{
	char path[4096];
	int fd;

	if (dir == NULL)
		dir = getenv("TMPDIR");
	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	/* no O_TMPFILE on this filesystem: a named file, unlinked at once */
	if ((size_t)snprintf(path, sizeof(path), "%s/.tierfs-stage-XXXXXX",
			     dir) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(path);
	return fd;
}

int blob_writer_open(struct blob_store *s, const char *name,
		     const char *stage_dir, struct blob_writer **out)
{
	struct blob_writer *w;
	int r;

	if (!blob_name_ok(name))
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->s = s;
	w->fd = -1;
	strcpy(w->name, name);
	if (blob_can_append(s)) {
		r = s->ops->create(s, name, &w->wr);
	} else {
		uint64_t size;

		/* fail early, as an in-place create would */
		r = s->ops->stat(s, name, &size);
		if (r == 0)
			r = -EEXIST;
		else if (r == -ENOENT)
			r = blob_stage_file(stage_dir ? stage_dir :
					    s->stage_dir);
		if (r >= 0) {
			w->fd = r;
			r = 0;
		}
	}
	if (r < 0) {
		free(w);
		return r;
	}
	*out = w;
	return 0;
}

int blob_writer_write(struct blob_writer *w, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	int r;

	if (w->wr != NULL) {
		r = w->s->ops->wr_pwrite(w->wr, buf, len, w->size);
		if (r == 0)
			w->size += len;
		return r;
	}
	while (len > 0) {
		ssize_t n = pwrite(w->fd, p, len, (off_t)w->size);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return (errno == ENOSPC || errno == EDQUOT) ?
				-ENOSPC : -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		w->size += (uint64_t)n;
	}
	return 0;
}

uint64_t blob_writer_size(const struct blob_writer *w)
{
	return w->size;
}

int blob_writer_finish(struct blob_writer **wp)
{
	struct blob_writer *w = *wp;
	int r;

	*wp = NULL;
	if (w->wr != NULL) {
		r = w->s->ops->wr_close(w->wr, true);
		if (r < 0)
			w->s->ops->remove(w->s, w->name);
	} else {
		r = w->s->ops->put_fd(w->s, w->name, w->fd, w->size);
		close(w->fd);
	}
	free(w);
	return r;
}

void blob_writer_abort(struct blob_writer **wp)
{
	struct blob_writer *w = *wp;

	if (w == NULL)
		return;
	*wp = NULL;
	if (w->wr != NULL) {
		w->s->ops->wr_close(w->wr, false);
		w->s->ops->remove(w->s, w->name);
	} else {
		close(w->fd);
	}
	free(w);
}
