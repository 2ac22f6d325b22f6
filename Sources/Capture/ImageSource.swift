import Glibc
import SafeFiles

/// Frames from one image file or a folder of them (decoded by `ImageFile`), at a chosen rate.
///
/// A folder's images (recognised by extension) play in natural name order ("2.png" before "10.png"). Without
/// `loop` each image is delivered once and the stream ends; with it the sequence repeats. Images may differ in
/// size; `format` gives the first one's. Paced at the rate unless `fast`. Frame k has timestamp k / fps.
public final class ImageSource: FrameSource {
    public static let imageExtensions: Set<String> = [
        "png", "jpg", "jpeg", "bmp", "gif", "tga", "tif", "tiff", "webp", "ppm", "pgm", "pnm", "qoi",
    ]

    public let path: String
    public let stopSignal = StopSignal()
    public private(set) var format = SourceFormat(width: 0, height: 0, fps: nil)
    /// The images played, in order.
    public private(set) var files: [SystemPath] = []
    private let isFolder: Bool
    private let fast: Bool
    private let loop: Bool
    private let fps: Double
    private var pacer: FramePacer
    private var cached: Frame?
    private var index = 0

    /// `path` is an image file or a folder. `options.fps` defaults to 30 for a file and 1 for a folder.
    public init(path: String, options: CaptureOptions = CaptureOptions()) throws {
        // By its bytes: a name that is not UTF-8 names the file as typed (see `SystemPath`).
        let kind = FileKind.of(SystemPath(path))
        guard kind != .missing else { throw SourceError.notFound(path: path) }
        self.path = path
        isFolder = kind == .directory
        fps = options.fps ?? (isFolder ? 1 : 30)
        guard fps > 0, fps.isFinite else { throw SourceError.invalidFrameRate(fps) }
        fast = options.fast
        loop = options.loop
        pacer = FramePacer(fps: fps)
    }

    public var name: String {
        isFolder ? "image folder \(path) (\(files.count) images)" : "image \(path)"
    }

    public func start() throws {
        files = isFolder ? try ImageSource.listImages(in: path) : [SystemPath(path)]
        let first = try ImageFile.load(files[0])
        if files.count == 1 { cached = first }
        format = SourceFormat(width: first.width, height: first.height, fps: fps)
    }

    public func stop() {
        cached = nil
    }

    public func nextFrame() throws -> Frame? {
        precondition(!files.isEmpty, "ImageSource.nextFrame before start")
        if stopSignal.isRaised || (!loop && index >= files.count) { return nil }
        var frame = try cached ?? ImageFile.load(files[index % files.count])
        if !fast && !pacer.waitForNextFrame(stopSignal) { return nil }
        frame.index = index
        frame.timestamp = Double(index) / fps
        index += 1
        return frame
    }

    /// The image files directly inside `folder` (regular files with an image extension; names as bytes, so names
    /// that are not UTF-8 open too), in natural name order.
    public static func listImages(in folder: String) throws -> [SystemPath] {
        let base = SystemPath(folder)
        guard let directory = base.withCString({ opendir($0) }) else {
            throw SourceError.unreadableFolder(path: base.description, errno: errno)
        }
        defer { closedir(directory) }
        var names: [(bytes: [UInt8], text: String)] = []
        while let entry = readdir(directory) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            let text = String(decoding: bytes, as: UTF8.self)
            guard !text.hasPrefix("."), imageExtensions.contains(fileExtension(text)) else { continue }
            // A FIFO, socket or folder named like an image is not one (and a FIFO would block its reader).
            guard FileKind.of(base.appending(bytes)) == .regular else { continue }
            names.append((bytes, text))
        }
        guard !names.isEmpty else { throw SourceError.emptyFolder(path: base.description) }
        return names.sorted { naturalOrder($0.text, $1.text) }.map { base.appending($0.bytes) }
    }
}

/// The lowercased extension of a path without the dot ("" when none).
func fileExtension(_ path: String) -> String {
    let name = path.split(separator: "/").last.map(String.init) ?? path
    guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
    return name[name.index(after: dot)...].lowercased()
}
