#define _GNU_SOURCE
#include "ccriocompression.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

struct crio_decompressor {
    int format;
    /* gzip */
    z_stream zs;
    int zs_ready;     /* inflateInit2 succeeded */
    int member_done;  /* the last member ended (Z_STREAM_END) and nothing followed yet */
    int members;      /* members started */
    /* zstd */
    ZSTD_DStream *zd;
    int frame_done;   /* ZSTD_decompressStream last returned 0 */
    int frames;       /* 1 once any input was fed */
    char message[160];
};

crio_decompressor *crio_decompressor_new(int format) {
    crio_decompressor *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return NULL;
    }
    d->format = format;
    switch (format) {
    case CRIO_DECOMPRESS_GZIP:
        /* 16 + MAX_WBITS: gzip wrapper only. */
        if (inflateInit2(&d->zs, 16 + MAX_WBITS) != Z_OK) {
            free(d);
            return NULL;
        }
        d->zs_ready = 1;
        return d;
    case CRIO_DECOMPRESS_ZSTD:
        d->zd = ZSTD_createDStream();
        if (d->zd == NULL) {
            free(d);
            return NULL;
        }
        if (ZSTD_isError(ZSTD_initDStream(d->zd))) {
            ZSTD_freeDStream(d->zd);
            free(d);
            return NULL;
        }
        return d;
    default:
        free(d);
        return NULL;
    }
}

void crio_decompressor_free(crio_decompressor *d) {
    if (d == NULL) {
        return;
    }
    if (d->zs_ready) {
        inflateEnd(&d->zs);
    }
    if (d->zd != NULL) {
        ZSTD_freeDStream(d->zd);
    }
    free(d);
}

static void set_message(crio_decompressor *d, const char *prefix, const char *msg) {
    snprintf(d->message, sizeof(d->message), "%s%s", prefix, msg != NULL ? msg : "unknown error");
}

static int run_gzip(crio_decompressor *d, const unsigned char *in, size_t in_len, size_t *in_used,
                    unsigned char *out, size_t out_cap, size_t *out_len) {
    size_t in_pos = 0, out_pos = 0;
    for (;;) {
        if (d->member_done) {
            if (in_pos == in_len) {
                break; /* clean end so far; wait for more input */
            }
            /* Another member follows. */
            if (inflateReset(&d->zs) != Z_OK) {
                set_message(d, "gzip: ", "cannot reset the stream");
                return CRIO_DECOMPRESS_ERROR;
            }
            d->member_done = 0;
        }
        if (out_pos == out_cap) {
            break;
        }
        if (in_pos < in_len && d->members == 0) {
            d->members = 1;
        }
        /* zlib counts in uInt; feed at most 1 GiB at a time. */
        size_t in_chunk = in_len - in_pos;
        size_t out_chunk = out_cap - out_pos;
        if (in_chunk > (1u << 30)) in_chunk = 1u << 30;
        if (out_chunk > (1u << 30)) out_chunk = 1u << 30;
        d->zs.next_in = (Bytef *)(in + in_pos);
        d->zs.avail_in = (uInt)in_chunk;
        d->zs.next_out = out + out_pos;
        d->zs.avail_out = (uInt)out_chunk;
        int rc = inflate(&d->zs, Z_NO_FLUSH);
        size_t consumed = in_chunk - d->zs.avail_in;
        size_t produced = out_chunk - d->zs.avail_out;
        in_pos += consumed;
        out_pos += produced;
        if (rc == Z_STREAM_END) {
            d->member_done = 1;
            d->members++;
            continue;
        }
        if (rc == Z_OK) {
            if (consumed == 0 && produced == 0) {
                break;
            }
            continue;
        }
        if (rc == Z_BUF_ERROR) {
            break; /* no progress possible: needs more input or output space */
        }
        if (rc == Z_MEM_ERROR) {
            set_message(d, "gzip: ", "out of memory");
            return CRIO_DECOMPRESS_NOMEM;
        }
        set_message(d, "gzip: ", d->zs.msg != NULL ? d->zs.msg : zError(rc));
        return CRIO_DECOMPRESS_ERROR;
    }
    *in_used = in_pos;
    *out_len = out_pos;
    return 0;
}

