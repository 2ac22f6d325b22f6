import CSDL2
import Capture
import Classifier
import ClipCamKit
import Display
import Foundation
import Testing

@testable import InvestigateWindow

private let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A 10 fps video, 320x240: red for 3 s, blue for 2 s, red for 1 s.
private func redBlueRedVideo(in folder: URL) throws -> String {
    let path = folder.appendingPathComponent("red-blue-red.mp4").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
    process.arguments = [
        "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "color=c=red:s=320x240:r=10:d=3",
        "-f", "lavfi", "-i", "color=c=blue:s=320x240:r=10:d=2",
        "-f", "lavfi", "-i", "color=c=red:s=320x240:r=10:d=1",
        "-filter_complex", "[0][1][2]concat=n=3:v=1[v]", "-map", "[v]", "-pix_fmt", "yuv420p", "-c:v", "libx264",
        "-crf", "10", path,
    ]
    try process.run()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "ffmpeg could not make the test video (apt-get install ffmpeg)")
    return path
}

private func push(_ events: SDL_Event...) {
    for var event in events {
        #expect(SDL_PushEvent(&event) == 1, "SDL_PushEvent: \(String(cString: SDL_GetError()))")
    }
}

private func mouse(_ type: SDL_EventType, x: Int, y: Int) -> SDL_Event {
    var event = SDL_Event()
    event.button.type = type.rawValue
    event.button.button = UInt8(SDL_BUTTON_LEFT)
    (event.button.x, event.button.y) = (Int32(x), Int32(y))
    return event
}

private func key(_ code: SDL_KeyCode, timestamp: UInt32 = 100) -> SDL_Event {
    var event = SDL_Event()
    event.key.type = SDL_KEYDOWN.rawValue
    event.key.timestamp = timestamp
    event.key.state = UInt8(SDL_PRESSED)
    event.key.keysym.sym = SDL_Keycode(code.rawValue)
    return event
}

private func text(_ string: String, timestamp: UInt32 = 500) -> SDL_Event {
    var event = SDL_Event()
    event.text.type = SDL_TEXTINPUT.rawValue
    event.text.timestamp = timestamp
    withUnsafeMutableBytes(of: &event.text.text) { raw in
        for (i, byte) in string.utf8.enumerated() { raw[i] = byte }
    }
    return event
}

