#ifndef CCRIOCOMPRESSION_H
#define CCRIOCOMPRESSION_H

/* A tiny streaming-decompression API over zlib (gzip) and libzstd, for image
 * layers. Plain prototypes only; feature macros live in the .c file. */

#include <stddef.h>

/* Compression formats. */
#define CRIO_DECOMPRESS_GZIP 1
#define CRIO_DECOMPRESS_ZSTD 2

/* Return values of crio_decompressor_run (besides 0 for "progress made or
 * more input / output space needed"). */
#define CRIO_DECOMPRESS_ERROR (-1)
#define CRIO_DECOMPRESS_NOMEM (-2)

typedef struct crio_decompressor crio_decompressor;

/* A new decompressor for `format` (CRIO_DECOMPRESS_GZIP or _ZSTD), or NULL
 * when out of memory or the format is unknown. */
crio_decompressor *crio_decompressor_new(int format);

/* Frees the decompressor and everything it holds. NULL is fine. */
void crio_decompressor_free(crio_decompressor *d);

/* Decompresses from `in` (in_len bytes; may be 0 to flush what is buffered)
 * into `out` (out_cap bytes) until the input is used up or the output is
 * full. Sets *in_used and *out_len to the bytes consumed and produced.
 * gzip: concatenated members are decoded one after another; zstd: so are
 * concatenated frames (and skippable frames are skipped).
 * Returns 0, or CRIO_DECOMPRESS_ERROR for corrupt data (see
 * crio_decompressor_message), or CRIO_DECOMPRESS_NOMEM. */
int crio_decompressor_run(crio_decompressor *d, const void *in, size_t in_len, size_t *in_used,
                          void *out, size_t out_cap, size_t *out_len);

/* 1 when the data fed so far ends exactly at the end of a complete gzip
 * member or zstd frame (so end of input here is a clean end), else 0. */
int crio_decompressor_at_boundary(const crio_decompressor *d);

/* The library's message for the last error, or "" when there is none. Valid
 * until the next call on `d`. */
const char *crio_decompressor_message(const crio_decompressor *d);

/* 1 when crio_gzip_decompress_whole can work (libdeflate.so.0 loads), else 0. */
int crio_gzip_whole_available(void);

/* Decompresses the whole gzip blob `in` (one or more members, CRC and size
 * of each checked) into `out`. Returns 0 and sets *out_len; returns 1 when
 * this fast path does not apply: no libdeflate, the output would not fit in
 * out_cap, or the data is not a clean gzip stream. The caller then uses the
 * streaming decompressor, which enforces limits and words errors. */
int crio_gzip_decompress_whole(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len);

#endif
