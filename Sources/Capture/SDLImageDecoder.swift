// The formats beyond the six clipcam matches Pillow on by construction, read through SDL2_image from memory: PPM,
// PGM and PBM, QOI and TGA. Pillow reads each too (PpmImagePlugin, QoiImagePlugin, TgaImagePlugin); for 8-bit files
// (maxval 255, uncompressed and RLE TGA) SDL2_image gives the same pixels, measured on the fixtures. Alpha (TGA,
// QOI) is composited onto white as convert_to_rgb does. Not checked against Pillow: PNM with maxval other than 255
// (Pillow and SDL2_image scale differently or not at all), 16-bit PNM, colour-mapped TGA. Deviation: TGA has no
// signature, and only a file named .tga is tried as one (Pillow tries its TGA header checks on any file it cannot
// otherwise identify).
import CSDL2

enum SDLImageDecoder {
    static func decode(_ bytes: [UInt8], as format: ImageFormat) throws(DecodeFailure) -> DecodedImageFile {
        if let (width, height) = headerSize(bytes, format) { try PixelLimit.check(width: width, height: height) }
        let type: String
        switch format {
        case .pnm: type = "PNM"
        case .qoi: type = "QOI"
        default: type = "TGA"
        }
        let decoded: UnsafeMutablePointer<SDL_Surface>? = bytes.withUnsafeBytes { raw in
            guard let stream = SDL_RWFromConstMem(raw.baseAddress, Int32(raw.count)) else { return nil }
            return IMG_LoadTyped_RW(stream, 1, type)
        }
        guard let decoded else { throw .damaged(String(cString: SDL_GetError())) }
        let surface = SDLSurface(decoded)
        let hasAlpha = decoded.pointee.format.map { $0.pointee.Amask != 0 } ?? false
        guard
            let converted = SDL_ConvertSurfaceFormat(
                decoded, hasAlpha ? SDL_PIXELFORMAT_RGBA32.rawValue : SDL_PIXELFORMAT_RGB24.rawValue, 0)
        else { throw .damaged(String(cString: SDL_GetError())) }
        let packed = SDLSurface(converted)
        withExtendedLifetime(surface) {}
        let channels = hasAlpha ? 4 : 3
        let pixels = try packed.bytes(channels: channels)
        let width = Int(converted.pointee.w)
        let height = Int(converted.pointee.h)
        let image = PillowImage(width: width, height: height, pixels: hasAlpha ? .rgba(pixels) : .rgb(pixels))
        return DecodedImageFile(image: image, orientation: .normal)
    }

    /// The size in the header, read before SDL2_image allocates anything.
    static func headerSize(_ bytes: [UInt8], _ format: ImageFormat) -> (Int, Int)? {
        let reader = ByteReader(bytes)
        switch format {
        case .qoi:
            guard let width = reader.u32be(4), let height = reader.u32be(8) else { return nil }
            return (width, height)
        case .tga:
            guard let width = reader.u16le(12), let height = reader.u16le(14) else { return nil }
            return (width, height)
        default:
            // "P6", then width and height as decimal numbers, with white space and # comments between.
            var numbers: [Int] = []
            var at = 2
            while numbers.count < 2 && at < bytes.count {
                let byte = bytes[at]
                if byte == UInt8(ascii: "#") {
                    while at < bytes.count && bytes[at] != 0x0A && bytes[at] != 0x0D { at += 1 }
                } else if (0x30...0x39).contains(byte) {
                    var value = 0
                    while at < bytes.count, (0x30...0x39).contains(bytes[at]), value < 1 << 40 {
                        value = value * 10 + Int(bytes[at] - 0x30)
                        at += 1
                    }
                    numbers.append(value)
                    continue
                } else if ![0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C].contains(byte) {
                    return nil
                }
                at += 1
            }
            return numbers.count == 2 ? (numbers[0], numbers[1]) : nil
        }
    }
}

/// An SDL surface owned by clipcam, freed with it.
final class SDLSurface {
    let pointer: UnsafeMutablePointer<SDL_Surface>

    init(_ pointer: UnsafeMutablePointer<SDL_Surface>) { self.pointer = pointer }

    deinit { SDL_FreeSurface(pointer) }

    /// The pixels without row padding, `channels` bytes each.
    func bytes(channels: Int) throws(DecodeFailure) -> [UInt8] {
        if SDL_LockSurface(pointer) != 0 { throw .damaged(String(cString: SDL_GetError())) }
        defer { SDL_UnlockSurface(pointer) }
        let surface = pointer.pointee
        guard let pixels = surface.pixels else { throw .damaged("the decoded image has no pixels") }
        let width = Int(surface.w)
        let height = Int(surface.h)
        let pitch = Int(surface.pitch)
        var out = [UInt8](repeating: 0, count: width * height * channels)
        out.withUnsafeMutableBytes { destination in
            for row in 0..<height {
                (destination.baseAddress! + row * width * channels).copyMemory(
                    from: pixels + row * pitch, byteCount: width * channels)
            }
        }
        return out
    }
}
