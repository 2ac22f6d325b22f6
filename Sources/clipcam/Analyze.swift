import ArgumentParser
import CLIPModel
import Classifier
import ClipCamKit
import Display
import Foundation
import Investigator

struct Analyze: ParsableCommand, RepeatableOptions {
    static let repeatableOptions: Set<String> = ["--prompt"]

    static let configuration = CommandConfiguration(
        abstract: "Score every frame of videos against prompts, headless: per-frame results and segments.",
        discussion: """
            Every frame is looked at (none is dropped) unless --every N or --sample-fps F says otherwise. The \
            frame embeddings are kept in the embedding cache (\(EmbeddingCache.defaultFolderRule)), so a second \
            analysis of the same file with the same model, sampling and precision encodes nothing, whatever the \
            prompts; an interrupted one (Ctrl-C) resumes where it stopped. A segment is a stretch where a \
            prompt's score, averaged over --smooth frames, reaches --threshold for at least --min-length seconds.

            Examples:
              clipcam analyze clip.mp4 --prompt "a dog" --prompt "a cat" --threshold 60
              clipcam analyze clip.mp4 --prompts pets --json > segments.json
              clipcam analyze *.mp4 --prompts pets --sample-fps 2 --csv scores.csv
              clipcam analyze clip.mp4 --prompt "a red car" --raw --threshold 0.27 \\
                  --smooth 5 --min-length 1
            """
    )

    @Argument(help: ArgumentHelp("Video files.", valueName: "video")) var videos: [String] = []
    @OptionGroup var model: ModelOptions
    @Option(
        parsing: .unconditionalSingleValue,
        help: ArgumentHelp("What to look for; give it several times for several prompts.", valueName: "text"))
    var prompt: [String] = []
    @Option(help: ArgumentHelp("A prompt file or the name of a prompt set (e.g. desk).", valueName: "file|name"))
    var prompts: String?
    @OptionGroup var range: RangeOption
    @OptionGroup var segments: SegmentOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(
        help: ArgumentHelp(
            "Write one CSV row per sampled frame (file, frame, time, each prompt's cosine and %), or - for standard "
                + "output.", valueName: "file|-"))
    var csv: String?
    @Option(help: ArgumentHelp("Write one JSON line per sampled frame, or - for standard output.", valueName: "file|-"))
    var jsonl: String?
    @Flag(help: "Print the segments of each prompt in each file as JSON on standard output.") var json = false
    @Option(
        help: ArgumentHelp(
            "Draw the video's plot strip into a PNG file (1600×480): every prompt's line in its colour, the "
                + "threshold, the segments shaded — the drawing of `clipcam investigate`. One video only.",
            valueName: "file.png"))
    var plot: String?
    @OptionGroup var cache: CacheOptions

    func validate() throws {
        try checkNotEmpty([("--prompts", prompts), ("--csv", csv), ("--jsonl", jsonl), ("--plot", plot)])
        if videos.isEmpty { throw ValidationError("give at least one video file") }
        if plot != nil && videos.count > 1 {
            throw ValidationError("--plot draws one video's strip; give one video (or one analyze per video)")
        }
        try checkPromptOptions(prompt: prompt, prompts: prompts)
        do {
            try OutputPaths.checkDistinct(
                outputs: [("--csv", csv), ("--jsonl", jsonl), ("--json", json ? "-" : nil), ("--plot", plot)],
                inputs: videos.map { ("video", $0) } + [("--prompts", prompts.flatMap(PromptFile.path))]
                    + ModelLocation.requiredFiles.map { file in
                        ("--model", (try? model.directory())?.appendingPathComponent(file).path)
                    })
            if let plot { try OutputPaths.checkReplaceable(plot, option: "--plot") }
        } catch let error as OutputPathError {
            throw ValidationError(error.description)
        }
    }

