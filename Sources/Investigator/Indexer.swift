// Turns a video or image file into the embeddings of its sampled frames: from the cache when they are there,
// else by decoding (SampledDecoder) and encoding them, saving the frames done as it goes so that an interrupted
// analysis resumes where it stopped.
import CLIPModel
import Capture
import Classifier
import ClipCamKit
import Foundation
import SafeFiles

/// The embeddings of one file and what it took to get them.
public struct IndexResult: Sendable {
    public var path: String
    public var isImage: Bool
    public var embeddings: FrameEmbeddings
    /// Frames encoded in this run (0: everything came from the cache).
    public var encoded: Int
    /// Frames taken from the cache.
    public var cached: Int
    /// Why a cache file was not used and was rebuilt, if one was there.
    public var rebuilt: String?
}

public enum IndexError: Error, CustomStringConvertible, Equatable {
    /// A signal stopped the analysis; `saved` frames are in the cache for the next run.
    case interrupted(path: String, saved: Int)
    case emptyVideo(path: String)

    public var description: String {
        switch self {
        case .interrupted(let path, let saved):
            return
                "stopped while analysing \(path); \(saved) frames are kept in the cache and the next run resumes there"
        case .emptyVideo(let path):
            return "\(path) has no frame to analyse"
        }
    }
}

/// Indexes files with one engine (owned by the calling thread) and one cache (nil: `--no-cache`).
public final class Indexer {
    public let engine: ClipEngine
    public let cache: EmbeddingCache?
    public let precision: Precision
    /// SHA-256 over the model's config.json and model.safetensors (content hashes).
    public let modelHash: String
    /// Raised (by a signal handler) to stop; the frames done so far are saved.
    public let stopSignal = StopSignal()
    /// Draw a progress bar on standard error while encoding.
    public var showProgress = true
    /// Seconds at least between saves of the frames done while encoding a file (besides the saves at the end and
    /// when stopped). A save rewrites the whole entry, so one also waits for the new frames to be a quarter of those
    /// saved: an hour of every frame then writes about 5 times its entry, not once per interval.
    public var checkpointInterval = 30.0
    /// Frames to encode at most before stopping as if interrupted (for tests of resuming; nil: no limit).
    public var stopAfter: Int?
    /// Messages for the user (a damaged cache file rebuilt).
    public var log: (String) -> Void = { _ in }
    /// Frames encoded by this indexer so far.
    public private(set) var encodedTotal = 0

    public init(engine: ClipEngine, cache: EmbeddingCache?, precision: Precision) throws {
        self.engine = engine
        self.cache = cache
        self.precision = precision
        guard let cache else {
            modelHash = ""  // no cache, no key: nothing is hashed
            return
        }
        let digest = SHA256Digest()
        for file in ["config.json", "model.safetensors"] {
            let path = SystemPath(engine.directory.appendingPathComponent(file).path)
            digest.update("\(file) \(try ContentHash.of(path, memoFolder: cache.hashMemoFolder))\n")
        }
        modelHash = digest.finalHex()
    }

    /// Whether `path` names an image (by its extension) rather than a video.
    public static func isImage(_ path: String) -> Bool {
        let name = String(decoding: SystemPath(path).lastComponent, as: UTF8.self).lowercased()
        guard let dot = name.lastIndex(of: ".") else { return false }
        return ImageSource.imageExtensions.contains(String(name[name.index(after: dot)...]))
    }

