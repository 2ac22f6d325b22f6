// An image file's pixels as Pillow 13 holds them after `Image.open(...).load()` (a mode, the pixels in that mode,
// `info["transparency"]`), and transformers 5.24's `convert_to_rgb` (image_transforms.py) of it: an image with an
// alpha band or a transparency is converted to RGBA (`Image.convert`), composited onto opaque white
// (`Image.alpha_composite`) and reduced to RGB; any other is converted to RGB directly. Every conversion follows the
// Pillow C function named at it (libImaging/Convert.c, AlphaComposite.c), quirks included (16-bit grey clamps at
// 255 instead of scaling; a transparent colour is compared in 8 bits). No deviations.

/// Pillow's palette of a "P" image: 256 RGBA entries (entries the file does not give are opaque black, as
/// `ImagingPaletteNew` leaves them), alpha set from the transparency as `putpalettealpha(s)` does.
struct PillowPalette: Equatable {
    var entries: [UInt8]

    /// `rgb` holds count × 3 bytes (red, green, blue); only the first 256 entries count.
    init(rgb: [UInt8]) {
        entries = [UInt8](repeating: 0, count: 1024)
        for index in 0..<256 {
            entries[index * 4 + 3] = 255
            guard index * 3 + 2 < rgb.count else { continue }
            entries[index * 4] = rgb[index * 3]
            entries[index * 4 + 1] = rgb[index * 3 + 1]
            entries[index * 4 + 2] = rgb[index * 3 + 2]
        }
    }

    /// `putpalettealphas(alphas)`: entry i's alpha becomes alphas[i].
    mutating func setAlphas(_ alphas: [UInt8]) {
        for (index, alpha) in alphas.prefix(256).enumerated() { entries[index * 4 + 3] = alpha }
    }
}

/// The pixels of one image in a Pillow mode, row after row without padding.
enum PillowPixels {
    /// "1": 0 or 255 per pixel.
    case bilevel([UInt8])
    /// "L".
    case grey([UInt8])
    /// "LA": grey, alpha.
    case greyAlpha([UInt8])
    /// "P": palette indices.
    case palette([UInt8], PillowPalette)
    /// "RGB".
    case rgb([UInt8])
    /// "RGBA" (not premultiplied).
    case rgba([UInt8])
    /// "CMYK".
    case cmyk([UInt8])
    /// "I;16" and "I;16B": the 16-bit values (their conversions to 8 bits are the same).
    case grey16([UInt16])
    /// "I": 32-bit signed values.
    case int32([Int32])
    /// "F": 32-bit floating-point values.
    case float32([Float])

    /// Pillow's name of the mode, for messages and tests.
    var modeName: String {
        switch self {
        case .bilevel: return "1"
        case .grey: return "L"
        case .greyAlpha: return "LA"
        case .palette: return "P"
        case .rgb: return "RGB"
        case .rgba: return "RGBA"
        case .cmyk: return "CMYK"
        case .grey16: return "I;16"
        case .int32: return "I"
        case .float32: return "F"
        }
    }
}

/// `info["transparency"]` of an image without an alpha band.
enum PillowTransparency: Equatable {
    /// A grey level ("1", "L", "I;16", "I") or a palette index ("P").
    case value(Int)
    /// A colour ("RGB"), each component as the file gives it (16-bit in a 16-bit PNG).
    case rgb(Int, Int, Int)
    /// Palette alphas ("P"): entry i's alpha is alphas[i].
    case alphas([UInt8])
}

/// An image as Pillow holds it after loading a file.
struct PillowImage {
    var width: Int
    var height: Int
    var pixels: PillowPixels
    var transparency: PillowTransparency?

    init(width: Int, height: Int, pixels: PillowPixels, transparency: PillowTransparency? = nil) {
        self.width = width
        self.height = height
        self.pixels = pixels
        self.transparency = transparency
    }

    /// transformers' `convert_to_rgb`: RGB bytes, row after row.
    func convertedToRGB() -> [UInt8] {
        if hasAlpha {
            return Self.compositedOnWhite(convertedToRGBA())
        }
        return convertedToOpaqueRGB()
    }

    /// `"A" in image.getbands() or image.info.get("transparency") is not None`.
    var hasAlpha: Bool {
        switch pixels {
        case .greyAlpha, .rgba: return true
        default: return transparency != nil
        }
    }

