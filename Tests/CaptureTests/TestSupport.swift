import Foundation
import Testing

@testable import Capture

/// The package root, found from this file's location.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The folder holding the built products of this test run (the test bundle sits in it).
let productsFolder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    .deletingLastPathComponent()

struct ToolResult {
    var status: Int32
    var output: String
    var error: String

    /// The standard output lines parsed as JSON objects.
    var lines: [[String: Any]] {
        output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}

/// Runs a program to completion with extra environment variables.
func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> ToolResult {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: executable)
    child.arguments = arguments
    child.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("clipcam-test-\(UUID()).err")
    _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
    let errorHandle = try FileHandle(forWritingTo: errorFile)
    defer { try? FileManager.default.removeItem(at: errorFile) }
    // Output goes to files, not a pipe: a process another test starts meanwhile could inherit the pipe's
    // write end and keep it open after this child has exited.
    let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("clipcam-test-\(UUID()).out")
    _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
    let outputHandle = try FileHandle(forWritingTo: outputFile)
    defer { try? FileManager.default.removeItem(at: outputFile) }
    child.standardOutput = outputHandle
    child.standardError = errorHandle
    child.standardInput = FileHandle.nullDevice
    try child.run()
    child.waitUntilExit()
    try errorHandle.close()
    try outputHandle.close()
    let data = (try? Data(contentsOf: outputFile)) ?? Data()
    let errorText = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
    return ToolResult(
        status: child.terminationStatus, output: String(decoding: data, as: UTF8.self),
        error: errorText)
}

/// Builds the fake camera library once per test process (scripts/build-fake-v4l2), or records why it failed.
let fakeLibrary: Result<String, FakeBuildError> = {
    let output = packageRoot.appendingPathComponent(".build/fake-v4l2")
    let script = packageRoot.appendingPathComponent("scripts/build-fake-v4l2").path
    do {
        let result = try run("/bin/sh", [script, output.path])
        guard result.status == 0 else {
            return .failure(FakeBuildError(message: "scripts/build-fake-v4l2 failed:\n\(result.error)"))
        }
        return .success(output.appendingPathComponent("libfakev4l2.so").path)
    } catch {
        return .failure(FakeBuildError(message: "cannot run scripts/build-fake-v4l2: \(error)"))
    }
}()

struct FakeBuildError: Error, CustomStringConvertible {
    var message: String
    var description: String { message + "\n(needs a C compiler: sudo apt-get install gcc)" }
}

/// A test prerequisite that is missing or broken, with what to do about it.
struct SetupError: Error, CustomStringConvertible {
    var description: String
}

/// The capture-probe executable built alongside the tests.
func probePath() throws -> String {
    let path = productsFolder.appendingPathComponent("capture-probe").path
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw SetupError(
            description: "capture-probe is not built at \(path); run `swift build --build-tests` "
                + "before the tests")
    }
    return path
}

/// Runs capture-probe with the fake camera preloaded and configured by `fake` (FAKE_V4L2_* without prefix).
func probeFakeCamera(_ arguments: [String], fake: [String: String] = [:]) throws -> ToolResult {
    let library = try fakeLibrary.get()
    var environment = ["LD_PRELOAD": library]
    for (key, value) in fake { environment["FAKE_V4L2_" + key] = value }
    return try run(try probePath(), arguments, environment: environment)
}

/// A fresh empty folder under the temporary directory.
func temporaryFolder() throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("clipcam-capture-\(UUID())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}

/// FNV-1a over bytes, as capture-probe prints it.
func fnv1a(_ bytes: [UInt8]) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
    }
    return String(hash, radix: 16)
}

/// The packed BGR pixels the fake camera draws for frame `counter` (mirror of fake_pixel in fake_v4l2.c).
func fakeFramePixels(counter: UInt64, width: Int, height: Int) -> [UInt8] {
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        for x in 0..<width {
            let offset = (y * width + x) * 3
            pixels[offset] = UInt8(truncatingIfNeeded: UInt64(x) &+ counter)
            pixels[offset + 1] = UInt8(truncatingIfNeeded: UInt64(y) &+ 2 &* counter)
            let bar: UInt64 = UInt64(x / 16) == counter % 40 ? 128 : 0
            pixels[offset + 2] = UInt8(truncatingIfNeeded: UInt64(x ^ y) &+ bar)
        }
    }
    for byte in 0..<8 { pixels[byte] = UInt8(truncatingIfNeeded: counter >> (8 * UInt64(byte))) }
    return pixels
}

/// The little-endian counter in a frame's first 8 bytes.
func counter(of frame: Frame) -> UInt64 {
    frame.bgr.prefix(8).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
}

/// A solid-colour frame.
func solidFrame(width: Int, height: Int, bgr: (UInt8, UInt8, UInt8), index: Int = 0) -> Frame {
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for offset in stride(from: 0, to: pixels.count, by: 3) {
        pixels[offset] = bgr.0
        pixels[offset + 1] = bgr.1
        pixels[offset + 2] = bgr.2
    }
    return Frame(index: index, timestamp: 0, width: width, height: height, bgr: pixels)
}

/// Writes a frame as an uncompressed 24-bit BMP (bottom-up rows padded to 4 bytes).
func writeBMP(_ frame: Frame, to url: URL) throws {
    let rowBytes = (frame.width * 3 + 3) / 4 * 4
    let imageSize = rowBytes * frame.height
    var data = Data()
    func put16(_ value: Int) { data.append(contentsOf: [UInt8(value & 255), UInt8(value >> 8 & 255)]) }
    func put32(_ value: Int) { for shift in [0, 8, 16, 24] { data.append(UInt8(value >> shift & 255)) } }
    data.append(contentsOf: Array("BM".utf8))
    put32(54 + imageSize)
    put32(0)
    put32(54)
    put32(40)
    put32(frame.width)
    put32(frame.height)
    put16(1)
    put16(24)
    put32(0)
    put32(imageSize)
    put32(2835)
    put32(2835)
    put32(0)
    put32(0)
    for row in (0..<frame.height).reversed() {
        let start = row * frame.width * 3
        data.append(contentsOf: frame.bgr[start..<(start + frame.width * 3)])
        data.append(contentsOf: [UInt8](repeating: 0, count: rowBytes - frame.width * 3))
    }
    try data.write(to: url)
}

/// Makes a short test video with ffmpeg; fails the test with instructions when ffmpeg is missing.
/// `rate` (e.g. "1/5") overrides `fps` for rates below one frame a second.
func makeTestVideo(
    in folder: URL, frames: Int, width: Int, height: Int, fps: Int, rate: String? = nil, name: String = "clip.mkv"
) throws -> URL {
    guard let ffmpeg = try? findTool("ffmpeg") else {
        throw SetupError(description: "ffmpeg is needed for the video source tests: sudo apt-get install ffmpeg")
    }
    let url = folder.appendingPathComponent(name)
    let result = try run(
        ffmpeg,
        [
            "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=\(width)x\(height):rate=\(rate ?? String(fps))",
            "-frames:v", "\(frames)", "-c:v", "ffv1", "-pix_fmt", "bgr0", "-f", "matroska", url.path,
        ])
    guard result.status == 0 else {
        throw SetupError(description: "ffmpeg could not make the test video: \(result.error)")
    }
    return url
}
