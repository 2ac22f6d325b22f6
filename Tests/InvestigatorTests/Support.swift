import Capture
import ClipCamKit
import Foundation
import Testing

/// Paths of the repository, its fixtures and the clipcam executable built beside the test bundle.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Tests/Fixtures")
    static func image(_ name: String) -> String { fixtures.appendingPathComponent("images/\(name)").path }
    static let model = fixtures.appendingPathComponent("models/tiny-quickgelu-f32")

    static var executable: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("clipcam")
    }
}

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to completion, its output going to files (see ClipCamTests' `runProcess` for why not pipes).
func runProcess(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> RunResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let folder = try temporaryFolder("run")
    defer { try? FileManager.default.removeItem(at: folder) }
    let outURL = folder.appendingPathComponent("stdout")
    let errURL = folder.appendingPathComponent("stderr")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let outHandle = try FileHandle(forWritingTo: outURL)
    let errHandle = try FileHandle(forWritingTo: errURL)
    process.standardOutput = outHandle
    process.standardError = errHandle
    try process.run()
    process.waitUntilExit()
    try outHandle.close()
    try errHandle.close()
    return RunResult(
        status: process.terminationStatus, stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
        stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// Runs clipcam with the fixture model and the cache in `cache`.
func clipcam(_ arguments: [String], cache: URL, environment: [String: String] = [:]) throws -> RunResult {
    try runProcess(
        Repo.executable, arguments + ["--model", Repo.model.path],
        environment: environment.merging(["CLIPCAM_CACHE": cache.path]) { a, _ in a })
}

func temporaryFolder(_ name: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipcam-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

func jsonObject(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not JSON: \(text)")
}

/// The two scenes of the test videos: A (a checkerboard) and B (stripes), scaled to 160×120.
enum Scenes {
    static let a = Repo.image("checker-224x224.png")
    static let b = Repo.image("stripes-97x151.png")
    static let fps = 10

    /// A lossless (FFV1) 10 fps video of the given scenes, each (image, seconds) in turn.
    static func video(_ parts: [(String, Int)], name: String, in folder: URL) throws -> String {
        let path = folder.appendingPathComponent(name).path
        var arguments = ["-loglevel", "error", "-y"]
        var filters: [String] = []
        for (i, (image, seconds)) in parts.enumerated() {
            arguments += ["-loop", "1", "-framerate", "\(fps)", "-t", "\(seconds)", "-i", image]
            filters.append("[\(i)]scale=160:120,setsar=1,format=yuv444p[s\(i)]")
        }
        let inputs = parts.indices.map { "[s\($0)]" }.joined()
        let graph = filters.joined(separator: ";") + ";\(inputs)concat=n=\(parts.count):v=1[v]"
        arguments += ["-filter_complex", graph, "-map", "[v]", "-r", "\(fps)", "-c:v", "ffv1", path]
        let result = try runProcess(URL(fileURLWithPath: "/usr/bin/ffmpeg"), arguments)
        try #require(result.status == 0, "ffmpeg failed: \(result.stderr)")
        return path
    }

    /// Every frame of a video as ffmpeg decodes it (the source `run` uses, read as fast as possible).
    static func frames(_ path: String) throws -> [Frame] {
        let source = VideoFileSource(path: path, options: CaptureOptions(fast: true))
        try source.start()
        defer { source.stop() }
        var frames: [Frame] = []
        while let frame = try source.nextFrame() { frames.append(frame) }
        return frames
    }

    /// Of `candidates`, the prompt that most prefers A over B and the one that most prefers B over A (by the
    /// engine's cosines with the two frames), with their cosines; each must prefer its scene by `margin`.
    static func separatingPrompts(
        engine: ClipEngine, frameA: Frame, frameB: Frame, candidates: [String], margin: Float = 0.05
    ) throws -> (a: (text: String, onA: Float, onB: Float), b: (text: String, onA: Float, onB: Float)) {
        let imageA = normalized(engine.imageEmbedding(frameA))
        let imageB = normalized(engine.imageEmbedding(frameB))
        let scored = candidates.map { text -> (text: String, onA: Float, onB: Float) in
            let p = engine.embedPrompt(text).embedding
            return (text, dot(imageA, p), dot(imageB, p))
        }
        let a = scored.max { ($0.onA - $0.onB) < ($1.onA - $1.onB) }!
        let b = scored.max { ($0.onB - $0.onA) < ($1.onB - $1.onA) }!
        try #require(a.onA - a.onB > margin && b.onB - b.onA > margin, "no candidate prompts separate the scenes")
        return (a, b)
    }

    static let candidates = [
        "a photo", "a dog", "red", "stripes", "a cat", "green", "blue sky", "checkerboard", "noise", "white",
        "black", "a person", "a car", "a tree", "water", "a house", "snow", "a face", "the sea", "grass",
    ]
}

func normalized(_ v: [Float]) -> [Float] {
    let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return v.map { $0 / n }
}

func dot(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

/// The fixture model, loaded once per test.
func fixtureEngine() throws -> ClipEngine { try ClipEngine(directory: Repo.model, threads: 1) }