static int run_zstd(crio_decompressor *d, const unsigned char *in, size_t in_len, size_t *in_used,
                    unsigned char *out, size_t out_cap, size_t *out_len) {
    ZSTD_inBuffer ib = {in, in_len, 0};
    ZSTD_outBuffer ob = {out, out_cap, 0};
    if (in_len > 0) {
        d->frames = 1;
    }
    for (;;) {
        size_t before_in = ib.pos, before_out = ob.pos;
        if (ob.pos == ob.size) {
            break;
        }
        if (ib.pos == ib.size && d->frame_done) {
            break;
        }
        size_t rc = ZSTD_decompressStream(d->zd, &ob, &ib);
        if (ZSTD_isError(rc)) {
            if (ZSTD_getErrorCode(rc) == ZSTD_error_memory_allocation) {
                set_message(d, "zstd: ", "out of memory");
                return CRIO_DECOMPRESS_NOMEM;
            }
            set_message(d, "zstd: ", ZSTD_getErrorName(rc));
            return CRIO_DECOMPRESS_ERROR;
        }
        if (ib.pos != before_in) {
            d->frame_done = 0;
        }
        if (rc == 0) {
            d->frame_done = 1;
        } else {
            d->frame_done = 0;
        }
        if (ib.pos == before_in && ob.pos == before_out) {
            break; /* no progress */
        }
    }
    *in_used = ib.pos;
    *out_len = ob.pos;
    return 0;
}

int crio_decompressor_run(crio_decompressor *d, const void *in, size_t in_len, size_t *in_used,
                          void *out, size_t out_cap, size_t *out_len) {
    *in_used = 0;
    *out_len = 0;
    d->message[0] = '\0';
    switch (d->format) {
    case CRIO_DECOMPRESS_GZIP:
        return run_gzip(d, in, in_len, in_used, out, out_cap, out_len);
    case CRIO_DECOMPRESS_ZSTD:
        return run_zstd(d, in, in_len, in_used, out, out_cap, out_len);
    default:
        set_message(d, "", "unknown format");
        return CRIO_DECOMPRESS_ERROR;
    }
}

int crio_decompressor_at_boundary(const crio_decompressor *d) {
    switch (d->format) {
    case CRIO_DECOMPRESS_GZIP:
        return d->members > 0 && d->member_done;
    case CRIO_DECOMPRESS_ZSTD:
        return d->frames > 0 && d->frame_done;
    default:
        return 0;
    }
}

const char *crio_decompressor_message(const crio_decompressor *d) {
    return d->message;
}

/* Whole-buffer gzip through libdeflate (2 to 3 times zlib's inflate), when the
 * host has libdeflate.so.0: loaded with dlopen, so it is optional. */

#include <dlfcn.h>
#include <pthread.h>

typedef void *(*deflate_alloc_fn)(void);
typedef int (*deflate_gzip_fn)(void *, const void *, size_t, void *, size_t, size_t *, size_t *);
typedef void (*deflate_free_fn)(void *);

static pthread_once_t deflate_once = PTHREAD_ONCE_INIT;
static deflate_alloc_fn deflate_alloc;
static deflate_gzip_fn deflate_gzip;
static deflate_free_fn deflate_free;

static void deflate_load(void) {
  void *lib = dlopen("libdeflate.so.0", RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) return;
  deflate_alloc_fn a = (deflate_alloc_fn)dlsym(lib, "libdeflate_alloc_decompressor");
  deflate_gzip_fn g = (deflate_gzip_fn)dlsym(lib, "libdeflate_gzip_decompress_ex");
  deflate_free_fn f = (deflate_free_fn)dlsym(lib, "libdeflate_free_decompressor");
  if (a == NULL || g == NULL || f == NULL) {
    dlclose(lib);
    return;
  }
  deflate_alloc = a;
  deflate_gzip = g;
  deflate_free = f;
}

int crio_gzip_whole_available(void) {
  pthread_once(&deflate_once, deflate_load);
  return deflate_gzip != NULL;
}

int crio_gzip_decompress_whole(const void *in, size_t in_len, void *out, size_t out_cap, size_t *out_len) {
  if (!crio_gzip_whole_available() || in_len == 0) return 1;
  void *d = deflate_alloc();
  if (d == NULL) return 1;
  size_t in_pos = 0, out_pos = 0;
  int failed = 0;
  /* Members one after another, as the streaming decompressor reads them. */
  while (in_pos < in_len) {
    size_t used = 0, produced = 0;
    int rc = deflate_gzip(d, (const unsigned char *)in + in_pos, in_len - in_pos,
                          (unsigned char *)out + out_pos, out_cap - out_pos, &used, &produced);
    if (rc != 0 || used == 0) {
      failed = 1;
      break;
    }
    in_pos += used;
    out_pos += produced;
  }
  deflate_free(d);
  if (failed) return 1;
  *out_len = out_pos;
  return 0;
}