    /// The plot strip's data for a timeline: its plotted values (smoothed; % or, with --raw, cosines), segments and
    /// threshold, over the whole video.
    static func plotData(_ timeline: Timeline) -> PlotData {
        var yRange: ClosedRange<Float> = 0...100
        if timeline.isRaw {
            let values = timeline.values.joined().filter(\.isFinite)
            let low = (values.min() ?? timeline.range.low) - 0.01
            let high = (values.max() ?? timeline.range.high) + 0.01
            yRange = low...max(high, low + 0.02)
        }
        let ranges = timeline.segmentRanges
        let series = timeline.labels.indices.map { index in
            PlotSeries(
                label: timeline.labels[index], values: timeline.values[index],
                segments: ranges[index].map { PlotSegment(start: $0.start, end: $0.end) })
        }
        return PlotData(
            times: timeline.times, series: series, yRange: yRange, unit: timeline.isRaw ? .cosine : .percent,
            duration: (timeline.times.last ?? 0) + timeline.interval, threshold: timeline.threshold)
    }

    func run() throws {
        let texts = uniquePrompts(try prompts.map { try PromptFile.load($0, limit: Run.maxPrompts) } ?? prompt)
        let engine = try model.loadEngine()
        let embedded = engine.embedPromptsWarning(texts).map { (label: $0.text, embedding: $0.embedding) }
        let indexer = try Indexer(engine: engine, cache: try cache.cache(), precision: model.precision)
        indexer.log = { printError("clipcam: " + $0) }
        indexer.stopAfter = debugStopAfter()
        let chosen = sampling.sampling(default: .allFrames)
        var results: [(index: IndexResult, timeline: Timeline)] = []
        try indexing(indexer) {
            for video in videos {
                if Indexer.isImage(video) {
                    printError("error: \(video) is an image; analyze takes videos (search takes both)")
                    throw ExitCode.failure
                }
                let index: IndexResult
                do {
                    index = try indexer.index(video, sampling: chosen)
                } catch let error as IndexError {
                    throw error
                } catch {
                    printError("error: \(error)")
                    throw ExitCode.failure
                }
                let timeline = Timeline(
                    file: video, embeddings: index.embeddings, prompts: embedded, range: range.range,
                    isRaw: segments.raw, threshold: segments.threshold, smooth: segments.smooth,
                    minLength: segments.minLength)
                results.append((index, timeline))
            }
        }
        // Written only now, every file analysed: a failure above leaves the outputs as they were.
        do {
            if let csv { try writeCSV(results.map(\.timeline), to: csv) }
            if let jsonl { try writeJSONL(results.map(\.timeline), to: jsonl) }
            if let plot, let timeline = results.first?.timeline {
                try PlotImage.writePNG(Analyze.plotData(timeline), width: 1600, height: 480, path: plot)
                printError("clipcam: plot \(plot)")
            }
        } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        if json {
            print(analysisJSON(results, sampling: chosen))
        } else {
            printSummary(results)
        }
    }

    private func writeCSV(_ timelines: [Timeline], to path: String) throws {
        let writer = try LineWriter(path: path)
        defer { writer.close() }
        guard let first = timelines.first else { return }
        var header = ["file", "frame", "time"]
        for label in first.labels { header += ["cosine: \(label)", "percent: \(label)"].map(CSVSink.field) }
        try writer.write(line: header.joined(separator: ","))
        for timeline in timelines {
            for i in timeline.times.indices {
                var row = [CSVSink.field(timeline.file), "\(timeline.frames[i])", JSONText.number(timeline.times[i])]
                for p in timeline.labels.indices {
                    let cosine = timeline.cosines[p][i]
                    row += [JSONText.number(cosine), JSONText.number(timeline.percent(cosine))]
                }
                try writer.write(line: row.joined(separator: ","))
            }
        }
    }

