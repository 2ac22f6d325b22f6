// TIFF's first image as Pillow 13 opens it (TiffImagePlugin.py `_setup`, OPEN_INFO; Unpack.c): libtiff (which
// Pillow uses for every compressed TIFF, and whose uncompressed strips equal Pillow's own reading) decodes the
// strips or tiles, undoing predictors, bit order (FillOrder 2) and byte order; the mode comes from the photometric
// interpretation, sample format, bits and extra samples as in OPEN_INFO, and the samples are unpacked as Pillow's raw
// modes do: min-is-white inverted for 1 to 8 bits ("1;I", "L;2I", "L;I") but not for 16 ("I;16"), 16-bit colour
// keeps the high byte, associated alpha is divided out ("RGBa"), CMYK is not inverted. JPEG-compressed YCbCr is
// delivered as RGB by libtiff's JPEGCOLORMODE, as Pillow asks. The Orientation tag (or XMP's) is applied, as Pillow
// applies it when loading a TIFF.
// Refused as Pillow refuses them: modes outside OPEN_INFO, "La" (which convert_to_rgb cannot convert). Deviations,
// refused here though Pillow reads them: YCbCr without JPEG compression and old-style JPEG (Pillow converts both
// through libtiff's RGBA reader), "PA", LAB and 12-bit grey; all rare.
import CImageCodecs

enum TIFFImageDecoder {
    /// The tags that decide how the samples are read.
    struct Layout {
        var width: Int
        var height: Int
        var bits: Int
        var samples: Int
        var photometric: Int
        var sampleFormat: Int
        var extra: [Int]
        var planar: Bool
        var bigEndian: Bool
    }

    static func decode(_ bytes: [UInt8]) throws(DecodeFailure) -> DecodedImageFile {
        try bytes.withUnsafeBufferPointer { (buffer) throws(DecodeFailure) -> DecodedImageFile in
            guard let handle = cic_tiff_open(buffer.baseAddress!, buffer.count) else { throw .damaged("out of memory") }
            let tiff = TIFFHandle(handle)
            defer { withExtendedLifetime(tiff) {} }  // `handle` is used directly until the end
            try tiff.check()
            var layout = Layout(
                width: Int(tiff.u32(256) ?? 0), height: Int(tiff.u32(257) ?? 0), bits: Int(tiff.u16(258) ?? 1),
                samples: Int(tiff.u16(277) ?? 1), photometric: Int(tiff.u16(262, defaulted: false) ?? 0),
                sampleFormat: Int(tiff.u16(339) ?? 1), extra: tiff.extraSamples(), planar: tiff.u16(284) == 2,
                bigEndian: bytes[0] == 0x4D)
            try PixelLimit.check(width: layout.width, height: layout.height)
            let compression = Int(tiff.u16(259) ?? 1)
            if compression == 6 { throw .unsupported("old-style JPEG compression") }
            if layout.photometric == 6 {
                guard compression == 7, !layout.planar, layout.bits == 8, layout.samples == 3 else {
                    throw .unsupported("YCbCr without JPEG compression")
                }
                _ = cic_tiff_jpeg_rgb(handle)
                layout.photometric = 2
            }
            if layout.planar && !layout.extra.isEmpty && layout.extra.allSatisfy({ $0 == 0 }) {
                // Pillow drops unspecified extra samples stored as planes of their own.
                layout.samples -= layout.extra.count
                layout.extra = []
            }
            let mode = try pillowMode(layout, fillOrder: Int(tiff.u16(266) ?? 1))
            let raw = try tiff.samples(layout)
            let image = try pillowImage(raw, layout: layout, mode: mode, tiff: tiff)
            var metadata = ImageMetadata()
            if let orientation = tiff.u16(274, defaulted: false) {
                metadata.tiffOrientation = Int(orientation)
            } else {
                metadata.xmp = tiff.xmp()
            }
            return DecodedImageFile(image: image, orientation: metadata.orientation)
        }
    }

    /// The Pillow modes OPEN_INFO gives, as far as clipcam reads them.
    enum Mode {
        case bilevel(inverted: Bool)
        case grey(inverted: Bool)
        case grey16
        case signed16
        case int32(signed: Bool)
        case float32
        case greyAlpha(associated: Bool, ignored: Bool)
        case rgb, rgba(associated: Bool)
        case rgb16, rgba16(associated: Bool)
        case palette
        case cmyk, cmyk16
    }

