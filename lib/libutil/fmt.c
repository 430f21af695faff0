/*
 * fmt.c: sizes printed the way OpenBSD's fmt_scaled(3) prints them,
 * for vmctl's status and messages and for vmd's config notes.  Pure:
 * no I/O, no allocation.
 */

#include <stdint.h>
#include <stdio.h>

#include "util.h"

static const char units[] = "BKMGTPE";	/* powers of 1024 */

/*
 * Format like fmt_scaled(3): three significant digits with one decimal
 * below 100 ("1.0G", "88.1M"), none from 100 up ("1006M"), "0B" for 0.
 * buf must hold FMT_SCALED_STRSIZE bytes.
 */
void
fmt_size(uint64_t v, char *buf)
{
	uint64_t	 scale = 1, number, tenths = 0;
	int		 unit = 0;

	while (unit < 6 && v / 1024 >= scale) {
		scale *= 1024;
		unit++;
	}
	number = v / scale;
	if (unit > 0)
		tenths = ((v % scale) / (scale / 1024) * 10 + 512) / 1024;
	if (tenths >= 10) {
		number++;
		tenths = 0;
	}
	/* Below 1025 by the choice of unit; the bound lets gcc see it fits. */
	if (number > 1024)
		number = 1024;
	if (number == 0)
		(void)snprintf(buf, FMT_SCALED_STRSIZE, "0B");
	else if (unit == 0 || number >= 100) {
		if (tenths >= 5)
			number++;
		(void)snprintf(buf, FMT_SCALED_STRSIZE, "%llu%c",
		    (unsigned long long)number, units[unit]);
	} else
		(void)snprintf(buf, FMT_SCALED_STRSIZE, "%llu.%llu%c",
		    (unsigned long long)number, (unsigned long long)tenths,
		    units[unit]);
}
