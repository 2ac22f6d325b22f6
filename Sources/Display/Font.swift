// Text rasterisation with FreeType: glyphs are loaded with light hinting, rendered as 8-bit coverage, and laid out
// left to right with the font's pair kerning ('kern' table through FT_Get_Kerning; no GPOS shaping, so scripts
// that need shaping come out unjoined). Outlines come from FT_Glyph_StrokeBorder, i.e. the glyph's outside border
// widened by the stroke radius. Code points the font lacks are drawn as a hollow box.
import CFreeType
import SafeFiles

/// Failures of loading a font.
public enum FontError: Error, CustomStringConvertible {
    case fileNotFound(path: String)
    case freeTypeFailed(call: String, path: String, code: Int32)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "font file \(path) not found; install the Debian package fonts-dejavu-core "
                + "(apt-get install fonts-dejavu-core) or pass another TrueType font with --font PATH"
        case .freeTypeFailed(_, let path, 2):
            // FT_Err_Unknown_File_Format.
            return "\(path) is not a font FreeType can read (TrueType, OpenType, Type 1, …); give a .ttf or .otf "
                + "file with --font"
        case .freeTypeFailed(let call, let path, let code):
            var message = "\(call) failed for font \(path) with FreeType error \(code)"
            if let text = FT_Error_String(code) {
                message += " (\(String(cString: text)))"
            }
            return message + "; check that the file is a TrueType or OpenType font"
        }
    }
}

/// 8-bit coverage of one glyph layer. `left` is the offset from the pen position to the first column, `top` the
/// number of rows above the baseline.
struct AlphaBitmap {
    var left = 0
    var top = 0
    var width = 0
    var height = 0
    var alpha: [UInt8] = []
}

/// A rasterised glyph: its fill, its outline ring (empty when drawn without outline) and its advance in 26.6.
struct GlyphImage {
    var fill: AlphaBitmap
    var outline: AlphaBitmap
    var advance: Int
}

/// Text rendered to pixels: white fill over a black outline, straight alpha, 0xAARRGGBB per pixel.
public struct TextBitmap {
    public var size: PixelSize
    public var argb: [UInt32]
    /// Row of the baseline, from the top.
    public var baseline: Int
}

/// One font face at any number of pixel sizes. Not thread-safe: use one `Font` per thread.
public final class Font {
    public static let defaultRegularPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    public static let defaultBoldPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

    public let path: String
    private let library: FT_Library
    private let face: FT_Face
    private let stroker: FT_Stroker
    /// The file's bytes, which FreeType reads from for as long as the face lives.
    private let fileBytes: UnsafeMutableBufferPointer<UInt8>
    /// The largest font file read (big CJK fonts are about 20 MB).
    public static let maxFileBytes = 100 << 20
    private var currentPixelSize = 0
    private struct GlyphKey: Hashable {
        var glyph: UInt32
        var pixelSize: Int
        var outline: Int
    }
    private var glyphs: [GlyphKey: GlyphImage] = [:]
    private static let glyphCacheLimit = 8192
    private static let loadFlags = Int32(FT_LOAD_NO_BITMAP) | Int32(FT_RENDER_MODE_LIGHT.rawValue & 15) << 16

    /// Reads the font file into memory (only a regular file: a FIFO or device is refused at once, never read)
    /// and opens it with FreeType.
    public init(path: String) throws {
        let bytes: UnsafeMutableBufferPointer<UInt8>
        do {
            let data = try ReadableFile.read(path, role: "font file", limit: Font.maxFileBytes)
            bytes = .allocate(capacity: max(data.count, 1))
            _ = bytes.initialize(from: data)
        } catch FileAccessError.missing {
            throw FontError.fileNotFound(path: SystemPath(path).description)
        }
        var library: FT_Library?
        var code = FT_Init_FreeType(&library)
        guard code == 0, let library else {
            bytes.deallocate()
            throw FontError.freeTypeFailed(call: "FT_Init_FreeType", path: path, code: code)
        }
        var face: FT_Face?
        code = FT_New_Memory_Face(library, bytes.baseAddress, FT_Long(bytes.count), 0, &face)
        guard code == 0, let face else {
            FT_Done_FreeType(library)
            bytes.deallocate()
            throw FontError.freeTypeFailed(call: "FT_New_Face", path: path, code: code)
        }
        var stroker: FT_Stroker?
        code = FT_Stroker_New(library, &stroker)
        guard code == 0, let stroker else {
            FT_Done_Face(face)
            FT_Done_FreeType(library)
            bytes.deallocate()
            throw FontError.freeTypeFailed(call: "FT_Stroker_New", path: path, code: code)
        }
        self.path = path
        self.fileBytes = bytes
        self.library = library
        self.face = face
        self.stroker = stroker
    }

