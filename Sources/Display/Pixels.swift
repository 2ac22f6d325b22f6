/// A borrowed view of BGR24 video pixels: `height` rows of `width` blue-green-red triples, rows `rowBytes` apart.
/// The memory must stay valid for the duration of the call the view is passed to; nothing keeps it.
public struct BGRPixels {
    public let base: UnsafeRawPointer
    public let width: Int
    public let height: Int
    public let rowBytes: Int

    public init(base: UnsafeRawPointer, width: Int, height: Int, rowBytes: Int) {
        precondition(width > 0 && height > 0, "BGR frame must not be empty, got \(width)x\(height)")
        precondition(rowBytes >= width * 3, "rowBytes \(rowBytes) is shorter than a row of \(width) BGR pixels")
        self.base = base
        self.width = width
        self.height = height
        self.rowBytes = rowBytes
    }

    public var size: PixelSize { PixelSize(width: width, height: height) }

    /// Calls `body` with a view of a tightly packed BGR24 buffer.
    public static func withPixels<Result>(
        of bytes: [UInt8], width: Int, height: Int, _ body: (BGRPixels) throws -> Result
    ) rethrows -> Result {
        precondition(
            bytes.count == width * height * 3, "BGR buffer of \(bytes.count) bytes is not \(width)x\(height)x3")
        return try bytes.withUnsafeBytes { raw in
            try body(BGRPixels(base: raw.baseAddress!, width: width, height: height, rowBytes: width * 3))
        }
    }
}

/// An owned RGB image read back from a renderer, row after row, three bytes per pixel.
public struct RGBImage: Sendable {
    public let width: Int
    public let height: Int
    public var rgb: [UInt8]

    public init(width: Int, height: Int, rgb: [UInt8]) {
        precondition(rgb.count == width * height * 3, "RGB buffer of \(rgb.count) bytes is not \(width)x\(height)x3")
        self.width = width
        self.height = height
        self.rgb = rgb
    }

    public var size: PixelSize { PixelSize(width: width, height: height) }

    /// The opaque colour at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> Color {
        precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x),\(y)) outside \(width)x\(height)")
        let i = (y * width + x) * 3
        return Color(red: rgb[i], green: rgb[i + 1], blue: rgb[i + 2])
    }
}
