// The calls into libjpeg(-turbo), libpng and libtiff that Swift cannot make itself: libjpeg and libpng report
// errors by long-jumping out of the failing call (setjmp/longjmp must stay in C), and libtiff's tag getter is
// variadic. Each decoder works on bytes already in memory and reports failure as a status and a message; the
// Swift wrappers in Sources/Capture own the handles and free them.
#ifndef CLIPCAM_CIMAGECODECS_H
#define CLIPCAM_CIMAGECODECS_H

#include <stddef.h>
#include <stdint.h>

/// Outcome of a decoding step.
typedef enum {
    CIC_OK = 0,
    /// The data is damaged or unsupported; the message says how.
    CIC_ERROR = 1,
    /// The data ends before the image does.
    CIC_TRUNCATED = 2,
} cic_status;

#define CIC_MESSAGE_LENGTH 256

// MARK: JPEG (libjpeg-turbo's libjpeg API)

typedef struct cic_jpeg cic_jpeg;

/// Starts decoding the `size` bytes at `data` (which must stay valid until cic_jpeg_free) and reads the header up
/// to the first scan. The decoder uses libjpeg's defaults (ISLOW DCT, fancy upsampling, block smoothing) and
/// outputs the file's components as grey (1), RGB (3) or CMYK (4, YCCK converted to CMYK). Returns NULL only when
/// out of memory; otherwise check cic_jpeg_status.
cic_jpeg *cic_jpeg_open(const uint8_t *data, size_t size);
cic_status cic_jpeg_status(const cic_jpeg *decoder);
const char *cic_jpeg_message(const cic_jpeg *decoder);
int cic_jpeg_width(const cic_jpeg *decoder);
int cic_jpeg_height(const cic_jpeg *decoder);
/// 1, 3 or 4: the samples per pixel cic_jpeg_decode writes.
int cic_jpeg_components(const cic_jpeg *decoder);
/// Decodes every row into `pixels` (rows `row_bytes` apart). The data ending before the last row is
/// CIC_TRUNCATED (libjpeg only warns, inserting a fake end marker; Pillow refuses such a file); a missing end
/// marker after the last row is not an error, as it is not for Pillow.
cic_status cic_jpeg_decode(cic_jpeg *decoder, uint8_t *pixels, size_t row_bytes);
void cic_jpeg_free(cic_jpeg *decoder);

// MARK: PNG (libpng)

typedef struct cic_png cic_png;

/// Starts decoding the PNG at `data` (valid until cic_png_free) and reads the chunks up to the image data.
/// CRC errors are ignored here (the Swift side checks the chunks before the image data, as Pillow does, and
/// Pillow does not check the image data's). Returns NULL only when out of memory; otherwise check cic_png_status.
cic_png *cic_png_open(const uint8_t *data, size_t size);
cic_status cic_png_status(const cic_png *decoder);
const char *cic_png_message(const cic_png *decoder);
int cic_png_width(const cic_png *decoder);
int cic_png_height(const cic_png *decoder);
int cic_png_bit_depth(const cic_png *decoder);
int cic_png_color_type(const cic_png *decoder);
/// Bytes per row as stored (samples packed as in the file, 16-bit samples big-endian).
size_t cic_png_row_bytes(const cic_png *decoder);
/// Decodes every row (de-interlaced) into `pixels`, `row_bytes` apart, without any conversion.
cic_status cic_png_decode(cic_png *decoder, uint8_t *pixels, size_t row_bytes);
/// Reads the chunks after the image data (text and eXIf may follow it). Failing here loses nothing decoded.
void cic_png_read_end(cic_png *decoder);
/// The eXIf chunk (before or after the image data), or 0 bytes.
size_t cic_png_exif(const cic_png *decoder, const uint8_t **bytes);
/// The text chunks (tEXt, zTXt, iTXt; decompressed), before and after the image data.
int cic_png_text_count(const cic_png *decoder);
/// The key and text of text chunk `index`; returns the text's length.
size_t cic_png_text(const cic_png *decoder, int index, const char **key, const char **text);
void cic_png_free(cic_png *decoder);

// MARK: TIFF (libtiff)

typedef struct cic_tiff cic_tiff;

/// Opens the TIFF at `data` (valid until cic_tiff_free) and reads its first directory. Returns NULL only when out
/// of memory; otherwise check cic_tiff_status (libtiff's first error message is kept).
cic_tiff *cic_tiff_open(const uint8_t *data, size_t size);
cic_status cic_tiff_status(const cic_tiff *decoder);
const char *cic_tiff_message(const cic_tiff *decoder);
/// A 16-bit tag of the first directory, or with `defaulted` libtiff's default when the file has none; returns 0 when
/// there is no value.
int cic_tiff_u16(const cic_tiff *decoder, uint32_t tag, int defaulted, uint16_t *value);
/// A 32-bit tag of the first directory (as cic_tiff_u16).
int cic_tiff_u32(const cic_tiff *decoder, uint32_t tag, int defaulted, uint32_t *value);
/// The XMP packet (tag 700), or 0 bytes.
size_t cic_tiff_xmp(const cic_tiff *decoder, const uint8_t **bytes);
/// The ExtraSamples tag: the number of values, written to `values` (at most `capacity`).
int cic_tiff_extra_samples(const cic_tiff *decoder, uint16_t *values, int capacity);
/// The colour map (3 × 2^bits 16-bit entries: red, then green, then blue), or 0 when there is none.
int cic_tiff_colormap(const cic_tiff *decoder, const uint16_t **red, const uint16_t **green, const uint16_t **blue);
/// Whether the image is stored in tiles (else strips).
int cic_tiff_is_tiled(const cic_tiff *decoder);
/// Sets JPEGCOLORMODE to RGB, so that YCbCr JPEG data is delivered as RGB (as Pillow asks libtiff to).
int cic_tiff_jpeg_rgb(cic_tiff *decoder);
uint32_t cic_tiff_chunk_count(const cic_tiff *decoder);
/// The bytes one strip (or tile) decodes to.
int64_t cic_tiff_chunk_size(const cic_tiff *decoder);
/// Decodes strip (or tile) `index` into `buffer`; returns the number of bytes or -1 (see cic_tiff_message).
int64_t cic_tiff_read_chunk(cic_tiff *decoder, uint32_t index, uint8_t *buffer, int64_t capacity);
void cic_tiff_free(cic_tiff *decoder);

#endif
