// GIF's first frame as Pillow 13 gives it (GifImagePlugin.py `_open`, `_seek(0)`, `load_prepare`): giflib decodes
// the LZW data (Pillow has its own decoder, GifDecode.c; LZW has one right answer); the frame is placed at its
// offset on a canvas the size of the logical screen, grown to hold the frame, filled with the transparent index (or
// 0 without one; the background colour is not used for the first frame). The mode is "P" with the frame's palette
// (its local one, else the global one; a palette that is the identity grey ramp counts as none), or "L" when there
// is none, where pixels keep their indices. A palette shorter than 256 entries leaves the rest black. The transparent index of the last
// graphic control extension before the frame becomes `info["transparency"]`. Data that ends, or whose LZW stream
// ends, before the frame is complete is refused as truncated, as Pillow refuses it ("image file is truncated").
import CGIF

enum GIFImageDecoder {
    static func decode(_ bytes: [UInt8]) throws(DecodeFailure) -> DecodedImageFile {
        let reader = ByteReader(bytes)
        guard let screenWidth = reader.u16le(6), let screenHeight = reader.u16le(8) else { throw .truncated }
        try PixelLimit.check(width: screenWidth, height: screenHeight)
        let input = GIFInput(bytes)
        var error: Int32 = 0
        guard let file = DGifOpen(Unmanaged.passUnretained(input).toOpaque(), gifRead, &error) else {
            throw failure(error, input)
        }
        let gif = GIFHandle(file, input: input)
        defer { withExtendedLifetime(gif) {} }  // giflib reads through `input` until the end
        let globalPalette = palette(file.pointee.SColorMap)
        var transparency: Int?
        while true {
            var record = UNDEFINED_RECORD_TYPE
            guard DGifGetRecordType(file, &record) == GIF_OK else { throw failure(file.pointee.Error, input) }
            switch record {
            case EXTENSION_RECORD_TYPE:
                var code: Int32 = 0
                var block: UnsafeMutablePointer<GifByteType>?
                guard DGifGetExtension(file, &code, &block) == GIF_OK else { throw failure(file.pointee.Error, input) }
                if code == GRAPHICS_EXT_FUNC_CODE, let block, block[0] >= 4, block[1] & 1 != 0 {
                    transparency = Int(block[4])
                }
                while block != nil {
                    guard DGifGetExtensionNext(file, &block) == GIF_OK else { throw failure(file.pointee.Error, input) }
                }
            case IMAGE_DESC_RECORD_TYPE:
                guard DGifGetImageDesc(file) == GIF_OK else { throw failure(file.pointee.Error, input) }
                return try firstFrame(
                    gif, input: input, screen: (screenWidth, screenHeight), globalPalette: globalPalette,
                    transparency: transparency)
            case TERMINATE_RECORD_TYPE:
                throw .damaged("no image in the file")
            default:
                throw .damaged("an unknown block")
            }
        }
    }

    private static func firstFrame(
        _ gif: GIFHandle, input: GIFInput, screen: (Int, Int), globalPalette: [UInt8]?, transparency: Int?
    ) throws(DecodeFailure) -> DecodedImageFile {
        let file = gif.pointer
        let frame = file.pointee.Image
        let left = Int(frame.Left)
        let top = Int(frame.Top)
        let frameWidth = Int(frame.Width)
        let frameHeight = Int(frame.Height)
        let width = max(screen.0, left + frameWidth)
        let height = max(screen.1, top + frameHeight)
        try PixelLimit.check(width: width, height: height)
        // A local palette that is the grey ramp counts as none: Pillow then opens the frame as "L" but, when there is
        // a global palette, loads that palette into it, so its pixels go through the global palette after all.
        let framePalette = palette(frame.ColorMap) ?? globalPalette
        var canvas = [UInt8](repeating: UInt8(truncatingIfNeeded: transparency ?? 0), count: width * height)
        var line = [UInt8](repeating: 0, count: max(frameWidth, 1))
        for row in rowOrder(height: frameHeight, interlaced: frame.Interlace) {
            let status = line.withUnsafeMutableBufferPointer { DGifGetLine(file, $0.baseAddress!, Int32(frameWidth)) }
            guard status == GIF_OK else { throw failure(file.pointee.Error, input) }
            let start = (top + row) * width + left
            canvas.replaceSubrange(start..<(start + frameWidth), with: line[0..<frameWidth])
        }
        let pixels: PillowPixels =
            if let framePalette { .palette(canvas, PillowPalette(rgb: framePalette)) } else { .grey(canvas) }
        let image = PillowImage(
            width: width, height: height, pixels: pixels, transparency: transparency.map { .value($0) })
        return DecodedImageFile(image: image, orientation: .normal)
    }

    /// The order in which the rows are stored: interlaced GIFs hold every 8th row from 0, every 8th from 4, every
    /// 4th from 2, every 2nd from 1.
    static func rowOrder(height: Int, interlaced: Bool) -> [Int] {
        guard interlaced else { return Array(0..<height) }
        return Array(stride(from: 0, to: height, by: 8)) + Array(stride(from: 4, to: height, by: 8))
            + Array(stride(from: 2, to: height, by: 4)) + Array(stride(from: 1, to: height, by: 2))
    }

    /// The palette's RGB bytes, or nil when there is none or it is the identity grey ramp (GifImagePlugin's
    /// `_is_palette_needed`).
    private static func palette(_ map: UnsafeMutablePointer<ColorMapObject>?) -> [UInt8]? {
        guard let map, let colours = map.pointee.Colors else { return nil }
        var rgb: [UInt8] = []
        var needed = false
        for index in 0..<Int(map.pointee.ColorCount) {
            let colour = colours[index]
            rgb += [colour.Red, colour.Green, colour.Blue]
            if !(index < 256 && colour.Red == UInt8(index) && colour.Green == colour.Red && colour.Blue == colour.Red) {
                needed = true
            }
        }
        return needed ? rgb : nil
    }

    private static func failure(_ code: Int32, _ input: GIFInput) -> DecodeFailure {
        if code == D_GIF_ERR_READ_FAILED || code == D_GIF_ERR_EOF_TOO_SOON || input.ranShort { return .truncated }
        let message = GifErrorString(code).map { String(cString: $0) } ?? "giflib error \(code)"
        return .damaged(message)
    }
}

/// The bytes giflib reads, with a cursor.
private final class GIFInput {
    let bytes: [UInt8]
    var offset = 0
    /// A read asked for more than was left.
    var ranShort = false

    init(_ bytes: [UInt8]) { self.bytes = bytes }
}

private func gifRead(
    _ file: UnsafeMutablePointer<GifFileType>?, _ buffer: UnsafeMutablePointer<GifByteType>?, _ length: Int32
)
    -> Int32
{
    guard let file, let buffer, let user = file.pointee.UserData, length >= 0 else { return 0 }
    let input = Unmanaged<GIFInput>.fromOpaque(user).takeUnretainedValue()
    let count = min(Int(length), input.bytes.count - input.offset)
    if count < Int(length) { input.ranShort = true }
    input.bytes.withUnsafeBufferPointer { source in
        buffer.update(from: source.baseAddress! + input.offset, count: count)
    }
    input.offset += count
    return Int32(count)
}

/// A giflib decoder, closed with this object, and the bytes it reads.
private final class GIFHandle {
    let pointer: UnsafeMutablePointer<GifFileType>
    let input: GIFInput

    init(_ pointer: UnsafeMutablePointer<GifFileType>, input: GIFInput) {
        self.pointer = pointer
        self.input = input
    }

    deinit {
        var error: Int32 = 0
        DGifCloseFile(pointer, &error)
    }
}