    private func writeJSONL(_ timelines: [Timeline], to path: String) throws {
        let writer = try LineWriter(path: path)
        defer { writer.close() }
        for timeline in timelines {
            for i in timeline.times.indices {
                let scores = timeline.labels.indices.map { p in
                    let cosine = timeline.cosines[p][i]
                    return "{\"prompt\":\(JSONText.string(timeline.labels[p])),\"cosine\":\(JSONText.number(cosine)),"
                        + "\"percent\":\(JSONText.number(timeline.percent(cosine)))}"
                }
                try writer.write(
                    line: "{\"file\":\(JSONText.string(timeline.file)),\"frame\":\(timeline.frames[i]),"
                        + "\"time\":\(JSONText.number(timeline.times[i])),\"scores\":[\(scores.joined(separator: ","))]}"
                )
            }
        }
    }

    private func analysisJSON(_ results: [(index: IndexResult, timeline: Timeline)], sampling: Sampling) -> String {
        let files = results.map { index, timeline in
            let perPrompt = timeline.labels.indices.map { p in
                let list = timeline.segments[p].map { segmentJSON($0, timeline: timeline, prompt: p) }
                return
                    "{\"prompt\":\(JSONText.string(timeline.labels[p])),\"segments\":[\(list.joined(separator: ","))]}"
            }
            return "{\"file\":\(JSONText.string(timeline.file)),\"frames\":\(timeline.times.count),"
                + "\"encoded_frames\":\(index.encoded),\"cached_frames\":\(index.cached),"
                + "\"interval\":\(JSONText.number(timeline.interval)),"
                + "\"prompts\":[\(perPrompt.joined(separator: ","))]}"
        }
        let threshold = segments.threshold.map { JSONText.number($0) } ?? "null"
        return "{\"sampling\":\(JSONText.string(sampling.description)),\"raw\":\(segments.raw),"
            + "\"threshold\":\(threshold),\"smooth\":\(segments.smooth),"
            + "\"min_length\":\(JSONText.number(segments.minLength)),"
            + "\"range\":[\(JSONText.number(range.range.low)),\(JSONText.number(range.range.high))],"
            + "\"files\":[\(files.joined(separator: ","))]}"
    }

    private func printSummary(_ results: [(index: IndexResult, timeline: Timeline)]) {
        for (index, timeline) in results {
            let source = index.encoded == 0 ? "all from the cache" : "\(index.encoded) encoded"
            print("\(timeline.file): \(timeline.times.count) frames (\(source))")
            guard segments.threshold != nil else { continue }
            for p in timeline.labels.indices {
                let found = timeline.segments[p]
                print(
                    "  \(timeline.labels[p]): "
                        + (found.isEmpty ? "no segment" : found.count == 1 ? "1 segment" : "\(found.count) segments"))
                for segment in found {
                    print(
                        "    \(clock(segment.start))–\(clock(segment.end))  peak \(clock(segment.peakTime))  "
                            + (segments.raw
                                ? String(format: "cosine %.4f", segment.peakValue)
                                : String(format: "%.1f %%", segment.peakValue)))
                }
            }
        }
        if segments.threshold == nil { printError("clipcam: give --threshold to find segments") }
    }
}

/// A segment as JSON: start, end, peak time, the peak's cosine and scaled % (smoothed).
func segmentJSON(_ segment: Segment, timeline: Timeline, prompt p: Int) -> String {
    let index = timeline.times.firstIndex(of: segment.peakTime) ?? 0
    let cosine = timeline.smoothedCosines[p][index]
    return "{\"start\":\(JSONText.number(segment.start)),\"end\":\(JSONText.number(segment.end)),"
        + "\"peak_time\":\(JSONText.number(segment.peakTime)),\"peak_cosine\":\(JSONText.number(cosine)),"
        + "\"peak_percent\":\(JSONText.number(timeline.percent(cosine)))}"
}

/// CLIPCAM_TEST_STOP_AFTER=N: stop as if interrupted after N encoded frames (the tests of resuming use it).
func debugStopAfter() -> Int? {
    ProcessInfo.processInfo.environment["CLIPCAM_TEST_STOP_AFTER"].flatMap(Int.init)
}
