import Capture
import Foundation
import Testing

/// `clipcam investigate` end to end on SDL's offscreen driver: the window's screenshot and the saved plot.
@Suite struct InvestigateCLITests {
    private let model = Repo.model("tiny-quickgelu-f32").path

    @Test func savesTheWholeVideosPlotAndTheWindow() throws {
        let folder = try temporaryFolder("investigate")
        defer { try? FileManager.default.removeItem(at: folder) }
        let video = try twoSceneVideo(
            first: Repo.images.appendingPathComponent("checker-224x224.png").path,
            second: Repo.images.appendingPathComponent("gradient-320x240.png").path, in: folder)
        let plot = folder.appendingPathComponent("plot.png").path
        let shot = folder.appendingPathComponent("window.png").path
        let result = try clipcam(
            [
                "investigate", video.path, "--model", model, "--prompt", "a photo of a mobile phone", "--prompt",
                "a photo of an apple", "--range=-1,1", "--threshold", "55", "--close-when-encoded", "--save-plot",
                plot, "--screenshot", shot, "--window-size", "800x600",
            ], environment: ["SDL_VIDEODRIVER": "offscreen"])
        #expect(result.status == 0, "clipcam investigate failed: \(result.stderr)")
        #expect(result.stderr.contains("40 frames encoded"), "\(result.stderr)")
        let saved = try ScreenshotPixels(path: plot)
        #expect(saved.width == 1600 && saved.height == 480)
        // Both prompts' lines, in the palette's first two colours.
        #expect(saved.count(red: 0xE6, green: 0x9F, blue: 0x00) > 300)
        #expect(saved.count(red: 0x56, green: 0xB4, blue: 0xE9) > 300)
        let window = try ScreenshotPixels(path: shot)
        #expect(window.width == 800 && window.height == 600)
        #expect(window.count(red: 0xE6, green: 0x9F, blue: 0x00) > 100)

        // Not a video file: refused, nothing written.
        let missing = try clipcam(["investigate", folder.appendingPathComponent("none.mp4").path, "--prompt", "a"])
        #expect(missing.status != 0 && missing.stderr.contains("none.mp4"))
        let every = try clipcam(["investigate", video.path, "--prompt", "a", "--every", "0"])
        #expect(every.status != 0 && every.stderr.contains("--every"))
    }
}
