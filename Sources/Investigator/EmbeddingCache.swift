// Frame embeddings kept on disk between runs, one safetensors file per (file content, model, sampling, precision).
import CLIPModel
import Foundation
import Glibc
import SafeFiles

/// What an embedding cache file is for; its SHA-256 names the file.
public struct CacheKey: Sendable, Equatable {
    /// SHA-256 of the video's or image's bytes.
    public var content: String
    /// SHA-256 over the model's config.json and model.safetensors.
    public var model: String
    /// `Sampling.description`, or "image".
    public var sampling: String
    /// "fp32", "int16", "int8".
    public var precision: String

    public init(content: String, model: String, sampling: String, precision: String) {
        self.content = content
        self.model = model
        self.sampling = sampling
        self.precision = precision
    }

    /// The cache file's name without extension.
    public var name: String {
        SHA256Digest.hex(
            "clipcam-embeddings-\(EmbeddingCache.formatVersion)\n\(content)\n\(model)\n\(sampling)\n\(precision)")
    }
}

/// One cache file's embeddings and what they are.
public struct CacheEntry: Sendable {
    public var key: CacheKey
    /// The source's frame rate (times are recomputed from it and the sampling).
    public var videoFPS: Double
    /// Every sampled frame of the file is there; false: an analysis stopped and will resume after these.
    public var complete: Bool
    public var embeddings: FrameEmbeddings
    /// The file's name when it was cached (for `cache list`; the key is its content).
    public var sourceName: String
}

/// A cache file as `cache list` shows it.
public struct CacheFileInfo: Sendable {
    public var path: String
    public var bytes: Int
    public var lastUsed: Date
    public var sourceName: String?
    public var frames: Int?
    public var complete: Bool?
    public var sampling: String?
    public var precision: String?
}

/// The embedding cache: `$CLIPCAM_CACHE`, else `~/.cache/clipcam/embeddings`.
///
/// Each entry is a safetensors file `<sha256 of the key>.safetensors` holding one F32 tensor `embeddings`
/// [frames, dimension] and metadata: the key's parts, the video's frame rate, whether the entry is complete, the
/// frame count, the source's name, and `checksum`, the SHA-256 of the tensor's bytes. An entry is written to a
/// temporary file in the folder and renamed into place, so a reader sees a whole old file or a whole new one; an
/// entry whose header does not parse, whose metadata does not match its name, or whose checksum does not match is
/// not used (and is replaced by the next write). Using an entry sets its modification time, and after each write
/// the least recently used entries are removed until the folder fits `limit` bytes. `hashes/` remembers content
/// hashes by file identity (see `ContentHash`).
public final class EmbeddingCache: @unchecked Sendable {
    public static let formatVersion = "v1"
    /// 2 GB: an hour of video at 1 frame/s is 7 MB with ViT-B/32's 512 values a frame; every frame of an hour at
    /// 30 frames/s is 221 MB.
    public static let defaultLimit: Int64 = 2_000_000_000

    public let folder: URL
    public let limit: Int64

    public init(folder: URL, limit: Int64 = EmbeddingCache.defaultLimit) {
        self.folder = folder
        self.limit = limit
    }

