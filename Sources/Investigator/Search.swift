// Search across files: the moments of a library of videos and images that best match one query.
import Capture
import Foundation
import Glibc
import SafeFiles

/// One matching stretch of one file.
public struct Moment: Sendable {
    public var file: String
    public var isImage: Bool
    public var segment: Segment
    /// The (smoothed) cosine at the peak.
    public var peakCosine: Float
    /// The scaled score at the peak.
    public var peakPercent: Float
}

public enum SearchError: Error, CustomStringConvertible, Equatable {
    case notFound(path: String)
    case nothingToSearch(path: String)
    case unreadableFolder(path: String, reason: String)

    public var description: String {
        switch self {
        case .notFound(let path): return "\(path) does not exist"
        case .nothingToSearch(let path):
            return "\(path) holds no video or image file (by extension: video "
                + FrameSources.videoExtensions.sorted().joined(separator: ", ") + "; image "
                + ImageSource.imageExtensions.sorted().joined(separator: ", ") + ")"
        case .unreadableFolder(let path, let reason): return "cannot list the folder \(path): \(reason)"
        }
    }
}

public enum Search {
    /// The files `paths` name: files as given, folders searched recursively for videos and images (by extension,
    /// hidden names skipped, in natural order), each file once.
    public static func files(_ paths: [String]) throws -> [String] {
        var found: [String] = []
        var seen = Set<String>()
        for path in paths {
            switch FileKind.of(SystemPath(path)) {
            case .missing: throw SearchError.notFound(path: path)
            case .directory:
                let inside = try walk(path)
                if inside.isEmpty { throw SearchError.nothingToSearch(path: path) }
                for file in inside where seen.insert(file).inserted { found.append(file) }
            default:
                if seen.insert(path).inserted { found.append(path) }
            }
        }
        return found
    }

    static func isMedia(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: ".") else { return false }
        let ext = name[name.index(after: dot)...].lowercased()
        return FrameSources.videoExtensions.contains(ext) || ImageSource.imageExtensions.contains(ext)
    }

    private static func walk(_ folder: String) throws -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw SearchError.unreadableFolder(path: folder, reason: error.localizedDescription)
        }
        var files: [String] = []
        for name in names.sorted(by: naturalOrder) where !name.hasPrefix(".") {
            let path = folder.hasSuffix("/") ? folder + name : folder + "/" + name
            switch FileKind.of(SystemPath(path)) {
            case .directory: files += try walk(path)
            case .regular where isMedia(name): files.append(path)
            default: break
            }
        }
        return files
    }

    /// Every segment of every timeline's first prompt, best peak first (ties: earlier file, earlier time),
    /// at most `top`.
    public static func rank(_ timelines: [Timeline], isImage: (String) -> Bool, top: Int) -> [Moment] {
        var moments: [(order: Int, moment: Moment)] = []
        for (order, timeline) in timelines.enumerated() {
            guard let segments = timeline.segments.first else { continue }
            for segment in segments {
                let index = timeline.times.firstIndex(of: segment.peakTime) ?? 0
                let cosine = timeline.smoothedCosines[0][index]
                moments.append(
                    (
                        order,
                        Moment(
                            file: timeline.file, isImage: isImage(timeline.file), segment: segment,
                            peakCosine: cosine, peakPercent: timeline.percent(cosine))
                    ))
            }
        }
        moments.sort { a, b in
            if a.moment.peakCosine != b.moment.peakCosine { return a.moment.peakCosine > b.moment.peakCosine }
            if a.order != b.order { return a.order < b.order }
            return a.moment.segment.start < b.moment.segment.start
        }
        return moments.prefix(top).map(\.moment)
    }

    /// The frame of `file` at `time` (an image: the image itself), decoded as the analysis decoded it.
    public static func frame(of file: String, at time: Double) throws -> Frame {
        if Indexer.isImage(file) { return try ImageFile.load(SystemPath(file)) }
        let info = try VideoInfo.probe(file)
        let decoder = SampledDecoder(
            path: file, sampling: .every(1), info: info, startSample: max(0, Int((time * info.fps).rounded())),
            capacity: 1)
        decoder.start()
        defer { decoder.stop() }
        guard let frame = try decoder.next()?.frame else { throw IndexError.emptyVideo(path: file) }
        return frame
    }

    /// Writes `frame` as a PNG at `path`: beside it first, then renamed into place, never over a file that is
    /// there (`RenameError.destinationExists`: it is left as it is).
    public static func writeThumbnail(_ frame: Frame, to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let temporary = (folder.isEmpty ? "." : folder) + "/.\(name).\(getpid()).tmp.png"
        do {
            try ImageFile.writePNG(frame, to: temporary)
            try AtomicRename.withoutReplacing(from: SystemPath(temporary), to: SystemPath(path))
        } catch {
            unlink(temporary)
            throw error
        }
    }
}
