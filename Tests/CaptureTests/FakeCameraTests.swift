import Foundation
import Testing

@testable import Capture

/// The V4L2 camera source against the simulated camera (Tests/FakeV4L2), preloaded into capture-probe.
@Suite final class FakeCameraTests {
    private let device = "/dev/video7"
    /// The fake's log of this test, in a folder removed with the suite's instance (one per test).
    private let folder: URL

    init() throws {
        folder = try temporaryFolder()
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    private func logFile() throws -> URL {
        folder.appendingPathComponent("fake.log")
    }

    private func logLines(_ url: URL) -> [String] {
        ((try? String(contentsOf: url, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    private func frames(_ result: ToolResult) -> [[String: Any]] {
        result.lines.filter { $0["checksum"] != nil }
    }

    @Test func framesArriveInOrderIntactAtTheNegotiatedFormat() throws {
        let log = try logFile()
        let result = try probeFakeCamera(
            ["--frames", "12", "--width", "170", "--height", "130", "--fps", "50", device],
            fake: [
                "DEVICE": device, "SIZES": "640x480,320x240,160x120", "FPS": "60,30", "PAD": "24",
                "LOG": log.path,
            ])
        #expect(result.status == 0, "capture-probe failed: \(result.error)")
        let header = try #require(result.lines.first)
        #expect(header["source"] as? String == "camera /dev/video7 (Fake Camera)")
        #expect(header["width"] as? Int == 160)
        #expect(header["height"] as? Int == 120)
        #expect(header["fps"] as? Double == 60)

        let received = frames(result)
        #expect(received.count == 12)
        for (position, line) in received.enumerated() {
            #expect(line["index"] as? Int == position)
            #expect(line["counter"] as? Int == position, "frames out of order or lost at \(position)")
            #expect(line["width"] as? Int == 160)
            let expected = fnv1a(fakeFramePixels(counter: UInt64(position), width: 160, height: 120))
            #expect(line["checksum"] as? String == expected, "frame \(position) pixels differ (row padding?)")
        }
        let timestamps = received.compactMap { $0["timestamp"] as? Double }
        #expect(zip(timestamps, timestamps.dropFirst()).allSatisfy { $0 < $1 })

        // Teardown order: stop streaming, unmap every buffer, close.
        let calls = logLines(log)
        #expect(calls.filter { $0.hasPrefix("mmap") }.count == 4)
        let tail = Array(calls.suffix(6))
        #expect(tail == ["ioctl STREAMOFF", "munmap", "munmap", "munmap", "munmap", "close"])
        #expect(calls.contains("ioctl S_PARM"))
    }

    @Test func theRowStrideIsHonouredAtFullSize() throws {
        let result = try probeFakeCamera(["--frames", "2", device], fake: ["DEVICE": device, "PAD": "64"])
        #expect(result.status == 0, "capture-probe failed: \(result.error)")
        let received = frames(result)
        #expect(received.count == 2)
        #expect(received.first?["width"] as? Int == 640)
        #expect(received.last?["checksum"] as? String == fnv1a(fakeFramePixels(counter: 1, width: 640, height: 480)))
    }

    @Test func spuriousEAGAINIsWaitedOut() throws {
        let log = try logFile()
        let result = try probeFakeCamera(
            ["--frames", "10", "--fps", "100", device],
            fake: ["DEVICE": device, "SIZES": "64x48", "FPS": "100", "EAGAIN_EVERY": "2", "LOG": log.path])
        #expect(result.status == 0, "capture-probe failed: \(result.error)")
        #expect(frames(result).compactMap { $0["counter"] as? Int } == Array(0..<10))
        #expect(logLines(log).filter { $0 == "EAGAIN spurious" }.count >= 5)
    }

    @Test func unplugMidStreamIsAnErrorNamingTheDeviceAndTearsDownCleanly() throws {
        let log = try logFile()
        let result = try probeFakeCamera(
            ["--frames", "50", "--fps", "100", device],
            fake: ["DEVICE": device, "SIZES": "64x48", "FPS": "100", "UNPLUG_AFTER": "5", "LOG": log.path])
        #expect(result.status == 1)
        #expect(frames(result).compactMap { $0["counter"] as? Int } == Array(0..<5))
        #expect(result.error.contains("/dev/video7 was unplugged"), "stderr: \(result.error)")
        let calls = logLines(log)
        let unplug = try #require(calls.firstIndex(of: "unplug"))
        let after = calls[unplug...]
        #expect(after.filter { $0 == "munmap" }.count == 4)
        #expect(after.last == "close")
    }

    @Test func reconnectWaitsForTheDeviceAndResumes() throws {
        let result = try probeFakeCamera(
            ["--frames", "8", "--fps", "100", "--reconnect", device],
            fake: ["DEVICE": device, "SIZES": "64x48", "FPS": "100", "UNPLUG_AFTER": "3", "REPLUG_MS": "300"])
        #expect(result.status == 0, "capture-probe failed: \(result.error)")
        let received = frames(result)
        #expect(received.compactMap { $0["index"] as? Int } == Array(0..<8))
        #expect(received.compactMap { $0["counter"] as? Int } == Array(0..<8))
        let gap = try #require(received[3]["timestamp"] as? Double) - (received[2]["timestamp"] as? Double ?? 0)
        #expect(gap >= 0.25, "the device was gone for 300 ms")
        #expect(result.lines.last?["reconnections"] as? Int == 1)
        #expect(result.error.contains("/dev/video7 disappeared"))
        #expect(result.error.contains("/dev/video7 is back"))
    }

    @Test func busyDevice() throws {
        let result = try probeFakeCamera([device], fake: ["DEVICE": device, "BUSY": "1"])
        #expect(result.status == 1)
        #expect(result.error.contains("/dev/video7 is busy: another program is using the camera"), "\(result.error)")
        #expect(result.lines.isEmpty)
    }

    @Test func missingDeviceSaysWhatExists() throws {
        let result = try probeFakeCamera(["/dev/video3"], fake: ["DEVICE": device])
        #expect(result.status == 1)
        let present = V4L2Device.present()
        let expected = CameraError.missing(device: "/dev/video3", available: present).description
        #expect(result.error == "capture-probe: \(expected)\n")
        #expect(result.error.contains("/dev/video3 does not exist"))
    }

    @Test func notACaptureDevice() throws {
        let result = try probeFakeCamera([device], fake: ["DEVICE": device, "NOT_CAPTURE": "1", "CARD": "Encoder"])
        #expect(result.status == 1)
        #expect(result.error.contains("/dev/video7 (Encoder) is not a video capture device"), "\(result.error)")
    }

    @Test func noStreamingSupport() throws {
        let result = try probeFakeCamera([device], fake: ["DEVICE": device, "NO_STREAMING": "1"])
        #expect(result.status == 1)
        #expect(result.error.contains("does not support streaming I/O"), "\(result.error)")
    }

    @Test func noUsableFormatListsWhatTheDriverOffers() throws {
        let result = try probeFakeCamera([device], fake: ["DEVICE": device, "FORMATS": "GREY,Y16"])
        #expect(result.status == 1)
        #expect(result.error.contains("/dev/video7 cannot deliver BGR24"), "\(result.error)")
        #expect(result.error.contains("driver granted GREY; formats offered: GREY, Y16"), "\(result.error)")
    }

    @Test func aFixedRateDriverReportsItsOwnRate() throws {
        let result = try probeFakeCamera(
            ["--frames", "1", "--fps", "60", device],
            fake: ["DEVICE": device, "SIZES": "64x48", "FPS": "25", "NO_TIMEPERFRAME": "1"])
        #expect(result.status == 0, "capture-probe failed: \(result.error)")
        #expect(result.lines.first?["fps"] as? Double == 25)
    }

    @Test func silenceTimesOut() throws {
        let result = try probeFakeCamera(
            ["--frames", "3", "--fps", "1", "--timeout", "0.3", device],
            fake: ["DEVICE": device, "SIZES": "64x48", "FPS": "1"])
        #expect(result.status == 1)
        #expect(result.error.contains("no frame from /dev/video7 for 0.3 s"), "\(result.error)")
    }

    /// A consumer slower than the camera sees only the newest frames; the rest are dropped and counted.
    @Test(arguments: [1, 2])
    func slowConsumerDropsAndCounts(capacity: Int) throws {
        let result = try probeFakeCamera(
            ["--frames", "6", "--fps", "100", "--queue", "\(capacity)", "--delay-ms", "60", device],
            fake: ["DEVICE": device, "SIZES": "64x48", "FPS": "100"])
        #expect(result.status == 0, "capture-probe failed: \(result.error)")
        let received = frames(result)
        #expect(received.count == 6)
        let counters = received.compactMap { $0["counter"] as? Int }
        #expect(zip(counters, counters.dropFirst()).allSatisfy { $0 < $1 }, "out of order: \(counters)")
        for line in received {
            let counter = try #require(line["counter"] as? Int)
            #expect(line["index"] as? Int == counter)
            #expect(
                line["checksum"] as? String
                    == fnv1a(
                        fakeFramePixels(
                            counter: UInt64(counter), width: 64,
                            height: 48)))
        }
        let summary = try #require(result.lines.last)
        let pushed = try #require(summary["pushed"] as? Int)
        let popped = try #require(summary["popped"] as? Int)
        let dropped = try #require(summary["dropped"] as? Int)
        let waiting = try #require(summary["waiting"] as? Int)
        #expect(popped == 6)
        #expect(pushed == summary["captured"] as? Int)
        #expect(pushed == popped + dropped + waiting)
        #expect(dropped >= 10, "60 ms per frame against a 100 fps camera must drop frames")
    }

    @Test func unplugReachesTheConsumerThroughTheQueue() throws {
        let result = try probeFakeCamera(
            ["--frames", "50", "--fps", "100", "--queue", "2", device],
            fake: ["DEVICE": device, "SIZES": "64x48", "FPS": "100", "UNPLUG_AFTER": "4"])
        #expect(result.status == 1)
        #expect(result.error.contains("/dev/video7 was unplugged"), "\(result.error)")
        let summary = try #require(result.lines.last)
        #expect(summary["captured"] as? Int == 4)
        #expect(summary["frames"] as? Int == 4, "a fast consumer receives every frame before the error")
    }

    @Test func ioctlNumbersMatchTheKernelHeaders() {
        // Values of the VIDIOC_* macros from <linux/videodev2.h> on 64-bit Linux.
        #expect(V4L2Request.queryCapability.code == 0x8068_5600)
        #expect(V4L2Request.enumerateFormat.code == 0xc040_5602)
        #expect(V4L2Request.getFormat.code == 0xc0d0_5604)
        #expect(V4L2Request.setFormat.code == 0xc0d0_5605)
        #expect(V4L2Request.requestBuffers.code == 0xc014_5608)
        #expect(V4L2Request.queryBuffer.code == 0xc058_5609)
        #expect(V4L2Request.queueBuffer.code == 0xc058_560f)
        #expect(V4L2Request.dequeueBuffer.code == 0xc058_5611)
        #expect(V4L2Request.streamOn.code == 0x4004_5612)
        #expect(V4L2Request.streamOff.code == 0x4004_5613)
        #expect(V4L2Request.getParameters.code == 0xc0cc_5615)
        #expect(V4L2Request.setParameters.code == 0xc0cc_5616)
        #expect(fourcc("BGR3") == 0x3352_4742)
        #expect(fourccText(0x5659_5559) == "YUYV")
    }
}