    /// `image.convert("RGB")` of an image without alpha.
    private func convertedToOpaqueRGB() -> [UInt8] {
        switch pixels {
        case .bilevel(let grey), .grey(let grey):
            // bit2rgb, l2rgb
            return Self.greyToRGB(grey)
        case .palette(let indices, let palette):
            // p2rgb
            var out = [UInt8](repeating: 0, count: indices.count * 3)
            for (index, entry) in indices.enumerated() {
                let base = Int(entry) * 4
                out[index * 3] = palette.entries[base]
                out[index * 3 + 1] = palette.entries[base + 1]
                out[index * 3 + 2] = palette.entries[base + 2]
            }
            return out
        case .rgb(let rgb):
            return rgb
        case .rgba(let rgba):
            // rgba2rgb
            return Self.droppingAlpha(rgba)
        case .greyAlpha(let greyAlpha):
            // la2rgb
            return Self.droppingAlpha(Self.greyAlphaToRGBA(greyAlpha))
        case .cmyk(let cmyk):
            return Self.cmykToRGB(cmyk)
        case .grey16(let values):
            // I16_RGB: values above 255 become 255
            return Self.greyToRGB(values.map { $0 > 255 ? 255 : UInt8($0) })
        case .int32(let values):
            // i2rgb
            return Self.greyToRGB(values.map(Self.clampedInt))
        case .float32(let values):
            // No F → RGB converter: Image.convert goes through the base mode L (f2l, which truncates), then l2rgb.
            return Self.greyToRGB(values.map(Self.truncatedFloat))
        }
    }

    /// `image.convert("RGBA")`, transparency included.
    private func convertedToRGBA() -> [UInt8] {
        switch pixels {
        case .rgba(let rgba):
            return rgba
        case .greyAlpha(let greyAlpha):
            return Self.greyAlphaToRGBA(greyAlpha)
        case .palette(let indices, var palette):
            // putpalettealpha / putpalettealphas, then p2rgba.
            switch transparency {
            case .value(let index) where (0..<256).contains(index):
                palette.entries[index * 4 + 3] = 0
            case .alphas(let alphas):
                palette.setAlphas(alphas)
            default:
                break
            }
            var out = [UInt8](repeating: 0, count: indices.count * 4)
            for (index, entry) in indices.enumerated() {
                let base = Int(entry) * 4
                for channel in 0..<4 { out[index * 4 + channel] = palette.entries[base + channel] }
            }
            return out
        case .rgb(let rgb):
            // rgb2rgba, then rgbT2a with the colour's low bytes.
            var out = [UInt8](repeating: 255, count: rgb.count / 3 * 4)
            var key: (UInt8, UInt8, UInt8)?
            if case .rgb(let red, let green, let blue) = transparency {
                key = (
                    UInt8(truncatingIfNeeded: red), UInt8(truncatingIfNeeded: green), UInt8(truncatingIfNeeded: blue)
                )
            }
            for pixel in 0..<(rgb.count / 3) {
                let red = rgb[pixel * 3]
                let green = rgb[pixel * 3 + 1]
                let blue = rgb[pixel * 3 + 2]
                out[pixel * 4] = red
                out[pixel * 4 + 1] = green
                out[pixel * 4 + 2] = blue
                if let key, key.0 == red, key.1 == green, key.2 == blue { out[pixel * 4 + 3] = 0 }
            }
            return out
        case .bilevel(let grey), .grey(let grey):
            return Self.greyToRGBA(grey, transparency: transparency)
        case .grey16(let values):
            return Self.greyToRGBA(values.map { $0 > 255 ? 255 : UInt8($0) }, transparency: transparency)
        case .int32(let values):
            return Self.greyToRGBA(values.map(Self.clampedInt), transparency: transparency)
        case .float32(let values):
            // Not one of convert_transparent's modes: through L, the transparency unused.
            return Self.greyToRGBA(values.map(Self.truncatedFloat), transparency: nil)
        case .cmyk(let cmyk):
            let rgb = Self.cmykToRGB(cmyk)
            return Self.opaqueRGBA(rgb)
        }
    }

    /// ImagingConvertTransparent for "1", "L", "I;16" and "I": the grey level expanded to RGBA (bit2rgb, l2rgb,
    /// I16_RGB, i2rgb), then rgbT2a: alpha 0 where the 8-bit level equals the transparency's low byte.
    private static func greyToRGBA(_ grey: [UInt8], transparency: PillowTransparency?) -> [UInt8] {
        var key: UInt8?
        if case .value(let value) = transparency { key = UInt8(truncatingIfNeeded: value) }
        var out = [UInt8](repeating: 255, count: grey.count * 4)
        for (index, level) in grey.enumerated() {
            out[index * 4] = level
            out[index * 4 + 1] = level
            out[index * 4 + 2] = level
            if level == key { out[index * 4 + 3] = 0 }
        }
        return out
    }

