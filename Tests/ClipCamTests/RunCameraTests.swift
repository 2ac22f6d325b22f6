import Foundation
import Testing

/// `clipcam run` on the simulated camera (Tests/FakeV4L2 preloaded into clipcam).
@Suite struct RunCameraTests {
    private let model = Repo.model("tiny-quickgelu-f32").path
    private let device = "/dev/video7"

    private func run(_ extra: [String], fake: [String: String]) throws -> RunResult {
        try clipcam(
            ["run", "--model", model, "--prompt", "a coffee cup", "--source", device, "--headless", "--jsonl", "-"]
                + extra,
            environment: try fakeCameraEnvironment(
                ["DEVICE": device, "SIZES": "64x48", "FPS": "100"].merging(fake) {
                    $1
                }))
    }

    @Test func grantedFormatIsReportedAndFramesAreScored() throws {
        let result = try run(
            ["--frames", "10", "--size", "160x120", "--fps", "30"],
            fake: [
                "SIZES": "320x240,160x120", "FPS": "60,30",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stderr.contains("source: camera /dev/video7 (Fake Camera), 160x120 @ 30 fps"), "\(result.stderr)")
        let lines = try jsonLines(result.stdout)
        #expect(!lines.isEmpty && lines.count <= 10)
        #expect(result.stderr.contains("10 frames captured, \(lines.count) encoded"), "\(result.stderr)")
    }

    @Test func unplugEndsTheRunWithAMessageNamingTheDevice() throws {
        let result = try run(["--frames", "50"], fake: ["UNPLUG_AFTER": "5"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("error: /dev/video7 was unplugged"), "\(result.stderr)")
        let lines = try jsonLines(result.stdout)
        let frames = lines.compactMap { $0["frame"] as? Int }
        #expect(!frames.isEmpty && frames.allSatisfy { $0 < 5 }, "frames \(frames)")
    }

    /// In the window, the unplug message is shown as the banner, and `--screenshot` saves the window as it was.
    @Test func screenshotKeepsTheUnplugBanner() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("clipcam-unplug-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let png = folder.appendingPathComponent("unplugged.png")
        let result = try clipcam(
            [
                "run", "--model", model, "--prompt", "a coffee cup", "--source", device, "--frames", "50",
                "--screenshot", png.path, "--window-size", "640x360",
            ],
            environment: try fakeCameraEnvironment([
                "DEVICE": device, "SIZES": "64x48", "FPS": "100", "UNPLUG_AFTER": "5",
            ])
            .merging(["SDL_VIDEODRIVER": "offscreen"]) { $1 })
        #expect(result.status == 1, "\(result.stderr)")
        let logged = try #require(
            result.stderr.split(separator: "\n").first { $0.contains("screenshot \(png.path): ") }, "\(result.stderr)")
        #expect(logged.contains("banner=\"/dev/video7 was unplugged"), "\(logged)")
        let saved = try ScreenshotPixels(path: png.path)
        #expect(saved.width == 640 && saved.height == 360)
    }

    @Test func reconnectWaitsForTheCameraAndCarriesOn() throws {
        let result = try run(["--frames", "12", "--reconnect"], fake: ["UNPLUG_AFTER": "4", "REPLUG_MS": "300"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("/dev/video7 disappeared; waiting for it to return"), "\(result.stderr)")
        #expect(result.stderr.contains("/dev/video7 is back"), "\(result.stderr)")
        #expect(result.stderr.contains("12 frames captured"), "\(result.stderr)")
        let frames = try jsonLines(result.stdout).compactMap { $0["frame"] as? Int }
        #expect(frames.contains { $0 >= 4 }, "no frame after the camera came back: \(frames)")
    }

    @Test func busyCameraIsNamed() throws {
        let result = try run([], fake: ["BUSY": "1"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("error: /dev/video7 is busy"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func missingCameraIsNamed() throws {
        let result = try run([], fake: ["DEVICE": "/dev/video3"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("error: /dev/video7 does not exist"), "\(result.stderr)")
    }

    // MARK: through the real libv4l2 and libv4lconvert

    private func runOnKernelCamera(_ arguments: [String], fake: [String: String]) throws -> RunResult {
        try clipcamLimited(
            ["run", "--model", model, "--prompt", "a coffee cup", "--headless", "--jsonl", "-"] + arguments,
            environment: try kernelCameraEnvironment(fake))
    }

    /// A size and a rate the camera does not offer: clipcam says what was asked and what was granted.
    @Test func askedAndGrantedAreReported() throws {
        let result = try runOnKernelCamera(
            ["--source", "/dev/video0", "--size", "160x120", "--fps", "15", "--frames", "3"],
            fake: ["FORMATS": "YUYV:640x480", "FPS": "30"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stderr.contains(
                "clipcam: camera /dev/video0: asked 160x120 @ 15 fps, got 640x480 @ 30 fps (sent as YUYV; the camera "
                    + "offers YUYV 640x480 @ 30 fps)\n"),
            "\(result.stderr)")
        #expect(
            result.stderr.contains("clipcam: source: camera /dev/video0 (Fake UVC Camera), 640x480 @ 30 fps"),
            "\(result.stderr)")
    }

    /// Undecodable MJPEG with --reconnect: the run ends with the decode error after a bounded number of reopenings,
    /// in seconds, and never calls the camera unplugged.
    @Test func undecodableMJPEGEndsTheRunWithADecodeError() throws {
        let result = try runOnKernelCamera(
            ["--source", "/dev/video0", "--reconnect", "--frames", "20"],
            fake: ["FORMATS": "MJPG:640x480", "MJPEG": "wrong-size"])
        #expect(result.status == 1)
        #expect(try jsonLines(result.stdout).isEmpty)
        #expect(result.stderr.contains("reopening it (3 of 3 times without a frame)"), "\(result.stderr)")
        #expect(!result.stderr.contains("(4 of 3"), "\(result.stderr)")
        #expect(!result.stderr.contains("disappeared"), "\(result.stderr)")
        let last = try #require(result.stderr.split(separator: "\n").last)
        #expect(
            last.hasPrefix(
                "error: /dev/video0 (Fake UVC Camera) sends MJPG frames of 640x480 that libv4lconvert cannot "
                    + "decode (unexpected width / height in JPEG header"), "\(last)")
        #expect(last.hasSuffix("reopened 3 times without a frame, so clipcam gives up"), "\(last)")
        #expect(result.seconds < 20, "took \(result.seconds) s")
    }

    /// Without --source, run takes the first capture device, not /dev/video0 (here a metadata node).
    @Test func withoutSourceTheFirstCaptureDeviceIsUsed() throws {
        let result = try runOnKernelCamera(
            ["--frames", "2"], fake: ["NODES": "/dev/video0=meta,/dev/video1=meta:Other,/dev/video4=capture"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("clipcam: source: camera /dev/video4 (Fake UVC Camera)"), "\(result.stderr)")
    }

    /// `--source N` still names /dev/videoN.
    @Test func sourceNumberNamesTheVideoNode() throws {
        let result = try runOnKernelCamera(
            ["--source", "4", "--frames", "2"], fake: ["NODES": "/dev/video0=capture,/dev/video4=capture:Other"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("clipcam: source: camera /dev/video4 (Other)"), "\(result.stderr)")
    }

    /// Without --source and without a camera, run says so and what to use instead, before loading the model.
    @Test func withoutSourceAndWithoutCameraSaysWhatToDo() throws {
        let result = try runOnKernelCamera([], fake: ["NODES": "/dev/video0=meta"])
        #expect(result.status == 1)
        #expect(
            result.stderr.hasPrefix(
                "error: no V4L2 capture device found (none of /dev/video0 (metadata node of Fake UVC Camera) "
                    + "captures video)"),
            "\(result.stderr)")
        #expect(result.stderr.contains("give --source synthetic, a video file"), "\(result.stderr)")
    }

    /// The metadata node is refused naming the camera's video node.
    @Test func metadataNodeIsRefused() throws {
        let result = try runOnKernelCamera(
            ["--source", "/dev/video1"], fake: ["NODES": "/dev/video0=capture,/dev/video1=meta"])
        #expect(result.status == 1)
        #expect(
            result.stderr.contains(
                "error: /dev/video1 (Fake UVC Camera) is a metadata node, not a video capture device"),
            "\(result.stderr)")
        #expect(result.stderr.contains("use /dev/video0, the same camera's video node"), "\(result.stderr)")
    }

    /// A character device that is no camera is refused at once, naming it, without an ioctl's errno — before the
    /// model is even looked at (the folder given here does not exist).
    @Test(arguments: ["/dev/null", "/dev/zero"])
    func characterDeviceThatIsNoCameraIsRefused(path: String) throws {
        let result = try clipcamLimited([
            "run", "--model", "/nonexistent/clipcam-model", "--prompt", "a coffee cup", "--headless", "--jsonl", "-",
            "--source", path,
        ])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: \(path) is a character device ("), "\(result.stderr)")
        #expect(result.stderr.contains("but not a V4L2 camera"), "\(result.stderr)")
        #expect(!result.stderr.contains("Inappropriate ioctl"), "\(result.stderr)")
        #expect(result.seconds < 20, "took \(result.seconds) s")
    }
}
