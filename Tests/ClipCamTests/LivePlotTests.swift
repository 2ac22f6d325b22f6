import Capture
import Foundation
import Testing

/// The live window's layout with the plot strip and the multi-prompt panel, read from `clipcam run`'s screenshot.
@Suite struct LivePlotTests {
    private let model = Repo.model("tiny-quickgelu-f32").path
    /// A colour no part of the overlay or the plot uses.
    private static let colour: (red: UInt8, green: UInt8, blue: UInt8) = (123, 45, 201)

    /// A solid 320x240 PNG of `colour`.
    private func solidImage(in folder: URL) throws -> String {
        let path = folder.appendingPathComponent("solid.png").path
        var bgr = [UInt8](repeating: 0, count: 320 * 240 * 3)
        for i in stride(from: 0, to: bgr.count, by: 3) {
            (bgr[i], bgr[i + 1], bgr[i + 2]) = (Self.colour.blue, Self.colour.green, Self.colour.red)
        }
        try ImageFile.writePNG(Frame(index: 0, timestamp: 0, width: 320, height: 240, bgr: bgr), to: path)
        return path
    }

    private func run(plot: Bool, in folder: URL) throws -> (ScreenshotPixels, String) {
        let prompts = folder.appendingPathComponent("prompts.txt")
        try "a photo of a mobile phone\na photo of an apple\na red square\n".write(
            to: prompts, atomically: true, encoding: .utf8)
        let png = folder.appendingPathComponent("window-\(plot).png").path
        let result = try clipcam(
            [
                "run", "--model", model, "--prompts", prompts.path, "--source", try solidImage(in: folder), "--loop",
                "--fps", "20", "--frames", "30", "--screenshot", png, "--window-size", "640x360", "--range=-1,1",
                "--jsonl", "-", "--no-reuse",
            ] + (plot ? ["--plot"] : []), environment: ["SDL_VIDEODRIVER": "offscreen"])
        #expect(result.status == 0, "clipcam run failed: \(result.stderr)")
        return (try ScreenshotPixels(path: png), result.stderr)
    }

    /// The bounding box of the pixels of exactly `colour`, and whether every pixel inside it has that colour.
    private func solidBox(_ shot: ScreenshotPixels) -> (x: Int, y: Int, width: Int, height: Int, whole: Bool)? {
        let frame = shot.frame
        func isColour(_ x: Int, _ y: Int) -> Bool {
            let i = (y * frame.width + x) * 3
            return frame.bgr[i] == Self.colour.blue && frame.bgr[i + 1] == Self.colour.green
                && frame.bgr[i + 2] == Self.colour.red
        }
        var (minX, minY, maxX, maxY) = (Int.max, Int.max, -1, -1)
        for y in 0..<frame.height {
            for x in 0..<frame.width where isColour(x, y) {
                (minX, minY, maxX, maxY) = (min(minX, x), min(minY, y), max(maxX, x), max(maxY, y))
            }
        }
        guard maxX >= 0 else { return nil }
        var whole = true
        for y in minY...maxY {
            for x in minX...maxX where !isColour(x, y) {
                whole = false
            }
        }
        return (minX, minY, maxX - minX + 1, maxY - minY + 1, whole)
    }

    /// Pixels of `colour` in rows `rows`.
    private func count(_ shot: ScreenshotPixels, _ colour: (UInt8, UInt8, UInt8), rows: Range<Int>) -> Int {
        let frame = shot.frame
        var total = 0
        for y in rows {
            for x in 0..<frame.width {
                let i = (y * frame.width + x) * 3
                if frame.bgr[i] == colour.2 && frame.bgr[i + 1] == colour.1 && frame.bgr[i + 2] == colour.0 {
                    total += 1
                }
            }
        }
        return total
    }

    @Test(arguments: [false, true])
    func panelAndPlotLeaveTheVideoUncovered(plot: Bool) throws {
        let folder = try temporaryFolder("live-plot-\(plot)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (shot, log) = try run(plot: plot, in: folder)
        // The plot's band is added to the window's height.
        #expect(shot.width == 640 && (shot.height > 360) == plot, "\(shot.width)x\(shot.height)")

        // The frame shows as one uncovered rectangle of its colour, in its 4:3 shape, at a useful size.
        let box = try #require(solidBox(shot), "the video's colour is nowhere in the window")
        #expect(box.whole, "something is drawn over the video at \(box)")
        #expect(abs(box.width * 3 - box.height * 4) <= 8, "video \(box.width)x\(box.height) is not 4:3")
        #expect(box.width * box.height * 4 >= 640 * 360, "video \(box.width)x\(box.height) is small")
        // The multi-prompt panel is drawn (its best row's green bar), outside the video.
        #expect(shot.count(red: 40, green: 210, blue: 110) > 100, "no highlighted bar: \(log)")

        // With --plot, the three prompts' lines in the palette's first three colours, all below the video.
        let below = (box.y + box.height)..<shot.height
        let palette: [(UInt8, UInt8, UInt8)] = [(0xE6, 0x9F, 0x00), (0x56, 0xB4, 0xE9), (0x00, 0x9E, 0x73)]
        for (index, colour) in palette.enumerated() {
            let inPlot = count(shot, colour, rows: below)
            let everywhere = count(shot, colour, rows: 0..<shot.height)
            if plot {
                #expect(inPlot > 20, "line \(index) has \(inPlot) pixels below the video")
                #expect(everywhere == inPlot, "line \(index)'s colour above the plot")
            } else {
                #expect(everywhere == 0, "line \(index)'s colour without --plot")
            }
        }
    }

    @Test func plotSecondsIsBounded() throws {
        for value in ["0", "86401", "nan"] {
            let result = try clipcam([
                "run", "--prompt", "a cat", "--plot-seconds", value, "--headless", "--jsonl", "-",
            ])
            #expect(result.status != 0 && result.stderr.contains("--plot-seconds"), "\(value): \(result.stderr)")
        }
        let headless = try clipcam(["run", "--prompt", "a cat", "--plot", "--headless", "--jsonl", "-"])
        #expect(headless.status != 0 && headless.stderr.contains("--plot"))
    }
}
