/*
 * vioscsi.h: the virtio-scsi CD-ROM (vioscsi.c) in two layers.
 *
 * The SCSI target, scsi_cd_*: one read-only MMC drive with 2048-byte
 * blocks at target 0, LUN 0, whose medium is a disk image (an ISO) read
 * through disk_preadv.  scsi_cd_command() takes what a virtio-scsi
 * request carries (the eight LUN bytes, the CDB) and the data-in
 * buffers, and fills a struct scsi_result: the virtio response code,
 * the SCSI status, fixed-format sense data, the bytes written and the
 * residual.  It is pure over its struct scsi_cd and the disk: no
 * logging, no allocation, no guest memory but the iovecs it is given.
 *
 * The virtio side, vioscsi_*: the request, control and event queues
 * and the device configuration.  vioscsi_request() and
 * vioscsi_control() work on one popped chain, so tests and the fuzzer
 * can drive them without a ring; vioscsi_run() runs a whole queue.
 */

#ifndef VIOSCSI_H
#define VIOSCSI_H

#include <sys/uio.h>

#include <stddef.h>
#include <stdint.h>

struct disk;
struct virtq;
struct virtq_chain;
struct virtio_dev;

#define SCSI_CD_BLOCK		2048
#define SCSI_SENSE_LEN		18	/* fixed format, as we write it */
#define SCSI_CD_IOV_MAX		256	/* data-in iovecs per command */
#define SCSI_CD_SERIAL_MAX	20
/* Largest READ: QEMU's max_sectors (0xffff sectors of 512) in blocks */
#define SCSI_CD_MAX_XFER	(0xffffU * 512 / SCSI_CD_BLOCK)
/* A disc above this many blocks is a DVD-ROM (80 minutes of CD) */
#define SCSI_CD_CD_BLOCKS	(80U * 60 * 75)

/* SCSI status */
#define SCSI_GOOD		0x00
#define SCSI_CHECK_CONDITION	0x02

/* Sense keys */
#define SKEY_NO_SENSE		0x0
#define SKEY_NOT_READY		0x2
#define SKEY_MEDIUM_ERROR	0x3
#define SKEY_ILLEGAL_REQUEST	0x5
#define SKEY_UNIT_ATTENTION	0x6

/* Additional sense code and qualifier, asc << 8 | ascq */
#define ASC_NONE		0x0000
#define ASC_READ_ERROR		0x1100	/* unrecovered read error */
#define ASC_INVALID_OPCODE	0x2000
#define ASC_LBA_RANGE		0x2100	/* LBA out of range */
#define ASC_INVALID_FIELD	0x2400	/* invalid field in CDB */
#define ASC_LUN_NOT_SUPPORTED	0x2500
#define ASC_POWER_ON		0x2900	/* power on, reset or bus reset */
#define ASC_LU_RESET		0x2903	/* bus device reset function */
#define ASC_NEXUS_LOSS		0x2907	/* I_T nexus loss occurred */
#define ASC_SAVING_UNSUPPORTED	0x3900
#define ASC_NO_MEDIUM		0x3a00
#define ASC_REMOVAL_PREVENTED	0x5302

/* virtio-scsi response codes (virtio 1.x, "SCSI Host Device") */
#define VIRTIO_SCSI_S_OK		0
#define VIRTIO_SCSI_S_OVERRUN		1
#define VIRTIO_SCSI_S_ABORTED		2
#define VIRTIO_SCSI_S_BAD_TARGET	3
#define VIRTIO_SCSI_S_RESET		4
#define VIRTIO_SCSI_S_BUSY		5
#define VIRTIO_SCSI_S_TRANSPORT_FAILURE	6
#define VIRTIO_SCSI_S_TARGET_FAILURE	7
#define VIRTIO_SCSI_S_NEXUS_FAILURE	8
#define VIRTIO_SCSI_S_FAILURE		9
#define VIRTIO_SCSI_S_FUNCTION_SUCCEEDED 10
#define VIRTIO_SCSI_S_FUNCTION_REJECTED	11
#define VIRTIO_SCSI_S_INCORRECT_LUN	12

