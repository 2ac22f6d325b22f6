// PNG as Pillow 13 opens it (PngImagePlugin.py): the chunks before the image data give the mode (`_MODES` by bit
// depth and colour type), the palette (PLTE) and the transparency (tRNS: a palette's alphas, or one grey level or
// colour in the file's own sample units), each with its CRC checked; libpng supplies the samples, which are unpacked
// as Unpack.c does ("L;2" × 0x55, "L;4" × 0x11, 16-bit colour and grey+alpha keep the high byte, 16-bit grey stays
// 16-bit). The EXIF block (eXIf, or a "Raw profile type exif" text) and XMP (text keyed "XML:com.adobe.xmp") may
// come before or after the image data, as Pillow reads both when loading. Gamma, colour profiles and sBIT are
// ignored, as Pillow ignores them.
import CImageCodecs
import Foundation

enum PNGImageDecoder {
    /// What the chunks before the image data say.
    struct Header {
        var width = 0
        var height = 0
        var bitDepth = 0
        var colorType = 0
        var palette: [UInt8]?
        var transparency: [UInt8]?
        var exif: [UInt8]?
    }

    static func decode(_ bytes: [UInt8]) throws(DecodeFailure) -> DecodedImageFile {
        let header = try readHeader(bytes)
        try PixelLimit.check(width: header.width, height: header.height)
        guard modes.contains(where: { $0 == (header.bitDepth, header.colorType) }) else {
            throw .damaged("bit depth \(header.bitDepth) with colour type \(header.colorType)")
        }
        var metadata = ImageMetadata(exif: header.exif)
        let samples: [UInt8] = try bytes.withUnsafeBufferPointer { (buffer) throws(DecodeFailure) in
            guard let handle = cic_png_open(buffer.baseAddress!, buffer.count) else { throw .damaged("out of memory") }
            let decoder = PNGHandle(handle)
            defer { withExtendedLifetime(decoder) {} }  // `handle` is used directly until the end
            try decoder.check(cic_png_status(handle))
            let rowBytes = cic_png_row_bytes(handle)
            var rows = [UInt8](repeating: 0, count: rowBytes * header.height)
            let status = rows.withUnsafeMutableBufferPointer { out in cic_png_decode(handle, out.baseAddress!, rowBytes)
            }
            try decoder.check(status)
            cic_png_read_end(handle)
            var exif: UnsafePointer<UInt8>?
            let exifLength = cic_png_exif(handle, &exif)
            if metadata.exif == nil, let exif, exifLength > 0 {
                metadata.exif = Array(UnsafeBufferPointer(start: exif, count: exifLength))
            }
            for index in 0..<cic_png_text_count(handle) {
                var key: UnsafePointer<CChar>?
                var text: UnsafePointer<CChar>?
                let length = cic_png_text(handle, index, &key, &text)
                guard let key, let text else { continue }
                let value = text.withMemoryRebound(to: UInt8.self, capacity: length) {
                    Array(UnsafeBufferPointer(start: $0, count: length))
                }
                switch String(cString: key) {
                case "XML:com.adobe.xmp": metadata.xmp = value
                case "Raw profile type exif":
                    if metadata.exif == nil { metadata.exif = ImageMetadata.rawProfileBytes(value) }
                default: break
                }
            }
            return unpackRows(rows, rowBytes: rowBytes, header: header)
        }
        let image = try pillowImage(samples, header: header)
        return DecodedImageFile(image: image, orientation: metadata.orientation)
    }

    /// PngImagePlugin's `_MODES`: the (bit depth, colour type) pairs Pillow reads.
    static let modes: [(Int, Int)] = [
        (1, 0), (2, 0), (4, 0), (8, 0), (16, 0), (8, 2), (16, 2), (1, 3), (2, 3), (4, 3), (8, 3), (8, 4), (16, 4),
        (8, 6), (16, 6),
    ]

    /// Reads the chunks before the first IDAT, checking each CRC as Pillow's ChunkStream.crc does.
    static func readHeader(_ bytes: [UInt8]) throws(DecodeFailure) -> Header {
        let reader = ByteReader(bytes)
        var header = Header()
        var at = 8
        var first = true
        while true {
            guard let length = reader.u32be(at), let kind = reader.slice(at + 4, 4) else { throw .truncated }
            guard let data = reader.slice(at + 8, length) else { throw .truncated }
            let name = String(decoding: kind, as: UTF8.self)
            if first && name != "IHDR" { throw .damaged("the first chunk is \(name), not IHDR") }
            first = false
            if name == "IDAT" { return header }
            guard let stored = reader.u32be(at + 8 + length) else { throw .truncated }
            if UInt32(stored) != crc32(kind + data) { throw .damaged("bad checksum in the \(name) chunk") }
            at += 12 + length
            switch name {
            case "IHDR":
                guard data.count >= 13 else { throw .damaged("an IHDR chunk too short") }
                let fields = ByteReader(data)
                header.width = fields.u32be(0)!
                header.height = fields.u32be(4)!
                header.bitDepth = Int(data[8])
                header.colorType = Int(data[9])
                try PixelLimit.check(width: header.width, height: header.height)
            case "PLTE":
                if header.colorType == 3 { header.palette = data }
            case "tRNS":
                header.transparency = data
            case "eXIf":
                header.exif = data
            case "IEND":
                throw .damaged("no image data")
            default:
                break
            }
        }
    }

