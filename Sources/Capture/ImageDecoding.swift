// Image files decoded as the CLIP reference sees them: transformers 5.24 opens a file with Pillow 13
// (`image_utils.load_image`: `Image.open`, then `ImageOps.exif_transpose`) and `CLIPImageProcessorPil` converts it
// with `convert_to_rgb` (alpha composited onto white). clipcam decodes each format with the library Pillow uses for
// it where there is one, and replicates Pillow's own code where Pillow has its own decoder, so that the RGB pixels
// equal Pillow's (see PillowImage.swift for the conversion to RGB, ImageMetadata.swift for the orientation):
//
// - JPEG: libjpeg-turbo (as Pillow), libjpeg's defaults (ISLOW DCT, fancy upsampling), grey/RGB/CMYK output, CMYK
//   and YCCK inverted as Pillow always does ("CMYK;I", Adobe's convention). Pillow 13 bundles libjpeg-turbo 3.2,
//   Debian 12 ships 2.1.5: identical output on every fixture and on 60 larger files of every subsampling, progressive,
//   grey and CMYK (scripts/fixtures/measure_decoders.py). Data ending before the last row is refused (libjpeg only
//   warns), as are 12-bit files (Pillow: "cannot handle 12-bit layers").
// - PNG: libpng for the inflated, unfiltered, de-interlaced samples (Pillow has its own zlib decoder; a lossless
//   format has one right answer), then Pillow's modes and unpacking (PngImagePlugin `_MODES`, Unpack.c): 16-bit
//   colour keeps the high byte, 16-bit grey stays "I;16" (clamped at 255 later), tRNS as Pillow reads it. APNG: the
//   default image, Pillow's first frame. Chunk CRCs before the image data are checked as Pillow checks them.
// - GIF: giflib for the LZW data (Pillow's GifDecode.c is its own), the first frame placed as GifImagePlugin places
//   it: on a canvas grown to hold it, filled with the transparent index or 0; "P" with the local palette, else the
//   global one ("L" without either; a palette that is the identity grey ramp counts as none).
// - BMP: Pillow reads BMP with its own Python and raw unpackers; SDL2's reader differs (32-bit alpha, files Pillow
//   refuses), so BmpImageDecoder follows BmpImagePlugin line for line: no library involved, the rows are plain data.
// - TIFF: libtiff (as Pillow) for the strips and tiles, Pillow's OPEN_INFO table for the mode, Unpack.c for the
//   samples, JPEG-in-TIFF as RGB (JPEGCOLORMODE). Deviation: YCbCr without JPEG compression and old-style JPEG,
//   which Pillow converts through libtiff's RGBA reader, are refused as unsupported (rare; not replicated).
// - WebP: libwebp's animation decoder (as Pillow, for every WebP file), RGBA or RGB as its features say. Pillow's
//   libwebp 1.6 and Debian's 1.2.4 decode identically on the fixtures and on 40 larger lossy, lossy-with-alpha and
//   lossless files (measure_decoders.py).
// - PPM/PGM/PBM, TGA and QOI: SDL2_image, measured equal to Pillow on 8-bit files (see SDLImageDecoder).
//
// SDL2_image, which decoded every format before, was measured against the same fixtures: of the first 129 variants
// it gave other pixels for 5 JPEG (every CMYK and YCCK one), 9 PNG (16-bit grey, every tRNS form), 7 GIF, 7 TIFF,
// 2 BMP and 1 WebP, besides not applying the EXIF orientation; of the damaged files Pillow refuses it decoded 7 (four
// truncated JPEGs, two cut GIFs, RLE that ends early), and it allocated 1.2-1.6 GB for four of the six bombs
// before refusing three of them and decoding the 20000 x 20000 JPEG.
//
// Every format's width and height are read from its header and checked against Pillow's decompression-bomb limit
// before any pixel is decoded.
//
// Two choices between the reference's paths. The EXIF orientation is applied: transformers' `load_image`, which its
// pipelines use for a file name, applies `exif_transpose` (a bare `Image.open` does not), and a photo every viewer
// shows upright should be classified upright. Transparency is composited onto white, as CLIPImageProcessorPil's
// `convert_to_rgb` does; `load_image` alone would end with `convert("RGB")`, dropping alpha and exposing whatever
// colour the transparent pixels hold. The golden fixtures use this same combination.
import Foundation

/// Why bytes could not be decoded; ImageFile adds the file's name.
enum DecodeFailure: Error, Equatable {
    /// The data ends before the image does.
    case truncated
    /// More pixels than Pillow opens.
    case tooManyPixels(width: Int, height: Int)
    /// A variant of the format clipcam does not read (nor, for most, Pillow), named for people.
    case unsupported(String)
    /// Damaged data, in the decoder's words.
    case damaged(String)
}

