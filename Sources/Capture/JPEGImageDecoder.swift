// JPEG as Pillow 13 opens it (JpegImagePlugin.py, libImaging/JpegDecode.c): the markers before the first scan give
// the size, the precision (only 8 bits: "cannot handle 12-bit layers"), the component count (1 → "L", 3 → "RGB",
// 4 → "CMYK", others refused), the EXIF block (the first APP1 "Exif") and the XMP packet; libjpeg-turbo decodes the
// pixels with its defaults and the output colour space Pillow asks for. Four-component data is inverted ("CMYK;I":
// Pillow assumes Adobe's convention for every CMYK JPEG, Adobe marker or not).
import CImageCodecs

enum JPEGImageDecoder {
    /// What the markers before the first scan say.
    struct Header {
        var width = 0
        var height = 0
        var precision = 0
        var components = 0
        var metadata = ImageMetadata()
    }

    static func decode(_ bytes: [UInt8]) throws(DecodeFailure) -> DecodedImageFile {
        let header = try readHeader(bytes)
        try PixelLimit.check(width: header.width, height: header.height)
        guard header.precision == 8 else {
            throw .unsupported("\(header.precision)-bit samples (Pillow reads only 8-bit JPEG)")
        }
        guard [1, 3, 4].contains(header.components) else {
            throw .unsupported("\(header.components) colour components (Pillow reads 1, 3 or 4)")
        }
        let decoded: (pixels: [UInt8], components: Int, width: Int, height: Int) = try bytes.withUnsafeBufferPointer {
            (buffer) throws(DecodeFailure) in
            guard let handle = cic_jpeg_open(buffer.baseAddress!, buffer.count) else { throw .damaged("out of memory") }
            let decoder = JPEGHandle(handle)
            defer { withExtendedLifetime(decoder) {} }  // `handle` is used directly until the end
            try decoder.check(cic_jpeg_status(handle))
            let width = Int(cic_jpeg_width(handle))
            let height = Int(cic_jpeg_height(handle))
            let components = Int(cic_jpeg_components(handle))
            try PixelLimit.check(width: width, height: height)
            var pixels = [UInt8](repeating: 0, count: width * height * components)
            let status = pixels.withUnsafeMutableBufferPointer { out in
                cic_jpeg_decode(handle, out.baseAddress!, width * components)
            }
            try decoder.check(status)
            return (pixels, components, width, height)
        }
        let pixels: PillowPixels
        switch decoded.components {
        case 1: pixels = .grey(decoded.pixels)
        case 3: pixels = .rgb(decoded.pixels)
        default: pixels = .cmyk(decoded.pixels.map { 255 - $0 })  // unpackCMYKI
        }
        let image = PillowImage(width: decoded.width, height: decoded.height, pixels: pixels)
        return DecodedImageFile(image: image, orientation: header.metadata.orientation)
    }

    /// Walks the markers up to the first scan, as JpegImagePlugin's `_open` does.
    static func readHeader(_ bytes: [UInt8]) throws(DecodeFailure) -> Header {
        let reader = ByteReader(bytes)
        var header = Header()
        var sawFrame = false
        var at = 2
        while true {
            guard let byte = reader.u8(at) else { throw .truncated }
            if byte != 0xFF {
                at += 1  // junk between segments, which Pillow skips too
                continue
            }
            guard let marker = reader.u8(at + 1) else { throw .truncated }
            at += 2
            switch marker {
            case 0xFF:
                at -= 1  // fill byte
                continue
            case 0x00, 0x01, 0xD0...0xD7:
                continue
            case 0xD9:
                throw sawFrame ? .truncated : .damaged("no image in the file")
            default:
                break
            }
            guard let length = reader.u16be(at), length >= 2 else { throw .truncated }
            guard let segment = reader.slice(at + 2, length - 2) else { throw .truncated }
            at += length
            switch marker {
            case 0xDA:
                guard sawFrame else { throw .damaged("a scan before the frame header") }
                return header
            case 0xC0...0xC3, 0xC5...0xC7, 0xC9...0xCB, 0xCD...0xCF, 0xDE:
                guard segment.count >= 6 else { throw .damaged("a frame header too short") }
                header.precision = Int(segment[0])
                header.height = Int(segment[1]) << 8 | Int(segment[2])
                header.width = Int(segment[3]) << 8 | Int(segment[4])
                header.components = Int(segment[5])
                sawFrame = true
            case 0xE1:
                if segment.starts(with: Array("Exif".utf8) + [0, 0]) {
                    if header.metadata.exif == nil { header.metadata.exif = segment }
                } else if segment.starts(with: Array("http://ns.adobe.com/xap/1.0/".utf8) + [0]) {
                    header.metadata.xmp = Array(segment.dropFirst(29))
                }
            default:
                break
            }
        }
    }
}

/// A libjpeg decompressor, freed with this object.
private final class JPEGHandle {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { cic_jpeg_free(pointer) }

    func check(_ status: cic_status) throws(DecodeFailure) {
        switch status {
        case CIC_OK: return
        case CIC_TRUNCATED: throw .truncated
        default: throw .damaged(String(cString: cic_jpeg_message(pointer)))
        }
    }
}
