#ifndef CSPDYZLIB_H
#define CSPDYZLIB_H

#include <stddef.h>
#include <stdint.h>

/// An opaque, persistent zlib stream (deflate or inflate) with its own output buffer.
typedef struct cspdy_zstream cspdy_zstream;

/// Result codes.
#define CSPDY_Z_OK 0
#define CSPDY_Z_ERROR -1       /* zlib reported a data or stream error */
#define CSPDY_Z_MEMORY -2      /* allocation failed */
#define CSPDY_Z_LIMIT -3       /* inflated output would exceed the caller's limit */

/// A deflate stream (zlib format) primed with `dict`. Returns NULL on failure.
cspdy_zstream *cspdy_deflate_new(const uint8_t *dict, size_t dict_len, int level);

/// An inflate stream (zlib format) that supplies `dict` when the data asks for it. Returns NULL on failure.
cspdy_zstream *cspdy_inflate_new(const uint8_t *dict, size_t dict_len);

/// Frees a stream made by either constructor. NULL is ignored.
void cspdy_zstream_free(cspdy_zstream *stream);

/// Compresses `in` and ends with Z_SYNC_FLUSH. On CSPDY_Z_OK, `*out`/`*out_len` describe the output,
/// which stays valid until the next call on this stream.
int cspdy_deflate_sync(cspdy_zstream *stream, const uint8_t *in, size_t in_len,
                       const uint8_t **out, size_t *out_len);

/// Decompresses all of `in`, producing at most `max_out` bytes. On CSPDY_Z_OK, `*out`/`*out_len`
/// describe the output, valid until the next call on this stream.
int cspdy_inflate(cspdy_zstream *stream, const uint8_t *in, size_t in_len, size_t max_out,
                  const uint8_t **out, size_t *out_len);

#endif