/// The image formats clipcam reads, recognised by their first bytes.
enum ImageFormat: String, CaseIterable, Sendable {
    case png = "PNG"
    case jpeg = "JPEG"
    case gif = "GIF"
    case bmp = "BMP"
    case tiff = "TIFF"
    case webp = "WebP"
    case pnm = "PPM/PGM/PBM"
    case qoi = "QOI"
    case tga = "TGA"

    /// The list for messages: "PNG, JPEG, GIF, BMP, TIFF, WebP, PPM/PGM/PBM, QOI and TGA".
    static var names: String {
        let all = allCases.map(\.rawValue)
        return all.dropLast().joined(separator: ", ") + " and " + all.last!
    }

    /// The format of `bytes` by their signature; TGA, which has none, only for a name ending in .tga (SDL2_image
    /// must be told; Pillow tries its TGA header checks on any file it cannot otherwise identify).
    static func sniff(_ bytes: [UInt8], fileExtension: String) -> ImageFormat? {
        func starts(_ prefix: [UInt8]) -> Bool { bytes.starts(with: prefix) }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts(Array("BM".utf8)) { return .bmp }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) || starts([0x49, 0x49, 0x2B, 0x00])
            || starts([0x4D, 0x4D, 0x00, 0x2B])
        {
            return .tiff
        }
        if bytes.count >= 12, starts(Array("RIFF".utf8)), Array(bytes[8..<12]) == Array("WEBP".utf8) { return .webp }
        if bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), (UInt8(ascii: "1")...UInt8(ascii: "6")).contains(bytes[1]) {
            return .pnm
        }
        if starts(Array("qoif".utf8)) { return .qoi }
        if fileExtension == "tga" { return .tga }
        return nil
    }
}

/// Pillow's limit: `Image.open` refuses more than 2 × MAX_IMAGE_PIXELS (2 × 1024³ / 4 / 3) pixels.
enum PixelLimit {
    static let maximum = 178_956_970

    /// `Image._decompression_bomb_check` (sides below 1 count as 1).
    static func check(width: Int, height: Int) throws(DecodeFailure) {
        let pixels = max(1, width).multipliedReportingOverflow(by: max(1, height))
        if pixels.overflow || pixels.partialValue > maximum {
            throw .tooManyPixels(width: width, height: height)
        }
    }
}

/// A decoded file: Pillow's image, and the orientation `exif_transpose` applies to it.
struct DecodedImageFile {
    var image: PillowImage
    var orientation: ImageOrientation

    /// The RGB pixels the reference processor sees: `convert_to_rgb`, then the orientation applied.
    func rgb() -> (pixels: [UInt8], width: Int, height: Int) {
        let converted = image.convertedToRGB()
        let (pixels, width, height) = orientation.apply(
            converted, width: image.width, height: image.height, channels: 3)
        return (pixels, width, height)
    }
}

enum ImageDecoding {
    /// Decodes the file's bytes as `format`.
    static func decode(_ bytes: [UInt8], as format: ImageFormat) throws(DecodeFailure) -> DecodedImageFile {
        switch format {
        case .jpeg: return try JPEGImageDecoder.decode(bytes)
        case .png: return try PNGImageDecoder.decode(bytes)
        case .gif: return try GIFImageDecoder.decode(bytes)
        case .bmp: return try BMPImageDecoder.decode(bytes)
        case .tiff: return try TIFFImageDecoder.decode(bytes)
        case .webp: return try WebPImageDecoder.decode(bytes)
        case .pnm, .qoi, .tga: return try SDLImageDecoder.decode(bytes, as: format)
        }
    }
}

/// Reading integers from bytes without trapping on short data.
struct ByteReader {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var count: Int { bytes.count }

    func u8(_ at: Int) -> Int? { at >= 0 && at < bytes.count ? Int(bytes[at]) : nil }

    func u16le(_ at: Int) -> Int? {
        guard let low = u8(at), let high = u8(at + 1) else { return nil }
        return low | high << 8
    }

    func u16be(_ at: Int) -> Int? {
        guard let high = u8(at), let low = u8(at + 1) else { return nil }
        return low | high << 8
    }

    func u32le(_ at: Int) -> Int? {
        guard let low = u16le(at), let high = u16le(at + 2) else { return nil }
        return low | high << 16
    }

    func u32be(_ at: Int) -> Int? {
        guard let high = u16be(at), let low = u16be(at + 2) else { return nil }
        return low | high << 16
    }

    func slice(_ at: Int, _ length: Int) -> [UInt8]? {
        guard at >= 0, length >= 0, at <= bytes.count - length else { return nil }
        return Array(bytes[at..<(at + length)])
    }
}
