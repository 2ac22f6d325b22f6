import Foundation
import Synchronization
import Testing

@testable import Capture

@Suite struct SyntheticSourceTests {
    @Test func patternIsDeterministicAndCarriesItsIndex() throws {
        let first = SyntheticSource(width: 96, height: 64, fps: 30, fast: true)
        let second = SyntheticSource(width: 96, height: 64, fps: 30, fast: true)
        try first.start()
        try second.start()
        var previous: [UInt8] = []
        for index in 0..<20 {
            let a = try #require(try first.nextFrame())
            let b = try #require(try second.nextFrame())
            #expect(a.bgr == b.bgr)
            #expect(a.bgr == SyntheticSource.pattern(index: index, width: 96, height: 64).bgr)
            #expect(a.index == index)
            #expect(counter(of: a) == UInt64(index))
            #expect(abs(a.timestamp - Double(index) / 30) < 1e-12)
            #expect(a.bgr != previous, "consecutive frames must differ")
            previous = a.bgr
        }
        #expect(first.format == SourceFormat(width: 96, height: 64, fps: 30))
    }

    @Test func barsSlideFourPixelsPerFrame() {
        let width = 160
        let zero = SyntheticSource.pattern(index: 0, width: width, height: 64)
        let one = SyntheticSource.pattern(index: 1, width: width, height: 64)
        // Bottom row (clear of the counter box): frame 1 at x shows what frame 0 showed at x + 4.
        let row = 63 * width * 3
        for x in 0..<(width - 4) {
            #expect(one.bgr[row + 3 * x..<row + 3 * x + 3] == zero.bgr[row + 3 * (x + 4)..<row + 3 * (x + 4) + 3])
        }
        // First bar white, last black.
        #expect(Array(zero.bgr[row..<row + 3]) == [235, 235, 235])
        #expect(Array(zero.bgr[row + 3 * (width - 1)..<row + 3 * width]) == [16, 16, 16])
    }

    @Test func pacedAtItsRate() throws {
        let source = SyntheticSource(width: 32, height: 32, fps: 50)
        try source.start()
        let start = MonotonicClock.now()
        for _ in 0..<11 { _ = try source.nextFrame() }
        let elapsed = MonotonicClock.now() - start
        #expect(elapsed >= 0.195 && elapsed < 0.5, "10 intervals at 50 fps took \(elapsed) s")
    }

    @Test func scriptedScenesHoldEachFrameForItsDuration() throws {
        let a = solidFrame(width: 16, height: 8, bgr: (255, 0, 0))
        let b = solidFrame(width: 16, height: 8, bgr: (0, 0, 255))
        let source = try SyntheticSource(
            scenes: [Scene(frame: a, duration: 0.1), Scene(frame: b, duration: 0.05)], fps: 100, fast: true)
        try source.start()
        #expect(source.scriptLength == 15)
        var frames: [Frame] = []
        while let frame = try source.nextFrame() { frames.append(frame) }
        #expect(frames.count == 15)
        #expect(frames.prefix(10).allSatisfy { $0.bgr == a.bgr })
        #expect(frames.suffix(5).allSatisfy { $0.bgr == b.bgr })
        #expect(frames.map(\.index) == Array(0..<15))
        #expect(abs(frames[14].timestamp - 0.14) < 1e-12)
    }