    deinit {
        FT_Stroker_Done(stroker)
        FT_Done_Face(face)
        FT_Done_FreeType(library)
        fileBytes.deallocate()
    }

    /// Family and style, e.g. "DejaVu Sans Bold".
    public var name: String {
        let family = face.pointee.family_name.map { String(cString: $0) } ?? "?"
        let style = face.pointee.style_name.map { String(cString: $0) } ?? ""
        return style.isEmpty || style == "Book" || style == "Regular" ? family : "\(family) \(style)"
    }

    /// True when the font has a glyph for `scalar`.
    public func hasGlyph(_ scalar: Unicode.Scalar) -> Bool {
        FT_Get_Char_Index(face, FT_ULong(scalar.value)) != 0
    }

    /// Whether the face has a pair-kerning table FreeType can apply.
    public var hasKerning: Bool {
        face.pointee.face_flags & FT_Long(FT_FACE_FLAG_KERNING) != 0
    }

    /// Pixels above and below the baseline for a line of text at `pixelSize`.
    public func lineMetrics(pixelSize: Int) -> (ascent: Int, descent: Int) {
        select(pixelSize)
        let metrics = face.pointee.size.pointee.metrics
        return ((Int(metrics.ascender) + 63) >> 6, (Int(-metrics.descender) + 63) >> 6)
    }

    /// The size of the bitmap `render` makes for `text`.
    public func measure(_ text: String, pixelSize: Int, outline: Int) -> PixelSize {
        layout(text, pixelSize: pixelSize, outline: outline).size
    }