    /// OPEN_INFO's entry for the layout, or the reason there is none.
    static func pillowMode(_ layout: Layout, fillOrder: Int) throws(DecodeFailure) -> Mode {
        let bits = layout.bits
        let extra = layout.extra
        let colour = layout.samples - extra.count
        // FillOrder 2 appears in OPEN_INFO for 1 to 8-bit grey, 8-bit RGB and palettes only (libtiff reverses the bits).
        let reversedOK = fillOrder == 1 || (layout.sampleFormat == 1 && extra.isEmpty && bits <= 8)
        guard reversedOK, fillOrder == 1 || fillOrder == 2 else { throw .unsupported("FillOrder \(fillOrder) here") }
        let description = "photometric \(layout.photometric), \(layout.samples) samples of \(bits) bits"
        switch (layout.photometric, layout.sampleFormat, bits, colour) {
        case (0, 1, 1, 1) where extra.isEmpty, (1, 1, 1, 1) where extra.isEmpty:
            return .bilevel(inverted: layout.photometric == 0)
        case (0, 1, 2, 1) where extra.isEmpty, (1, 1, 2, 1) where extra.isEmpty, (0, 1, 4, 1) where extra.isEmpty,
            (1, 1, 4, 1) where extra.isEmpty, (0, 1, 8, 1) where extra.isEmpty, (1, 1, 8, 1) where extra.isEmpty,
            (1, 2, 8, 1) where extra.isEmpty:
            return .grey(inverted: layout.photometric == 0)
        case (0, 1, 16, 1) where extra.isEmpty && !layout.bigEndian, (1, 1, 16, 1) where extra.isEmpty:
            return .grey16
        case (1, 2, 16, 1) where extra.isEmpty:
            return .signed16
        case (0, 3, 32, 1) where extra.isEmpty, (1, 3, 32, 1) where extra.isEmpty:
            return .float32
        case (1, 1, 32, 1) where extra.isEmpty && !layout.bigEndian:
            return .int32(signed: false)
        case (1, 2, 32, 1) where extra.isEmpty:
            return .int32(signed: true)
        case (1, 1, 8, 1) where extra == [0]:
            return .greyAlpha(associated: false, ignored: true)
        case (1, 1, 8, 1) where extra == [1]:
            throw .unsupported("grey with associated alpha (\"La\", which Pillow cannot convert to RGB)")
        case (1, 1, 8, 1) where extra == [2]:
            return .greyAlpha(associated: false, ignored: false)
        case (2, 1, 8, 3):
            switch extra {
            case []: return .rgb
            case [0], [0, 0], [0, 0, 0]: return .rgb
            case [1], [1, 0], [1, 0, 0]: return .rgba(associated: true)
            case [2], [2, 0], [2, 0, 0], [999]: return .rgba(associated: false)
            default: throw .unsupported(description)
            }
        case (2, 1, 8, 4) where extra.isEmpty:
            return .rgba(associated: false)  // RGBA without ExtraSamples
        case (2, 1, 16, 3):
            switch extra {
            case []: return .rgb16
            case [0]: return .rgb16
            case [1]: return .rgba16(associated: true)
            case [2]: return .rgba16(associated: false)
            default: throw .unsupported(description)
            }
        case (2, 1, 16, 4) where extra.isEmpty:
            return .rgba16(associated: false)
        case (3, 1, 1, 1) where extra.isEmpty, (3, 1, 2, 1) where extra.isEmpty, (3, 1, 4, 1) where extra.isEmpty,
            (3, 1, 8, 1) where extra.isEmpty || extra == [0]:
            return .palette
        case (5, 1, 8, 4) where extra.isEmpty || extra == [0] || extra == [0, 0]:
            return .cmyk
        case (5, 1, 16, 4) where extra.isEmpty:
            return .cmyk16
        case (8, _, _, _):
            throw .unsupported("CIELAB colour")
        default:
            throw .unsupported(description)
        }
    }

