import Glibc
import SafeFiles

/// Chooses and builds a frame source from a `--source` string.
public enum FrameSources {
    public static let videoExtensions: Set<String> = [
        "mp4", "m4v", "mkv", "webm", "avi", "mov", "mpg", "mpeg", "ts", "mts", "wmv", "flv", "ogv", "3gp", "y4m",
    ]

    /// What a spec names, before anything is opened.
    public enum Kind: Equatable, Sendable {
        case camera(device: String)
        case imageFolder(path: String)
        case image(path: String)
        case video(path: String)
        case synthetic(width: Int, height: Int, fps: Double)
    }

    /// The source a spec names (not started; `CaptureRunner.start` or `start()` opens it):
    /// `/dev/videoN` (or just `N`) → camera; a directory → image folder; a file with an image extension →
    /// image; a video extension, or any other file ffprobe finds a video stream in → video; `synthetic` or
    /// `synthetic:WxH` or `synthetic:WxH@FPS` → moving bar pattern.
    public static func open(_ spec: String, options: CaptureOptions = CaptureOptions()) throws -> any FrameSource {
        switch try kind(of: spec, options: options) {
        case .camera(let device):
            return CameraSource(device: device, options: options)
        case .imageFolder(let path), .image(let path):
            return try ImageSource(path: path, options: options)
        case .video(let path):
            return VideoFileSource(path: path, options: options)
        case .synthetic(let width, let height, let fps):
            return SyntheticSource(width: width, height: height, fps: fps, fast: options.fast)
        }
    }

    /// Classifies a spec; see `open`.
    public static func kind(of spec: String, options: CaptureOptions = CaptureOptions()) throws -> Kind {
        if spec == "synthetic" || spec.hasPrefix("synthetic:") {
            return try synthetic(spec, options: options)
        }
        if spec.hasPrefix("/dev/video") || spec.hasPrefix("/dev/v4l/") {
            return .camera(device: spec)
        }
        if !spec.isEmpty, spec.allSatisfy(\.isASCII), spec.allSatisfy(\.isNumber) {
            return .camera(device: "/dev/video" + spec)
        }
        let path = SystemPath(spec)
        switch FileKind.of(path) {
        case .missing:
            if spec.hasPrefix("/dev/") { return .camera(device: spec) }
            throw SourceError.notFound(path: spec)
        case .directory:
            return .imageFolder(path: spec)
        case .characterDevice:
            return .camera(device: spec)
        case .regular:
            break
        case let kind:
            throw SourceError.notAFile(path: spec, kind: kind.noun)
        }
        let ext = fileExtension(String(decoding: path.lastComponent, as: UTF8.self))
        if ImageSource.imageExtensions.contains(ext) { return .image(path: spec) }
        if videoExtensions.contains(ext) { return .video(path: spec) }
        do {
            _ = try VideoFileSource.probe(spec)
            return .video(path: spec)
        } catch SourceError.videoUnreadable(_, let reason) {
            throw SourceError.unrecognised(spec: spec, reason: "not an image by its name, and ffprobe: \(reason)")
        }
    }

    private static func synthetic(_ spec: String, options: CaptureOptions) throws -> Kind {
        var width = options.width
        var height = options.height
        var fps = options.fps ?? 30
        // The size as written, for messages (a side too large for an Int is kept as Int.max).
        var sizeText = "\(width)x\(height)"
        let rest = spec.dropFirst("synthetic".count).drop { $0 == ":" }
        if !rest.isEmpty {
            let parts = rest.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw SourceError.invalidSyntheticSpec(spec: spec) }
            if !parts[0].isEmpty {
                guard let size = FrameLimits.parseSize(parts[0]) else {
                    throw SourceError.invalidSyntheticSpec(spec: spec)
                }
                (width, height) = size
                sizeText = String(parts[0])
            }
            if parts.count == 2 {
                guard let rate = Double(parts[1]), !rate.isNaN else {
                    throw SourceError.invalidSyntheticSpec(spec: spec)
                }
                fps = rate
            }
        }
        if let problem = FrameLimits.sizeProblem(width: width, height: height) {
            throw SourceError.syntheticOutOfRange(spec: spec, what: "size \(sizeText)", requirement: problem)
        }
        guard FrameLimits.fps.contains(fps) else {
            throw SourceError.syntheticOutOfRange(
                spec: spec, what: "rate \(fps) fps",
                requirement:
                    "between \(FrameLimits.fps.lowerBound) and \(Int(FrameLimits.fps.upperBound)) frames per second")
        }
        return .synthetic(width: width, height: height, fps: fps)
    }
}
