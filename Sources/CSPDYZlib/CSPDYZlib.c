#include "CSPDYZlib.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct cspdy_zstream {
    z_stream z;
    int inflating;
    uint8_t *dict;
    size_t dict_len;
    uint8_t *buf;
    size_t cap;
};

static cspdy_zstream *cspdy_alloc(const uint8_t *dict, size_t dict_len) {
    cspdy_zstream *s = calloc(1, sizeof(*s));
    if (s == NULL) return NULL;
    s->dict = malloc(dict_len > 0 ? dict_len : 1);
    s->cap = 4096;
    s->buf = malloc(s->cap);
    if (s->dict == NULL || s->buf == NULL) {
        free(s->dict);
        free(s->buf);
        free(s);
        return NULL;
    }
    memcpy(s->dict, dict, dict_len);
    s->dict_len = dict_len;
    return s;
}

static void cspdy_release(cspdy_zstream *s) {
    free(s->dict);
    free(s->buf);
    free(s);
}

static int cspdy_grow(cspdy_zstream *s) {
    size_t cap = s->cap * 2;
    uint8_t *buf = realloc(s->buf, cap);
    if (buf == NULL) return 0;
    s->buf = buf;
    s->cap = cap;
    return 1;
}

cspdy_zstream *cspdy_deflate_new(const uint8_t *dict, size_t dict_len, int level) {
    cspdy_zstream *s = cspdy_alloc(dict, dict_len);
    if (s == NULL) return NULL;
    if (deflateInit(&s->z, level) != Z_OK) {
        cspdy_release(s);
        return NULL;
    }
    if (deflateSetDictionary(&s->z, s->dict, (uInt)s->dict_len) != Z_OK) {
        deflateEnd(&s->z);
        cspdy_release(s);
        return NULL;
    }
    return s;
}

cspdy_zstream *cspdy_inflate_new(const uint8_t *dict, size_t dict_len) {
    cspdy_zstream *s = cspdy_alloc(dict, dict_len);
    if (s == NULL) return NULL;
    s->inflating = 1;
    if (inflateInit(&s->z) != Z_OK) {
        cspdy_release(s);
        return NULL;
    }
    return s;
}

void cspdy_zstream_free(cspdy_zstream *s) {
    if (s == NULL) return;
    if (s->inflating) {
        inflateEnd(&s->z);
    } else {
        deflateEnd(&s->z);
    }
    cspdy_release(s);
}

int cspdy_deflate_sync(cspdy_zstream *s, const uint8_t *in, size_t in_len,
                       const uint8_t **out, size_t *out_len) {
    size_t produced = 0;
    s->z.next_in = (Bytef *)in;
    s->z.avail_in = (uInt)in_len;
    for (;;) {
        if (produced == s->cap && !cspdy_grow(s)) return CSPDY_Z_MEMORY;
        s->z.next_out = s->buf + produced;
        s->z.avail_out = (uInt)(s->cap - produced);
        int rc = deflate(&s->z, Z_SYNC_FLUSH);
        produced = s->cap - s->z.avail_out;
        if (rc != Z_OK && rc != Z_BUF_ERROR) return CSPDY_Z_ERROR;
        /* Done once all input is consumed and deflate left room in the output (flush complete). */
        if (s->z.avail_in == 0 && s->z.avail_out != 0) break;
    }
    *out = s->buf;
    *out_len = produced;
    return CSPDY_Z_OK;
}

int cspdy_inflate(cspdy_zstream *s, const uint8_t *in, size_t in_len, size_t max_out,
                  const uint8_t **out, size_t *out_len) {
    size_t produced = 0;
    s->z.next_in = (Bytef *)in;
    s->z.avail_in = (uInt)in_len;
    for (;;) {
        if (produced == s->cap && !cspdy_grow(s)) return CSPDY_Z_MEMORY;
        s->z.next_out = s->buf + produced;
        s->z.avail_out = (uInt)(s->cap - produced);
        int rc = inflate(&s->z, Z_SYNC_FLUSH);
        produced = s->cap - s->z.avail_out;
        if (rc == Z_NEED_DICT) {
            if (inflateSetDictionary(&s->z, s->dict, (uInt)s->dict_len) != Z_OK) return CSPDY_Z_ERROR;
            continue;
        }
        if (rc == Z_STREAM_END) {
            /* A header block never ends the zlib stream; treat trailing data as an error. */
            if (s->z.avail_in != 0) return CSPDY_Z_ERROR;
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) return CSPDY_Z_ERROR;
        if (produced > max_out) return CSPDY_Z_LIMIT;
        if (s->z.avail_in == 0 && s->z.avail_out != 0) break;
        if (rc == Z_BUF_ERROR && s->z.avail_out != 0) return CSPDY_Z_ERROR; /* stuck with input left */
    }
    if (produced > max_out) return CSPDY_Z_LIMIT;
    *out = s->buf;
    *out_len = produced;
    return CSPDY_Z_OK;
}
