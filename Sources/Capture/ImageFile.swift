import CSDL2
import Foundation

/// Failures while reading or writing an image file.
public enum ImageFileError: Error, CustomStringConvertible {
    /// No file at the path.
    case fileNotFound(path: String)
    /// SDL_image could not decode the file (not an image, truncated, or a format it does not support).
    case decodeFailed(path: String, message: String)
    /// The decoded image could not be converted to BGR24.
    case conversionFailed(path: String, message: String)
    /// The image could not be written.
    case writeFailed(path: String, message: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "image file '\(path)' does not exist: check the path"
        case .decodeFailed(let path, let message):
            return "cannot decode image file '\(path)': \(message) (clipcam reads PNG, JPEG and BMP files)"
        case .conversionFailed(let path, let message):
            return "cannot convert image '\(path)' to BGR24: \(message)"
        case .writeFailed(let path, let message):
            return "cannot write PNG '\(path)': \(message) (check that the folder exists and is writable)"
        }
    }
}

/// Decodes image files into frames and writes frames as PNG, through SDL2_image.
public enum ImageFile {
    /// Reads a PNG, JPEG or BMP file into a BGR frame (index 0, timestamp 0).
    ///
    /// Transparent pixels are composited onto white, as the CLIP reference processor does before dropping alpha.
    public static func load(_ path: String) throws -> Frame {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ImageFileError.fileNotFound(path: path)
        }
        guard let decoded = IMG_Load(path) else {
            throw ImageFileError.decodeFailed(path: path, message: sdlMessage())
        }
        let image = Surface(decoded)
        let format = image.pointer.pointee.format
        let hasAlpha = format.map { $0.pointee.Amask != 0 } ?? false
        if hasAlpha {
            return try compositedOnWhite(image, path: path)
        }
        guard let converted = SDL_ConvertSurfaceFormat(image.pointer, SDL_PIXELFORMAT_BGR24.rawValue, 0) else {
            throw ImageFileError.conversionFailed(path: path, message: sdlMessage())
        }
        let bgr = Surface(converted)
        return try bgr.withPixels(path: path) { pixels, width, height, pitch in
            var bytes = [UInt8](repeating: 0, count: width * height * 3)
            bytes.withUnsafeMutableBytes { destination in
                for row in 0..<height {
                    let source = pixels + row * pitch
                    (destination.baseAddress! + row * width * 3).copyMemory(from: source, byteCount: width * 3)
                }
            }
            return Frame(index: 0, timestamp: 0, width: width, height: height, bgr: bytes)
        }
    }

    /// Writes `frame` as a PNG file at `path`, replacing any file there.
    public static func writePNG(_ frame: Frame, to path: String) throws {
        var bytes = frame.bgr
        try bytes.withUnsafeMutableBytes { pixels in
            guard
                let created = SDL_CreateRGBSurfaceWithFormatFrom(
                    pixels.baseAddress, Int32(frame.width), Int32(frame.height), 24, Int32(frame.width * 3),
                    SDL_PIXELFORMAT_BGR24.rawValue)
            else {
                throw ImageFileError.writeFailed(path: path, message: sdlMessage())
            }
            let surface = Surface(created)
            if IMG_SavePNG(surface.pointer, path) != 0 {
                throw ImageFileError.writeFailed(path: path, message: sdlMessage())
            }
        }
    }

    /// Blends each pixel over opaque white with PIL's `alpha_composite` arithmetic, then drops alpha.
    private static func compositedOnWhite(_ image: Surface, path: String) throws -> Frame {
        guard let converted = SDL_ConvertSurfaceFormat(image.pointer, SDL_PIXELFORMAT_RGBA32.rawValue, 0) else {
            throw ImageFileError.conversionFailed(path: path, message: sdlMessage())
        }
        let rgba = Surface(converted)
        return try rgba.withPixels(path: path) { pixels, width, height, pitch in
            var bytes = [UInt8](repeating: 0, count: width * height * 3)
            for row in 0..<height {
                let source = pixels.assumingMemoryBound(to: UInt8.self) + row * pitch
                for column in 0..<width {
                    let pixel = source + column * 4
                    let alpha = Int(pixel[3])
                    let output = (row * width + column) * 3
                    for channel in 0..<3 {
                        bytes[output + 2 - channel] = blendOverWhite(Int(pixel[channel]), alpha: alpha)
                    }
                }
            }
            return Frame(index: 0, timestamp: 0, width: width, height: height, bgr: bytes)
        }
    }

    /// `value * alpha + 255 * (255 - alpha)` divided by 255 and rounded, in the fixed point PIL uses.
    static func blendOverWhite(_ value: Int, alpha: Int) -> UInt8 {
        let sum = value * alpha + 255 * (255 - alpha) + 0x80
        return UInt8(((sum >> 8) + sum) >> 8)
    }

    private static func sdlMessage() -> String {
        String(cString: SDL_GetError())
    }
}

/// An SDL surface owned by clipcam, freed with it.
private final class Surface {
    let pointer: UnsafeMutablePointer<SDL_Surface>

    init(_ pointer: UnsafeMutablePointer<SDL_Surface>) {
        self.pointer = pointer
    }

    deinit {
        SDL_FreeSurface(pointer)
    }

    /// Locks the surface and passes its pixels, width, height and pitch (bytes per row) to `body`.
    func withPixels<Result>(
        path: String, _ body: (UnsafeRawPointer, Int, Int, Int) throws -> Result
    ) throws -> Result {
        if SDL_LockSurface(pointer) != 0 {
            throw ImageFileError.conversionFailed(path: path, message: String(cString: SDL_GetError()))
        }
        defer { SDL_UnlockSurface(pointer) }
        let surface = pointer.pointee
        guard let pixels = surface.pixels else {
            throw ImageFileError.conversionFailed(path: path, message: "the decoded image has no pixels")
        }
        return try body(UnsafeRawPointer(pixels), Int(surface.w), Int(surface.h), Int(surface.pitch))
    }
}
