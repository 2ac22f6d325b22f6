import Capture
import Foundation
import Testing

/// Paths of the repository and of the clipcam executable built beside the test bundle.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Tests/Fixtures")
    static let images = fixtures.appendingPathComponent("images")
    static func model(_ name: String) -> URL { fixtures.appendingPathComponent("models/\(name)") }
    static func reference(_ name: String) -> URL { fixtures.appendingPathComponent("reference/\(name)") }

    /// The `clipcam` executable next to the running test binary (swift build --build-tests builds both).
    static var executable: URL {
        let here = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        return here.appendingPathComponent("clipcam")
    }

    static func imagePaths() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: images.path).filter { $0.hasSuffix(".png") }.sorted()
            .map { images.appendingPathComponent($0).path }
    }
}

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var seconds: Double
}

/// Runs clipcam with `arguments`, the given extra environment (without the `unsetting` variables), and waits
/// for it.
func clipcam(_ arguments: [String], environment: [String: String] = [:], unsetting: [String] = []) throws
    -> RunResult
{
    let exe = Repo.executable
    guard FileManager.default.isExecutableFile(atPath: exe.path) else {
        Issue.record("clipcam is not built at \(exe.path); run `swift build --build-tests` first")
        throw CocoaError(.fileNoSuchFile)
    }
    return try runProcess(exe, arguments, environment: environment, unsetting: unsetting)
}

/// Runs clipcam with arguments given as bytes (file names that are not UTF-8, which Foundation's Process cannot
/// pass), for at most `timeLimit` seconds.
func clipcam(bytes arguments: [[UInt8]], timeLimit: Double = 120) throws -> RunResult {
    let folder = try temporaryFolder("raw")
    defer { try? FileManager.default.removeItem(at: folder) }
    let outURL = folder.appendingPathComponent("stdout")
    let errURL = folder.appendingPathComponent("stderr")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    let start = Date()
    let child = try ChildProcess(
        executable: Repo.executable.path, arguments: arguments, stdout: out.fileDescriptor,
        stderr: err.fileDescriptor)
    try out.close()
    try err.close()
    let termination = child.wait(seconds: timeLimit) ?? child.kill()
    let status: Int32
    switch termination {
    case .exited(let code): status = code
    case .signalled(let signal): status = 128 + signal
    }
    return RunResult(
        status: status, stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
        stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self), seconds: Date().timeIntervalSince(start))
}

/// Runs a program to completion. Its output goes to files, not pipes: a process that another test starts
/// meanwhile could inherit a pipe's write end and hold it open long after this program has exited.
func runProcess(
    _ executable: URL, _ arguments: [String], environment: [String: String] = [:], unsetting: [String] = []
) throws -> RunResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    for name in unsetting { env[name] = nil }
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
    let start = Date()
    try process.run()
    process.waitUntilExit()
    try outHandle.close()
    try errHandle.close()
    return RunResult(
        status: process.terminationStatus, stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
        stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self), seconds: Date().timeIntervalSince(start))
}

/// A fresh temporary folder, removed by the caller.
func temporaryFolder(_ name: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipcam-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// `{"embeddings": [[…]]}` → the vectors.
func parseEmbeddings(_ json: String) throws -> [[Float]] {
    let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
    let rows = try #require(object?["embeddings"] as? [[NSNumber]], "no embeddings in: \(json.prefix(200))")
    return rows.map { $0.map(\.floatValue) }
}