    /// The embeddings of `path`'s sampled frames (an image: its one frame at time 0).
    public func index(_ path: String, sampling: Sampling) throws -> IndexResult {
        let image = Self.isImage(path)
        let contentHash = try cache.map { try ContentHash.of(SystemPath(path), memoFolder: $0.hashMemoFolder) } ?? ""
        let key = CacheKey(
            content: contentHash, model: modelHash, sampling: image ? "image" : sampling.description,
            precision: precision.rawValue)
        var resumeFrom: CacheEntry?
        var rebuilt: String?
        if let cache {
            let (entry, damaged) = cache.load(key)
            if let damaged {
                rebuilt = damaged
                log("the cache file for \(path) is damaged (\(damaged)); encoding the file again")
            }
            if let entry {
                if entry.complete {
                    return IndexResult(
                        path: path, isImage: image, embeddings: entry.embeddings, encoded: 0,
                        cached: entry.embeddings.count, rebuilt: nil)
                }
                resumeFrom = entry
            }
        }
        if image {
            let frame = try ImageFile.load(SystemPath(path))
            var embeddings = FrameEmbeddings(dimension: engine.model.configuration.projectionDim, interval: 0)
            embeddings.append(time: 0, frame: 0, embedding: Scoring.l2Normalized(engine.imageEmbedding(frame)))
            encodedTotal += 1
            store(CacheEntry(key: key, videoFPS: 1, complete: true, embeddings: embeddings, sourceName: path))
            return IndexResult(
                path: path, isImage: true, embeddings: embeddings, encoded: 1, cached: 0, rebuilt: rebuilt)
        }
        return try indexVideo(path, key: key, sampling: sampling, resume: resumeFrom, rebuilt: rebuilt)
    }

    private func indexVideo(
        _ path: String, key: CacheKey, sampling: Sampling, resume: CacheEntry?, rebuilt: String?
    ) throws -> IndexResult {
        let info = try VideoInfo.probe(path)
        let dimension = engine.model.configuration.projectionDim
        var embeddings =
            resume?.embeddings
            ?? FrameEmbeddings(dimension: dimension, interval: sampling.interval(videoFPS: info.fps))
        let cached = embeddings.count
        if cached > 0 { log("resuming \(path) after the \(cached) frames in the cache") }
        let decoder = SampledDecoder(
            path: path, sampling: sampling, info: info, startSample: cached, preprocessor: engine.preprocessor,
            interrupt: stopSignal)
        decoder.start()
        defer { decoder.stop() }
        let expected = info.expectedSamples(sampling)
        let bar =
            showProgress ? ProgressBar(label: shortName(path), total: expected.map(Int64.init), unit: .frames) : nil
        var encoded = 0
        var lastSave = MonotonicClock.now()
        var savedCount = embeddings.count
        let save = { (complete: Bool) in
            self.store(
                CacheEntry(key: key, videoFPS: info.fps, complete: complete, embeddings: embeddings, sourceName: path))
        }
        while true {
            if stopSignal.isRaised || stopAfter.map({ encodedTotal >= $0 }) == true {
                bar?.finish(Int64(embeddings.count))
                save(false)
                throw IndexError.interrupted(path: path, saved: embeddings.count)
            }
            let next: SampledFrame?
            do {
                next = try decoder.next()
            } catch {
                save(false)  // what was encoded before ffmpeg failed is kept for the next try
                throw error
            }
            guard let item = next else {
                if stopSignal.isRaised { continue }  // stopped, not the end: saved as incomplete above
                break
            }
            precondition(item.sample == embeddings.count, "samples arrive in order")
            let vector = Scoring.l2Normalized(engine.model.encodeImage(item.pixels!))
            embeddings.append(time: item.time, frame: item.frameNumber, embedding: vector)
            encoded += 1
            encodedTotal += 1
            if let expected, embeddings.count > expected { bar?.setTotal(Int64(embeddings.count)) }
            bar?.update(Int64(embeddings.count))
            if MonotonicClock.now() - lastSave >= checkpointInterval
                && (embeddings.count - savedCount) * 4 >= savedCount
            {
                save(false)
                lastSave = MonotonicClock.now()
                savedCount = embeddings.count
            }
        }
        bar?.setTotal(Int64(embeddings.count))
        bar?.finish(Int64(embeddings.count))
        if embeddings.count == 0 { throw IndexError.emptyVideo(path: path) }
        save(true)
        return IndexResult(
            path: path, isImage: false, embeddings: embeddings, encoded: encoded, cached: cached, rebuilt: rebuilt)
    }

    /// The cache could not be written (told once; the analysis goes on without it).
    private var storeFailed = false

    private func store(_ entry: CacheEntry) {
        guard let cache else { return }
        do {
            try cache.store(entry)
        } catch {
            if !storeFailed { log("warning: the embedding cache is not written: \(error)") }
            storeFailed = true
        }
    }

    private func shortName(_ path: String) -> String {
        let name = String(decoding: SystemPath(path).lastComponent, as: UTF8.self)
        return name.count > 30 ? String(name.prefix(29)) + "…" : name
    }
}
