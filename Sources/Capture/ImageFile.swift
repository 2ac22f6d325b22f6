// Reading image files into frames as the CLIP reference (transformers + Pillow) reads them — see
// ImageDecoding.swift — and writing frames as PNG through SDL2_image. Files are read through SafeFiles'
// ReadableFile: only regular files (a FIFO or device is refused at once instead of blocking), names as bytes, at
// most `maximumFileSize` bytes; the format is recognised by the file's first bytes, not its name.
import CSDL2
import Foundation
import SafeFiles

/// Failures while reading or writing an image file; each names the file.
public enum ImageFileError: Error, CustomStringConvertible, Equatable {
    /// No file at the path.
    case fileNotFound(path: String)
    /// The path names a FIFO, device, folder, … (`kind` says which).
    case notRegularFile(path: String, kind: String)
    /// The file could not be opened or read (permissions, I/O errors).
    case unreadable(path: String, message: String)
    /// The file is larger than clipcam reads.
    case fileTooLarge(path: String, size: Int, limit: Int)
    /// Not a format clipcam reads.
    case unknownFormat(path: String)
    /// The data ends before the image does.
    case truncated(path: String, format: String)
    /// More pixels than Pillow's decompression-bomb limit; refused before decoding.
    case tooManyPixels(path: String, format: String, width: Int, height: Int)
    /// A variant of the format clipcam does not read.
    case unsupported(path: String, format: String, what: String)
    /// The decoder could not decode the file.
    case decodeFailed(path: String, message: String)
    /// The image could not be written.
    case writeFailed(path: String, message: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "image file '\(path)' does not exist: check the path"
        case .notRegularFile(let path, let kind):
            return "\(path) is \(kind), not a regular file; give the path of an image file (clipcam does not read "
                + "images from pipes or devices)"
        case .unreadable(let path, let message):
            return "cannot read the image file \(path): \(message)"
        case .fileTooLarge(let path, let size, let limit):
            return "the image file \(path) is \(size) bytes, more than the \(limit) bytes clipcam reads for an image; "
                + "check that it is the right file"
        case .unknownFormat(let path):
            return "\(path) is not an image file clipcam can read (it reads \(ImageFormat.names) files)"
        case .truncated(let path, let format):
            return "the \(format) file \(path) is truncated: its data ends before the image does (the reference, "
                + "Pillow, refuses it too); the file may be incomplete"
        case .tooManyPixels(let path, let format, let width, let height):
            return "the \(format) file \(path) is \(width) × \(height) pixels, more than the "
                + "\(PixelLimit.maximum) pixels clipcam decodes (Pillow's decompression-bomb limit); it was not decoded"
        case .unsupported(let path, let format, let what):
            return "cannot read the \(format) file \(path): \(what) is not supported"
        case .decodeFailed(let path, let message):
            return "cannot decode the image file \(path): \(message) (clipcam reads \(ImageFormat.names) files)"
        case .writeFailed(let path, let message):
            return "cannot write PNG '\(path)': \(message) (check that the folder exists and is writable)"
        }
    }
}

/// Decodes image files into frames and writes frames as PNG.
public enum ImageFile {
    /// The largest file clipcam reads as an image: more than any image under the pixel limit needs in the
    /// compressed formats, and a bound on the memory one file can take.
    public static let maximumFileSize = 256 << 20

    /// Reads an image file into a BGR frame (index 0, timestamp 0) with the pixels the CLIP reference sees: Pillow's
    /// decoding, the EXIF orientation applied, transparency composited onto white.
    public static func load(_ path: SystemPath) throws -> Frame {
        let (rgb, width, height) = try loadRGB(path)
        var bgr = rgb
        for pixel in 0..<(width * height) {
            bgr[pixel * 3] = rgb[pixel * 3 + 2]
            bgr[pixel * 3 + 2] = rgb[pixel * 3]
        }
        return Frame(index: 0, timestamp: 0, width: width, height: height, bgr: bgr)
    }

    /// `load(SystemPath(path))`: the bytes of a command-line argument that was not UTF-8 are used as they were.
    public static func load(_ path: String) throws -> Frame {
        try load(SystemPath(path))
    }

    /// The file's RGB pixels, row after row, as `load` sees them.
    public static func loadRGB(_ path: SystemPath) throws -> (pixels: [UInt8], width: Int, height: Int) {
        try decodeFile(path).rgb()
    }

    /// Reads and decodes the file, its errors named after it.
    static func decodeFile(_ path: SystemPath) throws -> DecodedImageFile {
        let name = path.description
        let bytes: [UInt8]
        do {
            bytes = try ReadableFile.read(path, role: "image", limit: maximumFileSize)
        } catch let error as FileAccessError {
            switch error {
            case .missing: throw ImageFileError.fileNotFound(path: name)
            case .notRegularFile(_, _, let kind): throw ImageFileError.notRegularFile(path: name, kind: kind)
            case .tooLarge(_, _, let size, let limit):
                throw ImageFileError.fileTooLarge(path: name, size: size, limit: limit)
            case .permissionDenied:
                throw ImageFileError.unreadable(path: name, message: "no permission; check its permissions")
            case .cannotOpen(_, _, let code), .readFailed(_, _, let code):
                throw ImageFileError.unreadable(path: name, message: String(cString: strerror(code)))
            case .nameNotUnique: throw error
            }
        }
        let fileExtension = String(decoding: path.lastComponent, as: UTF8.self).split(separator: ".").last
        guard
            let format = ImageFormat.sniff(
                bytes, fileExtension: fileExtension.map { $0.lowercased() } ?? "")
        else {
            throw ImageFileError.unknownFormat(path: name)
        }
        do {
            return try ImageDecoding.decode(bytes, as: format)
        } catch {
            switch error {
            case .truncated: throw ImageFileError.truncated(path: name, format: format.rawValue)
            case .tooManyPixels(let width, let height):
                throw ImageFileError.tooManyPixels(path: name, format: format.rawValue, width: width, height: height)
            case .unsupported(let what):
                throw ImageFileError.unsupported(path: name, format: format.rawValue, what: what)
            case .damaged(let message):
                throw ImageFileError.decodeFailed(path: name, message: "\(format.rawValue): \(message)")
            }
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
                throw ImageFileError.writeFailed(path: path, message: String(cString: SDL_GetError()))
            }
            let surface = SDLSurface(created)
            if IMG_SavePNG(surface.pointer, path) != 0 {
                throw ImageFileError.writeFailed(path: path, message: String(cString: SDL_GetError()))
            }
        }
    }
}
