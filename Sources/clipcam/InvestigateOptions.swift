// Options shared by `analyze` and `search`: which frames are looked at, how segments are found, the cache.
import ArgumentParser
import CLIPModel
import ClipCamKit
import Foundation
import Investigator

struct SamplingOptions: ParsableArguments {
    static let everyRange = 1...100_000
    static let rateRange = 0.001...1000.0

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Look at every Nth frame of a video (\(everyRange.lowerBound)–\(everyRange.upperBound)).",
            valueName: "n"))
    var every: Int?
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Look at this many frames per second of video (0.001–1000), the frame nearest each tick.",
            valueName: "fps"))
    var sampleFps: Double?

    func validate() throws {
        if let every { try check(every, in: Self.everyRange, option: "--every", unit: "frames") }
        if let sampleFps {
            try check(sampleFps, in: Self.rateRange, option: "--sample-fps", unit: "frames per second")
        }
        if every != nil && sampleFps != nil { throw ValidationError("give either --every or --sample-fps, not both") }
    }

    func sampling(default fallback: Sampling) -> Sampling {
        if let every { return .every(every) }
        if let sampleFps { return .rate(sampleFps) }
        return fallback
    }
}

struct SegmentOptions: ParsableArguments {
    static let minLengthRange = 0.0...86_400.0

    @Flag(help: "Scores and --threshold as cosines (-1…1) instead of the scaled 0–100 %.") var raw = false
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "A segment is where a prompt's smoothed score reaches this value: 0–100 (%), or a cosine -1…1 with --raw.",
            valueName: "value"))
    var threshold: Float?
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Average each prompt's cosines over this many sampled frames, centred on each "
                + "(1–\(Run.smoothRange.upperBound)).", valueName: "frames"))
    var smooth = 1
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Drop segments shorter than this (0–86400 seconds).", valueName: "seconds"))
    var minLength = 0.0

    func validate() throws {
        if let threshold {
            if raw {
                try check(threshold, in: -1...1, option: "--threshold", unit: "a cosine, with --raw")
            } else {
                try check(threshold, in: 0...100, option: "--threshold", unit: "a scaled score, %")
            }
        }
        try check(smooth, in: Run.smoothRange, option: "--smooth", unit: "sampled frames")
        try check(minLength, in: Self.minLengthRange, option: "--min-length", unit: "seconds")
    }
}

struct CacheOptions: ParsableArguments {
    static let limitRange: ClosedRange<Int64> = 1_000_000...1_000_000_000_000_000

    @Flag(help: "Neither read nor write the embedding cache (\(EmbeddingCache.defaultFolderRule)).")
    var noCache = false
    @Option(
        help: ArgumentHelp(
            "The cache's size limit, e.g. 500M or 10G (1M–1P; default 2G); the least recently used files go first.",
            valueName: "size"))
    var cacheLimit: String?

    func validate() throws {
        if let cacheLimit {
            let bytes = try Self.parseSize(cacheLimit)
            try check(bytes, in: Self.limitRange, option: "--cache-limit", unit: "bytes")
        }
    }

    /// "2G" → 2,000,000,000; "500M", "1T", "1P", a plain number of bytes.
    static func parseSize(_ text: String) throws -> Int64 {
        let units: [Character: Double] = ["K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15]
        var digits = text.uppercased()
        if digits.hasSuffix("B") { digits.removeLast() }
        var scale = 1.0
        if let last = digits.last, let unit = units[last] {
            scale = unit
            digits.removeLast()
        }
        guard let value = Double(digits), value.isFinite, value >= 0, value * scale < 9e18 else {
            throw ValidationError("--cache-limit takes a size such as 500M or 10G; got '\(text)'")
        }
        return Int64(value * scale)
    }

    /// The cache, or nil with --no-cache.
    func cache() throws -> EmbeddingCache? {
        if noCache { return nil }
        let limit = try cacheLimit.map(Self.parseSize) ?? EmbeddingCache.defaultLimit
        return EmbeddingCache(folder: EmbeddingCache.defaultFolder, limit: limit)
    }
}

/// The prompts of `--prompt` (repeatable) or `--prompts`, checked as `run` checks them.
func checkPromptOptions(prompt: [String], prompts: String?) throws {
    switch (prompt.isEmpty, prompts) {
    case (true, nil): throw ValidationError("give --prompt TEXT (once or more) or --prompts FILE|NAME")
    case (false, .some): throw ValidationError("give either --prompt or --prompts, not both")
    default: break
    }
    for text in prompt where text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
        throw ValidationError("--prompt is empty")
    }
    if prompt.count > Run.maxPrompts { throw ValidationError("at most \(Run.maxPrompts) prompts, not \(prompt.count)") }
}

/// Runs `body` with SIGINT and SIGTERM stopping `indexer` (the frames done are saved); a stopped analysis ends with
/// the shells' status for the signal.
func indexing<Result>(_ indexer: Indexer, _ body: () throws -> Result) throws -> Result {
    let watcher = InterruptWatcher(signalAction: { [stop = indexer.stopSignal] _ in stop.raise() })
    defer { watcher.cancel() }
    do {
        return try body()
    } catch let error as IndexError {
        if case .interrupted = error {
            printError("clipcam: \(error)")
            if let signal = watcher.receivedSignal { throw ExitCode(128 + signal) }
            throw ExitCode.failure
        }
        printError("error: \(error)")
        throw ExitCode.failure
    }
}

/// Seconds as "1:05.0" (minutes, seconds and tenths), or "1:02:05.0".
func clock(_ seconds: Double) -> String {
    let tenths = Int((seconds * 10).rounded())
    let s = tenths / 10
    let text = String(format: "%02d.%d", s % 60, tenths % 10)
    return s >= 3600 ? "\(s / 3600):" + String(format: "%02d", s / 60 % 60) + ":" + text : "\(s / 60):" + text
}
