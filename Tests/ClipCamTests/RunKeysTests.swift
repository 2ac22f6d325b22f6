import Foundation
import Testing

/// The window's keys through `clipcam run` itself: a real X11 window on an Xvfb server, real key presses sent with
/// xdotool (XTEST), and their effect read from the run's JSONL and its exit.
///
/// Run normally (`swift test --filter RunKeysTests`), the test starts this same test binary again under
/// `scripts/with-xvfb`, which starts Xvfb and sets `DISPLAY` and `CLIPCAM_XVFB=1`; in that run the keys are sent.
/// A missing Xvfb, script or xdotool fails the test (`scripts/setup` installs them).
@Suite struct RunKeysTests {
    static let script = Repo.root.appendingPathComponent("scripts/with-xvfb")
    static let runDirectly = "scripts/with-xvfb swift test --filter RunKeysTests"

    @Test func spacePausesSlashAddsAPromptAndQQuits() throws {
        if ProcessInfo.processInfo.environment["CLIPCAM_XVFB"] == "1" {
            try pressKeysOnThisDisplay()
        } else {
            try rerunUnderXvfb()
        }
    }

    /// Runs this test again in a child process of the test binary, under `scripts/with-xvfb`.
    private func rerunUnderXvfb() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.script.path) else {
            Issue.record("\(Self.script.path) is missing or not executable; run the test as: \(Self.runDirectly)")
            return
        }
        let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let result = try runProcess(
            Self.script,
            [binary, "--testing-library", "swift-testing", "--filter", "spacePausesSlashAddsAPromptAndQQuits"])
        let output = result.stdout + result.stderr
        #expect(result.status == 0, "the keys test under Xvfb failed; run it as: \(Self.runDirectly)\n\(output)")
        // Make sure the child really pressed the keys rather than matching no test.
        #expect(
            output.contains("spacePausesSlashAddsAPromptAndQQuits() passed"),
            "the child test run did not report the keys test; output:\n\(output)")
    }

    private func pressKeysOnThisDisplay() throws {
        guard let display = ProcessInfo.processInfo.environment["DISPLAY"], !display.isEmpty else {
            Issue.record("CLIPCAM_XVFB=1 but DISPLAY is not set; run the test as: \(Self.runDirectly)")
            return
        }
        guard let xdotool = executableInPath("xdotool") else {
            Issue.record("xdotool is not installed; scripts/setup installs it (apt-get install xdotool)")
            return
        }
        let folder = try temporaryFolder("keys")
        defer { try? FileManager.default.removeItem(at: folder) }
        let prompts = folder.appendingPathComponent("prompts.txt")
        try "a photo of a cat\na photo of a dog\n".write(to: prompts, atomically: true, encoding: .utf8)
        let jsonl = folder.appendingPathComponent("scores.jsonl")
        let screenshot = folder.appendingPathComponent("window.png")
        let errors = folder.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: errors.path, contents: nil)
        let errorHandle = try FileHandle(forWritingTo: errors)
        defer { try? errorHandle.close() }

        let process = Process()
        process.executableURL = Repo.executable
        process.arguments = [
            "run", "--model", Repo.model("tiny-quickgelu-f32").path, "--prompts", prompts.path, "--source",
            "synthetic:160x120@20", "--jsonl", jsonl.path, "--window-size", "480x270", "--screenshot",
            screenshot.path,
        ]
        process.environment = ProcessInfo.processInfo.environment.merging(["SDL_VIDEODRIVER": "x11"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errorHandle
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        func log() -> String { (try? String(contentsOf: errors, encoding: .utf8)) ?? "" }

        // The window, by its title (xdotool waits for it to be mapped).
        let search = try runProcess(
            URL(fileURLWithPath: "/usr/bin/timeout"), ["20", xdotool, "search", "--sync", "--name", "^clipcam$"])
        let window = try #require(
            search.stdout.split(separator: "\n").first.map(String.init), "no clipcam window on \(display): \(log())")
        func press(_ arguments: [String]) throws {
            let focus = try runProcess(URL(fileURLWithPath: xdotool), ["windowfocus", "--sync", window])
            #expect(focus.status == 0, "xdotool windowfocus: \(focus.stderr)")
            let sent = try runProcess(URL(fileURLWithPath: xdotool), arguments)
            #expect(sent.status == 0, "xdotool \(arguments): \(sent.stderr)")
        }
        /// The complete JSONL lines so far.
        func scored() -> [[String: Any]] {
            guard let text = try? String(contentsOf: jsonl, encoding: .utf8) else { return [] }
            let complete = text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n") ?? text.startIndex)])
            return (try? jsonLines(complete)) ?? []
        }
        func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
            let end = Date().addingTimeInterval(seconds)
            while Date() < end {
                if condition() { return true }
                usleep(50_000)
            }
            return condition()
        }

        #expect(waitFor(20) { scored().count >= 3 }, "no frames scored: \(log())")

        // Space pauses: once the frame in flight is done (the count holds still for 0.4 s), no more frames are
        // scored.
        try press(["key", "space"])
        var paused = scored().count
        _ = waitFor(5) {
            usleep(400_000)
            let now = scored().count
            defer { paused = now }
            return now == paused
        }
        usleep(1_200_000)
        #expect(scored().count == paused, "frames were scored while paused")
        #expect(process.isRunning)

        // Space again resumes.
        try press(["key", "space"])
        #expect(waitFor(10) { scored().count >= paused + 3 }, "scoring did not resume: \(log())")

        // `/`, text, Enter adds the typed prompt; the next frames are scored against it too.
        try press(["key", "slash"])
        usleep(300_000)
        try press(["type", "a red ball"])
        try press(["key", "Return"])
        let added = waitFor(15) {
            guard let last = scored().last, let scores = last["scores"] as? [[String: Any]] else { return false }
            return scores.map { $0["prompt"] as? String } == ["a photo of a cat", "a photo of a dog", "a red ball"]
        }
        #expect(added, "the typed prompt was not added; last line: \(String(describing: scored().last))")

        // g shows the plot, the window growing by its band; g again hides it and gives the height back.
        func height() throws -> Int? {
            let geometry = try runProcess(URL(fileURLWithPath: xdotool), ["getwindowgeometry", window])
            let line = geometry.stdout.split(separator: "\n").first { $0.contains("Geometry:") }
            return line.flatMap { $0.split(separator: "x").last }.flatMap {
                Int($0.trimmingCharacters(in: .whitespaces))
            }
        }
        let before = try #require(try height(), "xdotool getwindowgeometry gave no size")
        try press(["key", "g"])
        #expect(waitFor(5) { ((try? height()) ?? 0) > before }, "g did not grow the window from \(before)")
        try press(["key", "g"])
        #expect(waitFor(5) { (try? height()) == before }, "g again did not give the height back")
        try press(["key", "g"])
        #expect(waitFor(5) { ((try? height()) ?? 0) > before })
        usleep(500_000)

        // q quits: the run ends by itself, successfully.
        try press(["key", "q"])
        #expect(waitFor(15) { !process.isRunning }, "clipcam did not quit on q: \(log())")
        if !process.isRunning {
            #expect(process.terminationStatus == 0, "\(log())")
            #expect(log().contains("frames captured"), "\(log())")
            // The window as last shown has the plot: the three prompts' lines in the palette's first colours.
            let saved = try ScreenshotPixels(path: screenshot.path)
            #expect(saved.height > before, "the screenshot is \(saved.width)x\(saved.height)")
            #expect(saved.count(red: 0xE6, green: 0x9F, blue: 0x00) > 10, "no line of the first prompt")
            #expect(saved.count(red: 0x56, green: 0xB4, blue: 0xE9) > 10, "no line of the second prompt")
        }
    }

    private func executableInPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }
}
