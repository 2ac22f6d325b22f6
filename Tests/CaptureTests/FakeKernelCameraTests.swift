import Foundation
import Testing

@testable import Capture

/// The camera source through the real libv4l2 and libv4lconvert, on a simulated driver below them
/// (Tests/FakeV4L2/fake_kernel_v4l2.c) preloaded into capture-probe: format emulation, conversion, what was
/// granted, decode failures told from unplugs, metadata nodes.
@Suite struct FakeKernelCameraTests {
    /// Frames read per run; enough to see the counter move, few enough to check every pixel.
    private let frameCount = 4

    private func header(_ result: ToolResult) throws -> [String: Any] {
        try #require(result.lines.first { $0["source"] != nil }, "no header line: \(result.output) \(result.error)")
    }

    private func frameLines(_ result: ToolResult) -> [[String: Any]] {
        result.lines.filter { $0["checksum"] != nil }
    }

    /// Checks the saved frames against libv4lconvert's YUYV formula applied to what the driver drew.
    private func expectYUYVFrames(in folder: URL, width: Int, height: Int) throws {
        let frames = try savedFrames(in: folder, count: frameCount, width: width, height: height)
        let counters = frames.map(yuyvCounter)
        #expect(zip(counters, counters.dropFirst()).allSatisfy { $0 < $1 }, "counters out of order: \(counters)")
        for (frame, counter) in zip(frames, counters) {
            let expected = expectedYUYVFrame(counter: counter, width: width, height: height)
            let difference = firstDifference(frame.bgr, expected, width: width)
            #expect(difference == nil, "frame \(frame.index) (counter \(counter)): \(difference ?? "")")
        }
    }

    /// Checks the saved frames against ffmpeg's decode of the very JPEGs the driver sent. libjpeg (libv4lconvert)
    /// and ffmpeg differ by their IDCT and chroma upsampling: at most 4 levels, 0.68 on average, were measured
    /// on these smooth test images; the test allows 8 and 1.5. A swapped channel order or a wrong size would
    /// differ by far more.
    private func expectMJPEGFrames(in folder: URL, jpegs: URL, width: Int, height: Int) throws {
        let frames = try savedFrames(in: folder, count: frameCount, width: width, height: height)
        let counters = frames.map(mjpegCounter)
        #expect(zip(counters, counters.dropFirst()).allSatisfy { $0 < $1 }, "counters out of order: \(counters)")
        for (frame, counter) in zip(frames, counters) {
            let jpeg = jpegs.appendingPathComponent("frame-\(counter).jpg")
            let reference = try ffmpegDecode(jpeg, width: width, height: height)
            let (largest, mean) = differences(frame.bgr, reference)
            #expect(largest <= 8 && mean <= 1.5, "frame \(frame.index): max difference \(largest), mean \(mean)")
        }
    }

    struct SizeCase: Sendable, CustomTestStringConvertible {
        var asked: (width: Int, height: Int)
        var fps: Double?
        var offered: String
        var rates: String
        var granted: (width: Int, height: Int)
        var grantedFps: Double
        var note: String
        var testDescription: String { "asked \(asked), offered \(offered)" }
    }