    /// The samples as Pillow unpacks them into its mode: one byte per sample for every mode but 16-bit grey,
    /// which keeps two (big-endian).
    private static func unpackRows(_ rows: [UInt8], rowBytes: Int, header: Header) -> [UInt8] {
        let width = header.width
        let height = header.height
        let depth = header.bitDepth
        switch (depth, header.colorType) {
        case (1, 0), (2, 0), (4, 0), (1, 3), (2, 3), (4, 3):
            // unpack1 (0 / 255), unpackL2 / unpackL4 (× 0x55, × 0x11), unpackP1 / P2 / P4 (indices).
            let scale: UInt8 = header.colorType == 3 ? 1 : depth == 1 ? 255 : depth == 2 ? 0x55 : 0x11
            var out = [UInt8](repeating: 0, count: width * height)
            let perByte = 8 / depth
            let mask = UInt8((1 << depth) - 1)
            for y in 0..<height {
                for x in 0..<width {
                    let byte = rows[y * rowBytes + x / perByte]
                    let shift = 8 - depth * (x % perByte + 1)
                    out[y * width + x] = ((byte >> UInt8(shift)) & mask) &* scale
                }
            }
            return out
        case (16, 0):
            return Array(rows.chunked(rowBytes, take: width * 2, rows: height))
        case (16, _):
            // RGB;16B, LA;16B, RGBA;16B: the high byte of each sample.
            let samples = rowBytes / 2
            var out = [UInt8](repeating: 0, count: samples * height)
            for y in 0..<height {
                for sample in 0..<samples { out[y * samples + sample] = rows[y * rowBytes + sample * 2] }
            }
            return out
        default:
            return Array(rows.chunked(rowBytes, take: rowBytes, rows: height))
        }
    }

    /// The Pillow image of the unpacked samples, with the transparency chunk_tRNS records.
    private static func pillowImage(_ samples: [UInt8], header: Header) throws(DecodeFailure) -> PillowImage {
        let width = header.width
        let height = header.height
        let trns = header.transparency.map(ByteReader.init)
        func needTransparency(_ length: Int) throws(DecodeFailure) {
            if let trns, trns.count < length { throw .damaged("a tRNS chunk too short") }
        }
        switch (header.bitDepth, header.colorType) {
        case (1, 0):
            try needTransparency(2)
            // chunk_tRNS: 255 if the 1-bit key is set, else 0.
            let transparency = trns.map { PillowTransparency.value($0.u16be(0)! != 0 ? 255 : 0) }
            return PillowImage(width: width, height: height, pixels: .bilevel(samples), transparency: transparency)
        case (_, 0) where header.bitDepth < 16:
            try needTransparency(2)
            let transparency = trns.map { PillowTransparency.value($0.u16be(0)!) }
            return PillowImage(width: width, height: height, pixels: .grey(samples), transparency: transparency)
        case (16, 0):
            try needTransparency(2)
            var values = [UInt16](repeating: 0, count: width * height)
            for index in 0..<values.count {
                values[index] = UInt16(samples[index * 2]) << 8 | UInt16(samples[index * 2 + 1])
            }
            let transparency = trns.map { PillowTransparency.value($0.u16be(0)!) }
            return PillowImage(width: width, height: height, pixels: .grey16(values), transparency: transparency)
        case (_, 2):
            try needTransparency(6)
            let transparency = trns.map { PillowTransparency.rgb($0.u16be(0)!, $0.u16be(2)!, $0.u16be(4)!) }
            return PillowImage(width: width, height: height, pixels: .rgb(samples), transparency: transparency)
        case (_, 3):
            guard let palette = header.palette else { throw .damaged("a palette image without a PLTE chunk") }
            let transparency = header.transparency.map { PillowTransparency.alphas($0) }
            return PillowImage(
                width: width, height: height, pixels: .palette(samples, PillowPalette(rgb: palette)),
                transparency: transparency)
        case (8, 4):
            return PillowImage(width: width, height: height, pixels: .greyAlpha(samples))
        case (16, 4):
            // "LA;16B" unpacks to RGBA (unpackRGBALA16B).
            var rgba = [UInt8](repeating: 0, count: width * height * 4)
            for pixel in 0..<(width * height) {
                let level = samples[pixel * 2]
                rgba[pixel * 4] = level
                rgba[pixel * 4 + 1] = level
                rgba[pixel * 4 + 2] = level
                rgba[pixel * 4 + 3] = samples[pixel * 2 + 1]
            }
            return PillowImage(width: width, height: height, pixels: .rgba(rgba))
        default:
            return PillowImage(width: width, height: height, pixels: .rgba(samples))
        }
    }

    /// zlib's CRC-32 (the PNG chunk checksum).
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }

    private static let crcTable: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 != 0 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }
}

extension Array where Element == UInt8 {
    /// The first `take` bytes of each of `rows` rows stored `stride` bytes apart.
    fileprivate func chunked(_ stride: Int, take: Int, rows: Int) -> [UInt8] {
        if stride == take { return Array(self[0..<(stride * rows)]) }
        var out: [UInt8] = []
        out.reserveCapacity(take * rows)
        for row in 0..<rows { out.append(contentsOf: self[(row * stride)..<(row * stride + take)]) }
        return out
    }
}

/// A libpng reader, freed with this object.
private final class PNGHandle {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { cic_png_free(pointer) }

    func check(_ status: cic_status) throws(DecodeFailure) {
        switch status {
        case CIC_OK: return
        case CIC_TRUNCATED: throw .truncated
        default: throw .damaged(String(cString: cic_png_message(pointer)))
        }
    }
}