    /// `$CLIPCAM_CACHE`, else `~/.cache/clipcam/embeddings`.
    public static var defaultFolder: URL {
        if let path = ProcessInfo.processInfo.environment["CLIPCAM_CACHE"], !path.isEmpty {
            return URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/clipcam/embeddings")
    }

    public static let defaultFolderRule = "$CLIPCAM_CACHE, else ~/.cache/clipcam/embeddings"

    public var hashMemoFolder: URL { folder.appendingPathComponent("hashes") }

    public func url(for key: CacheKey) -> URL { folder.appendingPathComponent(key.name + ".safetensors") }

    /// The entry for `key` if there is a sound one; nil when there is none or it is damaged (`damaged` then says
    /// why, for a message).
    public func load(_ key: CacheKey) -> (entry: CacheEntry?, damaged: String?) {
        let url = url(for: key)
        guard FileManager.default.fileExists(atPath: url.path) else { return (nil, nil) }
        do {
            let entry = try Self.read(url, key: key)
            touch(url)
            return (entry, nil)
        } catch {
            return (nil, "\(error)")
        }
    }

    enum ReadError: Error, CustomStringConvertible {
        case mismatch(String)
        var description: String {
            switch self {
            case .mismatch(let what): return what
            }
        }
    }

    static func read(_ url: URL, key: CacheKey) throws -> CacheEntry {
        let file = try SafeTensorsFile(url: url)
        let meta = file.metadata
        guard meta["format"] == "clipcam-embeddings-\(formatVersion)", meta["content"] == key.content,
            meta["model"] == key.model, meta["sampling"] == key.sampling, meta["precision"] == key.precision
        else { throw ReadError.mismatch("its metadata does not match its name") }
        let info = try file.info("embeddings")
        guard info.dtype == .f32, info.shape.count == 2, let count = meta["frames"].flatMap(Int.init),
            info.shape[0] == count, let fps = meta["video_fps"].flatMap(Double.init), fps > 0,
            let interval = meta["interval"].flatMap(Double.init)
        else { throw ReadError.mismatch("its embeddings tensor or frame count is malformed") }
        let bytes = file.bytes(of: info)
        guard SHA256Digest.hex(bytes) == meta["checksum"] else {
            throw ReadError.mismatch("its checksum does not match its contents")
        }
        let dimension = info.shape[1]
        var values = [Float](repeating: 0, count: count * dimension)
        values.withUnsafeMutableBytes { $0.copyMemory(from: bytes) }
        let sampling = Sampling(key.sampling)
        var times: [Double] = []
        var frames: [Int] = []
        for k in 0..<count {
            let sample = sampling?.sample(k, videoFPS: fps) ?? (time: 0, frame: 0)
            times.append(sample.time)
            frames.append(sample.frame)
        }
        return CacheEntry(
            key: key, videoFPS: fps, complete: meta["complete"] == "true",
            embeddings: FrameEmbeddings(
                dimension: dimension, interval: interval, times: times, frames: frames, values: values),
            sourceName: meta["source"] ?? "")
    }

    /// Writes `entry` (beside its final name, then renamed over it), then evicts least recently used entries.
    public func store(_ entry: CacheEntry) throws {
        try makeFolder()
        let final = url(for: entry.key)
        let temporary = folder.appendingPathComponent(
            ".\(entry.key.name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
        let embeddings = entry.embeddings
        let checksum = embeddings.values.withUnsafeBytes { SHA256Digest.hex($0) }
        let metadata = [
            "format": "clipcam-embeddings-\(Self.formatVersion)", "content": entry.key.content,
            "model": entry.key.model, "sampling": entry.key.sampling, "precision": entry.key.precision,
            "frames": String(embeddings.count), "video_fps": String(entry.videoFPS),
            "interval": String(embeddings.interval), "complete": entry.complete ? "true" : "false",
            "checksum": checksum, "source": entry.sourceName,
        ]
        do {
            let writer = try SafeTensorsWriter(
                path: temporary.path,
                declarations: [
                    .init(name: "embeddings", dtype: .f32, shape: [embeddings.count, embeddings.dimension])
                ], metadata: metadata)
            try embeddings.values.withUnsafeBufferPointer { try writer.append($0, as: .f32) }
        } catch {
            unlink(temporary.path)
            throw error
        }
        guard rename(temporary.path, final.path) == 0 else {
            let code = errno
            unlink(temporary.path)
            throw FileWriteError.writeFailed(file: final.path, reason: String(cString: strerror(code)))
        }
        evict(keeping: final)
    }

    /// Creates the cache folder (and its parents) if needed; the error names it.
    func makeFolder() throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder) {
            if isFolder.boolValue { return }
            throw FileWriteError.cannotCreate(file: folder.path, reason: "something that is not a folder is there")
        }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            let reason = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError).map {
                String(cString: strerror(Int32($0.code)))
            }
            throw FileWriteError.cannotCreate(file: folder.path, reason: reason ?? error.localizedDescription)
        }
    }

    /// Marks an entry as just used (its modification time is the LRU clock).
    func touch(_ url: URL) {
        _ = utimensat(AT_FDCWD, url.path, nil, 0)
    }

    /// The entries, least recently used first; `metadata`: also what each holds (each file is opened to read its
    /// header).
    public func entries(metadata: Bool = true) -> [CacheFileInfo] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        var found: [CacheFileInfo] = []
        for name in names where name.hasSuffix(".safetensors") && !name.hasPrefix(".") {
            let url = folder.appendingPathComponent(name)
            var status = stat()
            guard lstat(url.path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { continue }
            let used = Date(
                timeIntervalSince1970: Double(status.st_mtim.tv_sec) + Double(status.st_mtim.tv_nsec) / 1e9)
            var info = CacheFileInfo(path: url.path, bytes: Int(status.st_size), lastUsed: used)
            if metadata, let file = try? SafeTensorsFile(url: url) {
                info.sourceName = file.metadata["source"]
                info.frames = file.metadata["frames"].flatMap(Int.init)
                info.complete = file.metadata["complete"].map { $0 == "true" }
                info.sampling = file.metadata["sampling"]
                info.precision = file.metadata["precision"]
            }
            found.append(info)
        }
        return found.sorted { $0.lastUsed < $1.lastUsed }
    }

    /// Removes least recently used entries (never `keeping`) until the entries total at most `limit` bytes, and
    /// temporary files a killed run left more than a day ago. Returns the removed paths.
    @discardableResult
    public func evict(keeping: URL? = nil) -> [String] {
        var removed: [String] = []
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where name.hasPrefix(".") && name.hasSuffix(".tmp") {
            let path = folder.appendingPathComponent(name).path
            var status = stat()
            if lstat(path, &status) == 0, Double(status.st_mtim.tv_sec) < Date().timeIntervalSince1970 - 86_400 {
                if unlink(path) == 0 { removed.append(path) }
            }
        }
        pruneHashMemo()
        var entries = entries(metadata: false)
        var total = entries.reduce(Int64(0)) { $0 + Int64($1.bytes) }
        while total > limit, let oldest = entries.first {
            entries.removeFirst()
            if oldest.path == keeping?.path { continue }
            if unlink(oldest.path) == 0 {
                removed.append(oldest.path)
                total -= Int64(oldest.bytes)
            }
        }
        return removed
    }

    /// Remembered content hashes kept at most (64 bytes each); the least recently used go first.
    public static let hashMemoLimit = 10_000

    /// Keeps the content-hash memo within `hashMemoLimit` files.
    func pruneHashMemo() {
        let folder = hashMemoFolder
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path),
            names.count > Self.hashMemoLimit
        else { return }
        let dated = names.map { name -> (path: String, time: Int) in
            let path = folder.appendingPathComponent(name).path
            var status = stat()
            return (path, lstat(path, &status) == 0 ? status.st_mtim.tv_sec : 0)
        }
        for old in dated.sorted(by: { $0.time < $1.time }).prefix(names.count - Self.hashMemoLimit) {
            unlink(old.path)
        }
    }

    /// Removes every entry and the remembered content hashes; returns the number of entries and bytes removed.
    public func clear() -> (files: Int, bytes: Int64) {
        var files = 0
        var bytes: Int64 = 0
        for entry in entries(metadata: false) where unlink(entry.path) == 0 {
            files += 1
            bytes += Int64(entry.bytes)
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where name.hasPrefix(".") && name.hasSuffix(".tmp") {
            unlink(folder.appendingPathComponent(name).path)
        }
        try? FileManager.default.removeItem(at: hashMemoFolder)
        return (files, bytes)
    }
}