    @Test func loopedScriptStartsOver() throws {
        let a = solidFrame(width: 8, height: 8, bgr: (1, 2, 3))
        let b = solidFrame(width: 8, height: 8, bgr: (4, 5, 6))
        let source = try SyntheticSource(
            scenes: [Scene(frame: a, duration: 0.02), Scene(frame: b, duration: 0.01)], fps: 100, fast: true,
            loop: true)
        try source.start()
        var colours: [UInt8] = []
        for _ in 0..<7 { colours.append(try #require(try source.nextFrame()).bgr[0]) }
        #expect(colours == [1, 1, 4, 1, 1, 4, 1])
    }

    @Test func emptyScriptIsRejected() {
        #expect(throws: SourceError.emptyScript) { try SyntheticSource(scenes: []) }
        let a = solidFrame(width: 8, height: 8, bgr: (0, 0, 0))
        #expect(throws: SourceError.emptyScript) { try SyntheticSource(scenes: [Scene(frame: a, duration: 0)]) }
    }
}

@Suite struct ImageSourceTests {
    /// A folder of three images and the frames they hold, in play order; the caller removes the folder.
    private func folderOfImages() throws -> (URL, [Frame]) {
        let folder = try temporaryFolder()
        var frames: [Frame] = []
        let images: [(String, (Int, Int), (UInt8, UInt8, UInt8))] = [
            ("shot10.bmp", (5, 3), (10, 20, 30)), ("shot2.bmp", (7, 4), (40, 50, 60)),
            ("shot1.bmp", (6, 6), (70, 80, 90)),
        ]
        for (name, size, colour) in images {
            var frame = solidFrame(width: size.0, height: size.1, bgr: colour)
            frame.bgr[0] = 200  // mark the top-left pixel so a flipped image would not match
            try writeBMP(frame, to: folder.appendingPathComponent(name))
            frames.append(frame)
        }
        try Data("not an image".utf8).write(to: folder.appendingPathComponent("notes.txt"))
        try Data().write(to: folder.appendingPathComponent(".hidden.png"))
        // Natural order: shot1, shot2, shot10.
        return (folder, [frames[2], frames[1], frames[0]])
    }

    @Test func folderPlaysOnceInNaturalOrderWithExactPixels() throws {
        let (folder, expected) = try folderOfImages()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try ImageSource(path: folder.path, options: CaptureOptions(fps: 20, fast: true))
        try source.start()
        #expect(
            source.files.map { String(decoding: $0.lastComponent, as: UTF8.self) } == [
                "shot1.bmp", "shot2.bmp", "shot10.bmp",
            ])
        #expect(source.format == SourceFormat(width: 6, height: 6, fps: 20))
        #expect(source.name.contains("(3 images)"))
        var frames: [Frame] = []
        while let frame = try source.nextFrame() { frames.append(frame) }
        #expect(frames.count == 3)
        for (frame, reference) in zip(frames, expected) {
            #expect(frame.width == reference.width && frame.height == reference.height)
            #expect(frame.bgr == reference.bgr)
        }
        #expect(frames.map(\.index) == [0, 1, 2])
        #expect(frames.map(\.timestamp) == [0, 0.05, 0.1])
    }

    @Test func folderLoops() throws {
        let (folder, expected) = try folderOfImages()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try ImageSource(path: folder.path, options: CaptureOptions(fast: true, loop: true))
        try source.start()
        for round in 0..<7 {
            #expect(try source.nextFrame()?.bgr == expected[round % 3].bgr)
        }
    }

    @Test func singleImageOnceAndLooped() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = solidFrame(width: 9, height: 5, bgr: (1, 128, 255))
        let path = folder.appendingPathComponent("still.bmp").path
        try writeBMP(image, to: URL(fileURLWithPath: path))

        let once = try ImageSource(path: path, options: CaptureOptions(fast: true))
        try once.start()
        #expect(once.format == SourceFormat(width: 9, height: 5, fps: 30))
        #expect(try once.nextFrame()?.bgr == image.bgr)
        #expect(try once.nextFrame() == nil)

        let looped = try ImageSource(path: path, options: CaptureOptions(fps: 100, loop: true))
        try looped.start()
        let start = MonotonicClock.now()
        for index in 0..<6 { #expect(try looped.nextFrame()?.index == index) }
        #expect(MonotonicClock.now() - start >= 0.045, "5 intervals at 100 fps")
    }

    @Test func emptyAndMissingFolders() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("x".utf8).write(to: folder.appendingPathComponent("readme.md"))
        let source = try ImageSource(path: folder.path)
        #expect(throws: SourceError.emptyFolder(path: folder.path)) { try source.start() }
        #expect(throws: SourceError.notFound(path: folder.path + "/nothing")) {
            try ImageSource(path: folder.path + "/nothing")
        }
    }
}

@Suite struct VideoFileSourceTests {
    @Test func decodesEveryFrameExactlyAtTheFileSize() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let video = try makeTestVideo(in: folder, frames: 10, width: 64, height: 48, fps: 25)
        // Reference: the same generator rendered straight to raw BGR24.
        let raw = folder.appendingPathComponent("reference.bgr")
        let reference = try run(
            try findTool("ffmpeg"),
            [
                "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25", "-frames:v", "10",
                "-f", "rawvideo", "-pix_fmt", "bgr24", raw.path,
            ])
        #expect(reference.status == 0, "\(reference.error)")
        let expected = [UInt8](try Data(contentsOf: raw))
        #expect(expected.count == 10 * 64 * 48 * 3)

