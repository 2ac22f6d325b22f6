import Foundation
import Testing

@testable import Capture

/// The simulated driver below the real libv4l2 (Tests/FakeV4L2/fake_kernel_v4l2.c), built by
/// scripts/build-fake-v4l2 next to the fake that replaces libv4l2.
func kernelFakeLibrary() throws -> String {
    let replacement = try fakeLibrary.get()
    let path = URL(fileURLWithPath: replacement).deletingLastPathComponent()
        .appendingPathComponent("libfakekernelv4l2.so").path
    guard FileManager.default.fileExists(atPath: path) else {
        throw SetupError(description: "scripts/build-fake-v4l2 did not build \(path) (needs libjpeg-dev)")
    }
    return path
}

/// Runs capture-probe with the simulated driver preloaded below libv4l2 and configured by `fake` (FAKE_KERNEL_*
/// without the prefix); see `runLimited`.
func probeKernelCamera(_ arguments: [String], fake: [String: String] = [:]) throws -> ToolResult {
    var environment = ["LD_PRELOAD": try kernelFakeLibrary()]
    for (key, value) in fake { environment["FAKE_KERNEL_" + key] = value }
    return try runLimited(try probePath(), arguments, environment: environment)
}

/// Runs a program to completion like `run`, but kills it (SIGKILL) after `seconds` and records that as the
/// test's failure: a camera that loops for ever must fail its test, not stall the suite.
func runLimited(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:], seconds: Double = 60
) throws -> ToolResult {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let outputFile = folder.appendingPathComponent("stdout")
    let errorFile = folder.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
    let outputHandle = try FileHandle(forWritingTo: outputFile)
    let errorHandle = try FileHandle(forWritingTo: errorFile)
    let child = Process()
    child.executableURL = URL(fileURLWithPath: executable)
    child.arguments = arguments
    child.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    child.standardOutput = outputHandle
    child.standardError = errorHandle
    child.standardInput = FileHandle.nullDevice
    try child.run()
    let deadline = Date().addingTimeInterval(seconds)
    while child.isRunning && Date() < deadline { usleep(20_000) }
    if child.isRunning {
        kill(child.processIdentifier, SIGKILL)
        Issue.record("\(executable) \(arguments.joined(separator: " ")) did not end within \(seconds) s; killed it")
    }
    child.waitUntilExit()
    try outputHandle.close()
    try errorHandle.close()
    return ToolResult(
        status: child.terminationStatus,
        output: String(decoding: (try? Data(contentsOf: outputFile)) ?? Data(), as: UTF8.self),
        error: (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "")
}

/// Frames capture-probe saved with `--save`: packed BGR, in the order received.
func savedFrames(in folder: URL, count: Int, width: Int, height: Int) throws -> [Frame] {
    try (0..<count).map { position in
        let url = folder.appendingPathComponent("frame-\(position).bgr")
        let bytes = [UInt8](try Data(contentsOf: url))
        try #require(
            bytes.count == width * height * 3, "\(url.path) holds \(bytes.count) bytes, not \(width)x\(height)")
        return Frame(index: position, timestamp: 0, width: width, height: height, bgr: bytes)
    }
}

// MARK: YUYV

/// The YUYV frame the simulated driver draws (mirror of yuyv_sample in fake_kernel_v4l2.c): Y, U, V per pixel.
func kernelFakeYUYV(counter: UInt64, x: Int, y: Int, width: Int) -> (y: UInt8, u: UInt8, v: UInt8) {
    let bars: [(UInt8, UInt8)] = [
        (128, 128), (16, 146), (166, 16), (54, 34), (202, 222), (90, 240), (240, 110), (0, 255),
    ]
    if y == 0 {
        return (x < 8 ? UInt8(truncatingIfNeeded: counter >> (8 * UInt64(x))) : 0, 128, 128)
    }
    let pair = UInt64(x & ~1)
    let bar = Int((pair &+ 4 &* counter) &* 8 / UInt64(width) % 8)
    let luma = UInt8(truncatingIfNeeded: UInt64(x) &+ 2 &* UInt64(y) &+ 3 &* counter)
    return (luma, bars[bar].0, bars[bar].1)
}

