// BMP as Pillow 13 reads it (BmpImagePlugin.py `_bitmap`, `BmpRleDecoder`; Unpack.c for the raw rows): headers of
// 12 (OS/2 1.x), 40, 52, 56, 64, 108 and 124 bytes; 1, 4 and 8 bits through a palette ("P"; "1" or "L" with the
// pixel values as they are when the palette is the black-white pair or the grey ramp), 16 bits as 5-5-5 ("BGR;15",
// top bit ignored) or with bitfields 5-6-5, 24 bits, 32 bits ignoring the fourth byte ("BGRX") unless bitfields
// name an alpha mask (then "RGBA"); RLE8 and RLE4 as Pillow's decoder runs them; bottom-up or top-down rows. Pillow
// expands 5 and 6 bits with `v · 255 / 31` (or 63), truncated. Other depths, bitfield layouts and compressions
// (JPEG, PNG inside BMP) are refused, as Pillow refuses them. No library: SDL2's reader, measured on the fixtures,
// keeps the fourth byte of 32-bit BI_RGB files as alpha (Pillow ignores it) and decodes files Pillow refuses (data
// cut short, RLE that ends before the last row); matching Pillow's acceptance needs the whole header parsed, and
// past that the rows are plain data.
enum BMPImageDecoder {
    static func decode(_ bytes: [UInt8]) throws(DecodeFailure) -> DecodedImageFile {
        let reader = ByteReader(bytes)
        guard let declaredOffset = reader.u32le(10), let headerSize = reader.u32le(14) else { throw .truncated }
        guard let header = reader.slice(18, headerSize - 4) else { throw .truncated }
        let fields = ByteReader(header)
        var width: Int
        var height: Int
        var bits: Int
        var compression = 0
        var colours = 0
        var paletteEntrySize = 4
        var topDown = false
        var masks: (red: Int, green: Int, blue: Int, alpha: Int)?
        var position = 14 + headerSize  // where the palette (or, for bitfields in a 40-byte header, the masks) start
        switch headerSize {
        case 12:
            width = fields.u16le(0)!
            height = fields.u16le(2)!
            bits = fields.u16le(6)!
            paletteEntrySize = 3
        case 40, 52, 56, 64, 108, 124:
            topDown = header[7] == 0xFF
            width = fields.u32le(0)!
            height = topDown ? (1 << 32) - fields.u32le(4)! : fields.u32le(4)!
            bits = fields.u16le(10)!
            compression = fields.u32le(12)!
            colours = fields.u32le(28)!
            if compression == 3 {
                if header.count >= 48 {
                    masks = (
                        fields.u32le(36)!, fields.u32le(40)!, fields.u32le(44)!,
                        header.count >= 52 ? fields.u32le(48)! : 0
                    )
                } else {
                    guard let red = reader.u32le(position), let green = reader.u32le(position + 4),
                        let blue = reader.u32le(position + 8)
                    else { throw .truncated }
                    masks = (red, green, blue, 0)
                    position += 12
                }
            }
        default:
            throw .unsupported("a BMP header of \(headerSize) bytes")
        }
        try PixelLimit.check(width: width, height: height)
        if colours == 0 { colours = 1 << min(bits, 32) }
        var offset = declaredOffset
        if offset == 14 + headerSize && bits <= 8 { offset += paletteEntrySize * colours }
        if offset == 0 { offset = position + (bits <= 8 ? paletteEntrySize * colours : 0) }  // Pillow: fp.tell()

        var rawMode: RawMode
        switch bits {
        case 1, 4, 8: rawMode = .indices
        case 16: rawMode = .bgr15
        case 24: rawMode = .bgr
        case 32: rawMode = .bgrx
        default: throw .unsupported("\(bits) bits per pixel")
        }
        var rle = false
        switch compression {
        case 0:
            break
        case 3:
            guard let masks, let mode = RawMode.bitfields(bits: bits, masks) else {
                throw .unsupported("this bitfields layout")
            }
            rawMode = mode
        case 1, 2:
            rle = true
        default:
            throw .unsupported("compression \(compression)")
        }

        // The palette: "1" or "L" (no palette) when it is the black-white pair or the grey ramp.
        var mode = PaletteMode.none
        if bits <= 8 {
            guard colours > 0 && colours <= 65536 else { throw .damaged("a palette of \(colours) colours") }
            guard let table = reader.slice(position, paletteEntrySize * colours) else { throw .truncated }
            let expected = colours == 2 ? [0, 255] : Array(0..<colours)
            let grey = expected.enumerated().allSatisfy { entry, level in
                let at = entry * paletteEntrySize
                return table[at] == UInt8(truncatingIfNeeded: level) && table[at + 1] == table[at]
                    && table[at + 2] == table[at]
            }
            if grey {
                mode = colours <= 2 ? .bilevel : .grey
            } else {
                var rgb: [UInt8] = []
                for entry in 0..<min(colours, 256) {
                    let at = entry * paletteEntrySize
                    rgb += [table[at + 2], table[at + 1], table[at]]
                }
                mode = .palette(PillowPalette(rgb: rgb))
            }
        }

        let samples: [UInt8]  // one byte per index, or 4 per RGBA pixel
        if rle {
            samples = try runLengthDecoded(bytes, from: offset, width: width, height: height, fourBit: compression == 2)
        } else {
            let stride = ((width * bits + 31) >> 3) & ~3
            guard offset >= 0, offset <= bytes.count, bytes.count - offset >= stride * height else { throw .truncated }
            samples = unpack(
                bytes, from: offset, stride: stride, width: width, height: height, bits: bits, mode: rawMode)
        }
        // Rows are stored bottom-up unless the height was negative (Pillow's direction -1 and 1).
        var rows = samples
        let rowLength = samples.count / max(height, 1)
        if !topDown {
            rows = []
            rows.reserveCapacity(samples.count)
            for y in stride(from: height - 1, through: 0, by: -1) {
                rows.append(contentsOf: samples[(y * rowLength)..<((y + 1) * rowLength)])
            }
        }
        let pixels: PillowPixels
        switch (mode, rawMode) {
        case (.bilevel, _):
            // rawmode "1" for 1-bit data, "L" for RLE; any non-zero level is white (bit2rgb).
            pixels = .bilevel(rows.map { $0 != 0 ? 255 : 0 })
        case (.grey, _): pixels = .grey(rows)
        case (.palette(let palette), _): pixels = .palette(rows, palette)
        case (.none, let raw) where raw.hasAlpha: pixels = .rgba(rows)
        default: pixels = .rgb(PillowImage.droppingAlpha(rows))
        }
        return DecodedImageFile(image: PillowImage(width: width, height: height, pixels: pixels), orientation: .normal)
    }