        let source = VideoFileSource(path: video.path, options: CaptureOptions(fast: true))
        try source.start()
        #expect(source.format == SourceFormat(width: 64, height: 48, fps: 25))
        var frames: [Frame] = []
        while let frame = try source.nextFrame() { frames.append(frame) }
        #expect(frames.count == 10)
        for (index, frame) in frames.enumerated() {
            let start = index * 64 * 48 * 3
            #expect(frame.index == index)
            #expect(abs(frame.timestamp - Double(index) / 25) < 1e-12)
            #expect(frame.bgr == Array(expected[start..<start + 64 * 48 * 3]), "frame \(index) differs")
        }
    }

    @Test func playsAtTheFileRate() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let video = try makeTestVideo(in: folder, frames: 10, width: 32, height: 32, fps: 25)
        let source = VideoFileSource(path: video.path)
        try source.start()
        let start = MonotonicClock.now()
        var count = 0
        while try source.nextFrame() != nil { count += 1 }
        let elapsed = MonotonicClock.now() - start
        #expect(count == 10)
        #expect(elapsed >= 0.35 && elapsed < 1.5, "9 intervals at 25 fps took \(elapsed) s")
    }

    @Test func stopKillsTheDecoderOfALoopingVideo() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let video = try makeTestVideo(in: folder, frames: 3, width: 32, height: 32, fps: 25)
        let source = VideoFileSource(path: video.path, options: CaptureOptions(fast: true, loop: true))
        try source.start()
        for _ in 0..<7 { #expect(try source.nextFrame() != nil, "a looping video never ends") }
        let child = try #require(source.childProcessIdentifier)
        #expect(kill(child, 0) == 0)
        source.stop()
        #expect(kill(child, 0) == -1 && errno == ESRCH, "ffmpeg still running after stop")
        #expect(try source.nextFrame() == nil)
    }

    @Test func stopSignalEndsABlockedRead() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // One frame every 5 s: the wait for the second frame is long enough that a busy machine (the signal may be
        // raised late) cannot make a stop that waited for the whole pacing look prompt.
        let video = try makeTestVideo(in: folder, frames: 3, width: 32, height: 32, fps: 1, rate: "1/5")
        let source = VideoFileSource(path: video.path, options: CaptureOptions(loop: true))
        try source.start()
        _ = try source.nextFrame()
        let signal = source.stopSignal
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) { signal.raise() }
        let start = MonotonicClock.now()
        #expect(try source.nextFrame() == nil)
        #expect(MonotonicClock.now() - start < 2.5, "the 5 s pacing wait must end when stopped")
    }

    @Test func undecodableFileNamesTheFile() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("broken.mp4").path
        try Data("this is not a video".utf8).write(to: URL(fileURLWithPath: path))
        let source = VideoFileSource(path: path)
        do {
            try source.start()
            Issue.record("a text file must not open as a video")
        } catch let error as SourceError {
            guard case .videoUnreadable(let named, _) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(named == path)
            #expect(error.description.hasPrefix("cannot read video \(path): "))
        }
    }

    @Test func missingToolIsNamed() {
        #expect(throws: SourceError.toolMissing(tool: "ffmpeg")) { try findTool("ffmpeg", searchPath: "/nonexistent") }
        #expect(SourceError.toolMissing(tool: "ffprobe").description.contains("apt-get install ffmpeg"))
    }
}

@Suite struct FrameSourcesTests {
    @Test func specsSelectTheirKind() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = folder.appendingPathComponent("a.PNG")
        try Data().write(to: image)
        let video = try makeTestVideo(in: folder, frames: 2, width: 16, height: 16, fps: 5, name: "clip.data")
        let named = folder.appendingPathComponent("b.mp4")
        try Data().write(to: named)
        let options = CaptureOptions(width: 320, height: 200, fps: 12)

