/*
 * dev.c: the device seam of the vm process.  It attaches devices, keeps
 * the sorted map of the port and MMIO ranges they claimed (claims are
 * counted, and come and go while vCPUs run) and routes each guest access
 * to the one device that claimed it, under that device's lock.  It knows
 * nothing of any particular device and must never let a guest access
 * reach a device outside the range that device claimed: accesses nobody
 * claimed read as all-ones and writes to them vanish.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "dev.h"

static int	 dev_size_ok(enum dev_space, int);
static int	 range_cmp(enum dev_space, uint64_t, const struct dev_range *);
static size_t	 range_lower(const struct devices *, enum dev_space, uint64_t);
static struct dev_range *range_find(struct devices *, enum dev_space,
		    uint64_t, int);
static void	 dev_unclaim_all(struct devices *, struct device *);

/*
 * The map lock holds no resources on Linux, so a set that is detached
 * and initialized again (as the unit tests do) needs no destroy call.
 */
void
dev_init(struct devices *set, struct dev_host *host)
{
	memset(set, 0, sizeof(*set));
	set->host = host;
	if ((errno = pthread_rwlock_init(&set->map_lock, NULL)) != 0)
		fatal("dev_init: pthread_rwlock_init");
}

struct device *
dev_find(struct devices *set, const struct devsw *sw)
{
	size_t	 i;

	for (i = 0; i < set->ndev; i++)
		if (set->dev[i]->sw == sw)
			return (set->dev[i]);
	return (NULL);
}

/*
 * A device whose attach fails must have freed its own softc; the ranges
 * it may have claimed before failing are released here so a failed
 * device never receives accesses.
 */
struct device *
dev_attach(struct devices *set, const struct devsw *sw,
    const struct dev_attach_args *args)
{
	struct device	*dev;

	if (set->ndev >= DEV_MAX) {
		log_warnx("%s: too many devices", sw->name);
		return (NULL);
	}
	if ((dev = calloc(1, sizeof(*dev))) == NULL) {
		log_warn("%s: calloc", sw->name);
		return (NULL);
	}
	dev->sw = sw;
	dev->host = set->host;
	dev->set = set;
	if ((errno = pthread_mutex_init(&dev->lock, NULL)) != 0) {
		log_warn("%s: pthread_mutex_init", sw->name);
		free(dev);
		return (NULL);
	}
	if (sw->attach(dev, args) == -1) {
		dev_unclaim_all(set, dev);
		pthread_mutex_destroy(&dev->lock);
		free(dev);
		return (NULL);
	}
	set->dev[set->ndev++] = dev;
	return (dev);
}

/*
 * The map is ordered by (space, start) so one binary search finds the
 * range of an address in either space; within a space that is "sorted by
 * start" as dev.h promises.
 */
static int
range_cmp(enum dev_space space, uint64_t addr, const struct dev_range *r)
{
	if (space != r->space)
		return (space < r->space ? -1 : 1);
	if (addr < r->start)
		return (-1);
	if (addr - r->start < r->len)
		return (0);
	return (1);
}