    private enum PaletteMode {
        case none, bilevel, grey
        case palette(PillowPalette)
    }

    /// Pillow's raw modes for BMP rows.
    enum RawMode: Equatable {
        case indices, bgr15, bgr16, bgr, bgrx, xbgr, bgxr, abgr, rgba, bgra, bgar

        var hasAlpha: Bool { [.abgr, .rgba, .bgra, .bgar].contains(self) }

        /// BmpImagePlugin's MASK_MODES for the supported bitfields.
        static func bitfields(bits: Int, _ masks: (red: Int, green: Int, blue: Int, alpha: Int)) -> RawMode? {
            let rgba = [masks.red, masks.green, masks.blue, masks.alpha]
            switch bits {
            case 32:
                let table: [([Int], RawMode)] = [
                    ([0xFF0000, 0xFF00, 0xFF, 0], .bgrx), ([0xFF00_0000, 0xFF0000, 0xFF00, 0], .xbgr),
                    ([0xFF00_0000, 0xFF00, 0xFF, 0], .bgxr), ([0xFF00_0000, 0xFF0000, 0xFF00, 0xFF], .abgr),
                    ([0xFF, 0xFF00, 0xFF0000, 0xFF00_0000], .rgba), ([0xFF0000, 0xFF00, 0xFF, 0xFF00_0000], .bgra),
                    ([0xFF00_0000, 0xFF00, 0xFF, 0xFF0000], .bgar), ([0, 0, 0, 0], .bgra),
                ]
                return table.first { $0.0 == rgba }?.1
            case 24:
                return Array(rgba[0..<3]) == [0xFF0000, 0xFF00, 0xFF] ? .bgr : nil
            case 16:
                if Array(rgba[0..<3]) == [0xF800, 0x7E0, 0x1F] { return .bgr16 }
                if Array(rgba[0..<3]) == [0x7C00, 0x3E0, 0x1F] { return .bgr15 }
                return nil
            default:
                return nil
            }
        }
    }

