import ArgumentParser
import CLIPModel
import Classifier
import ClipCamKit
import Foundation
import Investigator
import SafeFiles

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find the moments of videos and images that best match a description, across many files.",
        discussion: """
            Folders are searched recursively for videos and images (by extension). The first search of a file \
            encodes it (a video at 1 frame/s unless --every or --sample-fps says otherwise) and keeps its \
            embeddings in the cache (\(EmbeddingCache.defaultFolderRule)); later searches cost the query's text \
            encoding and a scan. A moment is a stretch where the query's score reaches --threshold (default \
            \(SearchCommand.defaultThreshold) %; with --raw and no --threshold, each file's best frame, its whole \
            length being one moment); moments are ranked by their peak.

            Examples:
              clipcam search "a red car" ~/Videos
              clipcam search "a company logo" ads/ --top 5 --thumbnails thumbs --json
              clipcam search "a dog on a sofa" clip.mp4 photos/ --raw --threshold 0.26
            """
    )

    static let defaultThreshold: Float = 50
    static let topRange = 1...100_000

    @Argument(help: ArgumentHelp("What to look for, e.g. \"a red car\".", valueName: "query")) var query: String
    @Argument(help: ArgumentHelp("Video and image files, and folders of them.", valueName: "path"))
    var paths: [String] = []
    @OptionGroup var model: ModelOptions
    @OptionGroup var range: RangeOption
    @OptionGroup var segments: SegmentOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Show the best K moments (\(topRange.lowerBound)–\(topRange.upperBound); default 10).",
            valueName: "k"))
    var top = 10
    @Flag(help: "Print the moments as JSON.") var json = false
    @Option(
        help: ArgumentHelp("Write each moment's peak frame as a PNG file into this folder.", valueName: "dir"))
    var thumbnails: String?
    @OptionGroup var cache: CacheOptions

    func validate() throws {
        try checkNotEmpty([("--thumbnails", thumbnails)])
        if query.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw ValidationError("the query is empty") }
        if paths.isEmpty { throw ValidationError("give at least one file or folder to search") }
        try check(top, in: Self.topRange, option: "--top", unit: "moments")
        if let thumbnails, FileKind.of(SystemPath(thumbnails)) != .directory {
            throw ValidationError("--thumbnails \(thumbnails) is not an existing folder")
        }
    }

    func run() throws {
        let files: [String]
        do {
            files = try Search.files(paths)
        } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        let engine = try model.loadEngine()
        let text = engine.embedPromptsWarning([query])[0]
        let indexer = try Indexer(engine: engine, cache: try cache.cache(), precision: model.precision)
        indexer.log = { printError("clipcam: " + $0) }
        indexer.stopAfter = debugStopAfter()
        let chosen = sampling.sampling(default: .rate(1))
        let threshold = segments.threshold ?? (segments.raw ? nil : Self.defaultThreshold)
        var timelines: [Timeline] = []
        var encoded = 0
        var images = Set<String>()
        try indexing(indexer) {
            for file in files {
                let index: IndexResult
                do {
                    index = try indexer.index(file, sampling: chosen)
                } catch let error as IndexError {
                    if case .interrupted = error { throw error }
                    printError("warning: skipping \(file): \(error)")
                    continue
                } catch {
                    printError("warning: skipping \(file): \(error)")
                    continue
                }
                encoded += index.encoded
                if index.isImage { images.insert(file) }
                timelines.append(
                    Timeline(
                        file: file, embeddings: index.embeddings, prompts: [(query, text.embedding)],
                        range: range.range, isRaw: segments.raw, threshold: threshold ?? -2, smooth: segments.smooth,
                        minLength: index.isImage ? 0 : segments.minLength))
            }
        }
        let moments = Search.rank(timelines, isImage: { images.contains($0) }, top: top)
        var thumbnailPaths: [String?] = Array(repeating: nil, count: moments.count)
        if let thumbnails {
            for (rank, moment) in moments.enumerated() {
                let base = String(decoding: SystemPath(moment.file).lastComponent, as: UTF8.self)
                let name = "\(rank + 1)-\(base)-\(String(format: "%.2f", moment.segment.peakTime))s.png"
                let path = (thumbnails as NSString).appendingPathComponent(name)
                do {
                    try Search.writeThumbnail(try Search.frame(of: moment.file, at: moment.segment.peakTime), to: path)
                    thumbnailPaths[rank] = path
                } catch {
                    printError(
                        "warning: no thumbnail for \(moment.file) at \(clock(moment.segment.peakTime)): \(error)")
                }
            }
        }
        if json {
            let rows = moments.enumerated().map { rank, m in
                "{\"rank\":\(rank + 1),\"file\":\(JSONText.string(m.file)),\"image\":\(m.isImage),"
                    + "\"start\":\(JSONText.number(m.segment.start)),\"end\":\(JSONText.number(m.segment.end)),"
                    + "\"peak_time\":\(JSONText.number(m.segment.peakTime)),"
                    + "\"peak_cosine\":\(JSONText.number(m.peakCosine)),"
                    + "\"peak_percent\":\(JSONText.number(m.peakPercent))"
                    + (thumbnailPaths[rank].map { ",\"thumbnail\":\(JSONText.string($0))" } ?? "") + "}"
            }
            print(
                "{\"query\":\(JSONText.string(query)),\"files\":\(timelines.count),\"encoded_frames\":\(encoded),"
                    + "\"moments\":[\(rows.joined(separator: ","))]}")
        } else if moments.isEmpty {
            print(
                "no moment reaches the threshold in \(timelines.count) \(timelines.count == 1 ? "file" : "files"); "
                    + "try a lower --threshold")
        } else {
            for (rank, m) in moments.enumerated() {
                let when =
                    m.isImage
                    ? "image" : "\(clock(m.segment.start))–\(clock(m.segment.end))  peak \(clock(m.segment.peakTime))"
                print(
                    "\(rank + 1). \(m.file)  \(when)  \(String(format: "%.1f %%", m.peakPercent))  "
                        + String(format: "(cosine %.4f)", m.peakCosine)
                        + (thumbnailPaths[rank].map { "  \($0)" } ?? ""))
            }
        }
    }
}