/// libv4lconvert's YUYV → BGR24, as its source (lib/libv4lconvert/rgbyuv.c, v4l-utils 1.22) defines it: the luma
/// is used as it is — no studio-range (16–235) expansion as BT.601 would do — and the chroma terms are fixed-point
/// approximations rounded towards minus infinity: B = Y + ⌊129·(U−128)/64⌋, G = Y − ⌊(3·(U−128) + 6·(V−128))/8⌋,
/// R = Y + ⌊3·(V−128)/2⌋, each clamped to 0…255.
func libv4lconvertBGR(y: UInt8, u: UInt8, v: UInt8) -> (UInt8, UInt8, UInt8) {
    func floorDivision(_ numerator: Int, _ denominator: Int) -> Int {
        let quotient = numerator / denominator
        return numerator % denominator < 0 ? quotient - 1 : quotient
    }
    func clamp(_ value: Int) -> UInt8 { UInt8(max(0, min(255, value))) }
    let cb = Int(u) - 128
    let cr = Int(v) - 128
    let luma = Int(y)
    return (
        clamp(luma + floorDivision(129 * cb, 64)), clamp(luma - floorDivision(3 * cb + 6 * cr, 8)),
        clamp(luma + floorDivision(3 * cr, 2))
    )
}

/// The BGR frame clipcam must receive for YUYV frame `counter` of the simulated driver.
func expectedYUYVFrame(counter: UInt64, width: Int, height: Int) -> [UInt8] {
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        for x in 0..<width {
            let sample = kernelFakeYUYV(counter: counter, x: x, y: y, width: width)
            let (blue, green, red) = libv4lconvertBGR(y: sample.y, u: sample.u, v: sample.v)
            let offset = (y * width + x) * 3
            pixels[offset] = blue
            pixels[offset + 1] = green
            pixels[offset + 2] = red
        }
    }
    return pixels
}

/// The counter of a converted YUYV frame: row 0 is grey, its first 8 pixels' luma the counter's bytes.
func yuyvCounter(of frame: Frame) -> UInt64 {
    (0..<8).reduce(UInt64(0)) { $0 | UInt64(frame.bgr[3 * $1]) << (8 * UInt64($1)) }
}

/// Where two frames first differ, for a failure message; nil when equal.
func firstDifference(_ actual: [UInt8], _ expected: [UInt8], width: Int) -> String? {
    guard actual.count == expected.count else { return "\(actual.count) bytes, expected \(expected.count)" }
    guard let offset = actual.indices.first(where: { actual[$0] != expected[$0] }) else { return nil }
    let pixel = offset / 3
    let start = pixel * 3
    return "pixel (\(pixel % width), \(pixel / width)) is BGR \(Array(actual[start..<start + 3])), expected "
        + "\(Array(expected[start..<start + 3]))"
}

// MARK: MJPEG

/// The counter the simulated driver drew into an MJPEG frame: 12 black or white 16×16 blocks along the top.
func mjpegCounter(of frame: Frame) -> UInt64 {
    (0..<12).reduce(UInt64(0)) { counter, bit in
        let green = frame.bgr[(8 * frame.width + 16 * bit + 8) * 3 + 1]
        return green > 128 ? counter | 1 << UInt64(bit) : counter
    }
}

/// A JPEG decoded by ffmpeg's own MJPEG decoder (not libjpeg, which libv4lconvert uses) to packed BGR.
func ffmpegDecode(_ jpeg: URL, width: Int, height: Int) throws -> [UInt8] {
    guard let ffmpeg = try? findTool("ffmpeg") else {
        throw SetupError(description: "ffmpeg decodes the reference MJPEG frames: sudo apt-get install ffmpeg")
    }
    let output = jpeg.deletingPathExtension().appendingPathExtension("ffmpeg.bgr")
    let result = try run(
        ffmpeg, ["-v", "error", "-y", "-i", jpeg.path, "-f", "rawvideo", "-pix_fmt", "bgr24", output.path])
    guard result.status == 0 else {
        throw SetupError(description: "ffmpeg cannot decode \(jpeg.path): \(result.error)")
    }
    let bytes = [UInt8](try Data(contentsOf: output))
    guard bytes.count == width * height * 3 else {
        throw SetupError(description: "ffmpeg decoded \(jpeg.path) to \(bytes.count) bytes, not \(width)x\(height)")
    }
    return bytes
}

/// Largest and mean absolute difference of two equally long byte arrays.
func differences(_ a: [UInt8], _ b: [UInt8]) -> (max: Int, mean: Double) {
    var largest = 0
    var total = 0
    for (x, y) in zip(a, b) {
        let difference = abs(Int(x) - Int(y))
        largest = max(largest, difference)
        total += difference
    }
    return (largest, Double(total) / Double(max(a.count, 1)))
}
