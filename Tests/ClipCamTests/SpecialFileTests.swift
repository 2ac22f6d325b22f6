import Capture
import Foundation
import Glibc
import Testing

/// Point 6 of "nothing lost, nothing crashes": special files never hang, child processes end with clipcam, file
/// names are bytes.
@Suite struct SpecialFileTests {
    static let model = Repo.model("tiny-quickgelu-f32").path

    @Test func aFIFOAsSourcePromptsOrFontIsRefusedAtOnce() throws {
        let folder = try temporaryFolder("special")
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("stream.mp4").path
        try #require(mkfifo(fifo, 0o644) == 0)
        let base = ["run", "--model", Self.model, "--headless", "--jsonl", "-"]
        let source = try clipcam(base + ["--prompt", "x", "--source", fifo])
        #expect(source.status == 1)
        #expect(source.stderr.contains("\(fifo) is a FIFO (named pipe)"), "\(source.stderr)")
        #expect(source.seconds < 20)

        let prompts = try clipcam(base + ["--prompts", fifo, "--source", "synthetic"])
        #expect(prompts.status == 1)
        #expect(prompts.stderr.contains("\(fifo) is a FIFO (named pipe), not a regular file"), "\(prompts.stderr)")
        #expect(prompts.seconds < 20)

        let font = try clipcam(
            ["run", "--model", Self.model, "--prompt", "x", "--source", "synthetic", "--frames", "1", "--font", fifo],
            environment: ["SDL_VIDEODRIVER": "offscreen"])
        #expect(font.status == 1)
        #expect(font.stderr.contains("\(fifo) is a FIFO (named pipe), not a regular file"), "\(font.stderr)")
        #expect(font.seconds < 20)
    }

    @Test func aDeviceThatIsNotAFileIsNamed() throws {
        let result = try clipcam([
            "run", "--model", Self.model, "--headless", "--jsonl", "-", "--prompts", "/dev/zero",
            "--source", "synthetic",
        ])
        #expect(result.status == 1)
        #expect(result.stderr.contains("/dev/zero is a character device, not a regular file"), "\(result.stderr)")
    }

    /// ffprobe (here a stand-in that never answers) runs in its own process group and dies with clipcam, even when
    /// clipcam is killed outright.
    @Test func aChildDiesWithClipcam() throws {
        let folder = try temporaryFolder("child")
        defer { try? FileManager.default.removeItem(at: folder) }
        let pidFile = folder.appendingPathComponent("ffprobe.pid").path
        let tools = folder.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: tools, withIntermediateDirectories: true)
        let fake = tools.appendingPathComponent("ffprobe")
        try Data("#!/bin/sh\necho $$ > '\(pidFile)'\nexec sleep 1000\n".utf8).write(to: fake)
        try #require(chmod(fake.path, 0o755) == 0)
        let video = folder.appendingPathComponent("clip.mp4")
        try Data("not really a video".utf8).write(to: video)

        let process = Process()
        process.executableURL = Repo.executable
        process.arguments = [
            "run", "--model", Self.model, "--prompt", "x", "--headless", "--jsonl", "-", "--source", video.path,
        ]
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = tools.path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        var child: Int32?
        while Date() < deadline, child == nil {
            child = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap {
                Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            if child == nil { usleep(20_000) }
        }
        let pid = try #require(child, "the fake ffprobe never started")
        #expect(getpgid(pid) == pid, "ffprobe runs in its own process group")
        #expect(getpgid(pid) != getpgid(process.processIdentifier))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(processGone(pid, within: 5), "ffprobe outlived clipcam")
    }

    /// Names that are not UTF-8 reach the kernel as typed: a video source, a prompt file and a results file.
    @Test func fileNamesAreBytes() throws {
        let folder = try temporaryFolder("bytes")
        defer { try? FileManager.default.removeItem(at: folder) }
        let base = Array(folder.path.utf8) + Array("/bad".utf8) + [0xFF]
        let video = try twoSceneVideo(
            first: Repo.images.appendingPathComponent("checker-224x224.png").path,
            second: Repo.images.appendingPathComponent("gradient-320x240.png").path, in: folder)
        let videoBytes = base + Array("name.mp4".utf8)
        let promptBytes = base + Array("prompts.txt".utf8)
        let outputBytes = base + Array("out.jsonl".utf8)
        try #require(rename(bytes: Array(video.path.utf8), to: videoBytes))
        try #require(write(bytes: promptBytes, Array("a checkerboard\na gradient\n".utf8)))

        let result = try clipcam(bytes: [
            Array("run".utf8), Array("--model".utf8), Array(Self.model.utf8), Array("--headless".utf8),
            Array("--frames".utf8), Array("3".utf8), Array("--fast".utf8), Array("--source".utf8), videoBytes,
            Array("--prompts".utf8), promptBytes, Array("--jsonl".utf8), outputBytes,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let written = try #require(read(bytes: outputBytes), "the results file was not made under its name")
        #expect((1...3).contains(try jsonLines(String(decoding: written, as: UTF8.self)).count))

        // A missing one is reported with its bytes shown, not as U+FFFD.
        let missing = try clipcam(bytes: [
            Array("run".utf8), Array("--model".utf8), Array(Self.model.utf8), Array("--headless".utf8),
            Array("--jsonl".utf8), Array("-".utf8), Array("--prompt".utf8), Array("x".utf8),
            Array("--source".utf8), base + Array("missing.mp4".utf8),
        ])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("/bad\\xffmissing.mp4 does not exist"), "\(missing.stderr)")
    }
}

/// Waits up to `seconds` for the process `pid` to be gone.
func processGone(_ pid: Int32, within seconds: Double) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if kill(pid, 0) == -1 && errno == ESRCH { return true }
        usleep(20_000)
    }
    return false
}

private func withCPath<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
    (bytes + [0]).withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
    }
}

func rename(bytes from: [UInt8], to: [UInt8]) -> Bool {
    withCPath(from) { old in withCPath(to) { rename(old, $0) } } == 0
}

func write(bytes path: [UInt8], _ content: [UInt8]) -> Bool {
    let fd = withCPath(path) { open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == content.count
}

func read(bytes path: [UInt8]) -> [UInt8]? {
    let fd = withCPath(path) { open($0, O_RDONLY) }
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if count <= 0 { break }
        out += buffer[0..<count]
    }
    return out
}