    /// The unpacked Pillow image.
    private static func pillowImage(_ raw: [UInt8], layout: Layout, mode: Mode, tiff: TIFFHandle) throws(DecodeFailure)
        -> PillowImage
    {
        let width = layout.width
        let height = layout.height
        let count = width * height
        let rowBytes = (width * layout.samples * layout.bits + 7) / 8
        let samples = layout.samples
        func sample16(_ index: Int) -> Int { Int(raw[index * 2]) | Int(raw[index * 2 + 1]) << 8 }  // native order
        func packed(scale: UInt8, inverted: Bool) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: count)
            let bits = layout.bits
            let perByte = 8 / bits
            let mask = UInt8((1 << bits) - 1)
            for y in 0..<height {
                for x in 0..<width {
                    let byte = raw[y * rowBytes + x / perByte]
                    let value = ((byte >> UInt8(8 - bits * (x % perByte + 1))) & mask) &* scale
                    out[y * width + x] = inverted ? 255 - value : value
                }
            }
            return out
        }
        func eightBit(_ channels: [Int]) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: count * channels.count)
            for pixel in 0..<count {
                for (index, channel) in channels.enumerated() {
                    out[pixel * channels.count + index] = raw[pixel * samples + channel]
                }
            }
            return out
        }
        func highBytes(_ channels: [Int]) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: count * channels.count)
            for pixel in 0..<count {
                for (index, channel) in channels.enumerated() {
                    out[pixel * channels.count + index] = raw[(pixel * samples + channel) * 2 + 1]
                }
            }
            return out
        }
        let pixels: PillowPixels
        switch mode {
        case .bilevel(let inverted):
            pixels = .bilevel(packed(scale: 255, inverted: inverted))
        case .grey(let inverted):
            let scale: UInt8 = layout.bits == 2 ? 0x55 : layout.bits == 4 ? 0x11 : 1
            pixels = .grey(packed(scale: scale, inverted: inverted))
        case .grey16:
            pixels = .grey16((0..<count).map { UInt16(sample16($0)) })
        case .signed16:
            pixels = .int32((0..<count).map { Int32(Int16(truncatingIfNeeded: sample16($0))) })
        case .int32, .float32:
            var words = [UInt32](repeating: 0, count: count)
            for index in 0..<count {
                words[index] =
                    UInt32(raw[index * 4]) | UInt32(raw[index * 4 + 1]) << 8 | UInt32(raw[index * 4 + 2]) << 16
                    | UInt32(raw[index * 4 + 3]) << 24
            }
            if case .float32 = mode {
                pixels = .float32(words.map { Float(bitPattern: $0) })
            } else {
                pixels = .int32(words.map { Int32(bitPattern: $0) })
            }
        case .greyAlpha(_, let ignored):
            pixels = ignored ? .grey(eightBit([0])) : .greyAlpha(eightBit([0, 1]))
        case .rgb:
            pixels = .rgb(eightBit([0, 1, 2]))
        case .rgba(let associated):
            let rgba = eightBit([0, 1, 2, 3])
            pixels = .rgba(associated ? unpremultiplied(rgba) : rgba)
        case .rgb16:
            pixels = .rgb(highBytes([0, 1, 2]))
        case .rgba16(let associated):
            let rgba = highBytes([0, 1, 2, 3])
            pixels = .rgba(associated ? unpremultiplied(rgba) : rgba)
        case .palette:
            let indices = layout.bits == 8 ? eightBit([0]) : packed(scale: 1, inverted: false)
            guard let map = tiff.colormap(entries: 1 << layout.bits) else {
                throw .damaged("a palette image without a colour map")
            }
            pixels = .palette(indices, PillowPalette(rgb: map))
        case .cmyk:
            pixels = .cmyk(eightBit([0, 1, 2, 3]))
        case .cmyk16:
            pixels = .cmyk(highBytes([0, 1, 2, 3]))
        }
        return PillowImage(width: width, height: height, pixels: pixels)
    }

    /// unpackRGBa (and its 16-bit forms on the high bytes): colour × 255 / alpha, clipped; all zero where alpha is.
    static func unpremultiplied(_ rgba: [UInt8]) -> [UInt8] {
        var out = rgba
        for pixel in 0..<(rgba.count / 4) {
            let alpha = Int(rgba[pixel * 4 + 3])
            for channel in 0..<3 {
                let value = Int(rgba[pixel * 4 + channel])
                out[pixel * 4 + channel] =
                    alpha == 0 ? 0 : alpha == 255 ? UInt8(value) : UInt8(min(255, value * 255 / alpha))
            }
        }
        return out
    }
}

/// A libtiff reader, closed with this object.
private final class TIFFHandle {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { cic_tiff_free(pointer) }

    func check() throws(DecodeFailure) {
        switch cic_tiff_status(pointer) {
        case CIC_OK: return
        case CIC_TRUNCATED: throw .truncated
        default: throw .damaged(String(cString: cic_tiff_message(pointer)))
        }
    }

    func u16(_ tag: UInt32, defaulted: Bool = true) -> UInt16? {
        var value: UInt16 = 0
        return cic_tiff_u16(pointer, tag, defaulted ? 1 : 0, &value) != 0 ? value : nil
    }

    func u32(_ tag: UInt32, defaulted: Bool = true) -> UInt32? {
        var value: UInt32 = 0
        return cic_tiff_u32(pointer, tag, defaulted ? 1 : 0, &value) != 0 ? value : nil
    }

    func extraSamples() -> [Int] {
        var values = [UInt16](repeating: 0, count: 8)
        let count = Int(cic_tiff_extra_samples(pointer, &values, Int32(values.count)))
        return values.prefix(count).map(Int.init)
    }

    func xmp() -> [UInt8]? {
        var bytes: UnsafePointer<UInt8>?
        let count = cic_tiff_xmp(pointer, &bytes)
        guard let bytes, count > 0 else { return nil }
        return Array(UnsafeBufferPointer(start: bytes, count: count))
    }

