import Capture
import Display
import Foundation
import Testing

/// `clipcam analyze --plot`: the strip drawn into a PNG, one line per prompt in its palette colour.
@Suite struct PlotFileTests {
    @Test func thePlotHasOneLinePerPromptInItsColour() throws {
        let folder = try temporaryFolder("plotfile")
        defer { try? FileManager.default.removeItem(at: folder) }
        let video = try Scenes.video([(Scenes.a, 2), (Scenes.b, 1)], name: "ab.mkv", in: folder)
        let plot = folder.appendingPathComponent("plot.png").path
        let result = try clipcam(
            ["analyze", video, "--prompt", "a dog", "--prompt", "stripes", "--raw", "--plot", plot],
            cache: folder.appendingPathComponent("cache"))
        try #require(result.status == 0, "\(result.stderr)")
        let image = try ImageFile.load(plot)
        #expect(image.width == 1600 && image.height == 480)
        var counts: [Color: Int] = [:]
        for offset in stride(from: 0, to: image.bgr.count, by: 3) {
            let colour = Color(red: image.bgr[offset + 2], green: image.bgr[offset + 1], blue: image.bgr[offset])
            counts[colour, default: 0] += 1
        }
        // A 2-pixel line across the plot's width is well over 1,000 pixels of its colour; a legend swatch alone
        // is a few hundred, and the third palette colour, with no third prompt, is absent.
        for index in 0..<2 {
            #expect(counts[PlotPalette.color(index), default: 0] > 1000, "prompt \(index)'s line")
        }
        #expect(counts[PlotPalette.color(2), default: 0] == 0)
    }

    @Test func plotTakesOneVideo() throws {
        let result = try clipcam(
            ["analyze", "a.mp4", "b.mp4", "--prompt", "x", "--plot", "/tmp/never.png"],
            cache: URL(fileURLWithPath: "/nonexistent"))
        #expect(result.status == 64)
        #expect(result.stderr.contains("--plot draws one video's strip; give one video"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never.png"))
    }
}
