import Foundation
import Testing

/// The environment that makes clipcam see the simulated driver below the real libv4l2 and libv4lconvert
/// (Tests/FakeV4L2/fake_kernel_v4l2.c, built by scripts/build-fake-v4l2 next to the libv4l2 stand-in), configured
/// by `fake` (FAKE_KERNEL_* without the prefix).
func kernelCameraEnvironment(_ fake: [String: String]) throws -> [String: String] {
    let replacement = try fakeCameraLibrary.get()
    let library = URL(fileURLWithPath: replacement).deletingLastPathComponent()
        .appendingPathComponent("libfakekernelv4l2.so").path
    guard FileManager.default.fileExists(atPath: library) else {
        throw FakeCameraError(description: "scripts/build-fake-v4l2 did not build \(library) (needs libjpeg-dev)")
    }
    var environment = ["LD_PRELOAD": library]
    for (key, value) in fake { environment["FAKE_KERNEL_" + key] = value }
    return environment
}

/// Runs clipcam like `clipcam(_:environment:)`, but kills it (SIGKILL) after `seconds` and records that as the
/// test's failure: a camera that loops for ever must fail its test, not stall the suite.
func clipcamLimited(_ arguments: [String], environment: [String: String] = [:], seconds: Double = 120) throws
    -> RunResult
{
    let executable = Repo.executable
    guard FileManager.default.isExecutableFile(atPath: executable.path) else {
        Issue.record("clipcam is not built at \(executable.path); run `swift build --build-tests` first")
        throw CocoaError(.fileNoSuchFile)
    }
    let folder = try temporaryFolder("camera-run")
    defer { try? FileManager.default.removeItem(at: folder) }
    let outputFile = folder.appendingPathComponent("stdout")
    let errorFile = folder.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
    let outputHandle = try FileHandle(forWritingTo: outputFile)
    let errorHandle = try FileHandle(forWritingTo: errorFile)
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.standardOutput = outputHandle
    process.standardError = errorHandle
    process.standardInput = FileHandle.nullDevice
    let start = Date()
    try process.run()
    while process.isRunning && Date().timeIntervalSince(start) < seconds { usleep(20_000) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        Issue.record("clipcam \(arguments.joined(separator: " ")) did not end within \(seconds) s; killed it")
    }
    process.waitUntilExit()
    try outputHandle.close()
    try errorHandle.close()
    return RunResult(
        status: process.terminationStatus, stdout: String(decoding: try Data(contentsOf: outputFile), as: UTF8.self),
        stderr: String(decoding: try Data(contentsOf: errorFile), as: UTF8.self),
        seconds: Date().timeIntervalSince(start))
}
