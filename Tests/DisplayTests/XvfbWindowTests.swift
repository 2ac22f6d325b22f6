import CSDL2
import Foundation
import Testing

@testable import Display

/// A real X11 window on an Xvfb server, checked through a screenshot of the X display.
///
/// Run normally (`swift test --filter DisplayTests`), the test starts this same test binary again under
/// `scripts/with-xvfb`, which starts Xvfb and sets `DISPLAY` and `CLIPCAM_XVFB=1`; in that run the window is opened
/// and checked. A missing Xvfb, script or screenshot tool fails the test. Running the whole suite under the script
/// (`scripts/with-xvfb swift test --filter DisplayTests`) checks the window in-process.
extension SDLTests {
    @Suite struct XvfbWindowTests {
        static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        static let script = repository.appendingPathComponent("scripts/with-xvfb").path
        static let runDirectly = "scripts/with-xvfb swift test --filter DisplayTests"

        @Test func realWindowUnderXvfb() throws {
            if ProcessInfo.processInfo.environment["CLIPCAM_XVFB"] == "1" {
                try checkWindowOnThisDisplay()
            } else {
                try rerunUnderXvfb()
            }
        }

        /// Runs this test again in a child process of the test binary, under `scripts/with-xvfb`.
        private func rerunUnderXvfb() throws {
            guard FileManager.default.isExecutableFile(atPath: Self.script) else {
                Issue.record("\(Self.script) is missing or not executable; run the test as: \(Self.runDirectly)")
                return
            }
            let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            let (status, output) = try run(
                Self.script, [binary, "--testing-library", "swift-testing", "--filter", "realWindowUnderXvfb"],
                timeout: 180)
            #expect(
                status == 0,
                "the real-window test under Xvfb failed (exit \(status)); run it as: \(Self.runDirectly)\n\(output)")
            // Make sure the child really ran the window check rather than matching no test.
            #expect(
                output.contains("realWindowUnderXvfb() passed"),
                "the child test run did not report the window test; output:\n\(output)")
        }

        private func checkWindowOnThisDisplay() throws {
            guard let display = ProcessInfo.processInfo.environment["DISPLAY"], !display.isEmpty else {
                Issue.record("CLIPCAM_XVFB=1 but DISPLAY is not set; run the test as: \(Self.runDirectly)")
                return
            }
            let fonts = try loadFonts()
            let window = try DisplayWindow(
                title: "clipcam Xvfb test", size: PixelSize(width: 640, height: 360), fonts: fonts,
                videoDriver: "x11")
            #expect(window.video.driver == "x11")
            let colour = Color(red: 200, green: 60, blue: 30)
            let frame = solidFrame(width: 640, height: 480, colour)
            let model = OverlayModel(
                scores: .single(.init(prompt: "a photo of a cat", cosine: 0.275)), status: sampleStatus,
                randomWeights: true)
            var layout: OverlayLayout?
            // Let the window be mapped and exposed, drawing a few frames as the live loop would.
            for _ in 0..<10 {
                _ = window.pollEvents()
                layout = try BGRPixels.withPixels(of: frame, width: 640, height: 480) {
                    try window.draw(frame: $0, overlay: model)
                }
                window.present()
                usleep(50_000)
            }
            let drawn = try #require(layout)
            #expect(drawn.size == PixelSize(width: 640, height: 360))
            let video = drawn.video
            #expect(video.width > 320 && video.maxX <= 640 && video.maxY <= 360)
            #expect(!drawn.backgrounds.contains { $0.rect.intersects(video) }, "the overlay covers the video")

            let shot = FileManager.default.temporaryDirectory.appendingPathComponent("clipcam-xvfb-screenshot.png").path
            let (status, output) = try run(
                "/usr/bin/env", ["import", "-display", display, "-window", "root", shot], timeout: 60)
            try #require(
                status == 0, "screenshot with ImageMagick `import` failed (apt-get install imagemagick): \(output)")
            let screen = try RGBImage(contentsOfFile: shot)
            let (left, top) = window.window.position
            func at(_ x: Int, _ y: Int) -> Color { screen[left + x, top + y] }
            #expect(left >= 0 && top >= 0 && left + 640 <= screen.width && top + 360 <= screen.height)

            // Video in the frame's colour to its edges, black beside it, the bar half filled, the warning red.
            let middle = video.y + video.height / 2
            #expect(at(video.x + 1, middle) == colour && at(video.maxX - 2, middle) == colour)
            #expect(at(video.x + video.width / 2, middle) == colour)
            if video.x > 0 { #expect(at(video.x - 1, middle) == .black) }
            let bar = try #require(drawn.bars.first)
            let y = bar.track.y + bar.track.height / 2
            let filled = (0..<640).filter { at($0, y) == OverlayStyle.barFill }.count
            #expect(abs(filled - bar.track.width / 2) <= 1, "bar filled over \(filled) of \(bar.track.width) px")
            let warning = try #require(drawn.text(.warning))
            var red = 0
            for yy in warning.frame.y..<warning.frame.maxY {
                for xx in warning.frame.x..<warning.frame.maxX where at(xx, yy) == OverlayStyle.warningText {
                    red += 1
                }
            }
            #expect(red > 50, "the random-weights warning shows \(red) red pixels on screen")
            // The bar starts exactly where the layout puts it in the window.
            #expect(at(bar.track.x, y) == OverlayStyle.barFill && at(bar.track.x - 1, y) != OverlayStyle.barFill)
            #expect(at(bar.track.maxX - 1, y) == OverlayStyle.barTrack)
            #expect(at(bar.track.maxX, y) != OverlayStyle.barTrack)
        }
    }
}

/// Runs `executable` with `arguments` in a new process group with the default signal mask and handlers (the test
/// runner's threads block signals, which a child would otherwise inherit), returning its exit status (128 + the
/// signal number when killed) and its combined output. After `timeout` seconds the whole group is killed.
func run(_ executable: String, _ arguments: [String], timeout: Double) throws -> (Int32, String) {
    let log = FileManager.default.temporaryDirectory
        .appendingPathComponent("clipcam-display-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log").path
    defer { unlink(log) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var mask = sigset_t()
    sigemptyset(&mask)
    posix_spawnattr_setsigmask(&attributes, &mask)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGALRM] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(
        &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = argv.withUnsafeBufferPointer {
        posix_spawn(&pid, executable, &actions, &attributes, $0.baseAddress!, environ)
    }
    guard spawned == 0 else {
        Issue.record("posix_spawn \(executable) failed: \(String(cString: strerror(spawned)))")
        return (127, "")
    }
    let deadline = Date().addingTimeInterval(timeout)
    var status: Int32 = 0
    while waitpid(pid, &status, WNOHANG) == 0 {
        if Date() > deadline {
            Issue.record("\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout) s")
            kill(-pid, SIGKILL)
            waitpid(pid, &status, 0)
            break
        }
        usleep(20_000)
    }
    let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    let signal = status & 0x7F
    return (signal == 0 ? (status >> 8) & 0xFF : 128 + signal, output)
}
