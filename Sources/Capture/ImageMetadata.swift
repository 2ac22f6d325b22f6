// The orientation an image file asks to be shown in, found as Pillow 13's `Image.getexif()` finds it (Image.py):
// the EXIF Orientation tag (274) of the file's EXIF block (JPEG APP1 "Exif", PNG eXIf or a "Raw profile type exif"
// text chunk, WebP EXIF chunk; a TIFF's own first directory), else the first `tiff:Orientation="N"` or
// `tiff:Orientation>N` in its XMP packet. `ImageOps.exif_transpose` then applies values 2–8 and ignores others.
// Deviation: EXIF that is not a TIFF structure is ignored here, where Pillow's getexif raises (and the reference
// pipeline fails); only IFD0's tag is read, as Pillow's Exif.get(274) does.

/// Where a file's orientation is written.
struct ImageMetadata {
    /// The EXIF block, with or without its "Exif\0\0" prefix.
    var exif: [UInt8]?
    /// The XMP packet.
    var xmp: [UInt8]?
    /// The Orientation tag of a TIFF's own directory (which is its EXIF for Pillow).
    var tiffOrientation: Int?

    /// The orientation `exif_transpose` applies (`.normal` when none or not 2–8).
    var orientation: ImageOrientation {
        let value = tiffOrientation ?? exif.flatMap(Self.exifOrientation) ?? xmp.flatMap(Self.xmpOrientation)
        return value.flatMap(ImageOrientation.init(rawValue:)) ?? .normal
    }

    /// Tag 274 of IFD0 when its value is one integer (Pillow gives a tuple for more, which matches no transpose).
    static func exifOrientation(_ block: [UInt8]) -> Int? {
        var data = block[...]
        let prefix: [UInt8] = Array("Exif".utf8) + [0, 0]
        while data.starts(with: prefix) { data = data.dropFirst(6) }
        let bytes = Array(data)
        guard bytes.count >= 8 else { return nil }
        let little: Bool
        switch (bytes[0], bytes[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= bytes.count else { return nil }
            return little ? Int(bytes[at]) | Int(bytes[at + 1]) << 8 : Int(bytes[at]) << 8 | Int(bytes[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard let low = u16(little ? at : at + 2), let high = u16(little ? at + 2 : at) else { return nil }
            return high << 16 | low
        }
        guard u16(2) == 42, let directory = u32(4), let count = u16(directory) else { return nil }
        for entry in 0..<count {
            let at = directory + 2 + entry * 12
            guard let tag = u16(at), let type = u16(at + 2), let values = u32(at + 4) else { return nil }
            guard tag == 274 else { continue }
            guard values == 1 else { return nil }
            switch type {
            case 1: return at + 8 < bytes.count ? Int(bytes[at + 8]) : nil
            case 6: return at + 8 < bytes.count ? Int(Int8(bitPattern: bytes[at + 8])) : nil
            case 3: return u16(at + 8)
            case 8: return u16(at + 8).map { Int(Int16(truncatingIfNeeded: $0)) }
            case 4: return u32(at + 8)
            case 9: return u32(at + 8).map { Int(Int32(truncatingIfNeeded: $0)) }
            default: return nil
            }
        }
        return nil
    }

    /// The digit after the first `tiff:Orientation="` or `tiff:Orientation>` (Pillow's regular expression
    /// `tiff:Orientation(="|>)([0-9])`).
    static func xmpOrientation(_ packet: [UInt8]) -> Int? {
        let key = Array("tiff:Orientation".utf8)
        guard packet.count > key.count else { return nil }
        var start = 0
        while start + key.count < packet.count {
            if packet[start..<(start + key.count)].elementsEqual(key) {
                var at = start + key.count
                if packet[at] == UInt8(ascii: "=") {
                    at += 1
                    if at < packet.count, packet[at] == UInt8(ascii: "\"") {
                        at += 1
                        if at < packet.count, (0x30...0x39).contains(packet[at]) { return Int(packet[at] - 0x30) }
                    }
                } else if packet[at] == UInt8(ascii: ">") {
                    at += 1
                    if at < packet.count, (0x30...0x39).contains(packet[at]) { return Int(packet[at] - 0x30) }
                }
            }
            start += 1
        }
        return nil
    }

    /// Pillow's decoding of a PNG "Raw profile type exif" text: the hex digits after its third line.
    static func rawProfileBytes(_ text: [UInt8]) -> [UInt8]? {
        let lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        guard lines.count > 3 else { return nil }
        var out: [UInt8] = []
        var high: UInt8?
        for byte in lines[3...].joined() {
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x61...0x66: digit = byte - 0x61 + 10
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x20, 0x09, 0x0D: continue  // bytes.fromhex skips whitespace between bytes
            default: return nil
            }
            if let first = high {
                out.append(first << 4 | digit)
                high = nil
            } else {
                high = digit
            }
        }
        return high == nil ? out : nil
    }
}
