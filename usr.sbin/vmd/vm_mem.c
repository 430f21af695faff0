/*
 * vm_mem.c: the guest-physical memory layout of a VM: the e820-style map
 * the guest is told about, and the only translation from guest-physical
 * addresses to pointers into the guest RAM mapping.  Every range a guest
 * or an image controls passes through vm_gpa_ptr(), which must refuse
 * anything not wholly inside usable RAM, overflow included, or through
 * vm_dma_ptr() for devices, which must refuse anything not wholly inside
 * the memfd's RAM.
 */

#include <stddef.h>
#include <stdint.h>

#include "vm.h"

/* Where RAM below the PCI hole ends. */
uint64_t
vm_lowram_end(uint64_t memsize)
{
	return (memsize < VM_MMIO_HOLE_START ? memsize : VM_MMIO_HOLE_START);
}

/*
 * The e820-style map the guest is told about; returns the number of
 * entries written (at most max).
 */
size_t
vm_memmap(uint64_t memsize, struct vm_memrange *out, size_t max)
{
	struct vm_memrange	 r[4];
	size_t			 n = 0, i;

	r[n++] = (struct vm_memrange){ 0, VM_LOWMEM_END, E820_RAM };
	r[n++] = (struct vm_memrange){ VM_LOWMEM_END,
	    VM_HIGHMEM_START - VM_LOWMEM_END, E820_RESERVED };
	if (vm_lowram_end(memsize) > VM_HIGHMEM_START)
		r[n++] = (struct vm_memrange){ VM_HIGHMEM_START,
		    vm_lowram_end(memsize) - VM_HIGHMEM_START, E820_RAM };
	if (memsize > VM_MMIO_HOLE_START)
		r[n++] = (struct vm_memrange){ VM_MMIO_HOLE_END,
		    memsize - VM_MMIO_HOLE_START, E820_RAM };
	for (i = 0; i < n && i < max; i++)
		out[i] = r[i];
	return (i);
}

/*
 * Pointer to [gpa, gpa + len) if all of it is usable guest RAM, else
 * NULL.  len 0 is refused: callers skip empty ranges themselves.
 */
void *
vm_gpa_ptr(const struct vm_mem *mem, uint64_t gpa, uint64_t len)
{
	uint64_t	 low = vm_lowram_end(mem->memsize), off;

	if (len == 0 || gpa + len < gpa || mem->ram == NULL)
		return (NULL);
	if (gpa + len <= VM_LOWMEM_END)
		off = gpa;
	else if (gpa >= VM_HIGHMEM_START && gpa + len <= low)
		off = gpa;
	else if (gpa >= VM_MMIO_HOLE_END && mem->memsize > VM_MMIO_HOLE_START &&
	    gpa - VM_MMIO_HOLE_END <= mem->memsize - VM_MMIO_HOLE_START &&
	    len <= mem->memsize - VM_MMIO_HOLE_START -
	    (gpa - VM_MMIO_HOLE_END))
		off = gpa - VM_MMIO_HOLE_END + VM_MMIO_HOLE_START;
	else
		return (NULL);
	return (mem->ram + off);
}

/*
 * Pointer to [gpa, gpa + len) inside the 640K-1M hole: RAM to the
 * hypervisor (it is part of the low memory slot) but reserved in the map
 * the guest gets, so only firmware and the tables vmd leaves for the
 * kernel live there.  NULL unless the whole range is in the hole and in
 * guest memory.
 */
void *
vm_hole_ptr(const struct vm_mem *mem, uint64_t gpa, uint64_t len)
{
	if (len == 0 || mem->ram == NULL || gpa < VM_LOWMEM_END ||
	    gpa >= VM_HIGHMEM_START || len > VM_HIGHMEM_START - gpa ||
	    gpa + len > mem->memsize)
		return (NULL);
	return (mem->ram + gpa);
}

/*
 * Pointer to [gpa, gpa + len) for a device's DMA: guest RAM, the 640K-1M
 * hole included.  The hole is RAM to the guest's CPU (the low memory
 * slot maps it) and firmware lives there: SeaBIOS's int 13h handler
 * builds its virtio requests on a stack in the E and F segments, as it
 * may on hardware, where that area is shadow RAM.  NULL unless the whole
 * range is in guest memory.
 */
void *
vm_dma_ptr(const struct vm_mem *mem, uint64_t gpa, uint64_t len)
{
	uint64_t	 low = vm_lowram_end(mem->memsize);

	if (len == 0 || mem->ram == NULL)
		return (NULL);
	if (gpa < low && len <= low - gpa)
		return (mem->ram + gpa);
	return (vm_gpa_ptr(mem, gpa, len));
}