    /// The rows unpacked: palette indices one per byte, or RGBA (alpha 255 where the mode has none).
    private static func unpack(
        _ bytes: [UInt8], from offset: Int, stride: Int, width: Int, height: Int, bits: Int, mode: RawMode
    ) -> [UInt8] {
        let perPixel = mode == .indices ? 1 : 4
        var out = [UInt8](repeating: 0, count: width * height * perPixel)
        for y in 0..<height {
            let row = offset + y * stride
            for x in 0..<width {
                let target = (y * width + x) * perPixel
                switch mode {
                case .indices:
                    // P;1, P;4 and P: most significant bits first.
                    let perByte = 8 / bits
                    let byte = bytes[row + x / perByte]
                    let shift = 8 - bits * (x % perByte + 1)
                    out[target] = (byte >> UInt8(shift)) & UInt8((1 << bits) - 1)
                case .bgr15, .bgr16:
                    // ImagingUnpackBGR15 / ImagingUnpackBGR16: each field × 255 / its maximum, truncated.
                    let pixel = Int(bytes[row + x * 2]) | Int(bytes[row + x * 2 + 1]) << 8
                    let greenBits = mode == .bgr16 ? 6 : 5
                    let greenMaximum = (1 << greenBits) - 1
                    let red = (pixel >> (5 + greenBits)) & 31
                    let green = (pixel >> 5) & greenMaximum
                    let blue = pixel & 31
                    out[target] = UInt8(red * 255 / 31)
                    out[target + 1] = UInt8(green * 255 / greenMaximum)
                    out[target + 2] = UInt8(blue * 255 / 31)
                    out[target + 3] = 255
                default:
                    let size = mode == .bgr ? 3 : 4
                    let pixel = row + x * size
                    // Which stored byte holds red, green, blue and alpha (nil: opaque).
                    let (red, green, blue, alpha): (Int, Int, Int, Int?) =
                        switch mode {
                        case .bgr, .bgrx: (2, 1, 0, nil)
                        case .xbgr: (3, 2, 1, nil)
                        case .bgxr: (3, 1, 0, nil)
                        case .abgr: (3, 2, 1, 0)
                        case .rgba: (0, 1, 2, 3)
                        case .bgra: (2, 1, 0, 3)
                        default: (3, 1, 0, 2)  // bgar
                        }
                    out[target] = bytes[pixel + red]
                    out[target + 1] = bytes[pixel + green]
                    out[target + 2] = bytes[pixel + blue]
                    out[target + 3] = alpha.map { bytes[pixel + $0] } ?? 255
                }
            }
        }
        return out
    }

    /// BmpRleDecoder.decode: runs, absolute runs, end of line, end of bitmap and deltas, exactly as Pillow's Python
    /// runs them (what it does with data that overflows a row included); missing data leaves zeros.
    /// Fewer pixels than the image has are refused, as Pillow's `set_as_raw` refuses them ("not enough image data").
    private static func runLengthDecoded(_ bytes: [UInt8], from offset: Int, width: Int, height: Int, fourBit: Bool)
        throws(DecodeFailure) -> [UInt8]
    {
        let total = width * height
        var data: [UInt8] = []
        data.reserveCapacity(total)
        var x = 0
        var at = max(offset, 0)
        func read() -> UInt8? {
            guard at < bytes.count else { return nil }
            defer { at += 1 }
            return bytes[at]
        }
        var ranOut = false
        while data.count < total {
            guard let count = read(), let byte = read() else {
                ranOut = true
                break
            }
            if count != 0 {
                var pixels = Int(count)
                if x + pixels > width { pixels = max(0, width - x) }  // too much data for the row
                for index in 0..<pixels {
                    data.append(fourBit ? (index % 2 == 0 ? byte >> 4 : byte & 0x0F) : byte)
                }
                x += pixels
            } else if byte == 0 {
                while data.count % width != 0 { data.append(0) }  // end of line
                x = 0
            } else if byte == 1 {
                break  // end of bitmap
            } else if byte == 2 {
                guard let right = read(), let up = read() else {
                    ranOut = true
                    break
                }
                let skip = min(total - data.count, Int(right) + Int(up) * width)
                data.append(contentsOf: repeatElement(0, count: skip))
                x = data.count % width
            } else {
                let wanted = min(total - data.count, Int(byte))
                let byteCount = fourBit ? (wanted + 1) / 2 : wanted
                let available = max(0, min(byteCount, bytes.count - at))
                let run = bytes[at..<(at + available)]
                at += available
                if fourBit {
                    for (index, value) in run.enumerated() {
                        data.append(value >> 4)
                        if index * 2 + 1 < wanted { data.append(value & 0x0F) }
                    }
                } else {
                    data.append(contentsOf: run)
                }
                if available < byteCount { ranOut = true }
                if available < byteCount || data.count == total { break }
                x += Int(byte)
                if at % 2 != 0 { at += 1 }  // absolute runs end on a 16-bit boundary of the file
            }
        }
        if data.count < total {
            throw ranOut
                ? .truncated : .damaged("the RLE data ends before the last row (Pillow: not enough image data)")
        }
        return data
    }
}