    /// `text` shortened with a trailing "…" so that it measures at most `maxWidth` pixels wide.
    public func truncated(_ text: String, toWidth maxWidth: Int, pixelSize: Int, outline: Int) -> String {
        if measure(text, pixelSize: pixelSize, outline: outline).width <= maxWidth { return text }
        let characters = Array(text)
        func candidate(_ count: Int) -> String {
            var prefix = String(characters[..<count])
            while prefix.last?.isWhitespace == true { prefix.removeLast() }
            return prefix + "…"
        }
        var low = 0
        var high = characters.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if measure(candidate(middle), pixelSize: pixelSize, outline: outline).width <= maxWidth {
                low = middle
            } else {
                high = middle - 1
            }
        }
        let result = candidate(low)
        return measure(result, pixelSize: pixelSize, outline: outline).width <= maxWidth ? result : ""
    }

    /// Rasterises `text` on one line: white fill, black outline `outline` pixels wide, transparent elsewhere.
    public func render(_ text: String, pixelSize: Int, outline: Int) -> TextBitmap {
        let placed = layout(text, pixelSize: pixelSize, outline: outline)
        let width = placed.size.width
        let height = placed.size.height
        var fillPlane = [UInt8](repeating: 0, count: width * height)
        var outlinePlane = [UInt8](repeating: 0, count: width * height)
        for (x, glyph) in placed.glyphs {
            stamp(glyph.fill, at: x, baseline: placed.baseline, into: &fillPlane, width: width, height: height)
            stamp(glyph.outline, at: x, baseline: placed.baseline, into: &outlinePlane, width: width, height: height)
        }
        var argb = [UInt32](repeating: 0, count: width * height)
        for i in 0..<argb.count {
            // Fill over outline: alpha = f + o (1 - f); colour = white * f / alpha (outline is black).
            let f = UInt32(fillPlane[i])
            let o = UInt32(outlinePlane[i])
            let alpha = f + (o * (255 - f) + 127) / 255
            guard alpha > 0 else { continue }
            let grey = min(255, (f * 255 + alpha / 2) / alpha)
            argb[i] = alpha << 24 | grey << 16 | grey << 8 | grey
        }
        return TextBitmap(size: placed.size, argb: argb, baseline: placed.baseline)
    }

    // MARK: - Layout

    private struct PlacedText {
        var size: PixelSize
        var baseline: Int
        var glyphs: [(x: Int, glyph: GlyphImage)]
    }

    private func layout(_ text: String, pixelSize: Int, outline: Int) -> PlacedText {
        precondition(pixelSize > 0 && outline >= 0, "bad text size \(pixelSize) / outline \(outline)")
        let (ascent, descent) = lineMetrics(pixelSize: pixelSize)
        let kerning = hasKerning
        var pen = outline * 64
        var previous: UInt32 = 0
        var placed: [(x: Int, glyph: GlyphImage)] = []
        var inkMin = 0
        var inkMax = 0
        for var scalar in text.unicodeScalars {
            if scalar == "\t" { scalar = " " }
            if scalar.properties.generalCategory == .control { continue }
            let index = FT_Get_Char_Index(face, FT_ULong(scalar.value))
            if kerning && previous != 0 && index != 0 {
                var delta = FT_Vector()
                if FT_Get_Kerning(face, previous, index, FT_KERNING_DEFAULT.rawValue, &delta) == 0 {
                    pen += Int(delta.x)
                }
            }
            let glyph = image(forGlyph: index, pixelSize: pixelSize, outline: outline)
            let x = (pen + 32) >> 6
            let ink = outline > 0 ? glyph.outline : glyph.fill
            if ink.width > 0 {
                inkMin = min(inkMin, x + ink.left)
                inkMax = max(inkMax, x + ink.left + ink.width)
            }
            placed.append((x, glyph))
            pen += glyph.advance
            previous = index
        }
        if placed.isEmpty {
            return PlacedText(
                size: PixelSize(width: 0, height: ascent + descent + 2 * outline), baseline: outline + ascent,
                glyphs: [])
        }
        let shift = -inkMin
        let width = max(inkMax, (pen + 63) >> 6 + outline) + shift
        return PlacedText(
            size: PixelSize(width: width, height: ascent + descent + 2 * outline), baseline: outline + ascent,
            glyphs: placed.map { ($0.x + shift, $0.glyph) })
    }

    private func stamp(
        _ bitmap: AlphaBitmap, at x: Int, baseline: Int, into plane: inout [UInt8], width: Int, height: Int
    ) {
        let left = x + bitmap.left
        let top = baseline - bitmap.top
        for row in 0..<bitmap.height {
            let y = top + row
            guard y >= 0 && y < height else { continue }
            for column in 0..<bitmap.width {
                let px = left + column
                guard px >= 0 && px < width else { continue }
                let value = bitmap.alpha[row * bitmap.width + column]
                let i = y * width + px
                if value > plane[i] { plane[i] = value }
            }
        }
    }

    // MARK: - Glyphs

    private func select(_ pixelSize: Int) {
        guard pixelSize != currentPixelSize else { return }
        FT_Set_Pixel_Sizes(face, 0, FT_UInt(pixelSize))
        currentPixelSize = pixelSize
    }

    private func image(forGlyph index: UInt32, pixelSize: Int, outline: Int) -> GlyphImage {
        let key = GlyphKey(glyph: index, pixelSize: pixelSize, outline: outline)
        if let cached = glyphs[key] { return cached }
        let image =
            (index == 0 ? nil : rasterise(index, pixelSize: pixelSize, outline: outline))
            ?? missingGlyphBox(pixelSize: pixelSize, outline: outline)
        if glyphs.count >= Font.glyphCacheLimit { glyphs.removeAll(keepingCapacity: true) }
        glyphs[key] = image
        return image
    }

    private func rasterise(_ index: UInt32, pixelSize: Int, outline: Int) -> GlyphImage? {
        select(pixelSize)
        guard FT_Load_Glyph(face, index, Font.loadFlags) == 0 else { return nil }
        let slot = face.pointee.glyph!
        var outlineImage = AlphaBitmap()
        if outline > 0 {
            var glyph: FT_Glyph?
            if FT_Get_Glyph(slot, &glyph) == 0 {
                FT_Stroker_Set(
                    stroker, FT_Fixed(outline * 64), FT_STROKER_LINECAP_ROUND, FT_STROKER_LINEJOIN_ROUND, 0)
                if FT_Glyph_StrokeBorder(&glyph, stroker, 0, 1) == 0,
                    FT_Glyph_To_Bitmap(&glyph, FT_RENDER_MODE_NORMAL, nil, 1) == 0, let glyph
                {
                    let bitmapGlyph = UnsafeMutableRawPointer(glyph).assumingMemoryBound(to: FT_BitmapGlyphRec.self)
                    outlineImage = copy(
                        bitmapGlyph.pointee.bitmap, left: Int(bitmapGlyph.pointee.left),
                        top: Int(bitmapGlyph.pointee.top))
                }
                if let glyph { FT_Done_Glyph(glyph) }
            }
        }
        guard FT_Render_Glyph(slot, FT_RENDER_MODE_NORMAL) == 0 else { return nil }
        let fill = copy(slot.pointee.bitmap, left: Int(slot.pointee.bitmap_left), top: Int(slot.pointee.bitmap_top))
        return GlyphImage(fill: fill, outline: outlineImage, advance: Int(slot.pointee.advance.x))
    }

    private func copy(_ bitmap: FT_Bitmap, left: Int, top: Int) -> AlphaBitmap {
        let width = Int(bitmap.width)
        let height = Int(bitmap.rows)
        var result = AlphaBitmap(left: left, top: top, width: width, height: height)
        result.alpha = [UInt8](repeating: 0, count: width * height)
        guard let buffer = bitmap.buffer, width > 0, height > 0 else { return result }
        let pitch = Int(bitmap.pitch)
        for row in 0..<height {
            let source = buffer + row * pitch
            for column in 0..<width {
                result.alpha[row * width + column] = source[column]
            }
        }
        return result
    }

    /// A hollow rectangle standing on the baseline, for code points the font has no glyph for.
    private func missingGlyphBox(pixelSize: Int, outline: Int) -> GlyphImage {
        let side = max(1, (pixelSize + 8) / 12)
        let width = max(3 * side, pixelSize * 55 / 100)
        let height = max(3 * side, pixelSize * 70 / 100)
        var fill = AlphaBitmap(left: side, top: height, width: width, height: height)
        fill.alpha = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width where x < side || x >= width - side || y < side || y >= height - side {
                fill.alpha[y * width + x] = 255
            }
        }
        let ring = outline > 0 ? dilate(fill, radius: outline) : AlphaBitmap()
        return GlyphImage(fill: fill, outline: ring, advance: (width + 2 * side) * 64)
    }

    /// Every pixel within `radius` of a covered pixel of `bitmap`, fully covered.
    private func dilate(_ bitmap: AlphaBitmap, radius: Int) -> AlphaBitmap {
        let width = bitmap.width + 2 * radius
        let height = bitmap.height + 2 * radius
        var result = AlphaBitmap(
            left: bitmap.left - radius, top: bitmap.top + radius, width: width, height: height)
        result.alpha = [UInt8](repeating: 0, count: width * height)
        for y in 0..<bitmap.height {
            for x in 0..<bitmap.width where bitmap.alpha[y * bitmap.width + x] > 0 {
                for dy in -radius...radius {
                    for dx in -radius...radius where dx * dx + dy * dy <= radius * radius {
                        result.alpha[(y + radius + dy) * width + x + radius + dx] = 255
                    }
                }
            }
        }
        return result
    }
}