    /// A YUYV-only camera asked for a size and rate it does not have: libv4lconvert converts what it has, and
    /// the source says what was asked and what was granted.
    @Test(arguments: [
        SizeCase(
            asked: (160, 120), fps: 15, offered: "YUYV:640x480", rates: "30", granted: (640, 480), grantedFps: 30,
            note: "camera /dev/video0: asked 160x120 @ 15 fps, got 640x480 @ 30 fps (sent as YUYV; the camera "
                + "offers YUYV 640x480 @ 30 fps)"),
        SizeCase(
            asked: (800, 600), fps: nil, offered: "YUYV:1280x720/352x288", rates: "30,15", granted: (352, 288),
            grantedFps: 30,
            note: "camera /dev/video0: asked 800x600, got 352x288 @ 30 fps (sent as YUYV; the camera offers YUYV "
                + "1280x720, 352x288 @ 30, 15 fps)"),
    ])
    func yuyvOnlyCameraIsConvertedAndTheGrantedFormatReported(_ size: SizeCase) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var arguments = [
            "--frames", "\(frameCount)", "--width", "\(size.asked.width)", "--height", "\(size.asked.height)",
        ]
        if let fps = size.fps { arguments += ["--fps", "\(fps)"] }
        let result = try probeKernelCamera(
            arguments + ["--save", folder.path, "/dev/video0"], fake: ["FORMATS": size.offered, "FPS": size.rates])
        #expect(result.status == 0, "capture-probe failed: \(result.error)")
        let header = try header(result)
        #expect(header["width"] as? Int == size.granted.width)
        #expect(header["height"] as? Int == size.granted.height)
        #expect(header["fps"] as? Double == size.grantedFps)
        #expect(header["driverFormat"] as? String == "YUYV")
        #expect(result.error.contains("note: \(size.note)\n"), "stderr: \(result.error)")
        #expect(frameLines(result).count == frameCount)
        try expectYUYVFrames(in: folder, width: size.granted.width, height: size.granted.height)
    }

    /// An MJPEG-only camera, at VGA (asked for a size it lacks) and at HD: libv4lconvert decodes real JPEGs.
    @Test(arguments: [
        SizeCase(
            asked: (800, 600), fps: nil, offered: "MJPG:640x480", rates: "30", granted: (640, 480), grantedFps: 30,
            note: "camera /dev/video0: asked 800x600, got 640x480 @ 30 fps (sent as MJPG; the camera offers MJPG "
                + "640x480 @ 30 fps)"),
        SizeCase(
            asked: (1280, 720), fps: 30, offered: "MJPG:1280x720/640x480", rates: "30", granted: (1280, 720),
            grantedFps: 30, note: ""),
    ])
    func mjpegOnlyCameraIsDecoded(_ size: SizeCase) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let jpegs = folder.appendingPathComponent("jpeg")
        try FileManager.default.createDirectory(at: jpegs, withIntermediateDirectories: true)
        var arguments = [
            "--frames", "\(frameCount)", "--width", "\(size.asked.width)", "--height", "\(size.asked.height)",
        ]
        if let fps = size.fps { arguments += ["--fps", "\(fps)"] }
        let result = try probeKernelCamera(
            arguments + ["--save", folder.path, "/dev/video0"],
            fake: ["FORMATS": size.offered, "FPS": size.rates, "JPEG_DIR": jpegs.path])
        #expect(result.status == 0, "capture-probe failed: \(result.error)")
        let header = try header(result)
        #expect(header["width"] as? Int == size.granted.width)
        #expect(header["height"] as? Int == size.granted.height)
        #expect(header["driverFormat"] as? String == "MJPG")
        if size.note.isEmpty {
            #expect(!result.error.contains("asked"), "nothing to report: \(result.error)")
        } else {
            #expect(result.error.contains("note: \(size.note)\n"), "stderr: \(result.error)")
        }
        try expectMJPEGFrames(in: folder, jpegs: jpegs, width: size.granted.width, height: size.granted.height)
    }

    /// A camera that offers both: libv4lconvert takes YUYV where it has the size (cheaper to convert) and MJPEG
    /// for the HD size only MJPEG has.
    @Test(arguments: [(640, 480, "YUYV"), (1280, 720, "MJPG")])
    func bothFormatsOfferedTheOneSentIsConverted(width: Int, height: Int, sent: String) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let jpegs = folder.appendingPathComponent("jpeg")
        try FileManager.default.createDirectory(at: jpegs, withIntermediateDirectories: true)
        let result = try probeKernelCamera(
            [
                "--frames", "\(frameCount)", "--width", "\(width)", "--height", "\(height)", "--save", folder.path,
                "/dev/video0",
            ],
            fake: ["FORMATS": "MJPG:1280x720/640x480,YUYV:640x480", "FPS": "30,15", "JPEG_DIR": jpegs.path])
        #expect(result.status == 0, "capture-probe failed: \(result.error)")
        let header = try header(result)
        #expect(header["width"] as? Int == width)
        #expect(header["driverFormat"] as? String == sent)
        #expect(!result.error.contains("asked"), "granted as asked, nothing to report: \(result.error)")
        if sent == "YUYV" {
            try expectYUYVFrames(in: folder, width: width, height: height)
        } else {
            try expectMJPEGFrames(in: folder, jpegs: jpegs, width: width, height: height)
        }
    }

    /// MJPEG frames libv4lconvert cannot decode — bytes that are no JPEG (libv4l2 answers EAGAIN as long as it
    /// can), or JPEGs of another size (EIO after its three forgiven frames) — are a decode failure naming the
    /// format and size, not an unplug.
    @Test(arguments: ["garbage", "wrong-size"])
    func undecodableMJPEGIsNotAnUnplug(mode: String) throws {
        let started = Date()
        let result = try probeKernelCamera(
            ["--frames", "5", "/dev/video0"], fake: ["FORMATS": "MJPG:640x480", "MJPEG": mode])
        let seconds = Date().timeIntervalSince(started)
        #expect(result.status == 1)
        #expect(frameLines(result).isEmpty)
        #expect(
            result.error.contains(
                "/dev/video0 (Fake UVC Camera) sends MJPG frames of 640x480 that libv4lconvert cannot decode"),
            "stderr: \(result.error)")
        #expect(result.error.contains("it offers MJPG 640x480 @ 30 fps"), "stderr: \(result.error)")
        #expect(!result.error.contains("unplugged or stopped responding"), "stderr: \(result.error)")
        if mode == "wrong-size" {
            #expect(
                result.error.contains("(unexpected width / height in JPEG header: expected: 640x480, header: 320x240)"),
                "libv4lconvert's reason is quoted: \(result.error)")
        }
        #expect(seconds < 5, "took \(seconds) s")
    }

    /// With --reconnect a decode failure is retried a bounded number of times, then ends with the decode error.
    @Test(arguments: ["garbage", "wrong-size"])
    func undecodableMJPEGWithReconnectGivesUp(mode: String) throws {
        let started = Date()
        let result = try probeKernelCamera(
            ["--frames", "5", "--reconnect", "/dev/video0"], fake: ["FORMATS": "MJPG:640x480", "MJPEG": mode])
        let seconds = Date().timeIntervalSince(started)
        #expect(result.status == 1)
        #expect(frameLines(result).isEmpty)
        let limit = 3  // documented in the README: at most 3 reopenings without a frame
        for attempt in 1...limit {
            #expect(
                result.error.contains(
                    "note: /dev/video0: its MJPG frames cannot be decoded"),
                "stderr: \(result.error)")
            #expect(result.error.contains("reopening it (\(attempt) of \(limit) times without a frame)"))
        }
        #expect(!result.error.contains("(\(limit + 1) of"), "reopened too often: \(result.error)")
        let last = try #require(result.error.split(separator: "\n").last)
        #expect(last.hasPrefix("capture-probe: /dev/video0 (Fake UVC Camera) sends MJPG frames"), "\(last)")
        #expect(last.hasSuffix("reopened \(limit) times without a frame, so clipcam gives up"), "\(last)")
        #expect(!result.error.contains("unplugged or stopped responding"), "stderr: \(result.error)")
        #expect(seconds < 8, "took \(seconds) s")
    }

    /// Kin of the decode case: a device that goes away under the real libv4l2 is still an unplug.
    @Test func unplugUnderTheRealLibv4l2IsAnUnplug() throws {
        let result = try probeKernelCamera(
            ["--frames", "20", "--fps", "60", "/dev/video0"],
            fake: ["FORMATS": "YUYV:320x240", "FPS": "60", "UNPLUG_AFTER": "3"])
        #expect(result.status == 1)
        #expect(frameLines(result).count <= 3)
        #expect(result.error.contains("/dev/video0 was unplugged"), "stderr: \(result.error)")
        #expect(!result.error.contains("cannot decode"), "stderr: \(result.error)")
    }

    /// The metadata node a UVC camera creates beside its video node is refused, naming the video node.
    @Test func metadataNodeIsRefusedNamingTheVideoNode() throws {
        let result = try probeKernelCamera(
            ["--frames", "1", "/dev/video1"],
            fake: ["NODES": "/dev/video0=capture,/dev/video1=meta,/dev/video2=capture:Another Camera"])
        #expect(result.status == 1)
        #expect(
            result.error.contains(
                "/dev/video1 (Fake UVC Camera) is a metadata node, not a video capture device: UVC cameras create "
                    + "one beside their video node; use /dev/video0, the same camera's video node"),
            "stderr: \(result.error)")
    }

    /// A character device that is not a camera is refused at once, by name, before it is even opened.
    @Test(arguments: ["/dev/null", "/dev/zero", "/dev/tty"])
    func characterDeviceThatIsNoCameraIsRefused(path: String) throws {
        var status = stat()
        try #require(stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFCHR, "\(path) is missing here")
        let started = Date()
        let result = try runLimited(try probePath(), ["--frames", "1", path])
        #expect(result.status == 1)
        #expect(
            result.error.hasPrefix("capture-probe: \(path) is a character device ("), "stderr: \(result.error)")
        #expect(result.error.contains("but not a V4L2 camera"), "stderr: \(result.error)")
        #expect(!result.error.contains("ioctl"), "no errno dump: \(result.error)")
        #expect(Date().timeIntervalSince(started) < 3)
    }
}