    /// The colour map as Pillow reads it: each 16-bit entry's high byte (`b // 256`), stored red, green, blue.
    func colormap(entries: Int) -> [UInt8]? {
        var red: UnsafePointer<UInt16>?
        var green: UnsafePointer<UInt16>?
        var blue: UnsafePointer<UInt16>?
        guard cic_tiff_colormap(pointer, &red, &green, &blue) != 0, let red, let green, let blue else { return nil }
        var rgb = [UInt8](repeating: 0, count: entries * 3)
        for index in 0..<entries {
            rgb[index * 3] = UInt8(red[index] >> 8)
            rgb[index * 3 + 1] = UInt8(green[index] >> 8)
            rgb[index * 3 + 2] = UInt8(blue[index] >> 8)
        }
        return rgb
    }

    /// Every strip or tile decoded into rows of chunky samples (planes interleaved), `ceil(width·samples·bits/8)`
    /// bytes each.
    func samples(_ layout: TIFFImageDecoder.Layout) throws(DecodeFailure) -> [UInt8] {
        let width = layout.width
        let height = layout.height
        let planes = layout.planar ? layout.samples : 1
        let perPlane = layout.planar ? 1 : layout.samples
        if planes > 1 && layout.bits % 8 != 0 { throw .unsupported("separate planes of \(layout.bits)-bit samples") }
        let planeRowBytes = (width * perPlane * layout.bits + 7) / 8
        var planeData = [[UInt8]](repeating: [UInt8](repeating: 0, count: planeRowBytes * height), count: planes)
        let chunkSize = Int(cic_tiff_chunk_size(pointer))
        guard chunkSize > 0 else { throw .damaged("an empty strip") }
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        let chunks = Int(cic_tiff_chunk_count(pointer))
        if cic_tiff_is_tiled(pointer) != 0 {
            let tileWidth = Int(u32(322) ?? 0)
            let tileHeight = Int(u32(323) ?? 0)
            guard tileWidth > 0, tileHeight > 0 else { throw .damaged("tiles without a size") }
            let across = (width + tileWidth - 1) / tileWidth
            let down = (height + tileHeight - 1) / tileHeight
            let tileRowBytes = (tileWidth * perPlane * layout.bits + 7) / 8
            guard chunks >= across * down * planes else { throw .damaged("fewer tiles than the image needs") }
            for plane in 0..<planes {
                for tileY in 0..<down {
                    for tileX in 0..<across {
                        try read(chunk: (plane * down + tileY) * across + tileX, into: &chunk)
                        let left = tileX * tileRowBytes
                        let copy = min(tileRowBytes, planeRowBytes - left)
                        for row in 0..<min(tileHeight, height - tileY * tileHeight) {
                            let target = (tileY * tileHeight + row) * planeRowBytes + left
                            planeData[plane].replaceSubrange(
                                target..<(target + copy),
                                with: chunk[(row * tileRowBytes)..<(row * tileRowBytes + copy)])
                        }
                    }
                }
            }
        } else {
            let rowsPerStrip = min(Int(u32(278) ?? UInt32(height)), height)
            guard rowsPerStrip > 0 else { throw .damaged("strips without rows") }
            let stripsPerPlane = (height + rowsPerStrip - 1) / rowsPerStrip
            guard chunks >= stripsPerPlane * planes else { throw .damaged("fewer strips than the image needs") }
            for plane in 0..<planes {
                for strip in 0..<stripsPerPlane {
                    let count = try read(chunk: plane * stripsPerPlane + strip, into: &chunk)
                    let start = strip * rowsPerStrip * planeRowBytes
                    let length = min(count, planeRowBytes * height - start)
                    planeData[plane].replaceSubrange(start..<(start + length), with: chunk[0..<length])
                }
            }
        }
        guard planes > 1 else { return planeData[0] }
        // Interleave the planes sample by sample.
        let sampleBytes = layout.bits / 8
        var out = [UInt8](repeating: 0, count: width * height * planes * sampleBytes)
        for pixel in 0..<(width * height) {
            for plane in 0..<planes {
                for byte in 0..<sampleBytes {
                    out[(pixel * planes + plane) * sampleBytes + byte] = planeData[plane][pixel * sampleBytes + byte]
                }
            }
        }
        return out
    }

    @discardableResult
    private func read(chunk index: Int, into buffer: inout [UInt8]) throws(DecodeFailure) -> Int {
        let count = buffer.withUnsafeMutableBufferPointer {
            cic_tiff_read_chunk(pointer, UInt32(index), $0.baseAddress!, Int64($0.count))
        }
        guard count >= 0 else {
            try check()
            throw .damaged("cannot decode part \(index)")
        }
        return Int(count)
    }
}
