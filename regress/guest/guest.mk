# guest.mk: builds the test guest, regress/guest/guest.elf, a freestanding
# x86-64 kernel with a PVH note.  Included by the top-level Makefile.  It
# uses its own compiler flags, never the project's: no PIC, no red zone,
# no SSE/MMX/x87 (the host's CPL 0 emulator cannot run them), no CET
# (endbr64 is not emulated either).

GUEST_DIR	 = regress/guest
GUEST_CC	 = gcc
GUEST_CFLAGS	 = -std=gnu11 -O2 -g -ffreestanding -fno-pic -fno-pie \
		   -fno-stack-protector -fcf-protection=none \
		   -fno-asynchronous-unwind-tables \
		   -fno-tree-loop-distribute-patterns \
		   -mno-red-zone -mno-sse -mno-sse2 -mno-mmx -mno-80387 \
		   -mcmodel=small -Wall -Wextra -Werror -Wno-unused-parameter
GUEST_LDFLAGS	 = -nostdlib -static -no-pie -Wl,-T,$(GUEST_DIR)/guest.ld \
		   -Wl,--build-id=none -Wl,-z,noexecstack \
		   -Wl,-z,max-page-size=4096
GUEST_OBJS	 = $(GUEST_DIR)/start.o $(GUEST_DIR)/main.o \
		   $(GUEST_DIR)/machine.o $(GUEST_DIR)/cons.o \
		   $(GUEST_DIR)/checks.o $(GUEST_DIR)/user.o \
		   $(GUEST_DIR)/usermode.o $(GUEST_DIR)/util.o \
		   $(GUEST_DIR)/pci.o $(GUEST_DIR)/virtio.o \
		   $(GUEST_DIR)/vblk.o $(GUEST_DIR)/blktest.o \
		   $(GUEST_DIR)/vscsi.o $(GUEST_DIR)/vrng.o \
		   $(GUEST_DIR)/vmmci.o $(GUEST_DIR)/vnet.o \
		   $(GUEST_DIR)/net.o $(GUEST_DIR)/smp.o

$(GUEST_DIR)/%.o: $(GUEST_DIR)/%.c $(GUEST_DIR)/guest.h $(GUEST_DIR)/guest.mk
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_DIR)/%.o: $(GUEST_DIR)/%.S $(GUEST_DIR)/guest.mk
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_DIR)/guest.elf: $(GUEST_OBJS) $(GUEST_DIR)/guest.ld
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $(GUEST_OBJS)

guest-clean:
	rm -f $(GUEST_DIR)/guest.elf $(GUEST_OBJS)

.PHONY: guest-clean