        #expect(try FrameSources.kind(of: "/dev/video0") == .camera(device: "/dev/video0"))
        #expect(try FrameSources.kind(of: "/dev/video12") == .camera(device: "/dev/video12"))
        #expect(try FrameSources.kind(of: "2") == .camera(device: "/dev/video2"))
        #expect(try FrameSources.kind(of: folder.path) == .imageFolder(path: folder.path))
        #expect(try FrameSources.kind(of: image.path) == .image(path: image.path))
        #expect(try FrameSources.kind(of: named.path) == .video(path: named.path))
        #expect(try FrameSources.kind(of: video.path) == .video(path: video.path), "found by ffprobe")
        #expect(
            try FrameSources.kind(of: "synthetic", options: options)
                == .synthetic(
                    width: 320, height: 200,
                    fps: 12))
        #expect(try FrameSources.kind(of: "synthetic") == .synthetic(width: 640, height: 480, fps: 30))
        #expect(try FrameSources.kind(of: "synthetic:1280x720") == .synthetic(width: 1280, height: 720, fps: 30))
        #expect(try FrameSources.kind(of: "synthetic:64x48@7.5") == .synthetic(width: 64, height: 48, fps: 7.5))
        #expect(
            try FrameSources.kind(of: "synthetic:@15", options: options)
                == .synthetic(
                    width: 320, height: 200,
                    fps: 15))
    }

    @Test(arguments: [
        "synthetic:64", "synthetic:64x", "synthetic:axb", "synthetic:64x48@",
        "synthetic:64x48@1@2",
    ])
    func badSyntheticSpecs(spec: String) {
        #expect(throws: SourceError.invalidSyntheticSpec(spec: spec)) { try FrameSources.kind(of: spec) }
    }

    /// Sizes and rates outside `FrameLimits` are refused with the limit, not called a malformed spec.
    @Test(arguments: [
        ("synthetic:4x4", "the size 4x4 is out of range (each side must be 16–8192 pixels)"),
        ("synthetic:100000x100000", "the size 100000x100000 is out of range (each side must be 16–8192 pixels)"),
        ("synthetic:8192x8192", "the size 8192x8192 is out of range (at most 7680x4320 pixels in all (8K UHD))"),
        ("synthetic:64x48@0", "the rate 0.0 fps is out of range (between 0.1 and 1000 frames per second)"),
        ("synthetic:64x48@1e-09", "the rate 1e-09 fps is out of range (between 0.1 and 1000 frames per second)"),
        ("synthetic:64x48@5000", "the rate 5000.0 fps is out of range (between 0.1 and 1000 frames per second)"),
    ])
    func outOfRangeSyntheticSpecs(spec: String, message: String) {
        #expect {
            try FrameSources.kind(of: spec)
        } throws: { error in
            (error as? SourceError)?.description == "'\(spec)': \(message)"
        }
    }

    /// A FIFO or socket is refused at once by its kind: ffprobe would wait for ever on a FIFO with no writer.
    @Test func pipesAndSocketsAreRefusedAtOnce() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("stream.mp4").path
        try #require(mkfifo(fifo, 0o644) == 0)
        let start = MonotonicClock.now()
        #expect(throws: SourceError.notAFile(path: fifo, kind: "a FIFO (named pipe)")) {
            try FrameSources.kind(of: fifo)
        }
        #expect(MonotonicClock.now() - start < 2)
        let source = VideoFileSource(path: fifo)
        #expect(throws: SourceError.notAFile(path: fifo, kind: "a FIFO (named pipe)")) { try source.start() }

        let socketPath = folder.appendingPathComponent("s.sock").path
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in socketPath.utf8.enumerated() { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(bound == 0)
        #expect(throws: SourceError.notAFile(path: socketPath, kind: "a socket")) {
            try FrameSources.kind(of: socketPath)
        }
    }

    @Test func unknownAndMissingSources() throws {
        #expect(throws: SourceError.notFound(path: "/no/such/file.mp4")) {
            try FrameSources.kind(of: "/no/such/file.mp4")
        }
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = folder.appendingPathComponent("notes.txt")
        try Data("hello".utf8).write(to: text)
        do {
            _ = try FrameSources.kind(of: text.path)
            Issue.record("a text file is not a source")
        } catch let error as SourceError {
            guard case .unrecognised(let spec, _) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(spec == text.path)
        }
    }

    @Test func openedSyntheticSourceDeliversItsFormat() throws {
        let source = try FrameSources.open("synthetic:48x32@200", options: CaptureOptions(fast: true))
        try source.start()
        #expect(source.format == SourceFormat(width: 48, height: 32, fps: 200))
        #expect(source.name == "synthetic 48x32 @ 200 fps")
        #expect(try source.nextFrame()?.bgr == SyntheticSource.pattern(index: 0, width: 48, height: 32).bgr)
    }

    @Test func openedCameraIsACameraSource() throws {
        let source = try FrameSources.open("/dev/video5", options: CaptureOptions(reconnect: true))
        let camera = try #require(source as? CameraSource)
        #expect(camera.device == "/dev/video5")
        #expect(camera.options.reconnect)
    }
}