/* Control queue request types and task management functions */
#define VIRTIO_SCSI_T_TMF			0
#define VIRTIO_SCSI_T_AN_QUERY			1
#define VIRTIO_SCSI_T_AN_SUBSCRIBE		2
#define VIRTIO_SCSI_T_TMF_ABORT_TASK		0
#define VIRTIO_SCSI_T_TMF_ABORT_TASK_SET	1
#define VIRTIO_SCSI_T_TMF_CLEAR_ACA		2
#define VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET	3
#define VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET	4
#define VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET	5
#define VIRTIO_SCSI_T_TMF_QUERY_TASK		6
#define VIRTIO_SCSI_T_TMF_QUERY_TASK_SET	7

/* Queues, and the device configuration as the driver sees it */
#define VIOSCSI_CONTROLQ	0
#define VIOSCSI_EVENTQ		1
#define VIOSCSI_REQUESTQ	2
#define VIOSCSI_NQUEUES		3
#define VIOSCSI_QUEUE_SIZE	128
#define VIOSCSI_SEG_MAX		(VIOSCSI_QUEUE_SIZE - 2)
#define VIOSCSI_MAX_IOV		(VIOSCSI_SEG_MAX + 4)	/* chain buffers */
#define VIOSCSI_CDB_DEFAULT	32
#define VIOSCSI_SENSE_DEFAULT	96
#define VIOSCSI_CDB_MAX		32	/* CDB bytes we look at */
#define VIOSCSI_SENSE_MAX	96	/* sense bytes we write at most */
#define VIOSCSI_CONFIG_SIZE	36
#define VIOSCSI_REQ_HDR		19	/* lun, id, task_attr, prio, crn */
#define VIOSCSI_RESP_HDR	12	/* sense_len .. response */
#define VIOSCSI_EVENT_SIZE	16

/* The target: a few fields, all of its state. */
struct scsi_cd {
	struct disk	*disk;
	uint64_t	 blocks;	/* 2048-byte blocks; 0: no medium */
	uint16_t	 ua;		/* pending unit attention, or 0 */
	uint8_t		 prevent;	/* medium removal prevented */
	char		 serial[SCSI_CD_SERIAL_MAX + 1];
};

/* What one command produced. */
struct scsi_result {
	uint8_t		 response;	/* VIRTIO_SCSI_S_* */
	uint8_t		 status;	/* SCSI_GOOD, SCSI_CHECK_CONDITION */
	uint32_t	 sense_len;
	uint8_t		 sense[SCSI_SENSE_LEN];
	uint32_t	 len;		/* data-in bytes written */
	uint32_t	 resid;		/* data-in bytes not written */
};

/* The device: the target and what the driver may write in the config. */
struct vioscsi {
	struct scsi_cd	 cd;
	uint32_t	 sense_size;
	uint32_t	 cdb_size;
	struct virtio_dev *vdev;	/* NULL when driven without PCI */
};

/* vioscsi.c: the SCSI target */
void		 scsi_cd_init(struct scsi_cd *, struct disk *, const char *);
void		 scsi_cd_reset(struct scsi_cd *, uint16_t);
void		 scsi_cd_command(struct scsi_cd *, const uint8_t *,
		    const uint8_t *, size_t, const struct iovec *, int,
		    struct scsi_result *);
uint8_t		 scsi_cd_tmf(struct scsi_cd *, uint32_t, const uint8_t *);
uint8_t		 scsi_cd_an(struct scsi_cd *, const uint8_t *, uint32_t,
		    uint32_t *);

/* vioscsi.c: the virtio side */
void		 vioscsi_init(struct vioscsi *, struct disk *, const char *);
void		 vioscsi_reset(struct vioscsi *);
void		 vioscsi_config_read(struct vioscsi *, uint32_t, uint8_t *,
		    int);
void		 vioscsi_config_write(struct vioscsi *, uint32_t,
		    const uint8_t *, int);
int		 vioscsi_request(struct vioscsi *, const struct virtq_chain *,
		    uint32_t *, char *, size_t);
int		 vioscsi_control(struct vioscsi *, const struct virtq_chain *,
		    uint32_t *, char *, size_t);
int		 vioscsi_run(struct vioscsi *, struct virtq *);

#endif /* VIOSCSI_H */