/// The investigate window on SDL's offscreen driver, with events pushed into SDL's real queue.
@Suite(.serialized) struct InvestigateWindowTests {
    @Test func clickingThePlotSeeksToTheFrameUnderTheClickAndTypedPromptsNeedNoFrameEncoding() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("clipcam-investigate-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let video = try redBlueRedVideo(in: folder)
        let engine = try ClipEngine(
            directory: repo.appendingPathComponent("Tests/Fixtures/models/tiny-quickgelu-f32"), threads: 1)
        let window = try InvestigateWindow(
            settings: InvestigateSettings(
                path: video, prompts: ["a red square", "a blue square"], range: ScoreRange(low: -1, high: 1),
                windowSize: PixelSize(width: 800, height: 600)),
            engine: engine, videoDriver: "offscreen")
        #expect(window.display.video.driver == "offscreen")
        #expect(try window.waitForEncoding(seconds: 120), "the background encoder did not finish")
        #expect(window.encodedFrames == 60)
        #expect(abs(window.state.duration - 6) < 0.05)

        func videoColour() throws -> Color {
            let video = try #require(window.overlayLayout?.video as PixelRect?)
            try window.saveScreenshot(path: folder.appendingPathComponent("shot.png").path)
            let image = try RGBImage(contentsOfFile: folder.appendingPathComponent("shot.png").path)
            return image[video.x + video.width / 2, video.y + video.height / 2]
        }
        // Each click on the plot shows the frame under it at once: blue inside 3–5 s, red outside.
        for (time, blue) in [(4.0, true), (1.2, false), (3.45, true), (5.6, false), (4.95, true)] {
            let plot = try #require(window.plotLayout)
            let x = plot.geometry.x(time: time)
            let y = plot.geometry.plot.y + plot.geometry.plot.height / 2
            push(mouse(SDL_MOUSEBUTTONDOWN, x: x, y: y), mouse(SDL_MOUSEBUTTONUP, x: x, y: y))
            try window.step()
            let expected = window.state.snapped(plot.geometry.time(x: x))
            #expect(abs(expected - time) <= 0.05 + 1e-9)
            #expect(abs(window.state.time - expected) < 1e-6, "clicked at \(time) s, state at \(window.state.time)")
            let shown = try #require(window.shownFrameTime)
            #expect(abs(shown - expected) < 0.051, "clicked at \(time) s, frame of \(shown) s shown")
            let colour = try videoColour()
            if blue {
                #expect(colour.blue > 200 && colour.red < 40, "\(time) s shows \(colour)")
            } else {
                #expect(colour.red > 200 && colour.blue < 40, "\(time) s shows \(colour)")
            }
        }
        // → steps one sampled frame.
        push(key(SDLK_RIGHT))
        try window.step()
        #expect(abs((window.shownFrameTime ?? -1) - 5.0) < 0.051)

        // A typed prompt gets its line for the whole video without encoding a frame again.
        let encodedBefore = window.encoder.encodedFrames
        push(key(SDLK_SLASH, timestamp: 400), text("a green square"), key(SDLK_RETURN))
        let deadline = Date().addingTimeInterval(30)
        while window.state.prompts.count < 3 && Date() < deadline { try window.step() }
        #expect(window.state.prompts == ["a red square", "a blue square", "a green square"])
        let data = window.plotData()
        #expect(data.series.count == 3 && data.series[2].values.count == 60)
        #expect(data.series[2].values.allSatisfy { $0.isFinite })
        #expect(window.encoder.encodedFrames == encodedBefore)

        // Home, then space plays from the start at the video's rate; space again pauses.
        push(key(SDLK_HOME))
        try window.step()
        #expect(window.shownFrameTime == 0)
        push(key(SDLK_SPACE, timestamp: 900))
        let start = Date()
        while (window.shownFrameTime ?? 0) < 0.5 && Date().timeIntervalSince(start) < 10 { try window.step() }
        #expect(window.state.playing)
        #expect((window.shownFrameTime ?? 0) >= 0.5, "playing did not advance")
        // At 10 frames per second, half a second takes about that long (not decoded as fast as possible).
        #expect(Date().timeIntervalSince(start) >= 0.35)
        push(key(SDLK_SPACE, timestamp: 1900))
        try window.step()
        #expect(!window.state.playing)
    }

    /// The shaded segments are `analyze`'s: at threshold 0 % every frame qualifies, so one segment spans the whole
    /// 6 s video (ending one sampled frame after the last); with --min-length longer than the video there is none.
    @Test func segmentsFollowTheThresholdAndTheMinimumLength() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("clipcam-segments-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let video = try redBlueRedVideo(in: folder)
        for (minLength, expected) in [(0.0, 1), (7.0, 0)] {
            let engine = try ClipEngine(
                directory: repo.appendingPathComponent("Tests/Fixtures/models/tiny-quickgelu-f32"), threads: 1)
            let window = try InvestigateWindow(
                settings: InvestigateSettings(
                    path: video, prompts: ["a red square"], range: ScoreRange(low: -1, high: 1), threshold: 0,
                    windowSize: PixelSize(width: 640, height: 480), smooth: 3, minLength: minLength),
                engine: engine, videoDriver: "offscreen")
            #expect(try window.waitForEncoding(seconds: 120))
            let segments = window.plotData().series[0].segments
            #expect(segments.count == expected, "min length \(minLength): \(segments)")
            if let only = segments.first {
                #expect(abs(only.start) < 1e-6 && abs(only.end - 6) < 0.05, "\(only)")
            }
        }
    }
}