/* Index of the first range that does not lie wholly below addr. */
static size_t
range_lower(const struct devices *set, enum dev_space space, uint64_t addr)
{
	size_t	 lo = 0, hi = set->nrange, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (range_cmp(space, addr, &set->range[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

/*
 * Claim [start, start + len) for dev.  The same device claiming the very
 * same range again adds a reference; any other overlap is refused.  A
 * refusal sets errno (EINVAL, EEXIST, ENOSPC) and is only a debug line:
 * guests move BARs, so the caller decides what is worth a warning.
 */
int
dev_claim(struct device *dev, enum dev_space space, uint64_t start,
    uint64_t len)
{
	struct devices	*set = dev->set;
	struct dev_range *r;
	struct dev_range  other;
	size_t		 i;

	if (len == 0 || start + len - 1 < start ||
	    (space == DEV_SPACE_IO && start + len > 0x10000)) {
		log_limited(LOG_DEBUG, "%s: bad range 0x%llx+0x%llx",
		    dev->sw->name, (unsigned long long)start,
		    (unsigned long long)len);
		errno = EINVAL;
		return (-1);
	}
	pthread_rwlock_wrlock(&set->map_lock);
	i = range_lower(set, space, start);
	/* range i is the first one that could overlap [start, start+len) */
	if (i < set->nrange && set->range[i].space == space &&
	    set->range[i].start <= start + len - 1) {
		r = &set->range[i];
		if (r->dev == dev && r->start == start && r->len == len &&
		    r->refs < UINT_MAX) {
			r->refs++;
			pthread_rwlock_unlock(&set->map_lock);
			return (0);
		}
		other = *r;
		pthread_rwlock_unlock(&set->map_lock);
		log_limited(LOG_DEBUG,
		    "%s: range 0x%llx+0x%llx overlaps %s at 0x%llx",
		    dev->sw->name, (unsigned long long)start,
		    (unsigned long long)len, other.dev->sw->name,
		    (unsigned long long)other.start);
		errno = EEXIST;
		return (-1);
	}
	if (set->nrange >= DEV_MAX_RANGES) {
		pthread_rwlock_unlock(&set->map_lock);
		log_limited(LOG_DEBUG, "%s: too many ranges", dev->sw->name);
		errno = ENOSPC;
		return (-1);
	}
	memmove(&set->range[i + 1], &set->range[i],
	    (set->nrange - i) * sizeof(set->range[0]));
	r = &set->range[i];
	r->start = start;
	r->len = len;
	r->space = space;
	r->dev = dev;
	r->refs = 1;
	set->nrange++;
	pthread_rwlock_unlock(&set->map_lock);
	return (0);
}

/* Drop one claim of exactly the range dev claimed; -1 if it has none. */
int
dev_unclaim(struct device *dev, enum dev_space space, uint64_t start,
    uint64_t len)
{
	struct devices	*set = dev->set;
	struct dev_range *r;
	size_t		 i;
	int		 rv = -1;

	pthread_rwlock_wrlock(&set->map_lock);
	i = range_lower(set, space, start);
	if (i < set->nrange) {
		r = &set->range[i];
		if (r->dev == dev && r->space == space && r->start == start &&
		    r->len == len) {
			if (--r->refs == 0) {
				memmove(r, r + 1, (set->nrange - i - 1) *
				    sizeof(*r));
				set->nrange--;
			}
			rv = 0;
		}
	}
	pthread_rwlock_unlock(&set->map_lock);
	if (rv == -1)
		log_warnx("%s: unclaim of 0x%llx+0x%llx it does not hold",
		    dev->sw->name, (unsigned long long)start,
		    (unsigned long long)len);
	return (rv);
}

static void
dev_unclaim_all(struct devices *set, struct device *dev)
{
	size_t	 i, j;

	pthread_rwlock_wrlock(&set->map_lock);
	for (i = j = 0; i < set->nrange; i++)
		if (set->range[i].dev != dev)
			set->range[j++] = set->range[i];
	set->nrange = j;
	pthread_rwlock_unlock(&set->map_lock);
}

static int
dev_size_ok(enum dev_space space, int size)
{
	return (size == 1 || size == 2 || size == 4 ||
	    (size == 8 && space == DEV_SPACE_MMIO));
}

/* The range holding the whole access, or NULL; map_lock held. */
static struct dev_range *
range_find(struct devices *set, enum dev_space space, uint64_t addr,
    int size)
{
	struct dev_range *r;
	size_t		 i;

	i = range_lower(set, space, addr);
	if (i >= set->nrange)
		return (NULL);
	r = &set->range[i];
	if (range_cmp(space, addr, r) != 0)
		return (NULL);
	if ((uint64_t)size > r->len - (addr - r->start))
		return (NULL);
	return (r);
}

/*
 * One guest access.  An access that straddles the end of a range is
 * treated as unclaimed rather than handed to a device that would have to
 * check its own bounds.  The owner is looked up under the map lock and
 * called without it; devices live until dev_detach_all, after the vCPUs
 * stopped, so the pointer stays good.  An access racing with a range
 * being moved may still reach the device that had it, as on a real bus;
 * a device that moves ranges checks its own state under its lock.
 */
int
dev_io(struct devices *set, enum dev_space space, uint64_t addr, int size,
    uint8_t *data, int write)
{
	struct dev_range *r;
	struct device	*dev = NULL;

	if (!dev_size_ok(space, size)) {
		if (!write && size > 0)
			memset(data, 0xff, size > 8 ? 8 : size);
		return (-1);
	}
	pthread_rwlock_rdlock(&set->map_lock);
	if ((r = range_find(set, space, addr, size)) != NULL)
		dev = r->dev;
	pthread_rwlock_unlock(&set->map_lock);
	if (dev == NULL) {
		if (!write)
			memset(data, 0xff, size);
		return (-1);
	}
	pthread_mutex_lock(&dev->lock);
	if (dev->sw->io != NULL)
		dev->sw->io(dev, space, addr, size, data, write);
	else if (!write)
		memset(data, 0xff, size);
	pthread_mutex_unlock(&dev->lock);
	return (0);
}

/*
 * The life-cycle hooks run without dev->lock: they may wait for a device
 * event callback to finish, and those callbacks take the lock.
 */
void
dev_reset_all(struct devices *set)
{
	size_t	 i;

	for (i = 0; i < set->ndev; i++)
		if (set->dev[i]->sw->reset != NULL)
			set->dev[i]->sw->reset(set->dev[i]);
}

void
dev_pause_all(struct devices *set)
{
	size_t	 i;

	for (i = 0; i < set->ndev; i++)
		if (set->dev[i]->sw->pause != NULL)
			set->dev[i]->sw->pause(set->dev[i]);
}

void
dev_resume_all(struct devices *set)
{
	size_t	 i;

	for (i = 0; i < set->ndev; i++)
		if (set->dev[i]->sw->resume != NULL)
			set->dev[i]->sw->resume(set->dev[i]);
}

/* Detach in reverse attach order: later devices may use earlier ones. */
void
dev_detach_all(struct devices *set)
{
	struct device	*dev;

	while (set->ndev > 0) {
		dev = set->dev[--set->ndev];
		set->dev[set->ndev] = NULL;
		dev_unclaim_all(set, dev);
		if (dev->sw->detach != NULL)
			dev->sw->detach(dev);
		pthread_mutex_destroy(&dev->lock);
		free(dev);
	}
}

void
dev_irq(struct device *dev, uint32_t irq, int level)
{
	if (dev->host != NULL && dev->host->irq_set != NULL)
		dev->host->irq_set(dev->host->arg, irq, level);
}

void
dev_request(struct device *dev, enum dev_request req)
{
	if (dev->host != NULL && dev->host->request != NULL)
		dev->host->request(dev->host->arg, req);
}

void
dev_realtime(struct device *dev, struct timespec *ts)
{
	if (dev->host != NULL && dev->host->realtime != NULL)
		dev->host->realtime(dev->host->arg, ts);
	else
		clock_gettime(CLOCK_REALTIME, ts);
}

void *
dev_gpa_ptr(struct device *dev, uint64_t gpa, uint64_t len)
{
	if (dev->host == NULL || dev->host->gpa_ptr == NULL)
		return (NULL);
	return (dev->host->gpa_ptr(dev->host->arg, gpa, len));
}

/*
 * Hypervisor services, passed through.  assign 1 registers, 0 removes.
 * A host without them fails with ENOSYS; devices then take the slow
 * path (exits and injected interrupts), which always works.
 */
int
dev_ioeventfd(struct device *dev, int fd, enum dev_space space,
    uint64_t addr, uint32_t len, int has_match, uint64_t match, int assign)
{
	if (dev->host == NULL || dev->host->ioeventfd == NULL) {
		errno = ENOSYS;
		return (-1);
	}
	return (dev->host->ioeventfd(dev->host->arg, fd, space, addr, len,
	    has_match, match, assign));
}

int
dev_irqfd(struct device *dev, int fd, uint32_t gsi, int assign)
{
	if (dev->host == NULL || dev->host->irqfd == NULL) {
		errno = ENOSYS;
		return (-1);
	}
	return (dev->host->irqfd(dev->host->arg, fd, gsi, assign));
}

int
dev_msi_route(struct device *dev, uint32_t gsi, uint64_t addr,
    uint32_t data)
{
	if (dev->host == NULL || dev->host->msi_route == NULL) {
		errno = ENOSYS;
		return (-1);
	}
	return (dev->host->msi_route(dev->host->arg, gsi, addr, data));
}

int
dev_msi(struct device *dev, uint64_t addr, uint32_t data)
{
	if (dev->host == NULL || dev->host->msi == NULL) {
		errno = ENOSYS;
		return (-1);
	}
	return (dev->host->msi(dev->host->arg, addr, data));
}

int
dev_gsi_alloc(struct device *dev, uint32_t n, uint32_t *first)
{
	if (dev->host == NULL || dev->host->gsi_alloc == NULL) {
		errno = ENOSYS;
		return (-1);
	}
	return (dev->host->gsi_alloc(dev->host->arg, n, first));
}

/*
 * May a guest-caused log line go out now?  On yes, *dropped says how
 * many were held back before it, for the line to mention.  The caller
 * holds whatever lock guards rl.
 */
int
dev_ratelim(struct dev_ratelim *rl, unsigned int *dropped)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec - rl->window >= DEV_LOG_INTERVAL || rl->window == 0) {
		rl->window = ts.tv_sec;
		rl->lines = 0;
	}
	if (rl->lines >= DEV_LOG_BURST) {
		if (rl->dropped < UINT_MAX)
			rl->dropped++;
		return (0);
	}
	rl->lines++;
	*dropped = rl->dropped;
	rl->dropped = 0;
	return (1);
}

/*
 * The tail of a rate-limited line: how many were held back before it.
 * Thread-local, so two threads logging at once do not share it.
 */
const char *
dev_ratelim_note(unsigned int dropped)
{
	static __thread char	 buf[48];

	if (dropped == 0)
		return ("");
	snprintf(buf, sizeof(buf), " (%u like it held back)", dropped);
	return (buf);
}
