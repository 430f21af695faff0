/*
 * util.c: the test guest's small library: the mem* functions the
 * compiler may call, string and number helpers, and the allocator of
 * physical memory for queues and data buffers (above the image, inside
 * the RAM the PVH memory map reports, never freed).  It must stay cheap
 * on a host that emulates every CPL 0 instruction: bulk moves are one
 * rep instruction, never byte loops.
 */

#include "guest.h"

#define HEAP_ALIGN	0x200000ULL	/* start the heap on a 2 MiB page */
#define HEAP_MAX	0xc0000000ULL	/* below the MMIO hole */
#define HEAP_GUESS	(32ULL << 20)	/* RAM assumed without a memory map */

extern char	__image_end[];

static uint64_t	heap_next, heap_end;

void *
memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	if ((((uintptr_t)dst | (uintptr_t)src | n) & 7) == 0) {
		n /= 8;
		__asm__ volatile("rep movsq" : "+D"(d), "+S"(src), "+c"(n)
		    : : "memory");
	} else
		__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n)
		    : : "memory");
	return dst;
}

void *
memset(void *dst, int c, size_t n)
{
	void *d = dst;
	uint64_t v;

	if ((((uintptr_t)dst | n) & 7) == 0) {
		v = (uint8_t)c * 0x0101010101010101ULL;
		n /= 8;
		__asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(v)
		    : "memory");
	} else
		__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c)
		    : "memory");
	return dst;
}

/* Word-wise where both sides are aligned: compares are on hot paths. */
int
memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *p = a, *q = b;
	size_t i = 0;

	if ((((uintptr_t)a | (uintptr_t)b) & 7) == 0)
		for (; i + 8 <= n; i += 8)
			if (*(const uint64_t *)(p + i) !=
			    *(const uint64_t *)(q + i))
				break;
	for (; i < n; i++)
		if (p[i] != q[i])
			return p[i] < q[i] ? -1 : 1;
	return 0;
}

size_t
strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int
streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

int
prefix(const char *s, const char *p)
{
	while (*p && *s == *p) {
		s++;
		p++;
	}
	return *p == '\0';
}

int
parse_u64(const char *s, uint64_t *v)
{
	uint64_t n = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	*v = n;
	return 0;
}

/*
 * Parses a dotted quad into host order; returns the character after it
 * (end, or the separator) or NULL.
 */
const char *
parse_ipv4(const char *s, uint32_t *ip)
{
	uint32_t v = 0, part;
	int i, digits;

	for (i = 0; i < 4; i++) {
		part = 0;
		for (digits = 0; *s >= '0' && *s <= '9'; s++, digits++) {
			part = part * 10 + (*s - '0');
			if (part > 255)
				return NULL;
		}
		if (digits == 0)
			return NULL;
		v = v << 8 | part;
		if (i < 3 && *s++ != '.')
			return NULL;
	}
	*ip = v;
	return s;
}

/* Writes "a.b.c.d" into buf (at least 16 bytes). */
char *
ipv4_str(uint32_t ip, char *buf)
{
	char *p = buf;
	int i, v;

	for (i = 3; i >= 0; i--) {
		v = (ip >> (8 * i)) & 0xff;
		if (v >= 100)
			*p++ = '0' + v / 100;
		if (v >= 10)
			*p++ = '0' + v / 10 % 10;
		*p++ = '0' + v % 10;
		if (i)
			*p++ = '.';
	}
	*p = '\0';
	return buf;
}

/*
 * The heap: from the first 2 MiB boundary above the image to the end of
 * the RAM range holding it, as the PVH memory map says.
 */
void
mem_init(const struct guest *g)
{
	const struct hvm_memmap_entry *mm;
	uint64_t start, end = 0;
	uint32_t i, n = 0;

	start = ((uint64_t)(uintptr_t)__image_end + HEAP_ALIGN - 1) &
	    ~(HEAP_ALIGN - 1);
	if (g->si != NULL && g->si->version >= 1 && g->si->memmap_paddr != 0 &&
	    g->si->memmap_paddr < HEAP_MAX && g->si->memmap_entries < 128) {
		n = g->si->memmap_entries;
		mm = (const void *)(uintptr_t)g->si->memmap_paddr;
		for (i = 0; i < n; i++)
			if (mm[i].type == 1 && mm[i].addr <= start &&
			    mm[i].addr + mm[i].size > start)
				end = mm[i].addr + mm[i].size;
	}
	if (n == 0) {
		kprintf("note: no memory map, assuming %lu MiB of RAM\n",
		    (unsigned long)(HEAP_GUESS >> 20));
		end = HEAP_GUESS;
	}
	if (end > HEAP_MAX)
		end = HEAP_MAX;
	heap_next = start;
	heap_end = end > start ? end : start;
}

/* Uninitialised memory, align a power of two; NULL when RAM runs out. */
void *
palloc(size_t size, size_t align)
{
	uint64_t p = (heap_next + align - 1) & ~((uint64_t)align - 1);

	if (p > heap_end || size > heap_end - p)
		return NULL;
	heap_next = p + size;
	return (void *)(uintptr_t)p;
}

void *
pzalloc(size_t size, size_t align)
{
	void *p = palloc(size, align);

	if (p != NULL)
		memset(p, 0, size);
	return p;
}

/* Bytes of heap left. */
uint64_t
pfree_bytes(void)
{
	return heap_end - heap_next;
}

/* xorshift64*: benchmark offsets, never security. */
uint64_t
rand64(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}