/// A source that fails after a few frames, to check error delivery through the runner.
private final class FailingSource: FrameSource {
    let stopSignal = StopSignal()
    let format = SourceFormat(width: 4, height: 4, fps: nil)
    let name = "failing"
    var produced = 0
    let failAfter: Int

    init(failAfter: Int) { self.failAfter = failAfter }
    func start() throws {}
    func stop() {}
    func nextFrame() throws -> Frame? {
        if produced == failAfter { throw CameraError.unplugged(device: "/dev/video4") }
        produced += 1
        return solidFrame(width: 4, height: 4, bgr: (0, 0, 0), index: produced - 1)
    }
}

@Suite struct CaptureRunnerTests {
    @Test func feedsEveryQueueAndEndsWithTheStream() throws {
        let a = try SyntheticSource(
            scenes: [
                Scene(
                    frame: solidFrame(width: 8, height: 8, bgr: (9, 9, 9)),
                    duration: 1)
            ], fps: 50, fast: true)
        let display = LatestFrameQueue(capacity: 2)
        let encoder = LatestFrameQueue(capacity: 1)
        let runner = try CaptureRunner.start(source: a, queues: [display, encoder])
        #expect(runner.name.hasPrefix("synthetic script"))
        runner.wait()
        #expect(runner.stats.captured == 50)
        #expect(!runner.stats.running)
        #expect(runner.error == nil)
        for queue in [display, encoder] {
            var popped = 0
            while try queue.pop() != nil { popped += 1 }
            let stats = queue.stats
            #expect(stats.pushed == 50)
            #expect(stats.popped == popped)
            #expect(stats.pushed == stats.popped + stats.dropped)
        }
    }

    @Test func measuresTheCaptureRate() throws {
        let queue = LatestFrameQueue(capacity: 1)
        let runner = try CaptureRunner.start(
            source: SyntheticSource(width: 16, height: 16, fps: 100),
            queues: [queue], maxFrames: 31)
        runner.wait()
        #expect(runner.stats.captured == 31)
        #expect(abs(runner.stats.fps - 100) < 15, "measured \(runner.stats.fps) fps at 100 fps pacing")
    }

    @Test func stopEndsAnEndlessSourcePromptly() throws {
        let queue = LatestFrameQueue(capacity: 1)
        let runner = try CaptureRunner.start(source: SyntheticSource(width: 16, height: 16, fps: 2), queues: [queue])
        #expect(try queue.pop() != nil)
        let start = MonotonicClock.now()
        runner.stop()
        #expect(MonotonicClock.now() - start < 0.3, "stop must interrupt the 0.5 s pacing wait")
        #expect(!runner.stats.running)
        #expect(runner.error == nil)
        var remaining = 0
        while try queue.pop() != nil { remaining += 1 }
        #expect(remaining <= 1)
        #expect(queue.isFinished)
    }

    @Test func theSourceErrorReachesTheConsumerAfterItsFrames() throws {
        let queue = LatestFrameQueue(capacity: 2)
        let runner = try CaptureRunner.start(source: FailingSource(failAfter: 2), queues: [queue])
        runner.wait()
        #expect(runner.error as? CameraError == .unplugged(device: "/dev/video4"))
        #expect(try queue.pop()?.index == 0)
        #expect(try queue.pop()?.index == 1)
        #expect(throws: CameraError.unplugged(device: "/dev/video4")) { try queue.pop() }
    }

    @Test func closingEveryQueueEndsTheThread() throws {
        let queue = LatestFrameQueue(capacity: 1)
        let runner = try CaptureRunner.start(
            source: SyntheticSource(width: 16, height: 16, fps: 100),
            queues: [queue])
        _ = try queue.pop()
        queue.close()
        let start = MonotonicClock.now()
        runner.wait()
        #expect(MonotonicClock.now() - start < 0.5)
        #expect(!runner.stats.running)
    }
}