    private static func greyToRGB(_ grey: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: grey.count * 3)
        for (index, level) in grey.enumerated() {
            out[index * 3] = level
            out[index * 3 + 1] = level
            out[index * 3 + 2] = level
        }
        return out
    }

    /// la2rgb
    private static func greyAlphaToRGBA(_ greyAlpha: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: greyAlpha.count * 2)
        for pixel in 0..<(greyAlpha.count / 2) {
            let level = greyAlpha[pixel * 2]
            out[pixel * 4] = level
            out[pixel * 4 + 1] = level
            out[pixel * 4 + 2] = level
            out[pixel * 4 + 3] = greyAlpha[pixel * 2 + 1]
        }
        return out
    }

    private static func opaqueRGBA(_ rgb: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 255, count: rgb.count / 3 * 4)
        for pixel in 0..<(rgb.count / 3) {
            for channel in 0..<3 { out[pixel * 4 + channel] = rgb[pixel * 3 + channel] }
        }
        return out
    }

    /// RGB bytes of RGBA (or RGBX) ones (rgba2rgb).
    static func droppingAlpha(_ rgba: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: rgba.count / 4 * 3)
        for pixel in 0..<(rgba.count / 4) {
            for channel in 0..<3 { out[pixel * 3 + channel] = rgba[pixel * 4 + channel] }
        }
        return out
    }

    /// cmyk2rgb: each of C, M, Y against K, `nk - nk·c/255` with MULDIV255's rounding.
    private static func cmykToRGB(_ cmyk: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: cmyk.count / 4 * 3)
        for pixel in 0..<(cmyk.count / 4) {
            let inverseBlack = 255 - Int(cmyk[pixel * 4 + 3])
            for channel in 0..<3 {
                let value = inverseBlack - mulDiv255(Int(cmyk[pixel * 4 + channel]), inverseBlack)
                out[pixel * 3 + channel] = UInt8(clamping: value)
            }
        }
        return out
    }

    /// Pillow's MULDIV255(a, b): a·b/255 rounded, as `((a·b + 128) >> 8 + a·b + 128) >> 8`.
    static func mulDiv255(_ a: Int, _ b: Int) -> Int {
        let product = a * b + 128
        return ((product >> 8) + product) >> 8
    }

    /// i2l / i2rgb: clamped to 0…255.
    private static func clampedInt(_ value: Int32) -> UInt8 {
        value <= 0 ? 0 : value >= 255 ? 255 : UInt8(value)
    }

    /// f2l: 0 at or below 0, 255 at or above 255, else truncated (NaN, which C leaves undefined, as 0).
    private static func truncatedFloat(_ value: Float) -> UInt8 {
        if value <= 0 || value.isNaN { return 0 }
        if value >= 255 { return 255 }
        return UInt8(value)
    }

    /// `Image.alpha_composite(white, image).convert("RGB")`.
    static func compositedOnWhite(_ rgba: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: rgba.count / 4 * 3)
        for pixel in 0..<(rgba.count / 4) {
            let alpha = Int(rgba[pixel * 4 + 3])
            for channel in 0..<3 {
                out[pixel * 3 + channel] = blendOverWhite(Int(rgba[pixel * 4 + channel]), alpha: alpha)
            }
        }
        return out
    }

    /// ImagingAlphaComposite with an opaque white destination: its 7-bit fixed point reduces to
    /// `value·alpha + 255·(255 − alpha)` divided by 255 and rounded (checked against Pillow for every value and
    /// alpha); a fully transparent pixel takes the destination, white.
    static func blendOverWhite(_ value: Int, alpha: Int) -> UInt8 {
        let sum = value * alpha + 255 * (255 - alpha) + 0x80
        return UInt8(((sum >> 8) + sum) >> 8)
    }
}

/// The EXIF orientations (TIFF tag 274) and what `ImageOps.exif_transpose` does for each.
enum ImageOrientation: Int, Sendable {
    case normal = 1
    case flipLeftRight = 2
    case rotate180 = 3
    case flipTopBottom = 4
    case transpose = 5
    /// Pillow's ROTATE_270: a quarter turn clockwise.
    case rotate270 = 6
    case transverse = 7
    /// Pillow's ROTATE_90: a quarter turn anticlockwise.
    case rotate90 = 8

    /// Whether width and height swap.
    var swapsSides: Bool { rawValue >= 5 }

    /// `Image.transpose` of `width` × `height` pixels of `channels` bytes each (ImagingTranspose and friends in
    /// Geometry.c): returns the pixels and the new width and height.
    func apply(_ pixels: [UInt8], width: Int, height: Int, channels: Int) -> ([UInt8], Int, Int) {
        if self == .normal { return (pixels, width, height) }
        let outWidth = swapsSides ? height : width
        let outHeight = swapsSides ? width : height
        var out = [UInt8](repeating: 0, count: pixels.count)
        for y in 0..<outHeight {
            for x in 0..<outWidth {
                let (sourceX, sourceY): (Int, Int)
                switch self {
                case .normal: (sourceX, sourceY) = (x, y)
                case .flipLeftRight: (sourceX, sourceY) = (width - 1 - x, y)
                case .rotate180: (sourceX, sourceY) = (width - 1 - x, height - 1 - y)
                case .flipTopBottom: (sourceX, sourceY) = (x, height - 1 - y)
                case .transpose: (sourceX, sourceY) = (y, x)
                case .rotate270: (sourceX, sourceY) = (y, height - 1 - x)
                case .transverse: (sourceX, sourceY) = (width - 1 - y, height - 1 - x)
                case .rotate90: (sourceX, sourceY) = (width - 1 - y, x)
                }
                let source = (sourceY * width + sourceX) * channels
                let target = (y * outWidth + x) * channels
                for channel in 0..<channels { out[target + channel] = pixels[source + channel] }
            }
        }
        return (out, outWidth, outHeight)
    }
}
